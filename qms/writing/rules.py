"""The writing plan of handbook 5.3 (LC-PZ-003, form BD-PZ-006) as pure rules: the plan's
state machine and when an item is late. No Flask, no SQLAlchemy.

drafting → confirmed (the quality manager confirms after discussing it with the
departments) → writing → consolidating (the center chases and assembles; the consultant
checks) → circulating (BD-PZ-007) → finalised (handed to the normal review and approval) —
or cancelled. Circulating may go back to consolidating when the comments need changes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date


class PlanState(enum.StrEnum):
    DRAFTING = "drafting"
    CONFIRMED = "confirmed"
    WRITING = "writing"
    CONSOLIDATING = "consolidating"
    CIRCULATING = "circulating"
    FINALISED = "finalised"
    CANCELLED = "cancelled"


class PlanAction(enum.StrEnum):
    CONFIRM = "confirm"
    START_WRITING = "start_writing"
    CONSOLIDATE = "consolidate"
    CIRCULATE = "circulate"
    RETURN_FOR_CHANGES = "return_for_changes"
    FINALISE = "finalise"
    CANCEL = "cancel"


class ItemKind(enum.StrEnum):
    MANUAL_SECTION = "manual_section"
    REGULATION = "regulation"
    PROCESS = "process"
    FORM = "form"


class FindingCategory(enum.StrEnum):
    COMPLETENESS = "completeness"
    INTERFACES = "interfaces"  # between departments
    CONSISTENCY = "consistency"  # between levels of documents
    RECORDS = "records"  # records against documents


class Decision(enum.StrEnum):
    ADOPTED = "adopted"
    PARTLY_ADOPTED = "partly_adopted"
    NOT_ADOPTED = "not_adopted"


S = PlanState
A = PlanAction

TRANSITIONS: dict[tuple[PlanState, PlanAction], PlanState] = {
    (S.DRAFTING, A.CONFIRM): S.CONFIRMED,
    (S.CONFIRMED, A.START_WRITING): S.WRITING,
    (S.WRITING, A.CONSOLIDATE): S.CONSOLIDATING,
    (S.CONSOLIDATING, A.CIRCULATE): S.CIRCULATING,
    (S.CIRCULATING, A.RETURN_FOR_CHANGES): S.CONSOLIDATING,
    (S.CIRCULATING, A.FINALISE): S.FINALISED,
}
FINAL = frozenset({S.FINALISED, S.CANCELLED})
for _state in S:
    if _state not in FINAL:
        TRANSITIONS[(_state, A.CANCEL)] = S.CANCELLED

# only the quality manager confirms a plan (BD-PZ-006: 品质管理中心经理审核)
MANAGER_ACTIONS = frozenset({A.CONFIRM})
# the states in which writers write (and revise after the consultant's check)
WRITING_STATES = frozenset({S.CONFIRMED, S.WRITING, S.CONSOLIDATING})
# the states in which the plan's items, dates and writers may still change
PLANNING_STATES = frozenset({S.DRAFTING})


class StepRefused(Exception):
    """A step that may not be taken; code says why (out_of_order, no_items …); count is
    how many things stand in the way where that is the reason."""

    def __init__(self, code: str, state: PlanState, action: str, count: int = 0) -> None:
        super().__init__(f"{code}: {action} in {state}")
        self.code = code
        self.state = state
        self.action = action
        self.count = count


@dataclass(frozen=True)
class Facts:
    items: int = 0
    manual_sections: int = 0
    manual_assembled: bool = False
    undecided_comments: int = 0
    unresolved_findings: int = 0
    # submitted regulations, processes and forms written on the plan, not yet taken into
    # their controlled drafts
    untaken_drafts: int = 0


NO_FACTS = Facts()


def transition(state: PlanState, action: str, facts: Facts = NO_FACTS) -> PlanState:
    """The state after the action, or StepRefused: an unknown or out-of-order step, a plan
    confirmed without items, circulated before the manual draft is assembled, finalised
    with comments undecided, the consultant's findings unresolved or a submitted text
    written on the plan not yet taken into its controlled draft."""
    try:
        act = PlanAction(action)
    except ValueError:
        raise StepRefused("unknown_action", state, action) from None
    nxt = TRANSITIONS.get((state, act))
    if nxt is None:
        raise StepRefused("out_of_order", state, act)
    if act == A.CONFIRM and facts.items == 0:
        raise StepRefused("no_items", state, act)
    if act in (A.CIRCULATE, A.FINALISE) and facts.manual_sections and not facts.manual_assembled:
        raise StepRefused("not_assembled", state, act)
    if act == A.FINALISE and facts.undecided_comments:
        raise StepRefused("undecided_comments", state, act, facts.undecided_comments)
    if act == A.FINALISE and facts.unresolved_findings:
        raise StepRefused("unresolved_findings", state, act, facts.unresolved_findings)
    if act == A.FINALISE and facts.untaken_drafts:
        raise StepRefused("untaken_drafts", state, act, facts.untaken_drafts)
    return nxt


def allowed_actions(state: PlanState, facts: Facts = NO_FACTS) -> list[PlanAction]:
    """The steps the plan's state allows (a step its facts refuse is still offered, so that
    the person sees why it is refused)."""
    return [a for (s, a) in TRANSITIONS if s == state]


# -- dates --------------------------------------------------------------------------------


class DateProblem(enum.StrEnum):
    START_AFTER_DRAFT = "start_after_draft"
    DRAFT_AFTER_FINAL = "draft_after_final"
    FINAL_IN_PAST = "final_in_past"


def date_problems(start: date, draft_due: date, final_due: date, today: date) -> list[str]:
    """What is wrong with an item's dates: start ≤ draft due ≤ final due, final due not
    already past when the plan is made."""
    out = []
    if start > draft_due:
        out.append(DateProblem.START_AFTER_DRAFT)
    if draft_due > final_due:
        out.append(DateProblem.DRAFT_AFTER_FINAL)
    if final_due < today:
        out.append(DateProblem.FINAL_IN_PAST)
    return [str(p) for p in out]


class Progress(enum.StrEnum):
    IN = "in"  # the draft is submitted
    LATE = "late"  # the draft due date has passed without a submitted draft
    WRITING = "writing"  # started, not yet due
    NOT_STARTED = "not_started"


def progress(*, started: bool, submitted: bool, draft_due: date, today: date) -> Progress:
    """Where an item stands. Due dates are plain calendar dates: the plan names the day,
    and a draft due on a holiday is simply due that day."""
    if submitted:
        return Progress.IN
    if draft_due < today:
        return Progress.LATE
    return Progress.WRITING if started else Progress.NOT_STARTED


def overdue_stage(*, submitted: bool, draft_due: date, final_due: date, today: date) -> str | None:
    """Which deadline an unsubmitted item has missed: "final" once the final due date has
    passed, "draft" once only the draft due date has, None when none is missed. Each stage
    is chased once."""
    if submitted:
        return None
    if final_due < today:
        return "final"
    if draft_due < today:
        return "draft"
    return None


def days_late(due: date, today: date) -> int:
    return max(0, (today - due).days)
