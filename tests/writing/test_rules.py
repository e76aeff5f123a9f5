"""The writing plan's state machine and its dates, as pure rules: every cell of the table."""

from __future__ import annotations

from datetime import date

import pytest

from qms.writing import rules
from qms.writing.rules import Facts, PlanAction, PlanState, Progress, StepRefused

READY = Facts(items=3, manual_sections=2, manual_assembled=True)

EXPECTED = {
    (PlanState.DRAFTING, PlanAction.CONFIRM): PlanState.CONFIRMED,
    (PlanState.CONFIRMED, PlanAction.START_WRITING): PlanState.WRITING,
    (PlanState.WRITING, PlanAction.CONSOLIDATE): PlanState.CONSOLIDATING,
    (PlanState.CONSOLIDATING, PlanAction.CIRCULATE): PlanState.CIRCULATING,
    (PlanState.CIRCULATING, PlanAction.RETURN_FOR_CHANGES): PlanState.CONSOLIDATING,
    (PlanState.CIRCULATING, PlanAction.FINALISE): PlanState.FINALISED,
    **{
        (s, PlanAction.CANCEL): PlanState.CANCELLED
        for s in PlanState
        if s not in (PlanState.FINALISED, PlanState.CANCELLED)
    },
}


@pytest.mark.parametrize("state", list(PlanState))
@pytest.mark.parametrize("action", list(PlanAction))
def test_every_cell_of_the_table(state, action):
    expected = EXPECTED.get((state, action))
    if expected is None:
        with pytest.raises(StepRefused) as refused:
            rules.transition(state, action, READY)
        assert refused.value.code == "out_of_order"
    else:
        assert rules.transition(state, action, READY) == expected


def test_an_unknown_step_is_refused():
    with pytest.raises(StepRefused) as refused:
        rules.transition(PlanState.DRAFTING, "approve", READY)
    assert refused.value.code == "unknown_action"


def test_a_plan_without_items_is_not_confirmed():
    with pytest.raises(StepRefused) as refused:
        rules.transition(PlanState.DRAFTING, "confirm", Facts(items=0))
    assert refused.value.code == "no_items"


@pytest.mark.parametrize("action", ["circulate", "finalise"])
def test_the_manual_is_assembled_before_circulating_and_finalising(action):
    state = PlanState.CONSOLIDATING if action == "circulate" else PlanState.CIRCULATING
    with pytest.raises(StepRefused) as refused:
        rules.transition(state, action, Facts(items=2, manual_sections=2))
    assert refused.value.code == "not_assembled"
    # a plan of regulations only has no manual to assemble
    assert rules.transition(state, action, Facts(items=2, manual_sections=0))


def test_finalising_waits_for_every_comment_and_finding():
    with pytest.raises(StepRefused) as refused:
        rules.transition(PlanState.CIRCULATING, "finalise", Facts(items=1, undecided_comments=2))
    assert (refused.value.code, refused.value.count) == ("undecided_comments", 2)
    with pytest.raises(StepRefused) as refused:
        rules.transition(PlanState.CIRCULATING, "finalise", Facts(items=1, unresolved_findings=1))
    assert (refused.value.code, refused.value.count) == ("unresolved_findings", 1)


def test_finalising_waits_for_every_submitted_text_to_be_taken_in():
    with pytest.raises(StepRefused) as refused:
        rules.transition(PlanState.CIRCULATING, "finalise", Facts(items=3, untaken_drafts=2))
    assert (refused.value.code, refused.value.count) == ("untaken_drafts", 2)
    # consolidating and circulating go on meanwhile
    facts = Facts(items=3, untaken_drafts=2)
    assert rules.transition(PlanState.CONSOLIDATING, "circulate", facts) == PlanState.CIRCULATING
    assert rules.transition(PlanState.CIRCULATING, "finalise", Facts(items=3)) == "finalised"


def test_allowed_actions_follow_the_table():
    assert rules.allowed_actions(PlanState.DRAFTING) == [PlanAction.CONFIRM, PlanAction.CANCEL]
    assert rules.allowed_actions(PlanState.FINALISED) == []


TODAY = date(2027, 3, 10)


@pytest.mark.parametrize(
    ("start", "draft", "final", "problems"),
    [
        (date(2027, 3, 1), date(2027, 3, 20), date(2027, 4, 1), []),
        (date(2027, 3, 21), date(2027, 3, 20), date(2027, 4, 1), ["start_after_draft"]),
        (date(2027, 3, 1), date(2027, 4, 2), date(2027, 4, 1), ["draft_after_final"]),
        (date(2027, 3, 1), date(2027, 3, 5), date(2027, 3, 9), ["final_in_past"]),
        # the same day is allowed for each
        (TODAY, TODAY, TODAY, []),
    ],
)
def test_item_dates(start, draft, final, problems):
    assert rules.date_problems(start, draft, final, TODAY) == problems


@pytest.mark.parametrize(
    ("started", "submitted", "draft_due", "expected"),
    [
        (True, True, date(2027, 3, 1), Progress.IN),
        (False, False, date(2027, 3, 9), Progress.LATE),
        (True, False, date(2027, 3, 9), Progress.LATE),
        (True, False, TODAY, Progress.WRITING),  # due today is not late yet
        (False, False, date(2027, 3, 11), Progress.NOT_STARTED),
    ],
)
def test_progress(started, submitted, draft_due, expected):
    got = rules.progress(started=started, submitted=submitted, draft_due=draft_due, today=TODAY)
    assert got == expected


@pytest.mark.parametrize(
    ("submitted", "draft_due", "final_due", "stage"),
    [
        (False, date(2027, 3, 10), date(2027, 3, 20), None),
        (False, date(2027, 3, 9), date(2027, 3, 20), "draft"),
        (False, date(2027, 3, 1), date(2027, 3, 9), "final"),
        (True, date(2027, 3, 1), date(2027, 3, 9), None),
    ],
)
def test_overdue_stage(submitted, draft_due, final_due, stage):
    got = rules.overdue_stage(
        submitted=submitted, draft_due=draft_due, final_due=final_due, today=TODAY
    )
    assert got == stage


def test_days_late():
    assert rules.days_late(date(2027, 3, 7), TODAY) == 3
    assert rules.days_late(date(2027, 3, 17), TODAY) == 0
