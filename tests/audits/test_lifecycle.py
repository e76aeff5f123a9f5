"""The programme's and the audit's state machines and date rules, cell by cell."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from qms.audits import lifecycle as rules
from qms.audits.lifecycle import (
    AUDIT_TRANSITIONS,
    PROGRAMME_TRANSITIONS,
    Actor,
    AuditAction,
    AuditDates,
    AuditState,
    ProgrammeAction,
    ProgrammeState,
    Status,
    TransitionError,
)

S, A, P, PA = AuditState, AuditAction, ProgrammeState, ProgrammeAction
M, L, G = Actor.MANAGER, Actor.LEAD, Actor.GENERAL_MANAGER

PROGRAMME_TABLE = [
    (P.DRAFT, PA.SUBMIT, M, P.SUBMITTED),
    (P.DRAFT, PA.SUBMIT, G, "actor"),
    (P.DRAFT, PA.APPROVE, G, "state"),
    (P.SUBMITTED, PA.APPROVE, G, P.APPROVED),
    (P.SUBMITTED, PA.APPROVE, M, "actor"),
    (P.SUBMITTED, PA.RETURN, G, P.DRAFT),
    (P.SUBMITTED, PA.RETURN, M, "actor"),
    (P.SUBMITTED, PA.SUBMIT, M, "state"),
    (P.APPROVED, PA.APPROVE, G, "state"),
    (P.APPROVED, PA.RETURN, G, "state"),
]


@pytest.mark.parametrize(("state", "action", "actor", "expected"), PROGRAMME_TABLE)
def test_programme_transitions(state, action, actor, expected) -> None:
    if isinstance(expected, str) and expected in ("actor", "state"):
        with pytest.raises(TransitionError) as err:
            rules.programme_transition(state, action, {actor})
        assert err.value.reason == expected
    else:
        assert rules.programme_transition(state, action, {actor}) == expected


AUDIT_TABLE = [
    (S.PLANNED, A.NOTIFY, L, S.NOTIFIED),
    (S.PLANNED, A.NOTIFY, M, S.NOTIFIED),
    (S.PLANNED, A.NOTIFY, G, "actor"),
    (S.PLANNED, A.OPEN_MEETING, L, "state"),
    (S.NOTIFIED, A.OPEN_MEETING, L, S.IN_PROGRESS),
    (S.NOTIFIED, A.OPEN_MEETING, M, "actor"),
    (S.IN_PROGRESS, A.CLOSE_MEETING, L, S.REPORTING),
    (S.IN_PROGRESS, A.SUBMIT_REPORT, L, "state"),
    (S.REPORTING, A.SUBMIT_REPORT, L, S.REPORTED),
    (S.REPORTING, A.SUBMIT_REPORT, M, "actor"),
    (S.REPORTED, A.APPROVE_REPORT, G, S.CLOSED),
    (S.REPORTED, A.APPROVE_REPORT, L, "actor"),
    (S.REPORTED, A.RETURN_REPORT, G, S.REPORTING),
    (S.REPORTED, A.CANCEL, M, "state"),
    (S.PLANNED, A.CANCEL, M, S.CANCELLED),
    (S.REPORTING, A.CANCEL, M, S.CANCELLED),
    (S.REPORTING, A.CANCEL, L, "actor"),
    (S.CLOSED, A.CANCEL, M, "state"),
    (S.CLOSED, A.APPROVE_REPORT, G, "state"),
    (S.CANCELLED, A.NOTIFY, M, "state"),
]


@pytest.mark.parametrize(("state", "action", "actor", "expected"), AUDIT_TABLE)
def test_audit_transitions(state, action, actor, expected) -> None:
    if expected in ("actor", "state"):
        with pytest.raises(TransitionError) as err:
            rules.audit_transition(state, action, {actor})
        assert err.value.reason == expected
    else:
        assert rules.audit_transition(state, action, {actor}) == expected


def test_every_cell_of_the_tables_is_reachable_by_its_actors() -> None:
    for (state, action), (new, actors) in AUDIT_TRANSITIONS.items():
        for actor in actors:
            assert rules.audit_transition(state, action, {actor}) == new
    for (state, action), (new, actors) in PROGRAMME_TRANSITIONS.items():
        for actor in actors:
            assert rules.programme_transition(state, action, {actor}) == new


def test_no_step_leaves_a_closed_or_cancelled_audit() -> None:
    for state in (S.CLOSED, S.CANCELLED):
        assert rules.audit_moves(state, set(Actor)) == []


def weekdays(start: date, n: int) -> date:
    day = start
    while n:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


@pytest.mark.parametrize(
    ("audit_day", "latest"),
    [
        (date(2027, 3, 16), date(2027, 3, 9)),  # Tuesday → Tuesday a week before
        (date(2027, 3, 15), date(2027, 3, 8)),  # Monday → Monday a week before
        (date(2027, 3, 20), date(2027, 3, 14)),  # a Saturday audit: Sunday 14 + 5 = Friday 19
    ],
)
def test_latest_notice_date(audit_day, latest) -> None:
    assert rules.latest_notice_date(audit_day, weekdays) == latest
    assert rules.notice_in_time(latest, audit_day, weekdays)
    assert not rules.notice_in_time(latest + timedelta(days=1), audit_day, weekdays)


def test_report_due_five_working_days_after_the_closing_meeting() -> None:
    assert rules.report_due(date(2027, 3, 19), weekdays) == date(2027, 3, 26)


D = date(2027, 3, 16)
STATUS_TABLE = [
    (S.PLANNED, date(2027, 3, 1), None, Status.PLANNED),
    (S.PLANNED, date(2027, 3, 10), None, Status.OVERDUE),  # past the latest notice date
    (S.NOTIFIED, date(2027, 3, 16), None, Status.NOTIFIED),
    (S.NOTIFIED, date(2027, 3, 17), None, Status.OVERDUE),
    (S.IN_PROGRESS, date(2027, 4, 30), None, Status.IN_PROGRESS),
    (S.REPORTING, date(2027, 3, 23), date(2027, 3, 23), Status.IN_PROGRESS),
    (S.REPORTING, date(2027, 3, 24), date(2027, 3, 23), Status.OVERDUE),
    (S.REPORTED, date(2027, 5, 1), date(2027, 3, 23), Status.REPORTED),
    (S.CLOSED, date(2027, 5, 1), date(2027, 3, 23), Status.CLOSED),
    (S.CANCELLED, date(2027, 5, 1), None, Status.CANCELLED),
]


@pytest.mark.parametrize(("state", "today", "report_due", "expected"), STATUS_TABLE)
def test_display_status(state, today, report_due, expected) -> None:
    dates = AuditDates(
        state=state, audit_date=D, latest_notice=date(2027, 3, 9), report_due=report_due
    )
    assert rules.display_status(dates, today) == expected


@pytest.mark.parametrize(
    ("serious", "general", "open_ncs", "suggested"),
    [
        (0, 0, 0, 1),
        (1, 0, 0, 2),
        (0, 2, 0, 1),
        (0, 3, 0, 2),
        (0, 0, 1, 1),
        (0, 0, 2, 2),
    ],
)
def test_frequency_raised_where_results_were_poor(serious, general, open_ncs, suggested) -> None:
    assert rules.suggested_audits(serious, general, open_ncs) == suggested


def test_missing_departments() -> None:
    assert rules.missing_departments([1, 2, 3], [2, 2]) == [1, 3]
