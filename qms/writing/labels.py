"""The words users see for the writing plan's states, steps, kinds and decisions."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

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
