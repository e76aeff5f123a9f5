"""The life of a nonconformity (不符合, ISO 9001 10.2) as pure rules. No Flask, no SQLAlchemy.

open → cause_and_plan → actions_in_progress → awaiting_verification → closed; a verification
that finds the actions ineffective reopens it (new actions, the earlier ones kept), and the
quality manager may reopen a closed one. The deadlines live in one table here, used by the
service, the pages and the daily job."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta


class NcState(enum.StrEnum):
    OPEN = "open"
    CAUSE_AND_PLAN = "cause_and_plan"
    ACTIONS_IN_PROGRESS = "actions_in_progress"
    AWAITING_VERIFICATION = "awaiting_verification"
    CLOSED = "closed"
    REOPENED = "reopened"


class NcAction(enum.StrEnum):
    RECORD_CAUSE = "record_cause"  # the 5 whys, the root cause, the correction and the plan
    ADD_ACTION = "add_action"
    RAISE_DOCUMENT_CHANGE = "raise_document_change"
    START_ACTIONS = "start_actions"
    COMPLETE_ACTION = "complete_action"
    SUBMIT_FOR_VERIFICATION = "submit_for_verification"
    VERIFY_EFFECTIVE = "verify_effective"
    VERIFY_INEFFECTIVE = "verify_ineffective"
    CLOSE = "close"
    REOPEN = "reopen"


class NcActor(enum.StrEnum):
    """Functional roles on one nonconformity."""

    MANAGER = "manager"  # the quality manager or the quality clerk
    OWNER = "owner"  # the owner, by default the head of the department
    ACTION_OWNER = "action_owner"
    VERIFIER = "verifier"  # may verify: not an action owner, not from the department


class Grade(enum.StrEnum):
    SERIOUS = "serious"  # 严重不符合
    GENERAL = "general"  # 一般不符合


class Source(enum.StrEnum):
    INTERNAL_AUDIT = "internal_audit"
    CERTIFICATION = "certification"
    # a surveillance or recertification audit of a certificate already held
    CERTIFICATE_AUDIT = "certificate_audit"
    INSPECTION = "inspection"
    COMPLAINT = "complaint"
    OTHER = "other"


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"


class NcTransitionError(Exception):
    def __init__(self, state: NcState, action: NcAction, reason: str) -> None:
        super().__init__(f"{action} not allowed in {state}: {reason}")
        self.state, self.action, self.reason = state, action, reason


S = NcState
A = NcAction
_MANAGERS = frozenset({NcActor.MANAGER})
_PLANNERS = frozenset({NcActor.MANAGER, NcActor.OWNER})
_DOERS = frozenset({NcActor.MANAGER, NcActor.OWNER, NcActor.ACTION_OWNER})
_VERIFIERS = frozenset({NcActor.VERIFIER})

# (state, action) → (next state, who may do it)
TRANSITIONS: dict[tuple[NcState, NcAction], tuple[NcState, frozenset[NcActor]]] = {
    (S.OPEN, A.RECORD_CAUSE): (S.CAUSE_AND_PLAN, _PLANNERS),
    (S.CAUSE_AND_PLAN, A.RECORD_CAUSE): (S.CAUSE_AND_PLAN, _PLANNERS),
    (S.CAUSE_AND_PLAN, A.ADD_ACTION): (S.CAUSE_AND_PLAN, _PLANNERS),
    (S.CAUSE_AND_PLAN, A.RAISE_DOCUMENT_CHANGE): (S.CAUSE_AND_PLAN, _DOERS),
    (S.CAUSE_AND_PLAN, A.START_ACTIONS): (S.ACTIONS_IN_PROGRESS, _PLANNERS),
    (S.ACTIONS_IN_PROGRESS, A.ADD_ACTION): (S.ACTIONS_IN_PROGRESS, _PLANNERS),
    (S.ACTIONS_IN_PROGRESS, A.RAISE_DOCUMENT_CHANGE): (S.ACTIONS_IN_PROGRESS, _DOERS),
    (S.ACTIONS_IN_PROGRESS, A.COMPLETE_ACTION): (S.ACTIONS_IN_PROGRESS, _DOERS),
    (S.ACTIONS_IN_PROGRESS, A.SUBMIT_FOR_VERIFICATION): (S.AWAITING_VERIFICATION, _PLANNERS),
    (S.AWAITING_VERIFICATION, A.VERIFY_EFFECTIVE): (S.AWAITING_VERIFICATION, _VERIFIERS),
    (S.AWAITING_VERIFICATION, A.VERIFY_INEFFECTIVE): (S.REOPENED, _VERIFIERS),
    (S.AWAITING_VERIFICATION, A.CLOSE): (S.CLOSED, _MANAGERS),
    (S.AWAITING_VERIFICATION, A.REOPEN): (S.REOPENED, _MANAGERS),
    (S.CLOSED, A.REOPEN): (S.REOPENED, _MANAGERS),
    (S.REOPENED, A.RECORD_CAUSE): (S.REOPENED, _PLANNERS),
    (S.REOPENED, A.ADD_ACTION): (S.REOPENED, _PLANNERS),
    (S.REOPENED, A.RAISE_DOCUMENT_CHANGE): (S.REOPENED, _DOERS),
    (S.REOPENED, A.START_ACTIONS): (S.ACTIONS_IN_PROGRESS, _PLANNERS),
}


def transition(state: NcState, action: NcAction, actors: frozenset[NcActor]) -> NcState:
    """The next state, or NcTransitionError ("state" or "actor") when not allowed."""
    entry = TRANSITIONS.get((state, action))
    if entry is None:
        raise NcTransitionError(state, action, "state")
    target, allowed = entry
    if not allowed & actors:
        raise NcTransitionError(state, action, "actor")
    return target


def allowed_actions(state: NcState, actors: frozenset[NcActor]) -> list[NcAction]:
    return [a for (s, a), (_t, who) in TRANSITIONS.items() if s == state and who & actors]


# -- deadlines: the one place to change them ------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    days: int
    working: bool  # working days (weekends and the holiday table) or calendar days


# Root cause and plan: 3 working days after the nonconformity is raised (or reopened).
CAUSE_AND_PLAN_DEADLINE = Deadline(3, working=True)
# Correction (the actions done and submitted for verification), counted from raising.
CORRECTION_DEADLINES: dict[Grade, Deadline] = {
    Grade.SERIOUS: Deadline(10, working=True),
    Grade.GENERAL: Deadline(30, working=False),
}
# Effectiveness is verified no sooner than this many days after the actions were completed,
# unless the nonconformity states its own interval.
DEFAULT_VERIFICATION_INTERVAL_DAYS = 30
MAX_VERIFICATION_INTERVAL_DAYS = 366

AddWorkingDays = Callable[[date, int], date]


def due_date(start: date, deadline: Deadline, add_working_days: AddWorkingDays) -> date:
    if deadline.working:
        return add_working_days(start, deadline.days)
    return start + timedelta(days=deadline.days)


def cause_due(raised_on: date, add_working_days: AddWorkingDays) -> date:
    return due_date(raised_on, CAUSE_AND_PLAN_DEADLINE, add_working_days)


def correction_due(raised_on: date, grade: Grade, add_working_days: AddWorkingDays) -> date:
    return due_date(raised_on, CORRECTION_DEADLINES[grade], add_working_days)


def earliest_verification(actions_completed_on: date, interval_days: int) -> date:
    return actions_completed_on + timedelta(days=interval_days)


# States in which each deadline is still running
CAUSE_RUNNING = frozenset({S.OPEN, S.CAUSE_AND_PLAN, S.REOPENED})
CORRECTION_RUNNING = frozenset({S.OPEN, S.CAUSE_AND_PLAN, S.ACTIONS_IN_PROGRESS, S.REOPENED})


def is_cause_overdue(state: NcState, due: date | None, today: date) -> bool:
    return state in CAUSE_RUNNING and due is not None and today > due


def is_correction_overdue(state: NcState, due: date | None, today: date) -> bool:
    return state in CORRECTION_RUNNING and due is not None and today > due


def is_action_overdue(status: ActionStatus, due: date, today: date) -> bool:
    return status == ActionStatus.OPEN and today > due


def verifier_refusal(
    verifier_id: int,
    verifier_department_id: int | None,
    nc_department_id: int,
    action_owner_ids: frozenset[int],
) -> str | None:
    """Why this person may not verify ("action_owner", "department"), or None."""
    if verifier_id in action_owner_ids:
        return "action_owner"
    if verifier_department_id is not None and verifier_department_id == nc_department_id:
        return "department"
    return None
