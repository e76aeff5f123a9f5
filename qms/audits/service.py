"""Operations on the audit programme and on audits. Each checks the pure rules and the actor,
changes the models, writes the trail and only flushes; the caller commits."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.audits import lifecycle as rules
from qms.audits.lifecycle import (
    Actor,
    AuditAction,
    AuditState,
    ProgrammeAction,
    ProgrammeState,
    TransitionError,
)
from qms.audits.models import (
    NONCONFORMITY_GRADES,
    Audit,
    AuditChecklistItem,
    AuditCriterion,
    AuditFinding,
    AuditPhoto,
    AuditProgramme,
    AuditTeamMember,
    Grade,
    Meeting,
    MeetingAttendance,
    Result,
)
from qms.auth.models import Department, Meaning, User
from qms.auth.permissions import Permission, Role
from qms.auth.signatures import check_seen, sign
from qms.db import utcnow
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind, Document, Revision
from qms.errors import Conflict, Forbidden, Invalid, NotFound
from qms.trail import service as trail

PROGRAMME = "audit_programme"
AUDIT = "audit"
FINDING = "audit_finding"
REPORT = "audit_report"

# ISO 9001:2015 clauses an audit may name (numbers only; the titles are in DOMAIN.md 9)
ISO_CLAUSES = (
    "4.1",
    "4.2",
    "4.3",
    "4.4",
    "5.1",
    "5.2",
    "5.3",
    "6.1",
    "6.2",
    "6.3",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "8.1",
    "8.2",
    "8.3",
    "8.4",
    "8.5",
    "8.6",
    "8.7",
    "9.1",
    "9.2",
    "9.3",
    "10.2",
    "10.3",
)
PHOTO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
MAX_PHOTO_BYTES = 5 * 1024 * 1024


# -- working days -------------------------------------------------------------------------


def working_days(session: Session) -> Callable[[date, int], date]:
    """add(start, n): the n-th working day after start, on the company's calendar."""
    from qms.calendar.service import working_calendar

    calendar = working_calendar(session)
    return lambda start, n: calendar.add_working_days(start, n)


# -- who is who ---------------------------------------------------------------------------


def may_manage(user: User) -> bool:
    return user.is_authenticated and user.active and user.can(Permission.MANAGE_AUDITS)


def may_run(user: User) -> bool:
    return user.is_authenticated and user.active and user.can(Permission.RUN_AUDITS)


def is_general_manager(session: Session, user: User) -> bool:
    """The general manager or a delegate he named (the approvers of review plans)."""
    from qms.reviews import approvers

    return user.is_authenticated and approvers.may_approve_plans(session, user)


def department_heads(session: Session, department_id: int) -> list[User]:
    """The department's head: its active approvers (the quality manager for the Center)."""
    from qms.auth.models import UserRole

    return list(
        session.scalars(
            sa.select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                User.department_id == department_id,
                User.active.is_(True),
                UserRole.role.in_([Role.APPROVER, Role.QUALITY_MANAGER]),
            )
            .order_by(User.id)
            .distinct()
        )
    )


def is_head_of(session: Session, user: User, department_id: int) -> bool:
    """The same rule as department_heads, asked of the user in hand (no statement)."""
    return bool(
        user.is_authenticated
        and user.active
        and user.department_id == department_id
        and user.roles & {Role.APPROVER, Role.QUALITY_MANAGER}
    )


def actors_on(session: Session, user: User, audit: Audit | None = None) -> set[Actor]:
    held: set[Actor] = set()
    if may_manage(user):
        held.add(Actor.MANAGER)
    if audit is not None and audit.lead_auditor_id == user.id:
        held.add(Actor.LEAD)
    if is_general_manager(session, user):
        held.add(Actor.GENERAL_MANAGER)
    return held


def may_see(session: Session, user: User, audit: Audit) -> bool:
    """Planners, auditors, the general manager and the audited department's people."""
    return (
        may_manage(user)
        or may_run(user)
        or is_general_manager(session, user)
        or user.department_id == audit.department_id
    )


def _refused(err: TransitionError, action: Any) -> Exception:
    from qms.audits.models import ACTION_LABELS

    label = ACTION_LABELS.get(action, action)
    if err.reason == "actor":
        return Forbidden(
            _l("You may not do this step (%(step)s) on this audit.", step=label),
            code="not_your_step",
        )
    return Conflict(
        _l("This step (%(step)s) is not possible in the audit's present state.", step=label),
        code="wrong_state",
    )


# -- the programme ------------------------------------------------------------------------


def departments(session: Session) -> list[Department]:
    return list(
        session.scalars(
            sa.select(Department).where(Department.active.is_(True)).order_by(Department.id)
        )
    )


def create_programme(
    session: Session, actor: User, *, year: int, notes: str = ""
) -> AuditProgramme:
    if not may_manage(actor):
        raise Forbidden(_l("Only the quality manager or the quality clerk plans audits."))
    if not 2000 <= year <= 2100:
        raise Invalid(_l("The year must be between 2000 and 2100."), code="bad_year")
    if session.scalar(sa.select(AuditProgramme.id).where(AuditProgramme.year == year)):
        raise Conflict(
            _l("There is already an audit programme for %(year)s.", year=year),
            code="programme_exists",
        )
    programme = AuditProgramme(
        year=year, state=ProgrammeState.DRAFT, notes=notes.strip(), created_by_id=actor.id
    )
    session.add(programme)
    session.flush()
    trail.record(session, actor, "create", PROGRAMME, programme.id, new=str(year))
    return programme


