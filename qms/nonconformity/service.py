"""Nonconformity operations: raise, root cause and plan, actions (and the document change an
action raises), verification of effectiveness with a signature, close, reopen.

Every function takes what it needs, applies the pure rules, writes the audit trail in the
caller's transaction and only flushes. Callers (views, the API, the audits feature, the
CLI) commit once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock, events
from qms.auth.models import Department, Meaning, Role, User, UserRole
from qms.auth.permissions import Permission
from qms.auth.signatures import check_seen, sign
from qms.documents.lifecycle import RevState
from qms.documents.models import Document, Revision
from qms.errors import Conflict, Forbidden, Invalid, NotFound
from qms.nonconformity import rules
from qms.nonconformity.models import CorrectiveAction, Nonconformity, Verification
from qms.nonconformity.rules import (
    ActionStatus,
    Grade,
    NcAction,
    NcActor,
    NcState,
    NcTransitionError,
    Source,
)
from qms.trail import service as trail

OBJECT = "nonconformity"
ACTION_OBJECT = "nc_action"

MAX_DESCRIPTION = 4000
MAX_EVIDENCE = 8000
MAX_TEXT = 4000
MAX_WHYS = 5
_CLAUSE = re.compile(r"^\d{1,2}(\.\d{1,2}){0,4}$")
# "ISO 9001:2015 7.5.3" and "GB/T 19001-2016 7.5.3" are clause 7.5.3
_STANDARD = re.compile(r"^(ISO\s*9001(:2015)?|GB/T\s*19001(-2016)?)\s*(条款|clause)?\s*", re.I)


# -- working days ----------------------------------------------------------------------------


def working_days(session: Session) -> rules.AddWorkingDays:
    """The product's one working-day calendar (weekends plus the holiday table)."""
    from qms.calendar.service import add_working_days

    return lambda start, n: add_working_days(session, start, n)


# -- loading and who is who ------------------------------------------------------------------


def get_nonconformity(session: Session, nc_id: int, *, for_update: bool = False) -> Nonconformity:
    query = sa.select(Nonconformity).where(Nonconformity.id == nc_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Nonconformity)
    nc = session.scalars(query).unique().one_or_none()
    if nc is None:
        raise NotFound(_l("No such nonconformity."))
    return nc


def is_manager(user: User) -> bool:
    return user.can(Permission.MANAGE_NONCONFORMITIES)


def can_view(user: User, nc: Nonconformity) -> bool:
    """Managers and auditors see all; others their department's and what they own."""
    if user.can(Permission.VIEW_NONCONFORMITIES):
        return True
    if user.department_id is not None and user.department_id == nc.department_id:
        return True
    return nc.owner_id == user.id or any(a.owner_id == user.id for a in nc.actions)


def action_owner_ids(nc: Nonconformity) -> frozenset[int]:
    return frozenset(a.owner_id for a in nc.actions)


def actors_for(user: User, nc: Nonconformity) -> frozenset[NcActor]:
    actors: set[NcActor] = set()
    if is_manager(user):
        actors.add(NcActor.MANAGER)
    if nc.owner_id == user.id:
        actors.add(NcActor.OWNER)
    if user.id in {a.owner_id for a in nc.round_actions()}:
        actors.add(NcActor.ACTION_OWNER)
    if user.can(Permission.VERIFY_NONCONFORMITIES) and _verifier_refusal(user, nc) is None:
        actors.add(NcActor.VERIFIER)
    return frozenset(actors)


def _verifier_refusal(user: User, nc: Nonconformity) -> str | None:
    return rules.verifier_refusal(
        user.id, user.department_id, nc.department_id, action_owner_ids(nc)
    )


def department_head(session: Session, department_id: int) -> User | None:
    """The head of a department: its active member who approves its documents."""
    return session.scalars(
        sa.select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            User.department_id == department_id,
            User.active.is_(True),
            UserRole.role == Role.APPROVER,
        )
        .order_by(User.id)
        .limit(1)
    ).first()


