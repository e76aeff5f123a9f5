"""The nonconformity's pure rules: every cell of the state machine, the deadlines by grade
across the National Day holiday, the verification interval and who may verify."""

from __future__ import annotations

from datetime import date

import pytest

from qms.calendar.rules import WorkingCalendar
from qms.calendar.service import shipped_years
from qms.nonconformity import rules
from qms.nonconformity.rules import (
    ActionStatus,
    Grade,
    NcAction,
    NcActor,
    NcState,
    NcTransitionError,
)

S, A = NcState, NcAction
M, OW, AO, V = NcActor.MANAGER, NcActor.OWNER, NcActor.ACTION_OWNER, NcActor.VERIFIER

# (state, action) → (next state, who may) — written out, not read from the module
EXPECTED = {
    (S.OPEN, A.RECORD_CAUSE): (S.CAUSE_AND_PLAN, {M, OW}),
    (S.CAUSE_AND_PLAN, A.RECORD_CAUSE): (S.CAUSE_AND_PLAN, {M, OW}),
    (S.CAUSE_AND_PLAN, A.ADD_ACTION): (S.CAUSE_AND_PLAN, {M, OW}),
    (S.CAUSE_AND_PLAN, A.RAISE_DOCUMENT_CHANGE): (S.CAUSE_AND_PLAN, {M, OW, AO}),
    (S.CAUSE_AND_PLAN, A.START_ACTIONS): (S.ACTIONS_IN_PROGRESS, {M, OW}),
    (S.ACTIONS_IN_PROGRESS, A.ADD_ACTION): (S.ACTIONS_IN_PROGRESS, {M, OW}),
    (S.ACTIONS_IN_PROGRESS, A.RAISE_DOCUMENT_CHANGE): (S.ACTIONS_IN_PROGRESS, {M, OW, AO}),
    (S.ACTIONS_IN_PROGRESS, A.COMPLETE_ACTION): (S.ACTIONS_IN_PROGRESS, {M, OW, AO}),
    (S.ACTIONS_IN_PROGRESS, A.SUBMIT_FOR_VERIFICATION): (S.AWAITING_VERIFICATION, {M, OW}),
    (S.AWAITING_VERIFICATION, A.VERIFY_EFFECTIVE): (S.AWAITING_VERIFICATION, {V}),
    (S.AWAITING_VERIFICATION, A.VERIFY_INEFFECTIVE): (S.REOPENED, {V}),
    (S.AWAITING_VERIFICATION, A.CLOSE): (S.CLOSED, {M}),
    (S.AWAITING_VERIFICATION, A.REOPEN): (S.REOPENED, {M}),
    (S.CLOSED, A.REOPEN): (S.REOPENED, {M}),
    (S.REOPENED, A.RECORD_CAUSE): (S.REOPENED, {M, OW}),
    (S.REOPENED, A.ADD_ACTION): (S.REOPENED, {M, OW}),
    (S.REOPENED, A.RAISE_DOCUMENT_CHANGE): (S.REOPENED, {M, OW, AO}),
    (S.REOPENED, A.START_ACTIONS): (S.ACTIONS_IN_PROGRESS, {M, OW}),
}


@pytest.mark.parametrize("state", list(NcState))
@pytest.mark.parametrize("action", list(NcAction))
@pytest.mark.parametrize("actor", list(NcActor))
def test_every_cell(state: NcState, action: NcAction, actor: NcActor) -> None:
    expected = EXPECTED.get((state, action))
    if expected is None:
        with pytest.raises(NcTransitionError) as refused:
            rules.transition(state, action, frozenset({actor}))
        assert refused.value.reason == "state"
        return
    target, allowed = expected
    if actor in allowed:
        assert rules.transition(state, action, frozenset({actor})) == target
    else:
        with pytest.raises(NcTransitionError) as refused:
            rules.transition(state, action, frozenset({actor}))
        assert refused.value.reason == "actor"


def test_the_table_has_nothing_more() -> None:
    assert set(rules.TRANSITIONS) == set(EXPECTED)