def programme_hash(programme: AuditProgramme) -> str:
    payload = [
        programme.year,
        programme.notes,
        sorted(
            [a.id, a.department_id, a.audit_date.isoformat(), a.title]
            for a in programme.audits
            if a.state != AuditState.CANCELLED
        ),
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def uncovered(session: Session, programme: AuditProgramme) -> list[Department]:
    planned = [a.department_id for a in programme.audits if a.state != AuditState.CANCELLED]
    missing = set(rules.missing_departments([d.id for d in departments(session)], planned))
    return [d for d in departments(session) if d.id in missing]


def _programme_step(
    session: Session,
    actor: User,
    programme: AuditProgramme,
    action: ProgrammeAction,
    reason: str = "",
) -> None:
    try:
        new = rules.programme_transition(programme.state, action, actors_on(session, actor))
    except TransitionError as err:
        raise _refused(err, action) from None
    _move(session, actor, PROGRAMME, programme, action, new, reason)


def submit_programme(session: Session, actor: User, programme: AuditProgramme) -> None:
    _programme_step(session, actor, programme, ProgrammeAction.SUBMIT)
    session.flush()


def approve_programme(
    session: Session,
    actor: User,
    programme: AuditProgramme,
    *,
    password: str,
    content_sha256: str | None,
    comment: str = "",
) -> None:
    _programme_step(session, actor, programme, ProgrammeAction.APPROVE, comment)
    missing = uncovered(session, programme)
    if missing:
        raise Conflict(
            _l(
                "Every department is audited at least once a year; the programme has no audit "
                "of: %(names)s.",
                names="、".join(d.name for d in missing),
            ),
            code="department_missing",
            details={"departments": [d.code for d in missing]},
        )
    current = programme_hash(programme)
    check_seen(content_sha256, current)
    sign(
        session,
        actor,
        password,
        Meaning.APPROVED,
        content_sha256=current,
        object_type=PROGRAMME,
        object_id=programme.id,
        comment=comment,
    )
    programme.approved_at = utcnow()
    session.flush()


def return_programme(
    session: Session, actor: User, programme: AuditProgramme, *, reason: str
) -> None:
    if not reason.strip():
        raise Invalid(_l("Say what must change in the programme."), code="reason_required")
    _programme_step(session, actor, programme, ProgrammeAction.RETURN, reason.strip())
    session.flush()


@dataclass
class PlanningRow:
    """What the planner sees for one department."""

    department: Department
    last_audit: Audit | None
    last_grades: dict[str, int]
    open_ncs: int
    planned: int
    suggested: int


def planning_rows(session: Session, programme: AuditProgramme) -> list[PlanningRow]:
    """Per department: its last closed or reported audit, the grades it found, its open
    nonconformities, audits planned this year and the suggested number. Four queries."""
    depts = departments(session)
    last_ids = dict(
        session.execute(
            sa.select(Audit.department_id, sa.func.max(Audit.id))
            .where(Audit.state.in_([AuditState.REPORTING, AuditState.REPORTED, AuditState.CLOSED]))
            .group_by(Audit.department_id)
        )
        .tuples()
        .all()
    )
    last = {
        a.id: a
        for a in session.scalars(
            sa.select(Audit).where(Audit.id.in_(list(last_ids.values()) or [0]))
        )
    }
    grades: dict[int, dict[str, int]] = {}
    for audit_id, grade, count in session.execute(
        sa.select(AuditFinding.audit_id, AuditFinding.grade, sa.func.count())
        .where(AuditFinding.audit_id.in_(list(last_ids.values()) or [0]))
        .group_by(AuditFinding.audit_id, AuditFinding.grade)
    ):
        grades.setdefault(audit_id, {})[str(grade)] = count
    open_ncs = open_nonconformities_by_department(session)
    planned: dict[int, int] = {}
    for a in programme.audits:
        if a.state != AuditState.CANCELLED:
            planned[a.department_id] = planned.get(a.department_id, 0) + 1
    rows = []
    for d in depts:
        audit_id = last_ids.get(d.id)
        g = grades.get(audit_id or 0, {})
        rows.append(
            PlanningRow(
                department=d,
                last_audit=last.get(audit_id or 0),
                last_grades=g,
                open_ncs=open_ncs.get(d.id, 0),
                planned=planned.get(d.id, 0),
                suggested=rules.suggested_audits(
                    g.get("serious", 0), g.get("general", 0), open_ncs.get(d.id, 0)
                ),
            )
        )
    return rows


def _nc_model() -> Any:
    from qms.nonconformity.models import Nonconformity

    return Nonconformity


def open_nonconformities_by_department(session: Session) -> dict[int, int]:
    nc = _nc_model()
    if nc is None:
        return {}
    return dict(
        session.execute(
            sa.select(nc.department_id, sa.func.count())
            .where(nc.state != "closed")
            .group_by(nc.department_id)
        )
        .tuples()
        .all()
    )


# -- planning an audit --------------------------------------------------------------------


def check_independence(auditors: Iterable[User], department: Department) -> None:
    """An auditor never audits their own department."""
    for person in auditors:
        if person.department_id == department.id:
            raise Invalid(
                _l(
                    "%(person)s belongs to %(department)s and may not audit it (auditors do not "
                    "audit their own work).",
                    person=person.display_name,
                    department=department.name,
                ),
                code="auditor_not_independent",
                details={"auditor": person.username, "department": department.code},
            )


def revision_in_force(session: Session, document: Document, day: date) -> Revision | None:
    """The revision of the document effective on that day (approved revisions with a later
    effective date count from that date)."""
    candidate = session.scalar(
        sa.select(Revision)
        .where(
            Revision.document_id == document.id,
            Revision.effective_date.is_not(None),
            Revision.effective_date <= day,
            Revision.state.in_(
                [RevState.APPROVED, RevState.EFFECTIVE, RevState.SUPERSEDED, RevState.OBSOLETE]
            ),
        )
        .order_by(Revision.effective_date.desc(), Revision.id.desc())
        .limit(1)
    )
    if candidate is None or candidate.state == RevState.OBSOLETE:
        return None
    return candidate


def _document(session: Session, number: str) -> Document:
    document = session.scalar(sa.select(Document).where(Document.number == number.strip()))
    if document is None:
        raise Invalid(_l("There is no document %(number)s.", number=number), code="no_document")
    return document


def _check_pinnable(revision: Revision) -> None:
    if revision.state in (RevState.OBSOLETE, RevState.CANCELLED):
        raise Invalid(
            _l(
                "%(number)s revision %(label)s is obsolete or cancelled; an audit criterion is "
                "the revision in force.",
                number=revision.document.number,
                label=revision.label,
            ),
            code="revision_not_in_force",
        )
    if revision.state in (RevState.DRAFT, RevState.IN_REVIEW):
        raise Invalid(
            _l(
                "%(number)s revision %(label)s is not approved; an audit criterion is the "
                "revision in force.",
                number=revision.document.number,
                label=revision.label,
            ),
            code="revision_not_in_force",
        )


def _pin(session: Session, audit: Audit, number: str, label: str = "") -> AuditCriterion:
    document = _document(session, number)
    if label:
        revision = session.scalar(
            sa.select(Revision).where(
                Revision.document_id == document.id, Revision.label == label.strip()
            )
        )
        if revision is None:
            raise Invalid(
                _l("%(number)s has no revision %(label)s.", number=number, label=label),
                code="no_revision",
            )
    else:
        found = revision_in_force(session, document, audit.audit_date)
        if found is None:
            raise Invalid(
                _l(
                    "%(number)s has no revision in force on %(day)s.",
                    number=number,
                    day=audit.audit_date.isoformat(),
                ),
                code="revision_not_in_force",
            )
        revision = found
    _check_pinnable(revision)
    return AuditCriterion(
        document_id=document.id, document=document, revision_id=revision.id, revision=revision
    )


def _clean_clauses(clauses: Iterable[str]) -> list[str]:
    out = []
    for c in clauses:
        c = c.strip()
        if not c:
            continue
        if c not in ISO_CLAUSES:
            raise Invalid(
                _l("%(clause)s is not an ISO 9001 clause this product knows.", clause=c),
                code="bad_clause",
            )
        if c not in out:
            out.append(c)
    return out


def _users(session: Session, ids: Iterable[int]) -> list[User]:
    wanted = list(dict.fromkeys(ids))
    found = {u.id: u for u in session.scalars(sa.select(User).where(User.id.in_(wanted or [0])))}
    return [found[i] for i in wanted if i in found]


def plan_audit(
    session: Session,
    actor: User,
    programme: AuditProgramme,
    *,
    department: Department,
    title: str,
    audit_date: date,
    objectives: str = "",
    scope: str = "",
    place: str = "",
    lead_auditor: User | None = None,
    team: Sequence[User] = (),
    clauses: Iterable[str] = (),
    documents: Iterable[str] = (),
) -> Audit:
    if not may_manage(actor):
        raise Forbidden(_l("Only the quality manager or the quality clerk plans audits."))
    if not title.strip():
        raise Invalid(_l("Give the audit a title."), code="title_required")
    if audit_date.year != programme.year:
        raise Invalid(
            _l("The audit date must fall in %(year)s, the programme's year.", year=programme.year),
            code="wrong_year",
        )
    people = [*([lead_auditor] if lead_auditor else []), *team]
    for p in people:
        if not (p.active and p.can(Permission.RUN_AUDITS)):
            raise Invalid(
                _l("%(person)s is not an auditor.", person=p.display_name), code="not_an_auditor"
            )
    check_independence(people, department)
    audit = Audit(
        programme=programme,
        department=department,
        department_id=department.id,
        state=AuditState.PLANNED,
        title=title.strip(),
        objectives=objectives.strip(),
        scope=scope.strip(),
        audit_date=audit_date,
        place=place.strip(),
        lead_auditor=lead_auditor,
        lead_auditor_id=lead_auditor.id if lead_auditor else None,
    )
    session.add(audit)
    audit.team = [
        AuditTeamMember(user_id=p.id, user=p)
        for p in dict.fromkeys(team)
        if lead_auditor is None or p.id != lead_auditor.id
    ]
    audit.criteria = [AuditCriterion(clause=c) for c in _clean_clauses(clauses)]
    audit.criteria += [_pin(session, audit, n) for n in dict.fromkeys(documents) if n.strip()]
    session.flush()
    trail.record(session, actor, "create", AUDIT, audit.id, new=audit.title)
    return audit


def _plan_editable(session: Session, actor: User, audit: Audit) -> None:
    if not (actors_on(session, actor, audit) & {Actor.MANAGER, Actor.LEAD}):
        raise Forbidden(_l("Only the planners and the lead auditor change an audit's plan."))
    if audit.state not in rules.PLAN_EDITABLE:
        raise Conflict(_l("The audit has begun; its plan is fixed."), code="plan_fixed")


def update_plan(
    session: Session,
    actor: User,
    audit: Audit,
    *,
    title: str,
    objectives: str,
    scope: str,
    place: str,
    audit_date: date,
    lead_auditor: User | None,
    team: Sequence[User],
) -> Audit:
    _plan_editable(session, actor, audit)
    people = ([lead_auditor] if lead_auditor else []) + list(team)
    check_independence(people, audit.department)
    if not title.strip():
        raise Invalid(_l("Give the audit a title."), code="title_required")
    changes = {
        "title": title.strip(),
        "objectives": objectives.strip(),
        "scope": scope.strip(),
        "place": place.strip(),
        "audit_date": audit_date,
        "lead_auditor_id": lead_auditor.id if lead_auditor else None,
    }
    for name, value in changes.items():
        old = getattr(audit, name)
        if old != value:
            trail.record(session, actor, "update", AUDIT, audit.id, field=name, old=old, new=value)
            setattr(audit, name, value)
    audit.lead_auditor = lead_auditor
    wanted = [p for p in dict.fromkeys(team) if lead_auditor is None or p.id != lead_auditor.id]
    if [m.user_id for m in audit.team] != [p.id for p in wanted]:
        trail.record(
            session,
            actor,
            "update",
            AUDIT,
            audit.id,
            field="team",
            old=",".join(m.user.username for m in audit.team),
            new=",".join(p.username for p in wanted),
        )
        audit.team = [AuditTeamMember(user_id=p.id, user=p) for p in wanted]
    session.flush()
    return audit


def add_criterion(
    session: Session,
    actor: User,
    audit: Audit,
    *,
    clause: str = "",
    document: str = "",
    revision: str = "",
) -> AuditCriterion:
    _plan_editable(session, actor, audit)
    if clause.strip():
        (c,) = _clean_clauses([clause])
        criterion = AuditCriterion(clause=c)
    elif document.strip():
        criterion = _pin(session, audit, document, revision)
        if any(x.document_id == criterion.document_id for x in audit.criteria):
            raise Conflict(
                _l("%(number)s is already a criterion of this audit.", number=document),
                code="criterion_exists",
            )
    else:
        raise Invalid(
            _l("Name an ISO 9001 clause or a controlled document."), code="criterion_required"
        )
    audit.criteria.append(criterion)
    session.flush()
    trail.record(
        session,
        actor,
        "add_criterion",
        AUDIT,
        audit.id,
        field="criteria",
        new=criterion_label(criterion),
    )
    return criterion


def criterion_label(c: AuditCriterion) -> str:
    if c.revision is not None and c.document is not None:
        return f"{c.document.number} {c.revision.label}"
    return f"ISO 9001 {c.clause}"


@dataclass(frozen=True)
class LaterRevision:
    criterion: AuditCriterion
    revision: Revision  # in force on the audit date, other than the pinned one


def later_revisions(session: Session, audit: Audit) -> list[LaterRevision]:
    """Criteria whose document has another revision in force on the audit date than the one
    pinned (a revision that became effective after the audit was planned)."""
    out = []
    for c in audit.criteria:
        if c.document is None or c.revision is None:
            continue
        now_in_force = revision_in_force(session, c.document, audit.audit_date)
        if now_in_force is not None and now_in_force.id != c.revision_id:
            out.append(LaterRevision(c, now_in_force))
    return out


def move_pin(
    session: Session, actor: User, audit: Audit, criterion_id: int, *, reason: str
) -> AuditCriterion:
    """The lead auditor moves a criterion to the revision in force on the audit date, on
    purpose and with a reason kept in the trail."""
    if audit.lead_auditor_id != actor.id:
        raise Forbidden(_l("Only the lead auditor moves a criterion to another revision."))
    if audit.state not in rules.PLAN_EDITABLE:
        raise Conflict(_l("The audit has begun; its plan is fixed."), code="plan_fixed")
    if not reason.strip():
        raise Invalid(
            _l("Say why the criterion moves to the later revision."), code="reason_required"
        )
    found = [x for x in later_revisions(session, audit) if x.criterion.id == criterion_id]
    if not found:
        raise Conflict(
            _l("That criterion is already pinned to the revision in force."),
            code="already_in_force",
        )
    c, revision = found[0].criterion, found[0].revision
    _check_pinnable(revision)
    old = criterion_label(c)
    c.revision_id, c.revision = revision.id, revision
    session.flush()
    trail.record(
        session,
        actor,
        "move_pin",
        AUDIT,
        audit.id,
        field="criteria",
        old=old,
        new=criterion_label(c),
        reason=reason.strip(),
    )
    return c


# -- the checklist ------------------------------------------------------------------------

ARTICLE = re.compile(r"^\*\*(第[一二三四五六七八九十百零〇\d]+条)\s*([^*]*)\*\*\s*$", re.M)


def _articles(body: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2).strip()) for m in ARTICLE.finditer(body or "")]


