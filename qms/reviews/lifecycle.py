"""The life of a review meeting (handbook 5.2) as a pure state machine. No Flask, no SQLAlchemy.

planning → plan_submitted → plan_approved → pre_review → meeting → reporting →
report_submitted → follow_up → archived; the approver may return a plan or a report; the
leader may cancel before the report is submitted. Self-loops name the work each state allows
(raising defects, ticking the checklist …) so that one table says who may do what, when."""

from __future__ import annotations

import enum


class ReviewState(enum.StrEnum):
    PLANNING = "planning"
    PLAN_SUBMITTED = "plan_submitted"
    PLAN_APPROVED = "plan_approved"
    PRE_REVIEW = "pre_review"
    MEETING = "meeting"
    REPORTING = "reporting"
    REPORT_SUBMITTED = "report_submitted"
    FOLLOW_UP = "follow_up"
    ARCHIVED = "archived"
    CANCELLED = "cancelled"


class ReviewAction(enum.StrEnum):
    # transitions
    SUBMIT_PLAN = "submit_plan"
    RETURN_PLAN = "return_plan"
    APPROVE_PLAN = "approve_plan"
    PUBLISH = "publish"
    START_MEETING = "start_meeting"
    CLOSE_MEETING = "close_meeting"
    SUBMIT_REPORT = "submit_report"
    RETURN_REPORT = "return_report"
    APPROVE_REPORT = "approve_report"
    ARCHIVE = "archive"
    CANCEL = "cancel"
    # work inside a state
    EDIT_PLAN = "edit_plan"
    CONFIRM = "confirm"
    LOG_PREPARATION = "log_preparation"
    RAISE_DEFECT = "raise_defect"
    RESPOND = "respond"
    DISPOSE = "dispose"
    TICK_CHECKLIST = "tick_checklist"
    RECORD_ATTENDANCE = "record_attendance"
    CONCLUDE = "conclude"
    TRACK = "track"  # name the owner and the promised fix date
    FIX = "fix"
    VERIFY = "verify"
    DECIDE_REGRESSION = "decide_regression"


class ReviewActor(enum.StrEnum):
    """Functional roles on one review."""

    LEADER = "leader"
    RECORDER = "recorder"
    REVIEWER = "reviewer"
    AUTHOR = "author"
    APPROVER = "approver"  # the general manager or the approver named on the plan
    OWNER = "owner"  # owns the fix of one defect
    PARTICIPANT = "participant"  # anyone on the team


S = ReviewState
A = ReviewAction
_LEADER = frozenset({ReviewActor.LEADER})
_APPROVER = frozenset({ReviewActor.APPROVER})
_CHAIR = frozenset({ReviewActor.LEADER, ReviewActor.RECORDER})
_RAISERS = frozenset({ReviewActor.LEADER, ReviewActor.RECORDER, ReviewActor.REVIEWER})
_TEAM = frozenset({ReviewActor.PARTICIPANT})
_FIXERS = frozenset({ReviewActor.OWNER, ReviewActor.AUTHOR})
_VERIFIERS = frozenset({ReviewActor.LEADER, ReviewActor.RECORDER, ReviewActor.REVIEWER})
_RESPONDERS = frozenset({ReviewActor.AUTHOR, ReviewActor.LEADER, ReviewActor.RECORDER})