def test_allowed_actions_for_the_owner_while_planning() -> None:
    assert rules.allowed_actions(S.CAUSE_AND_PLAN, frozenset({OW})) == [
        A.RECORD_CAUSE,
        A.ADD_ACTION,
        A.RAISE_DOCUMENT_CHANGE,
        A.START_ACTIONS,
    ]
    assert rules.allowed_actions(S.CLOSED, frozenset({OW, AO, V})) == []


# The calendar as shipped for 2026 (qms/calendar/data/cn-2026.csv): Mid-Autumn 25–27
# September and National Day 1–7 October off; Sunday 20 September and Saturday 10 October
# are make-up working days.
NATIONAL_DAY = WorkingCalendar(shipped_years()[2026].days)


@pytest.mark.parametrize(
    ("raised", "cause_due", "serious_due", "general_due"),
    [
        # Thursday 24 Sept: 28, 29, 30 Sept → 30 Sept; serious: …, 8, 9, Sat 10, 12–15 Oct
        (date(2026, 9, 24), date(2026, 9, 30), date(2026, 10, 15), date(2026, 10, 24)),
        # Wednesday 30 Sept: 8, 9, Sat 10 Oct; serious: 8, 9, 10, 12–16, 19, 20 → 20 Oct
        (date(2026, 9, 30), date(2026, 10, 10), date(2026, 10, 20), date(2026, 10, 30)),
        # raised in the holiday (Saturday 3 Oct): counted from the first working day, 8 Oct
        (date(2026, 10, 3), date(2026, 10, 10), date(2026, 10, 20), date(2026, 11, 2)),
    ],
)
def test_deadlines_across_national_day(
    raised: date, cause_due: date, serious_due: date, general_due: date
) -> None:
    add = NATIONAL_DAY.add_working_days
    assert rules.cause_due(raised, add) == cause_due
    assert rules.correction_due(raised, Grade.SERIOUS, add) == serious_due
    assert rules.correction_due(raised, Grade.GENERAL, add) == general_due


def test_deadlines_are_one_table() -> None:
    assert rules.CORRECTION_DEADLINES[Grade.SERIOUS] == rules.Deadline(10, working=True)
    assert rules.CORRECTION_DEADLINES[Grade.GENERAL] == rules.Deadline(30, working=False)
    assert rules.Deadline(3, working=True) == rules.CAUSE_AND_PLAN_DEADLINE


def test_overdue_only_while_the_deadline_runs() -> None:
    due, after = date(2026, 11, 2), date(2026, 11, 3)
    assert rules.is_cause_overdue(S.OPEN, due, after)
    assert not rules.is_cause_overdue(S.OPEN, due, due)
    assert not rules.is_cause_overdue(S.ACTIONS_IN_PROGRESS, due, after)
    assert rules.is_correction_overdue(S.ACTIONS_IN_PROGRESS, due, after)
    assert not rules.is_correction_overdue(S.AWAITING_VERIFICATION, due, after)
    assert not rules.is_correction_overdue(S.CLOSED, due, after)
    assert rules.is_action_overdue(ActionStatus.OPEN, due, after)
    assert not rules.is_action_overdue(ActionStatus.DONE, due, after)


def test_earliest_verification() -> None:
    assert rules.earliest_verification(date(2026, 11, 2), 30) == date(2026, 12, 2)
    assert rules.earliest_verification(date(2026, 11, 2), 0) == date(2026, 11, 2)


@pytest.mark.parametrize(
    ("verifier", "department", "owners", "expected"),
    [
        (1, 10, frozenset({1, 2}), "action_owner"),
        (1, 20, frozenset({1}), "action_owner"),
        (3, 20, frozenset({1}), "department"),
        (3, 10, frozenset({1}), None),
        (3, None, frozenset(), None),
    ],
)
def test_who_may_verify(
    verifier: int, department: int | None, owners: frozenset[int], expected: str | None
) -> None:
    assert rules.verifier_refusal(verifier, department, 20, owners) == expected
