"""The object check of the Word export, for links (qms.links.may_open)."""

from __future__ import annotations

from typing import Any

from qms.auth.models import User
from qms.db import get_session
from qms.documents.visibility import block_history_setting
from qms.errors import DomainError
from qms.links import object_rule
from qms.word import service


@object_rule("word.export")
def export_opens(
    user: User, number: str, revision: str | None = None, copy: str | None = None, **_: Any
) -> bool:
    session = get_session()
    try:
        found = service.revision_for_copy(
            session, user, number, revision, block_history=block_history_setting()
        )
    except DomainError:
        return False
    return copy is None or service.may_print_copy(user, found)