# (state, action) → (next state, who may do it)
TRANSITIONS: dict[tuple[ReviewState, ReviewAction], tuple[ReviewState, frozenset[ReviewActor]]] = {
    (S.PLANNING, A.EDIT_PLAN): (S.PLANNING, _LEADER),
    (S.PLANNING, A.SUBMIT_PLAN): (S.PLAN_SUBMITTED, _LEADER),
    (S.PLANNING, A.CANCEL): (S.CANCELLED, _LEADER),
    (S.PLAN_SUBMITTED, A.APPROVE_PLAN): (S.PLAN_APPROVED, _APPROVER),
    (S.PLAN_SUBMITTED, A.RETURN_PLAN): (S.PLANNING, _APPROVER),
    (S.PLAN_SUBMITTED, A.CANCEL): (S.CANCELLED, _LEADER),
    (S.PLAN_APPROVED, A.CONFIRM): (S.PLAN_APPROVED, _TEAM),
    (S.PLAN_APPROVED, A.PUBLISH): (S.PRE_REVIEW, _LEADER),
    (S.PLAN_APPROVED, A.CANCEL): (S.CANCELLED, _LEADER),
    (S.PRE_REVIEW, A.LOG_PREPARATION): (S.PRE_REVIEW, _TEAM),
    (S.PRE_REVIEW, A.RAISE_DEFECT): (S.PRE_REVIEW, _RAISERS),
    (S.PRE_REVIEW, A.RESPOND): (S.PRE_REVIEW, _RESPONDERS),
    (S.PRE_REVIEW, A.START_MEETING): (S.MEETING, _CHAIR),
    (S.PRE_REVIEW, A.CANCEL): (S.CANCELLED, _LEADER),
    (S.MEETING, A.LOG_PREPARATION): (S.MEETING, _TEAM),
    (S.MEETING, A.RAISE_DEFECT): (S.MEETING, _RAISERS),
    (S.MEETING, A.RESPOND): (S.MEETING, _RESPONDERS),
    (S.MEETING, A.DISPOSE): (S.MEETING, _CHAIR),
    (S.MEETING, A.TICK_CHECKLIST): (S.MEETING, _CHAIR),
    (S.MEETING, A.RECORD_ATTENDANCE): (S.MEETING, _CHAIR),
    (S.MEETING, A.TRACK): (S.MEETING, _CHAIR),
    (S.MEETING, A.CLOSE_MEETING): (S.REPORTING, _CHAIR),
    (S.MEETING, A.CANCEL): (S.CANCELLED, _LEADER),
    (S.REPORTING, A.RESPOND): (S.REPORTING, _RESPONDERS),
    (S.REPORTING, A.DISPOSE): (S.REPORTING, _CHAIR),
    (S.REPORTING, A.TICK_CHECKLIST): (S.REPORTING, _CHAIR),
    (S.REPORTING, A.RECORD_ATTENDANCE): (S.REPORTING, _CHAIR),
    (S.REPORTING, A.TRACK): (S.REPORTING, _LEADER),
    (S.REPORTING, A.CONCLUDE): (S.REPORTING, _LEADER),
    (S.REPORTING, A.FIX): (S.REPORTING, _FIXERS),
    (S.REPORTING, A.VERIFY): (S.REPORTING, _VERIFIERS),
    (S.REPORTING, A.SUBMIT_REPORT): (S.REPORT_SUBMITTED, _LEADER),
    (S.REPORTING, A.CANCEL): (S.CANCELLED, _LEADER),
    (S.REPORT_SUBMITTED, A.APPROVE_REPORT): (S.FOLLOW_UP, _APPROVER),
    (S.REPORT_SUBMITTED, A.RETURN_REPORT): (S.REPORTING, _APPROVER),
    (S.REPORT_SUBMITTED, A.FIX): (S.REPORT_SUBMITTED, _FIXERS),
    (S.FOLLOW_UP, A.TRACK): (S.FOLLOW_UP, _LEADER),
    (S.FOLLOW_UP, A.FIX): (S.FOLLOW_UP, _FIXERS),
    (S.FOLLOW_UP, A.VERIFY): (S.FOLLOW_UP, _VERIFIERS),
    (S.FOLLOW_UP, A.DECIDE_REGRESSION): (S.FOLLOW_UP, _LEADER),
    (S.FOLLOW_UP, A.ARCHIVE): (S.ARCHIVED, _LEADER),
}

# The states in which the plan text, the team and the reviewed revisions are fixed.
PLAN_FROZEN = frozenset(set(ReviewState) - {S.PLANNING})
CLOSED = frozenset({S.ARCHIVED, S.CANCELLED})
# Transitions offered as buttons (the rest are work inside a state).
MOVES = (A.SUBMIT_PLAN, A.RETURN_PLAN, A.APPROVE_PLAN, A.PUBLISH, A.START_MEETING,
         A.CLOSE_MEETING, A.SUBMIT_REPORT, A.RETURN_REPORT, A.APPROVE_REPORT, A.ARCHIVE,
         A.CANCEL)


class ReviewTransitionError(Exception):
    """Not allowed in this state ("state") or not by these actors ("actor")."""

    def __init__(self, state: ReviewState, action: ReviewAction,
                 actors: frozenset[ReviewActor], reason: str) -> None:
        super().__init__(f"{action} not allowed from {state} for {sorted(actors)}: {reason}")
        self.state = state
        self.action = action
        self.actors = actors
        self.reason = reason


def transition(state: ReviewState, action: ReviewAction,
               actors: frozenset[ReviewActor] | ReviewActor) -> ReviewState:
    """The state after action, or ReviewTransitionError."""
    held = frozenset({actors}) if isinstance(actors, ReviewActor) else actors
    rule = TRANSITIONS.get((state, action))
    if rule is None:
        raise ReviewTransitionError(state, action, held, "state")
    next_state, allowed = rule
    if not held & allowed:
        raise ReviewTransitionError(state, action, held, "actor")
    return next_state


def allowed(state: ReviewState, action: ReviewAction, actors: frozenset[ReviewActor]) -> bool:
    rule = TRANSITIONS.get((state, action))
    return rule is not None and bool(actors & rule[1])


def allowed_moves(state: ReviewState, actors: frozenset[ReviewActor]) -> list[ReviewAction]:
    return [action for action in MOVES if allowed(state, action, actors)]
