"""Read and understood (阅知): who must read a new revision, their tasks, their signatures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import Department, Meaning, User, UserRole
from qms.auth.permissions import Permission, Role
from qms.auth.signatures import check_seen, sign
from qms.db import utcnow
from qms.distribution.models import Acknowledgement, AckState, ReadRule, ReadRuleTarget
from qms.documents import visibility
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind, Document, Revision
from qms.errors import Conflict, Forbidden, Invalid
from qms.mail.service import queue_mail
from qms.trail import service as trail


def _ref(revision: Revision) -> str:
    return f"{revision.document.number} {revision.label}"


# -- rules -------------------------------------------------------------------------------

def save_rule(session: Session, actor: User, *, kind: DocKind | None,
              department: Department | None, roles: list[Role], departments: list[Department],
              people: list[User], due_days: int = 14, minor_resets: bool = True,
              rule: ReadRule | None = None) -> ReadRule:
    if not actor.can(Permission.ISSUE_DOCUMENTS):
        raise Forbidden(_l("Only document control may set who must read documents."))
    if not (roles or departments or people):
        raise Invalid(_l("Name at least one role, department or person who must read."))
    if not 1 <= due_days <= 365:
        raise Invalid(_l("Allow between 1 and 365 days for reading."))
    old = describe(rule) if rule is not None else None
    if rule is None:
        rule = ReadRule()
        session.add(rule)
    rule.kind = kind
    rule.department = department
    rule.due_days = due_days
    rule.minor_resets = minor_resets
    rule.targets = (
        [ReadRuleTarget(role=r) for r in roles]
        + [ReadRuleTarget(department=d) for d in departments]
        + [ReadRuleTarget(user=u) for u in people]
    )
    session.flush()
    trail.record(session, actor, "update" if old else "create", "read_rule", rule.id,
                 old=old, new=describe(rule))
    return rule


def delete_rule(session: Session, actor: User, rule: ReadRule) -> None:
    if not actor.can(Permission.ISSUE_DOCUMENTS):
        raise Forbidden(_l("Only document control may set who must read documents."))
    trail.record(session, actor, "delete", "read_rule", rule.id, old=describe(rule))
    session.delete(rule)
    session.flush()


def describe(rule: ReadRule) -> str:
    scope = f"{rule.kind or '*'}@{rule.department.code if rule.department else '*'}"
    who = ",".join(
        (f"role:{t.role}" if t.role else f"dept:{t.department.code}" if t.department
         else f"user:{t.user.username}" if t.user else "?") for t in rule.targets)
    return f"{scope} -> {who}; {rule.due_days}d; minor_resets={rule.minor_resets}"


def rules_for(session: Session, document: Document) -> list[ReadRule]:
    return list(session.scalars(sa.select(ReadRule).where(
        sa.or_(ReadRule.kind.is_(None), ReadRule.kind == document.kind),
        sa.or_(ReadRule.department_id.is_(None),
               ReadRule.department_id == document.department_id),
    ).order_by(ReadRule.id)))


@dataclass
class Duty:
    user: User
    due_days: int
    minor_resets: bool


def readers_for(session: Session, rules: list[ReadRule]) -> dict[int, Duty]:
    """Every active person a rule names, with the shortest time allowed. A minor revision
    resets their acknowledgement when any of their rules says so."""
    duties: dict[int, Duty] = {}
    for rule in rules:
        for target in rule.targets:
            if target.role is not None:
                users = session.scalars(sa.select(User).join(UserRole).where(
                    UserRole.role == target.role, User.active.is_(True))).unique().all()
            elif target.department_id is not None:
                users = session.scalars(sa.select(User).where(
                    User.department_id == target.department_id, User.active.is_(True))).all()
            elif target.user is not None and target.user.active:
                users = [target.user]
            else:
                users = []
            for user in users:
                duty = duties.get(user.id)
                if duty is None:
                    duties[user.id] = Duty(user, rule.due_days, rule.minor_resets)
                else:
                    duty.due_days = min(duty.due_days, rule.due_days)
                    duty.minor_resets = duty.minor_resets or rule.minor_resets
    return duties


# -- assignment when a revision takes effect ------------------------------------------------

def acknowledgements_of(session: Session, revision: Revision) -> list[Acknowledgement]:
    return list(session.scalars(sa.select(Acknowledgement)
                                .where(Acknowledgement.revision_id == revision.id)
                                .order_by(Acknowledgement.id)))


def assign_reading(session: Session, revision: Revision, previous: Revision | None,
                   today: date | None = None) -> list[Acknowledgement]:
    """Tasks for everyone the rules name. A major revision always asks again; a minor one
    carries a done acknowledgement over unless the rule says it resets."""
    today = today or clock.today()
    document = revision.document
    duties = readers_for(session, rules_for(session, document))
    before = {a.user_id: a for a in acknowledgements_of(session, previous)} if previous else {}
    existing = {a.user_id for a in acknowledgements_of(session, revision)}
    created: list[Acknowledgement] = []
    for user_id, duty in sorted(duties.items()):
        if user_id in existing:
            continue
        if not visibility.can_view(session, duty.user, revision, block_history=False):
            continue  # a confidential document is read only by those cleared for it
        prior = before.get(user_id)
        if (prior is not None and prior.done and not revision.is_major
                and not duty.minor_resets):
            ack = Acknowledgement(revision=revision, user=duty.user, state=AckState.CARRIED,
                                  acknowledged_at=prior.acknowledged_at,
                                  signature_id=prior.signature_id, carried_from_id=prior.id)
        else:
            ack = Acknowledgement(revision=revision, user=duty.user, state=AckState.PENDING,
                                  due_date=today + timedelta(days=duty.due_days))
            queue_mail(
                session, duty.user,
                _l("Please read %(number)s %(title)s, revision %(label)s",
                   number=document.number, title=revision.title, label=revision.label),
                _l("Revision %(label)s of %(number)s %(title)s is now effective. Read it and "
                   "confirm with your signature (read and understood) by %(due)s.",
                   label=revision.label, number=document.number, title=revision.title,
                   due=ack.due_date.isoformat() if ack.due_date else ""),
            )
        session.add(ack)
        created.append(ack)
    session.flush()
    if created:
        pending = [a.user.username for a in created if a.state == AckState.PENDING]
        carried = [a.user.username for a in created if a.state == AckState.CARRIED]
        trail.record(session, None, "assign_reading", "revision", _ref(revision),
                     new=",".join(pending),
                     reason=f"carried over from {previous.label}: {','.join(carried)}"
                     if carried and previous else "")
    return created


@dataclass
class Asked:
    """What asking chosen people to read gave: who was asked now, who already had the task
    (or had read it), who may not read the document."""

    created: list[Acknowledgement]
    already: list[User]
    not_cleared: list[User]


def assign_reading_to(session: Session, actor: User, revision: Revision, *,
                      people: list[User], departments: list[Department], due_days: int = 14,
                      today: date | None = None) -> Asked:
    """Document control asks chosen people and departments to read a revision already in
    force (the rules ask only when it takes effect)."""
    if not actor.can(Permission.ISSUE_DOCUMENTS):
        raise Forbidden(_l("Only document control may set who must read documents."))
    if revision.state != RevState.EFFECTIVE:
        raise Conflict(_l("Revision %(label)s of %(number)s is not effective; only the "
                          "effective revision can be acknowledged.", label=revision.label,
                          number=revision.document.number), code="not_effective")
    if not (people or departments):
        raise Invalid(_l("Choose at least one person or department who must read."),
                      code="nobody_chosen")
    if not 1 <= due_days <= 365:
        raise Invalid(_l("Allow between 1 and 365 days for reading."), code="due_days")
    today = today or clock.today()
    chosen: dict[int, User] = {u.id: u for u in people if u.active}
    if departments:
        for user in session.scalars(sa.select(User).where(
                User.department_id.in_([d.id for d in departments]), User.active.is_(True))
                .order_by(User.id)):
            chosen.setdefault(user.id, user)
    existing = {a.user_id for a in acknowledgements_of(session, revision)}
    asked = Asked([], [], [])
    document = revision.document
    for user_id, user in sorted(chosen.items()):
        if user_id in existing:
            asked.already.append(user)
            continue
        if not visibility.can_view(session, user, revision, block_history=False):
            asked.not_cleared.append(user)
            continue
        ack = Acknowledgement(revision=revision, user=user, state=AckState.PENDING,
                              due_date=today + timedelta(days=due_days))
        session.add(ack)
        asked.created.append(ack)
        queue_mail(
            session, user,
            _l("Please read %(number)s %(title)s, revision %(label)s",
               number=document.number, title=revision.title, label=revision.label),
            _l("Revision %(label)s of %(number)s %(title)s is now effective. Read it and "
               "confirm with your signature (read and understood) by %(due)s.",
               label=revision.label, number=document.number, title=revision.title,
               due=ack.due_date.isoformat() if ack.due_date else ""),
        )
    if not asked.created:
        raise Invalid(_l("Everyone chosen has already been asked to read this revision, or "
                         "may not read it."), code="nobody_new")
    session.flush()
    trail.record(session, actor, "assign_reading", "revision", _ref(revision),
                 new=",".join(a.user.username for a in asked.created),
                 reason=f"asked by document control; {due_days}d")
    return asked


def previous_revision(revision: Revision) -> Revision | None:
    """The revision in force before this one: what "what changed" compares against."""
    before = [r for r in revision.document.revisions
              if (r.major, r.minor) < (revision.major, revision.minor)
              and (r.effective_at is not None
                   or r.state in (RevState.SUPERSEDED, RevState.OBSOLETE))]
    return before[-1] if before else None


def lapse_pending(session: Session, revision: Revision) -> int:
    """A revision that is no longer effective can no longer be acknowledged."""
    pending = session.scalars(sa.select(Acknowledgement).where(
        Acknowledgement.revision_id == revision.id,
        Acknowledgement.state == AckState.PENDING)).all()
    for ack in pending:
        ack.state = AckState.LAPSED
    if pending:
        session.flush()
        trail.record(session, None, "lapse_reading", "revision", _ref(revision),
                     old=",".join(a.user.username for a in pending),
                     reason=f"revision {revision.state}")
    return len(pending)


# -- acknowledging ------------------------------------------------------------------------

def acknowledge(session: Session, user: User, revision: Revision, *,
                password: str, content_sha256: str | None = None) -> Acknowledgement:
    """Sign 阅知 for the effective revision, as read: `content_sha256` is the fingerprint of
    the text the reader's page showed; a text changed since is refused (check_seen)."""
    if revision.state != RevState.EFFECTIVE:
        raise Conflict(_l("Revision %(label)s of %(number)s is not effective; only the "
                          "effective revision can be acknowledged.", label=revision.label,
                          number=revision.document.number), code="not_effective")
    if not user.can(Permission.READ_DOCUMENTS):
        raise Forbidden(_l("You may not read documents."))
    ack = session.scalar(sa.select(Acknowledgement).where(
        Acknowledgement.revision_id == revision.id, Acknowledgement.user_id == user.id))
    if ack is not None and ack.done:
        raise Conflict(_l("You have already acknowledged revision %(label)s of %(number)s.",
                          label=revision.label, number=revision.document.number),
                       code="already_acknowledged")
    check_seen(content_sha256, revision.content_sha256)
    signature = sign(session, user, password, Meaning.READ,
                     content_sha256=revision.content_sha256, object_type="revision",
                     object_id=revision.id)
    if ack is None:  # read without being asked: recorded all the same
        ack = Acknowledgement(revision=revision, user=user)
        session.add(ack)
    ack.state = AckState.ACKNOWLEDGED
    ack.acknowledged_at = signature.signed_at or utcnow()
    ack.signature = signature
    session.flush()
    trail.record(session, user, "acknowledge", "revision", _ref(revision),
                 field="acknowledgement", new=AckState.ACKNOWLEDGED)
    return ack