def _clauses_of(session: Session, revision_ids: Iterable[int]) -> dict[int, list[str]]:
    from qms.procedures.models import RevisionSource

    return {
        r.revision_id: list(r.iso_clauses or [])
        for r in session.scalars(
            sa.select(RevisionSource).where(RevisionSource.revision_id.in_(list(revision_ids)))
        )
    }


def checklist_template(session: Session, audit: Audit) -> list[AuditChecklistItem]:
    """One item per ISO clause named, per step of each pinned process (and per article of the
    regulation controlling it), per article of each pinned regulation, with the clause."""
    from qms.procedures.models import DocumentLink, LinkKind, ProcedureStep

    items: list[AuditChecklistItem] = []
    clause_texts = _clause_titles()
    for c in audit.criteria:
        if c.revision is None:
            items.append(
                AuditChecklistItem(
                    source=f"ISO 9001 {c.clause}",
                    clause=c.clause,
                    question=str(
                        _l(
                            "Does the department meet clause %(clause)s (%(title)s)? "
                            "Ask for the records.",
                            clause=c.clause,
                            title=clause_texts.get(c.clause, ""),
                        )
                    ),
                )
            )
    pinned = [c for c in audit.criteria if c.revision is not None and c.document is not None]
    clauses = _clauses_of(session, [c.revision_id for c in pinned if c.revision_id])
    regulations: list[tuple[Revision, str]] = []
    seen_regs: set[int] = set()
    for c in pinned:
        if c.revision is None or c.document is None:
            continue
        first = (clauses.get(c.revision.id) or [""])[0]
        if c.document.kind in (DocKind.PROCESS, DocKind.PROCEDURE):
            steps = session.scalars(
                sa.select(ProcedureStep)
                .where(ProcedureStep.revision_id == c.revision.id)
                .order_by(ProcedureStep.position)
            )
            for s in steps:
                items.append(
                    AuditChecklistItem(
                        source=f"{c.document.number} {c.revision.label} 节点{s.number}",
                        clause=first,
                        question=f"{s.title}：{s.explanation}".strip("：")[:2000],
                    )
                )
            for number in session.scalars(
                sa.select(DocumentLink.target_number).where(
                    DocumentLink.revision_id == c.revision.id,
                    DocumentLink.kind == LinkKind.CONTROLLED_BY,
                )
            ):
                doc = session.scalar(sa.select(Document).where(Document.number == number))
                reg = revision_in_force(session, doc, audit.audit_date) if doc else None
                if reg is not None and reg.id not in seen_regs:
                    seen_regs.add(reg.id)
                    regulations.append((reg, first))
        elif c.revision.id not in seen_regs:
            seen_regs.add(c.revision.id)
            regulations.append((c.revision, first))
    reg_clauses = _clauses_of(session, [r.id for r, _ in regulations])
    for reg, fallback in regulations:
        clause = (reg_clauses.get(reg.id) or [fallback])[0]
        for number, title in _articles(reg.body):
            items.append(
                AuditChecklistItem(
                    source=f"{reg.document.number} {reg.label} {number}",
                    clause=clause,
                    question=str(
                        _l(
                            "Is %(article)s %(title)s carried out as written? Look at the records.",
                            article=number,
                            title=title,
                        )
                    ),
                )
            )
    for position, item in enumerate(items, start=1):
        item.position = position
    return items


