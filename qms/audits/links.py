"""Which audit links a person is offered: the same checks the audit pages make."""

from __future__ import annotations

from typing import Any

from qms.audits import service
from qms.audits.models import Audit
from qms.db import get_session
from qms.links import object_rule


def _people_of_audits(user: Any) -> bool:
    return (
        service.may_manage(user)
        or service.may_run(user)
        or service.is_general_manager(get_session(), user)
    )


@object_rule("audits.programme")
def _programme(user: Any, **_values: Any) -> bool:
    return _people_of_audits(user)


@object_rule("audits.programme_calendar")
def _calendar(user: Any, **_values: Any) -> bool:
    return _people_of_audits(user)


def _sees(user: Any, audit_id: Any = None, **_values: Any) -> bool:
    try:
        audit = get_session().get(Audit, int(audit_id))
    except (TypeError, ValueError):
        return False
    return audit is not None and service.may_see(get_session(), user, audit)


for _endpoint in ("audits.detail", "audits.checklist", "audits.plan_docx", "audits.report_docx"):
    object_rule(_endpoint)(_sees)
