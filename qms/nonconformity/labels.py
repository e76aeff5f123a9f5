"""How the nonconformity's codes read on pages, in mail and in the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.nonconformity.rules import ActionStatus, Grade, NcAction, NcState, Source
from qms.trail import access as trail_access
from qms.trail import labels as trail_labels

STATE_LABELS = {
    NcState.OPEN: _l("Open"),
    NcState.CAUSE_AND_PLAN: _l("Cause and plan"),
    NcState.ACTIONS_IN_PROGRESS: _l("Actions in progress"),
    NcState.AWAITING_VERIFICATION: _l("Awaiting verification"),
    NcState.CLOSED: _l("Closed"),
    NcState.REOPENED: _l("Reopened"),
}

GRADE_LABELS = {
    Grade.SERIOUS: _l("Serious nonconformity"),
    Grade.GENERAL: _l("General nonconformity"),
}

SOURCE_LABELS = {
    Source.INTERNAL_AUDIT: _l("Internal audit"),
    Source.CERTIFICATION: _l("Certification audit"),
    Source.CERTIFICATE_AUDIT: _l("Surveillance or recertification audit"),
    Source.INSPECTION: _l("Inspection"),
    Source.COMPLAINT: _l("Complaint"),
    Source.OTHER: _l("Other"),
}

ACTION_STATUS_LABELS = {
    ActionStatus.OPEN: _l("Open"),
    ActionStatus.DONE: _l("Done"),
}

# The steps as buttons and as the API's transition names
STEP_LABELS = {
    NcAction.RECORD_CAUSE: _l("Record cause and plan"),
    NcAction.ADD_ACTION: _l("Add an action"),
    NcAction.RAISE_DOCUMENT_CHANGE: _l("Raise a document change"),
    NcAction.START_ACTIONS: _l("Start the actions"),
    NcAction.COMPLETE_ACTION: _l("Action done"),
    NcAction.SUBMIT_FOR_VERIFICATION: _l("Submit for verification"),
    NcAction.VERIFY_EFFECTIVE: _l("Verified effective"),
    NcAction.VERIFY_INEFFECTIVE: _l("Verified not effective"),
    NcAction.CLOSE: _l("Close"),
    NcAction.REOPEN: _l("Reopen"),
}

for _field, _label in {
    "source": _l("Source"),
    "department": _l("Department"),
    "clause": _l("ISO 9001 clause"),
    "process_number": _l("Process"),
    "grade": _l("Grade"),
    "owner": _l("Owner"),
    "description": _l("Description"),
    "evidence": _l("Evidence"),
    "whys": _l("Five whys"),
    "root_cause": _l("Root cause"),
    "correction": _l("Correction"),
    "plan": _l("Plan"),
    "action": _l("Action"),
    "due_on": _l("Due"),
    "status": _l("Status"),
    "revision": _l("Document change"),
    "actions_completed_on": _l("Actions completed"),
    "round": _l("Round"),
    "cause_due": _l("Cause and plan due"),
    "correction_due": _l("Correction due"),
}.items():
    trail_labels.FIELD_LABELS.setdefault(_field, _label)
trail_labels.value_labels("nonconformity", "state", STATE_LABELS)
trail_labels.value_labels("nonconformity", "grade", GRADE_LABELS)
trail_labels.value_labels("nonconformity", "source", SOURCE_LABELS)
trail_labels.value_labels("nc_action", "status", ACTION_STATUS_LABELS)


@trail_labels.namer("nonconformity")
def _name_nonconformities(session: Session, user: Any, ids: Sequence[str]) -> dict[str, str]:
    from qms.nonconformity.models import Nonconformity

    wanted = [int(i) for i in ids if i.isdigit()]
    rows = session.execute(
        sa.select(Nonconformity.id, Nonconformity.number).where(Nonconformity.id.in_(wanted))
    ).all()
    return {str(row.id): str(_l("Nonconformity %(number)s", number=row.number)) for row in rows}


@trail_labels.namer("nc_action")
def _name_actions(session: Session, user: Any, ids: Sequence[str]) -> dict[str, str]:
    from qms.nonconformity.models import CorrectiveAction, Nonconformity

    wanted = [int(i) for i in ids if i.isdigit()]
    rows = session.execute(
        sa.select(CorrectiveAction.id, Nonconformity.number)
        .join(Nonconformity, Nonconformity.id == CorrectiveAction.nonconformity_id)
        .where(CorrectiveAction.id.in_(wanted))
    ).all()
    return {
        str(row.id): str(_l("Action %(id)s of %(number)s", id=row.id, number=row.number))
        for row in rows
    }


@trail_access.content_gate("nonconformity")
def _nonconformity_content(session: Session, user: Any, ids: Sequence[str]) -> set[str]:
    """The trail shows a nonconformity's content to those who may see it."""
    from qms.nonconformity.models import Nonconformity
    from qms.nonconformity.queries import visible_clause

    wanted = [int(i) for i in ids if i.isdigit()]
    return {
        str(i)
        for i in session.scalars(
            sa.select(Nonconformity.id).where(Nonconformity.id.in_(wanted), visible_clause(user))
        )
    }


@trail_access.content_gate("nc_action")
def _action_content(session: Session, user: Any, ids: Sequence[str]) -> set[str]:
    from qms.nonconformity.models import CorrectiveAction, Nonconformity
    from qms.nonconformity.queries import visible_clause

    wanted = [int(i) for i in ids if i.isdigit()]
    return {
        str(i)
        for i in session.scalars(
            sa.select(CorrectiveAction.id)
            .join(Nonconformity, Nonconformity.id == CorrectiveAction.nonconformity_id)
            .where(CorrectiveAction.id.in_(wanted), visible_clause(user))
        )
    }