def quality_managers(session: Session) -> list[User]:
    return list(
        session.scalars(
            sa.select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.active.is_(True), UserRole.role == Role.QUALITY_MANAGER)
            .order_by(User.id)
        ).unique()
    )


STATE_REFUSALS: dict[str, Any] = {
    "state": _l("This step is not possible while the nonconformity is %(state)s."),
    "actor": _l("You may not take this step on this nonconformity."),
}


def _apply(nc: Nonconformity, action: NcAction, user: User) -> NcState:
    from qms.nonconformity.labels import STATE_LABELS

    try:
        return rules.transition(nc.state, action, actors_for(user, nc))
    except NcTransitionError as refused:
        if refused.reason == "state":
            raise Conflict(
                _l(
                    "This step is not possible while the nonconformity is %(state)s.",
                    state=STATE_LABELS[nc.state],
                ),
                code="transition_not_allowed",
            ) from None
        raise Forbidden(
            _l("You may not take this step on this nonconformity."), code="not_allowed"
        ) from None


def _set_state(
    session: Session, actor: User | None, nc: Nonconformity, state: NcState, reason: str = ""
) -> None:
    if nc.state != state:
        trail.record(
            session,
            actor,
            "transition",
            OBJECT,
            nc.id,
            field="state",
            old=nc.state,
            new=state,
            reason=reason,
        )
        nc.state = state


# -- input checks ----------------------------------------------------------------------------


def _text(value: Any, what: Any, *, limit: int, required: bool = True) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        raise Invalid(_l("%(what)s must be text.", what=what), code="invalid")
    if "\x00" in text:
        raise Invalid(_l("%(what)s contains a character that cannot be stored.", what=what))
    if required and not text:
        raise Invalid(_l("%(what)s is required.", what=what), code="required")
    if len(text) > limit:
        raise Invalid(
            _l("%(what)s is longer than %(limit)d characters.", what=what, limit=limit),
            code="too_long",
        )
    return text


def _department(session: Session, department: Department | int | None) -> Department:
    dept_id = department.id if isinstance(department, Department) else department
    found = session.get(Department, dept_id) if isinstance(dept_id, int) else None
    if found is None or not found.active:
        raise Invalid(_l("Choose an existing department."), code="department_invalid")
    return found


def _user(session: Session, user: User | int | None, what: Any) -> User:
    user_id = user.id if isinstance(user, User) else user
    found = session.get(User, user_id) if isinstance(user_id, int) else None
    if found is None or not found.active:
        raise Invalid(_l("%(what)s: choose an active user.", what=what), code="user_invalid")
    return found


def _clause(value: Any) -> str:
    clause = _text(value, _l("ISO 9001 clause"), limit=20)
    clause = _STANDARD.sub("", clause).strip()
    if not _CLAUSE.match(clause):
        raise Invalid(_l("The ISO 9001 clause is a number such as 8.5.1."), code="clause_invalid")
    return clause


def _process(session: Session, value: Any) -> str | None:
    number = _text(value, _l("Process"), limit=32, required=False)
    if not number:
        return None
    if session.scalar(sa.select(Document.id).where(Document.number == number)) is None:
        raise Invalid(
            _l("%(number)s is not a controlled document.", number=number),
            code="process_invalid",
        )
    return number


def _choice(value: Any, enum_type: type[Any], what: Any) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        raise Invalid(_l("%(what)s: not one of the choices.", what=what), code="invalid") from None