def _clause_titles() -> dict[str, str]:
    return {
        "4.4": "质量管理体系及其过程",
        "5.3": "组织的岗位、职责和权限",
        "7.2": "能力",
        "7.5": "成文信息",
        "8.1": "运行的策划和控制",
        "8.2": "产品和服务的要求",
        "8.5": "生产和服务提供",
        "8.7": "不合格输出的控制",
        "9.1": "监视、测量、分析和评价",
        "9.2": "内部审核",
        "9.3": "管理评审",
        "10.2": "不合格和纠正措施",
    }


def _runs(session: Session, actor: User, audit: Audit) -> None:
    team = {m.user_id for m in audit.team} | {audit.lead_auditor_id}
    if actor.id not in team:
        raise Forbidden(
            _l("Only the audit team works on the checklist and the findings."), code="not_on_team"
        )


def generate_checklist(session: Session, actor: User, audit: Audit) -> list[AuditChecklistItem]:
    _runs(session, actor, audit)
    if audit.state in rules.ENDED or audit.state == AuditState.REPORTED:
        raise Conflict(_l("The audit's checklist is closed."), code="checklist_closed")
    if any(i.result != Result.OPEN for i in audit.checklist):
        raise Conflict(
            _l("Items of the checklist are already filled; add items one by one."),
            code="checklist_filled",
        )
    items = checklist_template(session, audit)
    audit.checklist = items
    session.flush()
    trail.record(
        session,
        actor,
        "generate_checklist",
        AUDIT,
        audit.id,
        field="checklist",
        new=str(len(items)),
    )
    return items


