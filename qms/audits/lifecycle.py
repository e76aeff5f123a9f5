"""The annual audit programme and one internal audit (ZD-PZ-003, ISO 19011) as pure rules.
No Flask, no SQLAlchemy: states, transition tables, and the date rules of an audit.

Programme: draft → submitted → approved; the general manager may return it to draft.
Audit: planned → notified → in_progress → reporting → reported → closed; cancelled from any
state before the report is approved. "overdue" is not a state: it is shown when the date of
the next step has passed (display_status)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

NOTICE_WORKING_DAYS = 5  # the notice reaches the auditee's head at least 5 working days ahead
REPORT_WORKING_DAYS = 5  # the report within 5 working days of the closing meeting


class ProgrammeState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"


class ProgrammeAction(enum.StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    RETURN = "return"


class AuditState(enum.StrEnum):
    PLANNED = "planned"
    NOTIFIED = "notified"
    IN_PROGRESS = "in_progress"
    REPORTING = "reporting"  # closing meeting held, report being written
    REPORTED = "reported"  # report submitted to the general manager
    CLOSED = "closed"  # report approved
    CANCELLED = "cancelled"


class AuditAction(enum.StrEnum):
    NOTIFY = "notify"
    OPEN_MEETING = "open_meeting"
    CLOSE_MEETING = "close_meeting"
    SUBMIT_REPORT = "submit_report"
    APPROVE_REPORT = "approve_report"
    RETURN_REPORT = "return_report"
    CANCEL = "cancel"


class Actor(enum.StrEnum):
    MANAGER = "manager"  # quality manager or clerk (MANAGE_AUDITS)
    LEAD = "lead"  # the audit's lead auditor
    GENERAL_MANAGER = "general_manager"


P, PA = ProgrammeState, ProgrammeAction
S, A = AuditState, AuditAction
_M = frozenset({Actor.MANAGER})
_GM = frozenset({Actor.GENERAL_MANAGER})
_LEAD = frozenset({Actor.LEAD, Actor.MANAGER})
_LEAD_ONLY = frozenset({Actor.LEAD})

PROGRAMME_TRANSITIONS: dict[
    tuple[ProgrammeState, ProgrammeAction], tuple[ProgrammeState, frozenset[Actor]]
] = {
    (P.DRAFT, PA.SUBMIT): (P.SUBMITTED, _M),
    (P.SUBMITTED, PA.APPROVE): (P.APPROVED, _GM),
    (P.SUBMITTED, PA.RETURN): (P.DRAFT, _GM),
}

AUDIT_TRANSITIONS: dict[tuple[AuditState, AuditAction], tuple[AuditState, frozenset[Actor]]] = {
    (S.PLANNED, A.NOTIFY): (S.NOTIFIED, _LEAD),
    (S.NOTIFIED, A.OPEN_MEETING): (S.IN_PROGRESS, _LEAD_ONLY),
    (S.IN_PROGRESS, A.CLOSE_MEETING): (S.REPORTING, _LEAD_ONLY),
    (S.REPORTING, A.SUBMIT_REPORT): (S.REPORTED, _LEAD_ONLY),
    (S.REPORTED, A.APPROVE_REPORT): (S.CLOSED, _GM),
    (S.REPORTED, A.RETURN_REPORT): (S.REPORTING, _GM),
    (S.PLANNED, A.CANCEL): (S.CANCELLED, _M),
    (S.NOTIFIED, A.CANCEL): (S.CANCELLED, _M),
    (S.IN_PROGRESS, A.CANCEL): (S.CANCELLED, _M),
    (S.REPORTING, A.CANCEL): (S.CANCELLED, _M),
}

# Where the plan (objectives, scope, criteria, team) may still change.
PLAN_EDITABLE = frozenset({S.PLANNED, S.NOTIFIED})
# Where the checklist is filled and findings are raised.
FIELDWORK = frozenset({S.IN_PROGRESS, S.REPORTING})
ENDED = frozenset({S.CLOSED, S.CANCELLED})


class TransitionError(Exception):
    """Not allowed in this state ("state") or not by these actors ("actor")."""

    def __init__(self, state: str, action: str, reason: str) -> None:
        super().__init__(f"{action} not allowed from {state}: {reason}")
        self.state = state
        self.action = action
        self.reason = reason


def _step(
    table: dict[Any, tuple[Any, frozenset[Actor]]], state: Any, action: Any, actors: Iterable[Actor]
) -> Any:
    rule = table.get((state, action))
    if rule is None:
        raise TransitionError(str(state), str(action), "state")
    if not set(actors) & rule[1]:
        raise TransitionError(str(state), str(action), "actor")
    return rule[0]


def programme_transition(
    state: ProgrammeState, action: ProgrammeAction, actors: Iterable[Actor]
) -> ProgrammeState:
    return _step(PROGRAMME_TRANSITIONS, state, action, actors)


def audit_transition(state: AuditState, action: AuditAction, actors: Iterable[Actor]) -> AuditState:
    return _step(AUDIT_TRANSITIONS, state, action, actors)


def audit_moves(state: AuditState, actors: Iterable[Actor]) -> list[AuditAction]:
    held = set(actors)
    return [
        a
        for a in AuditAction
        if (state, a) in AUDIT_TRANSITIONS and held & AUDIT_TRANSITIONS[(state, a)][1]
    ]


def programme_moves(state: ProgrammeState, actors: Iterable[Actor]) -> list[ProgrammeAction]:
    held = set(actors)
    return [
        a
        for a in ProgrammeAction
        if (state, a) in PROGRAMME_TRANSITIONS and held & PROGRAMME_TRANSITIONS[(state, a)][1]
    ]


# -- date rules ---------------------------------------------------------------------------

AddWorkingDays = Callable[[date, int], date]


def latest_notice_date(audit_date: date, add: AddWorkingDays) -> date:
    """The last day a notice may go out: NOTICE_WORKING_DAYS working days before the audit.
    Found by walking back until adding the working days no longer reaches past the audit."""
    day = audit_date
    while add(day, NOTICE_WORKING_DAYS) > audit_date:
        day = date.fromordinal(day.toordinal() - 1)
    return day


def notice_in_time(notice_date: date, audit_date: date, add: AddWorkingDays) -> bool:
    return add(notice_date, NOTICE_WORKING_DAYS) <= audit_date


def report_due(closing_date: date, add: AddWorkingDays) -> date:
    return add(closing_date, REPORT_WORKING_DAYS)


class Status(enum.StrEnum):
    """What the calendar shows for a planned audit."""

    PLANNED = "planned"
    NOTIFIED = "notified"
    IN_PROGRESS = "in_progress"
    REPORTED = "reported"
    CLOSED = "closed"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class AuditDates:
    state: AuditState
    audit_date: date
    latest_notice: date | None  # from latest_notice_date
    report_due: date | None  # once the closing meeting was held


def display_status(d: AuditDates, today: date) -> Status:
    """Overdue when the next step's date has passed: not notified by the latest notice date,
    not opened by the audit date, the report not submitted by its due date."""
    if d.state == S.CANCELLED:
        return Status.CANCELLED
    if d.state == S.CLOSED:
        return Status.CLOSED
    if d.state == S.PLANNED:
        late = d.latest_notice is not None and today > d.latest_notice
        return Status.OVERDUE if late else Status.PLANNED
    if d.state == S.NOTIFIED:
        return Status.OVERDUE if today > d.audit_date else Status.NOTIFIED
    if d.state == S.IN_PROGRESS:
        return Status.IN_PROGRESS
    if d.state == S.REPORTING:
        late = d.report_due is not None and today > d.report_due
        return Status.OVERDUE if late else Status.IN_PROGRESS
    return Status.REPORTED


# -- the programme's coverage and frequency ----------------------------------------------


def missing_departments(department_ids: Iterable[int], planned: Iterable[int]) -> list[int]:
    """Departments without a single (not cancelled) audit in the year's programme."""
    have = set(planned)
    return [d for d in department_ids if d not in have]


def suggested_audits(serious: int, general: int, open_ncs: int) -> int:
    """Audits a year suggested for a department from its last results: once, twice where
    the last audit found a serious nonconformity or three general ones, or where
    nonconformities are still open (ZD-PZ-003 第四条: more often where problems were many)."""
    if serious > 0 or general >= 3 or open_ncs >= 2:
        return 2
    return 1
