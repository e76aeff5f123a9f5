"""Every cell of the transition table: each state × action × functional role."""

import itertools

import pytest

from qms.documents.lifecycle import (
    TRANSITIONS,
    Action,
    Actor,
    RevState,
    TransitionError,
    allowed_actions,
    transition,
)

EXPECTED = {
    (RevState.DRAFT, Action.EDIT): (RevState.DRAFT, {Actor.AUTHOR, Actor.CONTROLLER}),
    (RevState.DRAFT, Action.SUBMIT): (RevState.IN_REVIEW, {Actor.AUTHOR, Actor.CONTROLLER}),
    (RevState.DRAFT, Action.CANCEL): (RevState.CANCELLED, {Actor.AUTHOR, Actor.CONTROLLER}),
    (RevState.IN_REVIEW, Action.EDIT): (RevState.DRAFT, {Actor.AUTHOR, Actor.CONTROLLER}),
    (RevState.IN_REVIEW, Action.REVIEW): (RevState.IN_REVIEW, {Actor.REVIEWER}),
    (RevState.IN_REVIEW, Action.REJECT): (RevState.DRAFT, {Actor.REVIEWER, Actor.APPROVER}),
    (RevState.IN_REVIEW, Action.APPROVE): (RevState.APPROVED, {Actor.APPROVER}),
    (RevState.IN_REVIEW, Action.CANCEL): (RevState.CANCELLED, {Actor.AUTHOR, Actor.CONTROLLER}),
    (RevState.APPROVED, Action.ISSUE): (RevState.APPROVED, {Actor.CONTROLLER}),
    (RevState.APPROVED, Action.ACTIVATE): (RevState.EFFECTIVE, {Actor.SYSTEM, Actor.CONTROLLER}),
    (RevState.EFFECTIVE, Action.SUPERSEDE): (RevState.SUPERSEDED, {Actor.SYSTEM}),
    (RevState.EFFECTIVE, Action.WITHDRAW): (RevState.OBSOLETE, {Actor.CONTROLLER}),
}


@pytest.mark.parametrize(
    ("state", "action", "actor"), list(itertools.product(RevState, Action, Actor))
)
def test_every_cell(state, action, actor):
    expected = EXPECTED.get((state, action))
    if expected is None:
        with pytest.raises(TransitionError) as err:
            transition(state, action, actor)
        assert err.value.reason == "state"
    elif actor in expected[1]:
        assert transition(state, action, actor) == expected[0]
    else:
        with pytest.raises(TransitionError) as err:
            transition(state, action, actor)
        assert err.value.reason == "actor"


def test_table_is_the_documented_one():
    assert {k: (v[0], set(v[1])) for k, v in TRANSITIONS.items()} == EXPECTED


def test_terminal_states_allow_nothing():
    for state in (RevState.SUPERSEDED, RevState.OBSOLETE, RevState.CANCELLED):
        assert allowed_actions(state, frozenset(Actor)) == []


def test_labels():
    from qms.documents.labels import format_label, next_label, parse_label

    assert format_label(1, 0) == "A/0"
    assert format_label(*next_label(1, 0, major_change=False)) == "A/1"
    assert format_label(*next_label(1, 3, major_change=True)) == "B/0"
    assert format_label(27, 0) == "AA/0"
    assert parse_label("b/2") == (2, 2)
    assert format_label(2, 1, "numeric") == "2.1"
    with pytest.raises(ValueError, match="中"):
        parse_label("中/1")