def _item(audit: Audit, item_id: int) -> AuditChecklistItem:
    for item in audit.checklist:
        if item.id == item_id:
            return item
    raise NotFound(_l("The checklist has no item %(id)s.", id=item_id))


def _checklist_open(session: Session, actor: User, audit: Audit) -> None:
    _runs(session, actor, audit)
    if audit.state not in (rules.PLAN_EDITABLE | rules.FIELDWORK):
        raise Conflict(_l("The audit's checklist is closed."), code="checklist_closed")


def add_item(
    session: Session,
    actor: User,
    audit: Audit,
    *,
    question: str,
    clause: str = "",
    source: str = "",
) -> AuditChecklistItem:
    _checklist_open(session, actor, audit)
    if not question.strip():
        raise Invalid(_l("Write the question of the item."), code="question_required")
    (clean,) = _clean_clauses([clause]) if clause.strip() else ("",)
    item = AuditChecklistItem(
        question=question.strip(),
        clause=clean,
        source=source.strip()[:64],
        position=max([i.position for i in audit.checklist] or [0]) + 1,
    )
    audit.checklist.append(item)
    session.flush()
    trail.record(session, actor, "add_item", AUDIT, audit.id, field="checklist", new=item.question)
    return item


def edit_item(
    session: Session,
    actor: User,
    audit: Audit,
    item_id: int,
    *,
    question: str | None = None,
    result: str | None = None,
    evidence: str | None = None,
) -> AuditChecklistItem:
    item = _item(audit, item_id)
    _checklist_open(session, actor, audit)
    if question is not None:
        if not question.strip():
            raise Invalid(_l("Write the question of the item."), code="question_required")
        if question.strip() != item.question:
            trail.record(
                session,
                actor,
                "update",
                AUDIT,
                audit.id,
                field="question",
                reason=f"#{item.position}",
                old=item.question,
                new=question.strip(),
            )
            item.question = question.strip()
    if result is not None:
        try:
            new = Result(result)
        except ValueError:
            raise Invalid(
                _l("%(value)s is not a checklist result.", value=result), code="bad_result"
            ) from None
        if new != Result.OPEN and audit.state not in rules.FIELDWORK:
            raise Conflict(
                _l("Items are answered once the opening meeting was held."), code="not_in_fieldwork"
            )
        if new != item.result:
            trail.record(
                session,
                actor,
                "update",
                AUDIT,
                audit.id,
                field="result",
                reason=f"#{item.position}",
                old=str(item.result),
                new=str(new),
            )
            item.result = new
    if evidence is not None and evidence.strip() != item.evidence:
        trail.record(
            session,
            actor,
            "update",
            AUDIT,
            audit.id,
            field="evidence",
            reason=f"#{item.position}",
            old=item.evidence,
            new=evidence.strip(),
        )
        item.evidence = evidence.strip()
    session.flush()
    return item


def delete_item(session: Session, actor: User, audit: Audit, item_id: int) -> None:
    item = _item(audit, item_id)
    _checklist_open(session, actor, audit)
    if item.result != Result.OPEN or any(f.checklist_item_id == item.id for f in audit.findings):
        raise Conflict(_l("An answered item stays on the checklist."), code="item_answered")
    audit.checklist.remove(item)
    session.flush()
    trail.record(
        session, actor, "delete_item", AUDIT, audit.id, field="checklist", old=item.question
    )


