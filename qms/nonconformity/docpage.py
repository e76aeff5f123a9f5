"""On a revision's page: the corrective action (and its nonconformity) that started it.
Imported by qms/nonconformity/views.py."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy.orm import Session

from qms.documents.models import Document, Revision
from qms.documents.pages import page_section
from qms.nonconformity import service
from qms.nonconformity.labels import ACTION_STATUS_LABELS, STATE_LABELS


@page_section
def started_by_action(
    session: Session, document: Document, revision: Revision
) -> tuple[str, dict[str, Any]] | None:
    if not current_user.is_authenticated:
        return None
    actions = service.actions_for_revisions(session, [revision.id])
    if not actions:
        return None
    return "nonconformity/_revision_actions.html", {
        "actions": actions,
        "visible": {a.id: service.can_view(current_user, a.nonconformity) for a in actions},
        "STATE": STATE_LABELS,
        "STATUS": ACTION_STATUS_LABELS,
    }