def pending_for(session: Session, user: User) -> list[Acknowledgement]:
    return list(session.scalars(sa.select(Acknowledgement).join(Acknowledgement.revision).where(
        Acknowledgement.user_id == user.id, Acknowledgement.state == AckState.PENDING,
        Revision.state == RevState.EFFECTIVE,
    ).order_by(Acknowledgement.due_date, Acknowledgement.id)))


def overdue_stmt(today: date) -> sa.Select[tuple[Acknowledgement]]:
    return (sa.select(Acknowledgement).join(Acknowledgement.revision).where(
        Acknowledgement.state == AckState.PENDING, Acknowledgement.due_date < today,
        Revision.state == RevState.EFFECTIVE,
    ).order_by(Acknowledgement.due_date, Acknowledgement.id))


def for_person(session: Session, user: User) -> list[Acknowledgement]:
    """Every acknowledgement of the person, effective revisions first."""
    rows = session.scalars(sa.select(Acknowledgement).where(Acknowledgement.user_id == user.id)
                           .order_by(Acknowledgement.assigned_at.desc(), Acknowledgement.id))
    return sorted(rows, key=lambda a: a.revision.state != RevState.EFFECTIVE)


@dataclass
class Matrix:
    people: list[User]
    documents: list[Document]
    cells: dict[tuple[int, int], Acknowledgement]  # (user id, document id)


def matrix(session: Session, *, department_id: int | None = None,
           kind: DocKind | None = None, limit_documents: int = 40) -> Matrix:
    """People × documents for the effective revisions that someone must read."""
    stmt = (sa.select(Acknowledgement).join(Acknowledgement.revision)
            .join(Document, Document.id == Revision.document_id)
            .where(Revision.state == RevState.EFFECTIVE,
                   Acknowledgement.state != AckState.LAPSED))
    if kind is not None:
        stmt = stmt.where(Document.kind == kind)
    if department_id is not None:
        stmt = stmt.join(User, User.id == Acknowledgement.user_id).where(
            User.department_id == department_id)
    acks = list(session.scalars(stmt))
    documents = sorted({a.revision.document_id: a.revision.document for a in acks}.values(),
                       key=lambda d: d.number)[:limit_documents]
    shown = {d.id for d in documents}
    people = sorted({a.user_id: a.user for a in acks}.values(),
                    key=lambda u: (u.department_id or 0, u.display_name))
    cells = {(a.user_id, a.revision.document_id): a for a in acks
             if a.revision.document_id in shown}
    return Matrix(people, documents, cells)
