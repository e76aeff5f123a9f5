"""The review state machine: every cell of the table, for every actor."""

import pytest

from qms.reviews.lifecycle import (
    TRANSITIONS,
    ReviewAction,
    ReviewActor,
    ReviewState,
    ReviewTransitionError,
    allowed_moves,
    transition,
)

CELLS = [(state, action) for state in ReviewState for action in ReviewAction]


@pytest.mark.parametrize(("state", "action"), CELLS)
def test_every_cell(state, action):
    rule = TRANSITIONS.get((state, action))
    for actor in ReviewActor:
        if rule is None:
            with pytest.raises(ReviewTransitionError) as err:
                transition(state, action, actor)
            assert err.value.reason == "state"
        elif actor in rule[1]:
            assert transition(state, action, actor) == rule[0]
        else:
            with pytest.raises(ReviewTransitionError) as err:
                transition(state, action, actor)
            assert err.value.reason == "actor"


def test_the_happy_path():
    path = [
        (ReviewAction.SUBMIT_PLAN, ReviewActor.LEADER, ReviewState.PLAN_SUBMITTED),
        (ReviewAction.APPROVE_PLAN, ReviewActor.APPROVER, ReviewState.PLAN_APPROVED),
        (ReviewAction.PUBLISH, ReviewActor.LEADER, ReviewState.PRE_REVIEW),
        (ReviewAction.START_MEETING, ReviewActor.RECORDER, ReviewState.MEETING),
        (ReviewAction.CLOSE_MEETING, ReviewActor.LEADER, ReviewState.REPORTING),
        (ReviewAction.SUBMIT_REPORT, ReviewActor.LEADER, ReviewState.REPORT_SUBMITTED),
        (ReviewAction.APPROVE_REPORT, ReviewActor.APPROVER, ReviewState.FOLLOW_UP),
        (ReviewAction.ARCHIVE, ReviewActor.LEADER, ReviewState.ARCHIVED),
    ]
    state = ReviewState.PLANNING
    for action, actor, expected in path:
        state = transition(state, action, actor)
        assert state == expected


def test_closed_reviews_allow_nothing():
    for state in (ReviewState.ARCHIVED, ReviewState.CANCELLED):
        assert allowed_moves(state, frozenset(ReviewActor)) == []


def test_the_author_neither_raises_nor_disposes():
    author = frozenset({ReviewActor.AUTHOR, ReviewActor.PARTICIPANT})
    with pytest.raises(ReviewTransitionError):
        transition(ReviewState.MEETING, ReviewAction.RAISE_DEFECT, author)
    with pytest.raises(ReviewTransitionError):
        transition(ReviewState.MEETING, ReviewAction.DISPOSE, author)
    assert transition(ReviewState.MEETING, ReviewAction.RESPOND, author) == ReviewState.MEETING


def test_the_approver_returns_a_plan_to_planning():
    assert transition(ReviewState.PLAN_SUBMITTED, ReviewAction.RETURN_PLAN,
                      ReviewActor.APPROVER) == ReviewState.PLANNING