def add_photo(
    session: Session,
    actor: User,
    audit: Audit,
    item_id: int,
    *,
    filename: str,
    data: bytes,
    data_dir: Any,
) -> AuditPhoto:
    """A PNG or JPEG photo up to 5 MB, recognised from its bytes, not its name."""
    from pathlib import Path

    item = _item(audit, item_id)
    _checklist_open(session, actor, audit)
    if len(data) > MAX_PHOTO_BYTES:
        from qms.errors import TooLarge

        raise TooLarge(_l("A photo may be up to 5 MB."), code="photo_too_large")
    kind = next((t for magic, t in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise Invalid(_l("A photo must be a PNG or JPEG image."), code="photo_type")
    sha = hashlib.sha256(data).hexdigest()
    folder = Path(data_dir) / "attachments"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / sha
    if not target.exists():
        target.write_bytes(data)
    photo = AuditPhoto(
        item_id=item.id,
        sha256=sha,
        filename=Path(filename or "photo").name[:255],
        content_type=kind,
        size=len(data),
        uploaded_by_id=actor.id,
    )
    item.photos.append(photo)
    session.flush()
    trail.record(
        session, actor, "add_photo", AUDIT, audit.id, field=f"checklist.{item.id}", new=sha
    )
    return photo


# -- steps of the audit -------------------------------------------------------------------


def _step(
    session: Session, actor: User, audit: Audit, action: AuditAction, reason: str = ""
) -> None:
    try:
        new = rules.audit_transition(audit.state, action, actors_on(session, actor, audit))
    except TransitionError as err:
        raise _refused(err, action) from None
    _move(session, actor, AUDIT, audit, action, new, reason)


def latest_notice(session: Session, audit: Audit) -> date:
    return rules.latest_notice_date(audit.audit_date, working_days(session))


def notify(
    session: Session, actor: User, audit: Audit, *, notice_date: date | None = None
) -> list[User]:
    """Send the audit notice to the head of the audited department: a task and a mail (after
    commit). The notice goes out at least 5 working days before the audit."""
    from qms.mail.service import queue_mail

    day = notice_date or clock.today()
    _step(session, actor, audit, AuditAction.NOTIFY)
    if audit.programme.state != ProgrammeState.APPROVED:
        raise Conflict(
            _l("The audit programme is not approved yet; no notice goes out."),
            code="programme_not_approved",
        )
    if audit.lead_auditor_id is None:
        raise Invalid(_l("Name the lead auditor before the notice goes out."), code="lead_required")
    if not rules.notice_in_time(day, audit.audit_date, working_days(session)):
        raise Invalid(
            _l(
                "The notice must reach the auditee at least 5 working days before the audit "
                "(%(audit)s): send it on %(latest)s at the latest, or move the audit.",
                audit=audit.audit_date.isoformat(),
                latest=latest_notice(session, audit),
            ),
            code="notice_too_late",
        )
    heads = department_heads(session, audit.department_id)
    if not heads:
        raise Conflict(
            _l(
                "%(department)s has no head to receive the notice.",
                department=audit.department.name,
            ),
            code="no_head",
        )
    audit.notice_date = day
    audit.notified_at = utcnow()
    for head in heads:
        queue_mail(
            session,
            head,
            _l(
                "Internal audit notice: %(title)s on %(day)s",
                title=audit.title,
                day=audit.audit_date.isoformat(),
            ),
            _l(
                "Your department %(department)s will be audited on %(day)s at "
                "%(place)s.\nObjectives: %(objectives)s\nScope: %(scope)s\nLead "
                "auditor: %(lead)s\nPlease prepare the records and attend the opening "
                "meeting.",
                department=audit.department.name,
                day=audit.audit_date.isoformat(),
                place=audit.place or "-",
                objectives=audit.objectives or "-",
                scope=audit.scope or "-",
                lead=audit.lead_auditor.display_name if audit.lead_auditor else "-",
            ),
        )
    trail.record(
        session,
        actor,
        "notice",
        AUDIT,
        audit.id,
        field="notice_date",
        new=day.isoformat(),
        reason=",".join(h.username for h in heads),
    )
    session.flush()
    return heads


def record_meeting(
    session: Session,
    actor: User,
    audit: Audit,
    meeting: Meeting,
    *,
    present: Iterable[int],
    held_on: date | None = None,
) -> None:
    """The opening meeting starts the fieldwork; the closing meeting ends it and sets the
    report's due date (5 working days). Attendance is recorded with it."""
    day = held_on or clock.today()
    people = _users(session, present)
    if not people:
        raise Invalid(_l("Tick who attended the meeting."), code="attendance_required")
    if meeting == Meeting.OPENING:
        _step(session, actor, audit, AuditAction.OPEN_MEETING)
        audit.opened_at = utcnow()
    else:
        _step(session, actor, audit, AuditAction.CLOSE_MEETING)
        if any(i.result == Result.OPEN for i in audit.checklist):
            raise Conflict(
                _l(
                    "Answer every checklist item (or mark it not applicable) "
                    "before the closing meeting."
                ),
                code="checklist_open",
            )
        audit.closing_date = day
        audit.report_due = rules.report_due(day, working_days(session))
    for p in people:
        audit.attendance.append(
            MeetingAttendance(meeting=meeting, user_id=p.id, user=p, held_on=day)
        )
    trail.record(
        session,
        actor,
        "meeting",
        AUDIT,
        audit.id,
        field=str(meeting),
        new=",".join(p.username for p in people),
        reason=day.isoformat(),
    )
    session.flush()


# -- findings -----------------------------------------------------------------------------


def raise_finding(
    session: Session,
    actor: User,
    audit: Audit,
    *,
    grade: str,
    description: str,
    evidence: str,
    criterion: str = "",
    clause: str = "",
    process_number: str = "",
    item_id: int | None = None,
) -> AuditFinding:
    _runs(session, actor, audit)
    if audit.state not in rules.FIELDWORK:
        raise Conflict(
            _l("Findings are raised between the opening and the report."), code="not_in_fieldwork"
        )
    try:
        g = Grade(grade)
    except ValueError:
        raise Invalid(
            _l("%(value)s is not a grade of finding.", value=grade), code="bad_grade"
        ) from None
    if not description.strip():
        raise Invalid(_l("Describe the finding."), code="description_required")
    if g in NONCONFORMITY_GRADES and not evidence.strip():
        raise Invalid(
            _l(
                "A nonconformity needs its objective evidence (what was seen, where, which record)."
            ),
            code="evidence_required",
        )
    item = _item(audit, item_id) if item_id else None
    (clean,) = _clean_clauses([clause]) if clause.strip() else (item.clause if item else "",)
    if g in NONCONFORMITY_GRADES and not clean:
        raise Invalid(
            _l("Name the ISO 9001 clause the nonconformity is against."), code="clause_required"
        )
    if (
        process_number.strip()
        and session.scalar(sa.select(Document.id).where(Document.number == process_number.strip()))
        is None
    ):
        raise Invalid(
            _l("%(number)s is not a controlled document.", number=process_number.strip()),
            code="process_invalid",
        )
    number = max([f.number for f in audit.findings] or [0]) + 1
    finding = AuditFinding(
        number=number,
        grade=g,
        description=description.strip(),
        evidence=evidence.strip(),
        criterion=criterion.strip(),
        clause=clean,
        process_number=process_number.strip()[:32],
        checklist_item_id=item.id if item else None,
        raised_by_id=actor.id,
        raised_by=actor,
    )
    audit.findings.append(finding)
    session.flush()
    trail.record(
        session,
        actor,
        "raise",
        FINDING,
        finding.id,
        field="grade",
        new=str(g),
        reason=f"{audit.ref} #{number}",
    )
    if g in NONCONFORMITY_GRADES:
        finding.nonconformity_id = _record_nonconformity(session, actor, audit, finding)
        session.flush()
    return finding


def _record_nonconformity(
    session: Session, actor: User, audit: Audit, finding: AuditFinding
) -> int:
    """On form BD-PZ-008, through the nonconformity engine."""
    from qms.nonconformity.service import raise_nonconformity

    nc = raise_nonconformity(
        session,
        actor=actor,
        source="internal_audit",
        source_id=audit.id,
        source_label=f"{audit.ref} #{finding.number}",
        department=audit.department,
        clause=finding.clause,
        process_number=finding.process_number or None,
        grade=str(finding.grade),
        description=finding.description,
        evidence=finding.evidence,
        raised_on=min(audit.audit_date, clock.today()),
    )
    return int(nc.id)


def finding_hash(finding: AuditFinding) -> str:
    payload = [
        finding.number,
        str(finding.grade),
        finding.criterion,
        finding.clause,
        finding.description,
        finding.evidence,
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def acknowledge(
    session: Session,
    actor: User,
    audit: Audit,
    number: int,
    *,
    password: str,
    content_sha256: str | None,
) -> AuditFinding:
    """The head of the audited department acknowledges a finding with a signature."""
    finding = get_finding(audit, number)
    if not is_head_of(session, actor, audit.department_id):
        raise Forbidden(
            _l(
                "Only the head of %(department)s acknowledges its findings.",
                department=audit.department.name,
            ),
            code="not_the_auditee",
        )
    if finding.acknowledged_at is not None:
        raise Conflict(_l("This finding is already acknowledged."), code="already_acknowledged")
    check_seen(content_sha256, finding_hash(finding))
    sign(
        session,
        actor,
        password,
        Meaning.ACKNOWLEDGED,
        content_sha256=finding_hash(finding),
        object_type=FINDING,
        object_id=finding.id,
    )
    finding.acknowledged_by_id, finding.acknowledged_by = actor.id, actor
    finding.acknowledged_at = utcnow()
    session.flush()
    return finding


def get_finding(audit: Audit, number: int) -> AuditFinding:
    for f in audit.findings:
        if f.number == number:
            return f
    raise NotFound(_l("The audit has no finding %(number)s.", number=number))


# -- the report ---------------------------------------------------------------------------


def edit_report(
    session: Session,
    actor: User,
    audit: Audit,
    *,
    conclusions: str,
    conformity_degree: str,
    diverging_opinions: str,
    distribution: str,
) -> None:
    if audit.lead_auditor_id != actor.id:
        raise Forbidden(_l("Only the lead auditor writes the report."), code="not_lead")
    if audit.state != AuditState.REPORTING:
        raise Conflict(
            _l("The report is written after the closing meeting and before it is submitted."),
            code="not_reporting",
        )
    values = {
        "conclusions": conclusions,
        "conformity_degree": conformity_degree,
        "diverging_opinions": diverging_opinions,
        "distribution": distribution,
    }
    for name, value in values.items():
        if getattr(audit, name) != value.strip():
            trail.record(
                session,
                actor,
                "update",
                REPORT,
                audit.id,
                field=name,
                old=getattr(audit, name),
                new=value.strip(),
            )
            setattr(audit, name, value.strip())
    session.flush()


def report_hash(audit: Audit) -> str:
    payload = [
        audit.ref,
        audit.title,
        audit.objectives,
        audit.scope,
        audit.place,
        audit.audit_date.isoformat(),
        str(audit.closing_date or ""),
        audit.lead_auditor_id,
        [m.user_id for m in audit.team],
        [criterion_label(c) for c in audit.criteria],
        [
            [f.number, str(f.grade), f.criterion, f.clause, f.description, f.evidence]
            for f in audit.findings
        ],
        audit.conclusions,
        audit.conformity_degree,
        audit.diverging_opinions,
        audit.distribution,
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def report_late(audit: Audit) -> bool:
    if audit.report_due is None:
        return False
    submitted = audit.report_submitted_on or (None if audit.state in rules.ENDED else clock.today())
    return submitted is not None and submitted > audit.report_due


def submit_report(session: Session, actor: User, audit: Audit) -> None:
    _step(session, actor, audit, AuditAction.SUBMIT_REPORT)
    if not audit.conclusions.strip() or not audit.conformity_degree.strip():
        raise Invalid(
            _l("The report needs its conclusions and the degree of conformity."),
            code="report_incomplete",
        )
    audit.report_submitted_on = clock.today()
    session.flush()


def unacknowledged(audit: Audit) -> list[AuditFinding]:
    return [f for f in audit.findings if f.acknowledged_at is None]


def approve_report(
    session: Session,
    actor: User,
    audit: Audit,
    *,
    password: str,
    content_sha256: str | None,
    comment: str = "",
) -> None:
    """The general manager approves the report he read; refused while a finding is not
    acknowledged by the auditee. The distribution is logged."""
    _step(session, actor, audit, AuditAction.APPROVE_REPORT, comment)
    waiting = unacknowledged(audit)
    if waiting:
        raise Conflict(
            _l(
                "Findings not yet acknowledged by the auditee: %(numbers)s. The report is "
                "approved once every finding is acknowledged.",
                numbers=", ".join(f"#{f.number}" for f in waiting),
            ),
            code="finding_unacknowledged",
        )
    current = report_hash(audit)
    check_seen(content_sha256, current)
    sign(
        session,
        actor,
        password,
        Meaning.APPROVED,
        content_sha256=current,
        object_type=REPORT,
        object_id=audit.id,
        comment=comment,
    )
    audit.approved_at = utcnow()
    trail.record(
        session,
        actor,
        "distribute",
        REPORT,
        audit.id,
        field="distribution",
        new=audit.distribution or audit.department.name,
    )
    session.flush()


def return_report(session: Session, actor: User, audit: Audit, *, reason: str) -> None:
    if not reason.strip():
        raise Invalid(_l("Say what must change in the report."), code="reason_required")
    _step(session, actor, audit, AuditAction.RETURN_REPORT, reason.strip())
    audit.report_submitted_on = None
    session.flush()


def cancel(session: Session, actor: User, audit: Audit, *, reason: str) -> None:
    if not reason.strip():
        raise Invalid(_l("Say why the audit is cancelled."), code="reason_required")
    _step(session, actor, audit, AuditAction.CANCEL, reason.strip())
    session.flush()


def apply_move(
    session: Session,
    actor: User,
    audit: Audit,
    action: str,
    *,
    password: str = "",
    content_sha256: str | None = None,
    reason: str = "",
    present: Iterable[int] = (),
    held_on: date | None = None,
    notice_date: date | None = None,
) -> None:
    """One step by name (the API and the page's buttons)."""
    try:
        move = AuditAction(action)
    except ValueError:
        raise Invalid(
            _l("%(action)s is not a step of an audit.", action=action), code="bad_action"
        ) from None
    if move == AuditAction.NOTIFY:
        notify(session, actor, audit, notice_date=notice_date)
    elif move == AuditAction.OPEN_MEETING:
        record_meeting(session, actor, audit, Meeting.OPENING, present=present, held_on=held_on)
    elif move == AuditAction.CLOSE_MEETING:
        record_meeting(session, actor, audit, Meeting.CLOSING, present=present, held_on=held_on)
    elif move == AuditAction.SUBMIT_REPORT:
        submit_report(session, actor, audit)
    elif move == AuditAction.APPROVE_REPORT:
        approve_report(
            session, actor, audit, password=password, content_sha256=content_sha256, comment=reason
        )
    elif move == AuditAction.RETURN_REPORT:
        return_report(session, actor, audit, reason=reason)
    else:
        cancel(session, actor, audit, reason=reason)


def moves_for(session: Session, user: User, audit: Audit) -> list[AuditAction]:
    return rules.audit_moves(audit.state, actors_on(session, user, audit))


def status(
    session: Session,
    audit: Audit,
    today: date | None = None,
    add: Callable[[date, int], date] | None = None,
) -> rules.Status:
    """What the calendar shows; pass `add` (working_days) when showing many audits."""
    add = add or working_days(session)
    return rules.display_status(
        rules.AuditDates(
            state=audit.state,
            audit_date=audit.audit_date,
            latest_notice=rules.latest_notice_date(audit.audit_date, add),
            report_due=audit.report_due,
        ),
        today or clock.today(),
    )


def counts(audit: Audit) -> dict[str, Any]:
    by_grade = {str(g): 0 for g in Grade}
    for f in audit.findings:
        by_grade[str(f.grade)] += 1
    by_result = {str(r): 0 for r in Result}
    for i in audit.checklist:
        by_result[str(i.result)] += 1
    return {
        "findings": by_grade,
        "checklist": by_result,
        "unacknowledged": len(unacknowledged(audit)),
    }


# -- results ------------------------------------------------------------------------------


@dataclass
class DepartmentResult:
    department: Department
    last_audit: Audit | None = None
    grades: dict[str, int] = field(default_factory=dict)
    open_ncs: int = 0
    overdue_ncs: int = 0
    days_to_close: float | None = None  # mean, of closed nonconformities


def results(
    session: Session, department_ids: Iterable[int] | None = None
) -> list[DepartmentResult]:
    """Per department: its last audit, counts of findings by grade (all audits), open and
    overdue nonconformities, and the mean days from raised to closed. Never per person."""
    depts = departments(session)
    if department_ids is not None:
        wanted = set(department_ids)
        depts = [d for d in depts if d.id in wanted]
    rows = {d.id: DepartmentResult(d) for d in depts}
    last_ids = dict(
        session.execute(
            sa.select(Audit.department_id, sa.func.max(Audit.id))
            .where(Audit.state.in_([AuditState.REPORTING, AuditState.REPORTED, AuditState.CLOSED]))
            .group_by(Audit.department_id)
        )
        .tuples()
        .all()
    )
    for a in session.scalars(sa.select(Audit).where(Audit.id.in_(list(last_ids.values()) or [0]))):
        if a.department_id in rows:
            rows[a.department_id].last_audit = a
    for dept_id, grade, count in session.execute(
        sa.select(Audit.department_id, AuditFinding.grade, sa.func.count())
        .join(AuditFinding, AuditFinding.audit_id == Audit.id)
        .group_by(Audit.department_id, AuditFinding.grade)
    ):
        if dept_id in rows:
            rows[dept_id].grades[str(grade)] = count
    nc = _nc_model()
    if nc is not None:
        today = clock.today()
        for dept_id, closed_on, raised_on, due, state in session.execute(
            sa.select(nc.department_id, nc.closed_on, nc.raised_on, nc.correction_due, nc.state)
        ):
            row = rows.get(dept_id)
            if row is None:
                continue
            if str(state) != "closed":
                row.open_ncs += 1
                if due is not None and due < today:
                    row.overdue_ncs += 1
            elif closed_on is not None and raised_on is not None:
                days = (closed_on - raised_on).days
                n = row.__dict__.setdefault("_closed", [])
                n.append(days)
                row.days_to_close = sum(n) / len(n)
    return list(rows.values())


def trend(session: Session, years: int = 3) -> list[dict[str, Any]]:
    """Findings by grade per quarter of the last years (all departments together)."""
    today = clock.today()
    start = date(today.year - years + 1, 1, 1)
    counted: dict[tuple[int, int], dict[str, int]] = {}
    for day, grade in session.execute(
        sa.select(Audit.audit_date, AuditFinding.grade)
        .join(AuditFinding, AuditFinding.audit_id == Audit.id)
        .where(Audit.audit_date >= start)
    ):
        key = (day.year, (day.month - 1) // 3 + 1)
        counted.setdefault(key, {})
        counted[key][str(grade)] = counted[key].get(str(grade), 0) + 1
    out = []
    for year in range(start.year, today.year + 1):
        for q in range(1, 5):
            out.append(
                {
                    "label": f"{year} Q{q}",
                    **{str(g): counted.get((year, q), {}).get(str(g), 0) for g in Grade},
                }
            )
    return out


def _move(session: Session, actor: User, kind: str, record: Any, action: Any, new: Any,
          reason: str) -> None:
    """A programme's or an audit's new state, with its trail entry."""
    trail.record(
        session,
        actor,
        str(action),
        kind,
        record.id,
        field="state",
        old=str(record.state),
        new=str(new),
        reason=reason,
    )
    record.state = new
