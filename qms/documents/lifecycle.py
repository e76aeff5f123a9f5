"""The lifecycle of a document revision as a pure state machine. No Flask, no SQLAlchemy.

draft → in_review → approved → effective → superseded (when the next revision takes effect)
effective → obsolete (withdrawal); draft | in_review → cancelled; in_review → draft (rejection
or an edit). Who may act is a functional role the service works out for the revision."""

from __future__ import annotations

import enum


class RevState(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    EFFECTIVE = "effective"
    SUPERSEDED = "superseded"
    OBSOLETE = "obsolete"
    CANCELLED = "cancelled"


class Action(enum.StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    REVIEW = "review"  # one reviewer agrees; approval waits until all have
    REJECT = "reject"
    APPROVE = "approve"
    ISSUE = "issue"  # the clerk releases an approved revision, possibly for a future date
    ACTIVATE = "activate"  # the effective date arrives
    SUPERSEDE = "supersede"
    WITHDRAW = "withdraw"
    CANCEL = "cancel"


class Actor(enum.StrEnum):
    """Functional roles on one revision."""

    AUTHOR = "author"
    REVIEWER = "reviewer"  # assigned to this revision
    APPROVER = "approver"  # designated, holding the approval right for its kind and department
    CONTROLLER = "controller"  # quality clerk or manager: document control
    SYSTEM = "system"


_AUTHORING = frozenset({Actor.AUTHOR, Actor.CONTROLLER})

# (state, action) → (next state, who may do it)
TRANSITIONS: dict[tuple[RevState, Action], tuple[RevState, frozenset[Actor]]] = {
    (RevState.DRAFT, Action.EDIT): (RevState.DRAFT, _AUTHORING),
    (RevState.DRAFT, Action.SUBMIT): (RevState.IN_REVIEW, _AUTHORING),
    (RevState.DRAFT, Action.CANCEL): (RevState.CANCELLED, _AUTHORING),
    (RevState.IN_REVIEW, Action.EDIT): (RevState.DRAFT, _AUTHORING),
    (RevState.IN_REVIEW, Action.REVIEW): (RevState.IN_REVIEW, frozenset({Actor.REVIEWER})),
    (RevState.IN_REVIEW, Action.REJECT): (
        RevState.DRAFT,
        frozenset({Actor.REVIEWER, Actor.APPROVER}),
    ),
    (RevState.IN_REVIEW, Action.APPROVE): (RevState.APPROVED, frozenset({Actor.APPROVER})),
    (RevState.IN_REVIEW, Action.CANCEL): (RevState.CANCELLED, _AUTHORING),
    (RevState.APPROVED, Action.ISSUE): (RevState.APPROVED, frozenset({Actor.CONTROLLER})),
    (RevState.APPROVED, Action.ACTIVATE): (
        RevState.EFFECTIVE,
        frozenset({Actor.SYSTEM, Actor.CONTROLLER}),
    ),
    (RevState.EFFECTIVE, Action.SUPERSEDE): (RevState.SUPERSEDED, frozenset({Actor.SYSTEM})),
    (RevState.EFFECTIVE, Action.WITHDRAW): (RevState.OBSOLETE, frozenset({Actor.CONTROLLER})),
}

# States whose content can never change again.
FROZEN = frozenset(
    {
        RevState.APPROVED,
        RevState.EFFECTIVE,
        RevState.SUPERSEDED,
        RevState.OBSOLETE,
        RevState.CANCELLED,
    }
)
# A document has at most one revision in work (drafted, in review or approved, not yet effective).
IN_WORK = frozenset({RevState.DRAFT, RevState.IN_REVIEW, RevState.APPROVED})


class TransitionError(Exception):
    """A transition the state does not allow ("state"), or not for this actor ("actor")."""

    def __init__(
        self, state: RevState, action: Action, actors: frozenset[Actor], reason: str
    ) -> None:
        super().__init__(f"{action} not allowed from {state} for {sorted(actors)}: {reason}")
        self.state = state
        self.action = action
        self.actors = actors
        self.reason = reason


def transition(state: RevState, action: Action, actors: frozenset[Actor] | Actor) -> RevState:
    """The state after action, or TransitionError."""
    held = frozenset({actors}) if isinstance(actors, Actor) else actors
    rule = TRANSITIONS.get((state, action))
    if rule is None:
        raise TransitionError(state, action, held, "state")
    next_state, allowed = rule
    if not held & allowed:
        raise TransitionError(state, action, held, "actor")
    return next_state


def allowed_actions(state: RevState, actors: frozenset[Actor]) -> list[Action]:
    return [action for (s, action), (_n, who) in TRANSITIONS.items() if s == state and actors & who]