def _interval(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(_l("The verification interval is a whole number of days."))
    if not 0 <= value <= rules.MAX_VERIFICATION_INTERVAL_DAYS:
        raise Invalid(
            _l(
                "The verification interval is between 0 and %(max)d days.",
                max=rules.MAX_VERIFICATION_INTERVAL_DAYS,
            ),
            code="interval_invalid",
        )
    return value


def _next_number(session: Session, year: int) -> str:
    from qms.documents.service import _next_seq  # the same never-reused counters

    prefix = f"NC-{year}-"
    while True:
        number = f"{prefix}{_next_seq(session, prefix):03d}"
        if (
            session.scalar(sa.select(Nonconformity.id).where(Nonconformity.number == number))
            is None
        ):
            return number


# -- raising ---------------------------------------------------------------------------------


def raise_nonconformity(
    session: Session,
    *,
    actor: User,
    source: str,
    source_id: int | None,
    source_label: str,
    department: Department | int,
    clause: str,
    process_number: str | None,
    grade: str,
    description: str,
    evidence: str,
    raised_on: date | None = None,
    owner: User | int | None = None,
    verification_interval_days: int | None = None,
) -> Nonconformity:
    """Record a nonconformity (BD-PZ-008). The caller has checked that the actor may raise
    it from its source; the owner is the department head unless one is given."""
    source_value: Source = _choice(source, Source, _l("Source"))
    grade_value: Grade = _choice(grade, Grade, _l("Grade"))
    dept = _department(session, department)
    label = _text(source_label, _l("Source"), limit=200, required=False)
    clause_value = _clause(clause)
    process = _process(session, process_number)
    description_text = _text(description, _l("Description"), limit=MAX_DESCRIPTION)
    evidence_text = (
        (evidence or "").strip() if isinstance(evidence, str) or evidence is None else evidence
    )
    if not evidence_text:
        raise Invalid(
            _l("A nonconformity needs its objective evidence: what was seen, where, when."),
            code="evidence_required",
        )
    evidence_text = _text(evidence_text, _l("Evidence"), limit=MAX_EVIDENCE)
    today = clock.today()
    day = raised_on or today
    if not isinstance(day, date):
        raise Invalid(_l("The date raised is not a date."))
    if day > today:
        raise Invalid(_l("A nonconformity cannot be raised on a future date."), code="date_future")
    interval = _interval(
        rules.DEFAULT_VERIFICATION_INTERVAL_DAYS
        if verification_interval_days is None
        else verification_interval_days
    )
    owner_user = (
        _user(session, owner, _l("Owner"))
        if owner is not None
        else department_head(session, dept.id)
    )
    add = working_days(session)
    nc = Nonconformity(
        number=_next_number(session, day.year),
        source=source_value,
        source_id=source_id,
        source_label=label,
        department=dept,
        department_id=dept.id,
        clause=clause_value,
        process_number=process,
        grade=grade_value,
        description=description_text,
        evidence=evidence_text,
        raised_by=actor,
        raised_by_id=actor.id,
        raised_on=day,
        owner=owner_user,
        owner_id=owner_user.id if owner_user else None,
        verification_interval_days=interval,
        state=NcState.OPEN,
        cause_due=rules.cause_due(day, add),
        correction_due=rules.correction_due(day, grade_value, add),
        whys=[],
        round=1,
    )
    session.add(nc)
    session.flush()
    trail.record(session, actor, "raise", OBJECT, nc.id, new=nc.number, reason=label)
    for name in ("source", "department", "clause", "process_number", "grade", "owner"):
        value: Any = getattr(nc, name)
        if name == "department":
            value = dept.code
        elif name == "owner":
            value = owner_user.display_name if owner_user else None
        if value:
            trail.record(session, actor, "raise", OBJECT, nc.id, field=name, new=value)
    trail.record(session, actor, "raise", OBJECT, nc.id, field="description", new=description_text)
    trail.record(session, actor, "raise", OBJECT, nc.id, field="evidence", new=evidence_text)
    return nc


def change_owner(
    session: Session, actor: User, nc: Nonconformity, owner: User | int, reason: str
) -> Nonconformity:
    if not is_manager(actor):
        raise Forbidden(_l("Only the quality manager or clerk may change the owner."))
    if nc.state == NcState.CLOSED:
        raise Conflict(_l("A closed nonconformity keeps its owner."))
    why = _text(reason, _l("Reason"), limit=MAX_TEXT)
    new_owner = _user(session, owner, _l("Owner"))
    old = nc.owner.display_name if nc.owner else None
    nc.owner, nc.owner_id = new_owner, new_owner.id
    trail.record(
        session,
        actor,
        "update",
        OBJECT,
        nc.id,
        field="owner",
        old=old,
        new=new_owner.display_name,
        reason=why,
    )
    session.flush()
    return nc


# -- cause and plan --------------------------------------------------------------------------


def record_cause_and_plan(
    session: Session,
    actor: User,
    nc: Nonconformity,
    *,
    whys: Sequence[str],
    root_cause: str,
    correction: str = "",
    plan: str = "",
    reason: str = "",
) -> Nonconformity:
    """The 5 whys, the root cause, the immediate correction and the plan of actions."""
    new_state = _apply(nc, NcAction.RECORD_CAUSE, actor)
    if isinstance(whys, str) or not isinstance(whys, Sequence):
        raise Invalid(_l("The whys are a list of answers."))
    answers = [
        _text(w, _l("Why %(n)d", n=i + 1), limit=MAX_TEXT, required=False)
        for i, w in enumerate(whys)
    ]
    while answers and not answers[-1]:
        answers.pop()
    if len(answers) > MAX_WHYS:
        raise Invalid(_l("At most five whys."), code="too_many_whys")
    if not answers or not all(answers):
        raise Invalid(
            _l("Answer the whys in order, starting with the first."), code="whys_required"
        )
    changes = {
        "whys": (" / ".join(nc.whys or []), " / ".join(answers)),
        "root_cause": (nc.root_cause, _text(root_cause, _l("Root cause"), limit=MAX_TEXT)),
        "correction": (
            nc.correction,
            _text(correction, _l("Correction"), limit=MAX_TEXT, required=False),
        ),
        "plan": (nc.plan, _text(plan, _l("Plan"), limit=MAX_TEXT, required=False)),
    }
    why = _text(reason, _l("Reason"), limit=MAX_TEXT, required=False)
    trail.record_changes(session, actor, "record_cause", OBJECT, nc.id, changes, reason=why)
    nc.whys = answers
    nc.root_cause = changes["root_cause"][1]
    nc.correction = changes["correction"][1]
    nc.plan = changes["plan"][1]
    _set_state(session, actor, nc, new_state, why)
    session.flush()
    return nc


# -- actions ---------------------------------------------------------------------------------


def _check_due(nc: Nonconformity, due_on: Any) -> date:
    if not isinstance(due_on, date):
        raise Invalid(_l("The due date is not a date."), code="due_invalid")
    if due_on < nc.raised_on:
        raise Invalid(
            _l(
                "The due date %(due)s is before the day the nonconformity was raised (%(raised)s).",
                due=due_on.isoformat(),
                raised=nc.raised_on.isoformat(),
            ),
            code="due_before_raised",
        )
    return due_on


def add_action(
    session: Session,
    actor: User,
    nc: Nonconformity,
    *,
    description: str,
    owner: User | int,
    due_on: date,
    reason: str = "",
) -> CorrectiveAction:
    new_state = _apply(nc, NcAction.ADD_ACTION, actor)
    text = _text(description, _l("Action"), limit=MAX_TEXT)
    owner_user = _user(session, owner, _l("Action owner"))
    due = _check_due(nc, due_on)
    action = CorrectiveAction(
        nonconformity=nc,
        round=nc.round,
        description=text,
        owner=owner_user,
        owner_id=owner_user.id,
        due_on=due,
        status=ActionStatus.OPEN,
        done_note="",
        created_by_id=actor.id,
    )
    session.add(action)
    session.flush()
    trail.record(
        session,
        actor,
        "add_action",
        OBJECT,
        nc.id,
        field="action",
        new=text,
        reason=_text(reason, _l("Reason"), limit=MAX_TEXT, required=False),
    )
    trail.record(
        session,
        actor,
        "create",
        ACTION_OBJECT,
        action.id,
        field="owner",
        new=owner_user.display_name,
    )
    trail.record(session, actor, "create", ACTION_OBJECT, action.id, field="due_on", new=due)
    _set_state(session, actor, nc, new_state)
    session.flush()
    return action


def get_action(session: Session, nc: Nonconformity, action_id: int) -> CorrectiveAction:
    action = session.get(CorrectiveAction, action_id)
    if action is None or action.nonconformity_id != nc.id:
        raise NotFound(_l("No such action on this nonconformity."))
    return action


def start_actions(session: Session, actor: User, nc: Nonconformity) -> Nonconformity:
    """The plan is complete: a root cause and at least one action; the work begins."""
    new_state = _apply(nc, NcAction.START_ACTIONS, actor)
    if not nc.root_cause:
        raise Conflict(_l("Record the root cause first."), code="cause_required")
    if not nc.round_actions():
        raise Conflict(_l("Plan at least one action first."), code="actions_required")
    _set_state(session, actor, nc, new_state)
    session.flush()
    return nc


def _mark_done(
    session: Session, actor: User | None, action: CorrectiveAction, note: str, day: date
) -> None:
    action.status = ActionStatus.DONE
    action.done_on = day
    action.done_note = note
    trail.record(
        session,
        actor,
        "complete_action",
        ACTION_OBJECT,
        action.id,
        field="status",
        old=ActionStatus.OPEN,
        new=ActionStatus.DONE,
        reason=note,
    )
    trail.record(
        session,
        actor,
        "complete_action",
        OBJECT,
        action.nonconformity_id,
        field="action",
        new=action.description,
    )


def complete_action(
    session: Session,
    actor: User,
    nc: Nonconformity,
    action: CorrectiveAction,
    *,
    note: str,
    done_on: date | None = None,
) -> CorrectiveAction:
    _apply(nc, NcAction.COMPLETE_ACTION, actor)
    if action.nonconformity_id != nc.id:
        raise NotFound(_l("No such action on this nonconformity."))
    if action.status == ActionStatus.DONE:
        raise Conflict(_l("This action is already done."), code="action_done")
    if action.round != nc.round:
        raise Conflict(_l("This action belongs to an earlier round."), code="action_old")
    if action.owner_id != actor.id and nc.owner_id != actor.id and not is_manager(actor):
        raise Forbidden(_l("Only the action's owner completes it."))
    if _waits_for_revision(action):
        raise Conflict(
            _l("This action is done when its document change becomes effective."),
            code="action_waits_for_revision",
        )
    text = _text(note, _l("What was done"), limit=MAX_TEXT)
    day = done_on or clock.today()
    if day < nc.raised_on or day > clock.today():
        raise Invalid(_l("The day done is between the day raised and today."))
    _mark_done(session, actor, action, text, day)
    session.flush()
    return action


def _waits_for_revision(action: CorrectiveAction) -> bool:
    """Raised a document change that is still on its way (a cancelled one frees it)."""
    return action.revision is not None and action.revision.state != RevState.CANCELLED


def raise_document_change(
    session: Session,
    actor: User,
    nc: Nonconformity,
    action: CorrectiveAction,
    *,
    document_number: str | None = None,
    major_change: bool = False,
) -> Revision:
    """Start the next revision of the controlling document for this action; the action is
    done when that revision becomes effective."""
    from qms.documents import service as documents

    _apply(nc, NcAction.RAISE_DOCUMENT_CHANGE, actor)
    if action.nonconformity_id != nc.id:
        raise NotFound(_l("No such action on this nonconformity."))
    if action.status != ActionStatus.OPEN or action.round != nc.round:
        raise Conflict(_l("Only an open action of this round can raise a document change."))
    if _waits_for_revision(action):
        raise Conflict(
            _l("This action already raised a document change."), code="change_already_raised"
        )
    number = (document_number or nc.process_number or "").strip()
    if not number:
        raise Invalid(_l("Name the controlled document to change."), code="document_required")
    document = session.scalar(sa.select(Document).where(Document.number == number))
    if document is None:
        raise Invalid(_l("%(number)s is not a controlled document.", number=number))
    summary = f"{nc.number}: {action.description}"[:2000]
    revision = documents.revise(
        session, actor, document, major_change=major_change, change_summary=summary
    )
    action.revision = revision
    action.revision_id = revision.id
    trail.record(
        session,
        actor,
        "document_change",
        ACTION_OBJECT,
        action.id,
        field="revision",
        new=f"{document.number} {revision.label}",
    )
    trail.record(
        session,
        actor,
        "document_change",
        OBJECT,
        nc.id,
        field="revision",
        new=f"{document.number} {revision.label}",
    )
    session.flush()
    return revision


@events.subscribe(events.REVISION_EFFECTIVE)
def _revision_effective(session: Session, revision: Revision, **_: Any) -> None:
    """A document change raised from an action is that action's completion."""
    actions = session.scalars(
        sa.select(CorrectiveAction).where(
            CorrectiveAction.revision_id == revision.id,
            CorrectiveAction.status == ActionStatus.OPEN,
        )
    ).all()
    for action in actions:
        _mark_done(
            session,
            None,
            action,
            f"{revision.document.number} {revision.label} effective",
            clock.today(),
        )
    if actions:
        session.flush()


def actions_for_revisions(session: Session, revision_ids: Sequence[int]) -> list[CorrectiveAction]:
    if not revision_ids:
        return []
    return list(
        session.scalars(
            sa.select(CorrectiveAction)
            .where(CorrectiveAction.revision_id.in_(list(revision_ids)))
            .order_by(CorrectiveAction.id)
        )
    )


def submit_for_verification(session: Session, actor: User, nc: Nonconformity) -> Nonconformity:
    """Every action of this round is done; the verification interval starts from the last."""
    _refuse_open_actions(nc)
    new_state = _apply(nc, NcAction.SUBMIT_FOR_VERIFICATION, actor)
    done = [a.done_on for a in nc.round_actions() if a.done_on is not None]
    if not done:
        raise Conflict(_l("Plan at least one action first."), code="actions_required")
    nc.actions_completed_on = max(done)
    trail.record(
        session,
        actor,
        "update",
        OBJECT,
        nc.id,
        field="actions_completed_on",
        new=nc.actions_completed_on,
    )
    _set_state(session, actor, nc, new_state)
    session.flush()
    return nc


def _refuse_open_actions(nc: Nonconformity) -> None:
    still_open = [a for a in nc.round_actions() if a.status == ActionStatus.OPEN]
    if still_open:
        raise Conflict(
            _l(
                "%(n)d action(s) are still open; they are done first.",
                n=len(still_open),
            ),
            code="actions_open",
        )


def earliest_verification(nc: Nonconformity) -> date | None:
    if nc.actions_completed_on is None:
        return None
    return rules.earliest_verification(nc.actions_completed_on, nc.verification_interval_days)


def _refuse_before_interval(nc: Nonconformity, today: date) -> None:
    earliest = earliest_verification(nc)
    if earliest is not None and today < earliest:
        raise Conflict(
            _l(
                "Effectiveness is verified no sooner than %(days)d days after the actions "
                "were completed: from %(date)s.",
                days=nc.verification_interval_days,
                date=earliest.isoformat(),
            ),
            code="verification_too_early",
        )


# -- verification, closing, reopening ---------------------------------------------------------


def verify(
    session: Session,
    actor: User,
    nc: Nonconformity,
    *,
    effective: bool,
    password: str,
    content_sha256: str,
    comment: str = "",
) -> Verification:
    """A signed verification of effectiveness. Ineffective reopens the nonconformity."""
    refusal = _verifier_refusal(actor, nc)
    if refusal == "action_owner":
        raise Forbidden(
            _l(
                "%(name)s owns an action of this nonconformity and cannot verify its "
                "effectiveness.",
                name=actor.display_name,
            ),
            code="verifier_owns_action",
        )
    if refusal == "department":
        raise Forbidden(
            _l(
                "%(name)s belongs to %(department)s, the department of this nonconformity, "
                "and cannot verify its effectiveness.",
                name=actor.display_name,
                department=nc.department.name,
            ),
            code="verifier_from_department",
        )
    if not actor.can(Permission.VERIFY_NONCONFORMITIES):
        raise Forbidden(_l("You may not verify the effectiveness of corrective actions."))
    new_state = _apply(
        nc, NcAction.VERIFY_EFFECTIVE if effective else NcAction.VERIFY_INEFFECTIVE, actor
    )
    today = clock.today()
    _refuse_before_interval(nc, today)
    text = _text(comment, _l("Comment"), limit=MAX_TEXT, required=not effective)
    check_seen(content_sha256, nc.content_sha256())
    signature = sign(
        session,
        actor,
        password,
        Meaning.REVIEWED,
        content_sha256=nc.content_sha256(),
        object_type=OBJECT,
        object_id=nc.id,
        comment=text,
    )
    verification = Verification(
        nonconformity=nc,
        round=nc.round,
        verifier=actor,
        verifier_id=actor.id,
        verified_on=today,
        effective=effective,
        comment=text,
        signature=signature,
        signature_id=signature.id,
    )
    session.add(verification)
    trail.record(
        session,
        actor,
        "verify_effective" if effective else "verify_ineffective",
        OBJECT,
        nc.id,
        field="round",
        new=nc.round,
        reason=text,
    )
    if not effective:
        _start_new_round(session, actor, nc, text)
    _set_state(session, actor, nc, new_state, text)
    session.flush()
    return verification


def _start_new_round(session: Session, actor: User, nc: Nonconformity, reason: str) -> None:
    add = working_days(session)
    today = clock.today()
    nc.round += 1
    nc.actions_completed_on = None
    old_cause, old_correction = nc.cause_due, nc.correction_due
    nc.cause_due = rules.cause_due(today, add)
    nc.correction_due = rules.correction_due(today, nc.grade, add)
    trail.record_changes(
        session,
        actor,
        "reopen",
        OBJECT,
        nc.id,
        {
            "round": (nc.round - 1, nc.round),
            "cause_due": (old_cause, nc.cause_due),
            "correction_due": (old_correction, nc.correction_due),
        },
        reason=reason,
    )


def effective_verification(nc: Nonconformity) -> Verification | None:
    for v in reversed(nc.verifications):
        if v.round == nc.round:
            return v if v.effective else None
    return None


def close(session: Session, actor: User, nc: Nonconformity, *, reason: str = "") -> Nonconformity:
    _refuse_open_actions(nc)
    if not is_manager(actor):
        raise Forbidden(_l("Only the quality manager or clerk closes a nonconformity."))
    _refuse_before_interval(nc, clock.today())
    new_state = _apply(nc, NcAction.CLOSE, actor)
    if effective_verification(nc) is None:
        raise Conflict(
            _l("The actions' effectiveness has not been verified yet."),
            code="verification_required",
        )
    why = _text(reason, _l("Reason"), limit=MAX_TEXT, required=False)
    nc.closed_on = clock.today()
    nc.closed_by, nc.closed_by_id = actor, actor.id
    _set_state(session, actor, nc, new_state, why)
    trail.record(session, actor, "close", OBJECT, nc.id, new=nc.closed_on, reason=why)
    session.flush()
    return nc


def reopen(session: Session, actor: User, nc: Nonconformity, *, reason: str) -> Nonconformity:
    """The quality manager reopens: new actions are planned, the earlier ones are kept."""
    new_state = _apply(nc, NcAction.REOPEN, actor)
    why = _text(reason, _l("Reason"), limit=MAX_TEXT)
    _start_new_round(session, actor, nc, why)
    nc.closed_on, nc.closed_by, nc.closed_by_id = None, None, None
    _set_state(session, actor, nc, new_state, why)
    session.flush()
    return nc


def same_problem_elsewhere(
    session: Session, nc: Nonconformity, limit: int = 50
) -> list[Nonconformity]:
    """Other nonconformities with the same clause or the same process."""
    match = Nonconformity.clause == nc.clause
    if nc.process_number:
        match = sa.or_(match, Nonconformity.process_number == nc.process_number)
    return list(
        session.scalars(
            sa.select(Nonconformity)
            .where(Nonconformity.id != nc.id, match)
            .order_by(Nonconformity.raised_on.desc(), Nonconformity.id.desc())
            .limit(limit)
        ).unique()
    )


def is_overdue(nc: Nonconformity, today: date) -> bool:
    return (
        rules.is_cause_overdue(nc.state, nc.cause_due, today)
        or rules.is_correction_overdue(nc.state, nc.correction_due, today)
        or any(rules.is_action_overdue(a.status, a.due_on, today) for a in nc.round_actions())
    )
