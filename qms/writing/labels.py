"""The words users see for the writing plan's states, steps, kinds and decisions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.trail import labels as trail_labels
from qms.writing.rules import Decision, FindingCategory, ItemKind, PlanAction, PlanState, Progress

STATE_LABELS = {
    PlanState.DRAFTING: _l("Being drawn up"),
    PlanState.CONFIRMED: _l("Confirmed"),
    PlanState.WRITING: _l("Writing"),
    PlanState.CONSOLIDATING: _l("Consolidating"),
    PlanState.CIRCULATING: _l("Circulating for comments"),
    PlanState.FINALISED: _l("Finalised"),
    PlanState.CANCELLED: _l("Cancelled"),
}

ACTION_LABELS = {
    PlanAction.CONFIRM: _l("Confirm the plan (quality manager)"),
    PlanAction.START_WRITING: _l("Start writing"),
    PlanAction.CONSOLIDATE: _l("Consolidate the drafts"),
    PlanAction.CIRCULATE: _l("Circulate the draft for comments"),
    PlanAction.RETURN_FOR_CHANGES: _l("Return for changes"),
    PlanAction.FINALISE: _l("Finalise (hand to review and approval)"),
    PlanAction.CANCEL: _l("Cancel the plan"),
}

KIND_LABELS = {
    ItemKind.MANUAL_SECTION: _l("Manual section"),
    ItemKind.REGULATION: _l("Regulation"),
    ItemKind.PROCESS: _l("Process"),
    ItemKind.FORM: _l("Form or record template"),
}

CATEGORY_LABELS = {
    FindingCategory.COMPLETENESS: _l("Completeness of the system's elements"),
    FindingCategory.INTERFACES: _l("Interfaces between departments"),
    FindingCategory.CONSISTENCY: _l("Consistency between levels of documents"),
    FindingCategory.RECORDS: _l("Records against documents"),
}

DECISION_LABELS = {
    Decision.ADOPTED: _l("Adopted"),
    Decision.PARTLY_ADOPTED: _l("Partly adopted"),
    Decision.NOT_ADOPTED: _l("Not adopted"),
}

PROGRESS_LABELS = {
    Progress.IN: _l("In"),
    Progress.LATE: _l("Late"),
    Progress.WRITING: _l("Being written"),
    Progress.NOT_STARTED: _l("Not started"),
}


# -- the trail: states in words, records by their references ---------------------------------

trail_labels.value_labels("writing_plan", "state", STATE_LABELS)
trail_labels.value_labels("writing_comment", "decision", DECISION_LABELS)
trail_labels.FIELD_LABELS.setdefault("actual_on", _l("Actual completion"))
trail_labels.FIELD_LABELS.setdefault("delay_reason", _l("Reason for the delay"))
trail_labels.FIELD_LABELS.setdefault("decision", _l("Decision"))


@trail_labels.namer("writing_plan")
def _name_plans(session: Session, user: Any, ids: Sequence[str]) -> dict[str, str]:
    return {i: str(_l("Writing plan BX-%(id)04d", id=int(i))) for i in ids if i.isdigit()}


@trail_labels.namer("writing_item")
def _name_items(session: Session, user: Any, ids: Sequence[str]) -> dict[str, str]:
    from qms.writing.models import PlanItem

    wanted = [int(i) for i in ids if i.isdigit()]
    rows = session.execute(
        sa.select(PlanItem.id, PlanItem.plan_id, PlanItem.position).where(PlanItem.id.in_(wanted))
    ).all()
    return {
        str(row.id): str(
            _l("Item %(n)d of writing plan BX-%(id)04d", n=row.position, id=row.plan_id)
        )
        for row in rows
    }
