"""Service procedures and document links: structure per revision, what controls what,
the "needs review" list and traceability from ISO clause to forms. Functions take the
session and only flush; the caller commits."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from qms import events
from qms.auth import service as auth
from qms.auth.models import User
from qms.auth.permissions import Permission, Role
from qms.db import utcnow
from qms.documents import service as doc_service
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind, Document, Revision
from qms.errors import Forbidden, Invalid, NotFound
from qms.procedures.models import (
    LINK_LABELS,
    DocumentLink,
    FlagReason,
    LinkKind,
    ProcedureLane,
    ProcedureStep,
    ReviewFlag,
    RevisionSource,
)
from qms.search.extras import text_provider
from qms.trail import service as trail

IMPORT_USERNAME = "qms-import"

# ISO 9001:2015 / GB/T 19001-2016: numbers and short titles only.
ISO_CLAUSES: list[tuple[str, Any]] = [
    ("4.1", _l("Understanding the organization and its context")),
    ("4.2", _l("Needs and expectations of interested parties")),
    ("4.3", _l("Scope of the quality management system")),
    ("4.4", _l("Quality management system and its processes")),
    ("5.1", _l("Leadership and commitment")),
    ("5.2", _l("Quality policy")),
    ("5.3", _l("Roles, responsibilities and authorities")),
    ("6.1", _l("Actions to address risks and opportunities")),
    ("6.2", _l("Quality objectives and planning to achieve them")),
    ("6.3", _l("Planning of changes")),
    ("7.1", _l("Resources")),
    ("7.2", _l("Competence")),
    ("7.3", _l("Awareness")),
    ("7.4", _l("Communication")),
    ("7.5", _l("Documented information")),
    ("8.1", _l("Operational planning and control")),
    ("8.2", _l("Requirements for products and services")),
    ("8.3", _l("Design and development of products and services")),
    ("8.4", _l("Control of externally provided processes, products and services")),
    ("8.5", _l("Production and service provision")),
    ("8.6", _l("Release of products and services")),
    ("8.7", _l("Control of nonconforming outputs")),
    ("9.1", _l("Monitoring, measurement, analysis and evaluation")),
    ("9.2", _l("Internal audit")),
    ("9.3", _l("Management review")),
    ("10.2", _l("Nonconformity and corrective action")),
    ("10.3", _l("Continual improvement")),
]

# Lanes a department's people work in, besides the lane named exactly as the department.
LANE_ALIASES: dict[str, frozenset[str]] = {
    "ZJ": frozenset({"总经理"}),
    "PZ": frozenset({"品质管理中心"}),
    "KF": frozenset({"客户服务中心", "客户服务", "服务中心"}),
    "BA": frozenset({"安全管理部", "保安部", "当班保安员", "安全管理主管"}),
    "GJ": frozenset({"管家服务部", "环境管理部", "管家服务主管", "保洁员"}),
    "GC": frozenset({"工程服务部", "工程主管", "工程巡查员"}),
    "XZ": frozenset({"行政人事部"}),
    "CW": frozenset({"财务部"}),
}
ROLE_LANES: dict[Role, frozenset[str]] = {
    Role.QUALITY_MANAGER: frozenset({"品质管理中心经理"}),
    Role.REVIEW_LEADER: frozenset({"评审组长"}),
    Role.REVIEWER: frozenset({"评审员"}),
}


# -- the technical user of the import ---------------------------------------------------------

def ensure_import_user(session: Session) -> User:
    """The author of imported documents: a quality clerk nobody can sign in as."""
    user = auth.user_by_username(session, IMPORT_USERNAME)
    if user is not None:
        return user
    user = auth.create_user(
        session, None, username=IMPORT_USERNAME, display_name="文件导入 (qms import)",
        password=secrets.token_urlsafe(32) + "-Aa1", roles=[Role.QUALITY_CLERK],
        department=auth.department_by_code(session, "PZ"),
    )
    auth.update_user(session, None, user, display_name=user.display_name, email="",
                     department=user.department, roles=user.roles, active=False,
                     reason="technical user of the document import; never signs in")
    return user


# -- structure of a revision ----------------------------------------------------------------

def set_structure(session: Session, revision: Revision, *, links: dict[LinkKind, list[str]],
                  iso_clauses: list[str], gap_note: str, lanes: list[str],
                  steps: Sequence[dict[str, Any]], source_sha256: str = "",
                  path: str = "", actor: User | None = None,
                  inferred: Iterable[str] = ()) -> None:
    """Replace the links, ISO clauses, lanes and steps of a revision still being written.
    Links to the numbers in `inferred` are our reading of the handbook, to be confirmed."""
    if revision.state not in (RevState.DRAFT, RevState.IN_REVIEW) and (
            session.scalar(sa.select(sa.func.count()).select_from(DocumentLink)
                           .where(DocumentLink.revision_id == revision.id))
            or session.get(RevisionSource, revision.id) is not None):
        raise Invalid(_l("Revision %(label)s is no longer a draft; its links do not change.",
                         label=revision.label))
    _clear_structure(session, revision.id)
    inferred = set(inferred)
    for kind, targets in links.items():
        for position, target in enumerate(targets):
            session.add(DocumentLink(revision_id=revision.id, kind=kind,
                                     target_number=target, position=position,
                                     inferred=target in inferred))
    session.add(RevisionSource(revision_id=revision.id, path=path, source_sha256=source_sha256,
                               iso_clauses=list(iso_clauses), gap_note=gap_note))
    for position, name in enumerate(lanes):
        session.add(ProcedureLane(revision_id=revision.id, position=position, name=name))
    for position, fields in enumerate(steps):
        session.add(ProcedureStep(revision_id=revision.id, position=position, **fields))
    session.flush()
    doc_service.bind_structure(session, revision, structure_digest(
        links=links, iso_clauses=iso_clauses, gap_note=gap_note, lanes=lanes, steps=steps))
    trail.record(session, actor, "update", "revision_links",
                 f"{revision.document.number} {revision.label}",
                 new="; ".join([f"{k}: {','.join(v)}" for k, v in links.items() if v]
                               + ([f"inferred: {','.join(sorted(inferred))}"] if inferred else [])),
                 reason=path)


def structure_digest(*, links: dict[LinkKind, list[str]], iso_clauses: list[str], gap_note: str,
                     lanes: list[str], steps: Sequence[dict[str, Any]]) -> str:
    """SHA-256 of a revision's links and flow, bound into its content hash (and so into
    every signature on it)."""
    payload = json.dumps({
        "links": {str(k): list(v) for k, v in sorted(links.items(), key=lambda kv: str(kv[0]))},
        "iso_clauses": list(iso_clauses), "gap_note": gap_note, "lanes": list(lanes),
        "steps": [{k: (list(v) if isinstance(v, list | tuple) else v)
                   for k, v in sorted(step.items())} for step in steps],
    }, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _clear_structure(session: Session, revision_id: int) -> None:
    for model in (DocumentLink, ProcedureLane, ProcedureStep):
        session.execute(sa.delete(model).where(model.revision_id == revision_id))
    session.execute(sa.delete(RevisionSource).where(RevisionSource.revision_id == revision_id))


def copy_structure(session: Session, source: Revision, target: Revision) -> None:
    """A new revision starts with the links and flow of the one it revises."""
    if session.get(RevisionSource, target.id) is not None:
        return
    for link in links_of(session, source.id):
        session.add(DocumentLink(revision_id=target.id, kind=link.kind,
                                 target_number=link.target_number, position=link.position,
                                 inferred=link.inferred))
    meta = session.get(RevisionSource, source.id)
    if meta is not None:
        # no fingerprint: the copy is not what a source file said
        session.add(RevisionSource(revision_id=target.id, path=meta.path, source_sha256="",
                                   iso_clauses=list(meta.iso_clauses), gap_note=meta.gap_note))
    for lane in lanes_of(session, source.id):
        session.add(ProcedureLane(revision_id=target.id, position=lane.position, name=lane.name))
    for step in steps_of(session, source.id):
        session.add(ProcedureStep(
            revision_id=target.id, number=step.number, position=step.position, lane=step.lane,
            type=step.type, title=step.title, explanation=step.explanation,
            next_steps=list(step.next_steps), if_yes=step.if_yes, if_no=step.if_no,
            forms_used=list(step.forms_used), forms_produced=list(step.forms_produced)))
    session.flush()
    doc_service.bind_structure(session, target, source.structure_sha256)


def links_of(session: Session, revision_id: int) -> list[DocumentLink]:
    return list(session.scalars(sa.select(DocumentLink).where(
        DocumentLink.revision_id == revision_id).order_by(DocumentLink.kind,
                                                          DocumentLink.position)))


def lanes_of(session: Session, revision_id: int) -> list[ProcedureLane]:
    return list(session.scalars(sa.select(ProcedureLane).where(
        ProcedureLane.revision_id == revision_id).order_by(ProcedureLane.position)))


def steps_of(session: Session, revision_id: int) -> list[ProcedureStep]:
    return list(session.scalars(sa.select(ProcedureStep).where(
        ProcedureStep.revision_id == revision_id).order_by(ProcedureStep.position)))


# -- links made in the editor -----------------------------------------------------------------

def parse_target(text: str) -> str:
    """The document number out of what the editor's field holds: "ZD-PZ-001 质量管理制度"
    (an option picked from the list) or the number typed alone."""
    parts = text.strip().split(maxsplit=1)
    return parts[0].upper() if parts else ""


def add_link(session: Session, actor: User, revision: Revision, *, kind: LinkKind,
             target: str) -> DocumentLink:
    """Link a revision being written to another document the author may read."""
    from qms.documents import visibility

    number = parse_target(target)
    if not number:
        raise Invalid(_l("Name the document to link to, by number or title."),
                      code="no_target")
    own = revision.document.number
    if number == own:
        raise Invalid(_l("A document cannot link to itself."), code="self_link")
    document = session.scalar(sa.select(Document).where(Document.number == number))
    if document is None or not visibility.can_read_document(session, actor, document):
        raise Invalid(_l("There is no document numbered %(number)s.", number=number),
                      code="unknown_target")
    revision = doc_service.begin_structure_edit(session, actor, revision)
    own_links = links_of(session, revision.id)
    if any(link.kind == kind and link.target_number == number for link in own_links):
        raise Invalid(_l("%(number)s is already linked as %(kind)s.", number=number,
                         kind=LINK_LABELS[kind]), code="duplicate_link")
    position = 1 + max((link.position for link in own_links if link.kind == kind), default=-1)
    link = DocumentLink(revision_id=revision.id, kind=kind, target_number=number,
                        position=position)
    session.add(link)
    session.flush()
    _rebind(session, actor, revision, new=f"{kind}: {number}")
    return link


def remove_link(session: Session, actor: User, revision: Revision, link_id: int) -> None:
    link = session.get(DocumentLink, link_id)
    if link is None or link.revision_id != revision.id:
        raise NotFound(_l("This revision has no such link."))
    revision = doc_service.begin_structure_edit(session, actor, revision)
    kind, number = link.kind, link.target_number
    session.delete(link)
    session.flush()
    _rebind(session, actor, revision, old=f"{kind}: {number}")


def _rebind(session: Session, actor: User, revision: Revision, *, old: str = "",
            new: str = "") -> None:
    """The structure digest again from what is stored, into the content hash."""
    links: dict[LinkKind, list[str]] = {}
    for link in links_of(session, revision.id):
        links.setdefault(link.kind, []).append(link.target_number)
    meta = session.get(RevisionSource, revision.id)
    lanes = [lane.name for lane in lanes_of(session, revision.id)]
    steps = [{
        "number": s.number, "lane": s.lane, "type": s.type, "title": s.title,
        "explanation": s.explanation, "next_steps": list(s.next_steps or []),
        "if_yes": s.if_yes, "if_no": s.if_no, "forms_used": list(s.forms_used or []),
        "forms_produced": list(s.forms_produced or []),
    } for s in steps_of(session, revision.id)]
    digest = "" if not (links or meta or lanes or steps) else structure_digest(
        links=links, iso_clauses=list(meta.iso_clauses) if meta else [],
        gap_note=meta.gap_note if meta else "", lanes=lanes, steps=steps)
    doc_service.bind_structure(session, revision, digest)
    doc_service.structure_edited(session, revision)
    trail.record(session, actor, "update", "revision_links",
                 f"{revision.document.number} {revision.label}", field="links", old=old, new=new)


# -- what a link points at ---------------------------------------------------------------------

@dataclass
class Target:
    """A linked document as the reader needs it: which revision is in force, or why none."""

    number: str
    document: Document | None

    @property
    def exists(self) -> bool:
        return self.document is not None

    @property
    def title(self) -> str:
        return self.document.title if self.document else ""

    @property
    def kind(self) -> DocKind | None:
        return self.document.kind if self.document else None

    @property
    def revision(self) -> Revision | None:
        return self.document.current_revision if self.document else None

    @property
    def label(self) -> str:
        return self.revision.label if self.revision else ""

    @property
    def effective_date(self) -> date | None:
        return self.revision.effective_date if self.revision else None

    @cached_property
    def status(self) -> str:
        """effective, obsolete, missing, or the state of a document never in force (asked
        several times for each link a page shows: worked out once)."""
        if self.document is None:
            return "missing"
        if self.revision is not None and self.revision.state == RevState.EFFECTIVE:
            return "effective"
        return str(self.document.status)

    @property
    def in_force(self) -> bool:
        return self.status == "effective"

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "title": self.title, "kind": self.kind,
                "revision": self.label or None, "status": self.status,
                "effective_date": self.effective_date.isoformat() if self.effective_date else None}


def targets(session: Session, numbers: Iterable[str]) -> dict[str, Target]:
    wanted = sorted(set(numbers))
    # with the revision in force of each, in the same statement (not one query per link)
    found = {d.number: d for d in session.scalars(
        sa.select(Document).where(Document.number.in_(wanted))
        .options(joinedload(Document.current_revision)))} if wanted else {}
    return {n: Target(n, found.get(n)) for n in wanted}


@dataclass
class Links:
    """Everything linked to one revision, both ways."""

    revision: Revision
    outgoing: dict[LinkKind, list[Target]]
    controls: list[Target]  # named by this revision or naming it as controlled_by
    referenced_by: list[Target]
    used_by: list[Target]  # for a form: the documents that use it
    iso_clauses: list[str] = field(default_factory=list)
    gap_note: str = ""
    inferred: set[str] = field(default_factory=set)  # numbers linked by our reading only

    def is_inferred(self, target: Target) -> bool:
        return target.number in self.inferred

    @property
    def controlled_by(self) -> list[Target]:
        return self.outgoing.get(LinkKind.CONTROLLED_BY, [])

    @property
    def controlled_processes(self) -> list[Target]:
        return [t for t in self.controls if t.kind == DocKind.PROCESS]

    @property
    def controlled_forms(self) -> list[Target]:
        return [t for t in self.controls if t.kind == DocKind.FORM]

    @property
    def controlled_other(self) -> list[Target]:
        return [t for t in self.controls if t.kind not in (DocKind.PROCESS, DocKind.FORM)]

    @property
    def controller_problems(self) -> list[Target]:
        return [t for t in self.controlled_by if not t.in_force]

    def link_dict(self, target: Target) -> dict[str, Any]:
        return {**target.as_dict(), "inferred": self.is_inferred(target)}

    def is_empty(self) -> bool:
        return not (any(self.outgoing.values()) or self.controls or self.referenced_by
                    or self.used_by)

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.revision.document.number,
            "revision": self.revision.label,
            "iso_clauses": self.iso_clauses,
            "gap_note": self.gap_note or None,
            "controlled_by": [self.link_dict(t) for t in self.controlled_by],
            "references": [t.as_dict() for t in self.outgoing.get(LinkKind.REFERENCES, [])],
            "uses_forms": [t.as_dict() for t in self.outgoing.get(LinkKind.USES_FORM, [])],
            "controls": [self.link_dict(t) for t in self.controls],
            "referenced_by": [t.as_dict() for t in self.referenced_by],
            "used_by": [t.as_dict() for t in self.used_by],
        }


def _incoming(session: Session, number: str, kinds: Sequence[LinkKind],
              inferred: set[str] | None = None) -> dict[LinkKind, list[str]]:
    """Documents whose revision in force links to `number`, by kind of link (one statement).
    The sources whose link is our reading only are added to `inferred` when it is given."""
    found: dict[LinkKind, list[str]] = {kind: [] for kind in kinds}
    for source, kind, is_inferred in session.execute(
        sa.select(Document.number, DocumentLink.kind, DocumentLink.inferred)
        .join(DocumentLink, DocumentLink.revision_id == Document.current_revision_id)
        .where(DocumentLink.target_number == number, DocumentLink.kind.in_(list(kinds)))
        .order_by(Document.number).distinct()):
        if source not in found[LinkKind(kind)]:
            found[LinkKind(kind)].append(source)
        if is_inferred and inferred is not None:
            inferred.add(source)
    return found


def links_for(session: Session, revision: Revision) -> Links:
    """The links of a revision, and — when it is the revision in force — what links to it.
    The document page includes templates/procedures/_links.html with this as `links`."""
    number = revision.document.number
    own = links_of(session, revision.id)
    in_force = revision.document.current_revision_id == revision.id
    controls = [link.target_number for link in own if link.kind == LinkKind.CONTROLS]
    referenced_by: list[str] = []
    used_by: list[str] = []
    inferred = {link.target_number for link in own if link.inferred}
    if in_force:
        incoming = _incoming(session, number, (LinkKind.CONTROLLED_BY, LinkKind.REFERENCES,
                                               LinkKind.USES_FORM), inferred)
        controls += [n for n in incoming[LinkKind.CONTROLLED_BY] if n not in controls]
        referenced_by = incoming[LinkKind.REFERENCES]
        used_by = incoming[LinkKind.USES_FORM]
        used_by += [n for n in _step_form_users(session, number) if n not in used_by]
    found = targets(session, [link.target_number for link in own] + controls + referenced_by
                    + used_by)
    outgoing: dict[LinkKind, list[Target]] = {kind: [] for kind in LinkKind}
    for link in own:
        if link.kind != LinkKind.CONTROLS:
            outgoing[link.kind].append(found[link.target_number])
    meta = session.get(RevisionSource, revision.id)
    return Links(
        revision=revision, outgoing=outgoing,
        controls=[found[n] for n in controls if n != number],
        referenced_by=[found[n] for n in referenced_by],
        used_by=[found[n] for n in used_by],
        iso_clauses=list(meta.iso_clauses) if meta else [],
        gap_note=meta.gap_note if meta else "",
        inferred=inferred,
    )


_PLAIN_NUMBER = re.compile(r"[A-Za-z0-9-]+")


def _step_form_users(session: Session, form_number: str) -> list[str]:
    # forms named only inside steps; JSON lists are searched in Python, after SQL has kept
    # the steps whose stored lists contain the number as a JSON string at all
    stmt = (sa.select(Document.number, ProcedureStep.forms_used, ProcedureStep.forms_produced)
            .join(ProcedureStep, ProcedureStep.revision_id == Document.current_revision_id))
    if _PLAIN_NUMBER.fullmatch(form_number):  # written as is inside the JSON text
        quoted = f'"{form_number}"'
        stmt = stmt.where(sa.or_(sa.cast(ProcedureStep.forms_used, sa.Text).contains(quoted),
                                 sa.cast(ProcedureStep.forms_produced, sa.Text).contains(quoted)))
    rows = session.execute(stmt)
    return sorted({n for n, used, produced in rows
                   if form_number in (used or []) + (produced or [])})


# -- procedures -------------------------------------------------------------------------------

def procedures_select(department_code: str | None = None, query: str = "") -> sa.Select[Any]:
    """Processes with a revision in force, by number."""
    from qms.auth.models import Department

    stmt = (sa.select(Document).where(Document.kind == DocKind.PROCESS,
                                      Document.current_revision_id.is_not(None))
            .order_by(Document.number))
    if department_code:
        stmt = stmt.join(Department, Department.id == Document.department_id).where(
            Department.code == department_code)
    if query:
        like = f"%{query.strip()}%"
        stmt = stmt.where(sa.or_(Document.number.ilike(like), Document.title.ilike(like)))
    return stmt


@dataclass
class ProcedureView:
    document: Document
    revision: Revision
    lanes: list[str]
    steps: list[ProcedureStep]
    links: Links
    open_flags: list[ReviewFlag]

    @property
    def controllers(self) -> list[Target]:
        return self.links.controlled_by

    @property
    def is_gap(self) -> bool:
        return not self.controllers

    @property
    def forms(self) -> list[Target]:
        """Every form of the procedure: its uses_forms list and any named only in a step."""
        return self.links.outgoing.get(LinkKind.USES_FORM, [])

    def as_dict(self, *, with_steps: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "number": self.document.number,
            "title": self.revision.title,
            "revision": self.revision.label,
            "state": str(self.revision.state),
            "effective_date": (self.revision.effective_date.isoformat()
                               if self.revision.effective_date else None),
            "department": self.document.department.code,
            "lanes": self.lanes,
            "controlled_by": [self.links.link_dict(t) for t in self.controllers],
            "gap": self.is_gap,
            "gap_note": self.links.gap_note or None,
            "needs_review": bool(self.open_flags),
        }
        if with_steps:
            out["steps"] = [s.as_dict() for s in self.steps]
            out["forms"] = [t.as_dict() for t in self.forms]
        return out


def procedure_view(session: Session, revision: Revision) -> ProcedureView:
    links = links_for(session, revision)
    steps = steps_of(session, revision.id)
    step_forms = {n for s in steps for n in s.forms_used + s.forms_produced}
    extra = targets(session, step_forms - {t.number for t in
                                           links.outgoing.get(LinkKind.USES_FORM, [])})
    links.outgoing[LinkKind.USES_FORM] = links.outgoing.get(LinkKind.USES_FORM, []) + list(
        extra.values())
    return ProcedureView(
        document=revision.document, revision=revision,
        lanes=[lane.name for lane in lanes_of(session, revision.id)], steps=steps,
        links=links, open_flags=open_flags_for(session, revision.document),
    )


def get_procedure(session: Session, number: str) -> Document:
    document = session.scalar(sa.select(Document).where(Document.number == number.strip()))
    if document is None or document.kind != DocKind.PROCESS:
        raise NotFound(_l("There is no procedure numbered %(number)s.", number=number))
    return document


def procedure_summaries(session: Session, documents: Sequence[Document]) -> list[ProcedureView]:
    """Lanes and controllers of a page of procedures (no step bodies)."""
    views = []
    for document in documents:
        revision = document.current_revision
        if revision is None:
            continue
        views.append(ProcedureView(
            document=document, revision=revision,
            lanes=[lane.name for lane in lanes_of(session, revision.id)], steps=[],
            links=links_for(session, revision), open_flags=open_flags_for(session, document)))
    return views


def lanes_for_user(user: Any, lanes: Iterable[str]) -> set[str]:
    """The lanes a reader works in: their department's lanes and their role's lanes.
    Lanes of outsiders (业主, 施工单位 …) and of "related departments" are nobody's."""
    mine: set[str] = set()
    department = getattr(user, "department", None)
    roles: frozenset[Role] = getattr(user, "roles", frozenset())
    for lane in lanes:
        if department is not None and (lane == department.name
                                       or lane in LANE_ALIASES.get(department.code, ())):
            mine.add(lane)
        if any(lane in ROLE_LANES.get(role, ()) for role in roles):
            mine.add(lane)
    return mine


# -- the "needs review" list ------------------------------------------------------------------

def dependants(session: Session, document: Document, revision: Revision) -> list[Document]:
    """Processes in force that the document controls (either side of the link)."""
    numbers = set(_incoming(session, document.number, (LinkKind.CONTROLLED_BY,))[
        LinkKind.CONTROLLED_BY])
    numbers |= {link.target_number for link in links_of(session, revision.id)
                if link.kind == LinkKind.CONTROLS}
    numbers.discard(document.number)
    if not numbers:
        return []
    return list(session.scalars(sa.select(Document).where(
        Document.number.in_(sorted(numbers)), Document.kind == DocKind.PROCESS,
        Document.current_revision_id.is_not(None)).order_by(Document.number)))


def flag_dependants(session: Session, cause: Revision, reason: FlagReason) -> list[ReviewFlag]:
    flags = []
    for procedure in dependants(session, cause.document, cause):
        flag = session.scalar(sa.select(ReviewFlag).where(
            ReviewFlag.document_id == procedure.id, ReviewFlag.cleared_at.is_(None),
            ReviewFlag.cause_number == cause.document.number))
        if flag is None:
            flag = ReviewFlag(document_id=procedure.id, cause_number=cause.document.number,
                              procedure_revision_id=procedure.current_revision_id or 0,
                              cause_label=cause.label, reason=reason)
            session.add(flag)
        else:
            flag.cause_label, flag.reason, flag.raised_at = cause.label, reason, utcnow()
        flags.append(flag)
        trail.record(session, None, "flag", "procedure", procedure.number, field="needs_review",
                     new=f"{cause.document.number} {cause.label} {reason}")
    session.flush()
    return flags


def open_flags_for(session: Session, document: Document) -> list[ReviewFlag]:
    return list(session.scalars(sa.select(ReviewFlag).where(
        ReviewFlag.document_id == document.id, ReviewFlag.cleared_at.is_(None))
        .order_by(ReviewFlag.raised_at)))


def needs_review_select() -> sa.Select[Any]:
    return (sa.select(ReviewFlag).where(ReviewFlag.cleared_at.is_(None))
            .order_by(ReviewFlag.raised_at.desc(), ReviewFlag.id.desc()))


def clear_flag(session: Session, actor: User, flag_id: int, *, reason: str) -> ReviewFlag:
    """Someone who may draft documents confirms the procedure still fits its controller."""
    if not actor.can(Permission.DRAFT_DOCUMENTS):
        raise Forbidden(_l("You may not confirm procedures."))
    flag = session.get(ReviewFlag, flag_id)
    if flag is None or flag.cleared_at is not None:
        raise NotFound(_l("This procedure is not on the review list."))
    if not reason.strip():
        raise Invalid(_l("Say what the review found."))
    flag.cleared_at, flag.cleared_by_id, flag.clear_reason = utcnow(), actor.id, reason.strip()
    trail.record(session, actor, "clear", "procedure", flag.document.number,
                 field="needs_review", old=f"{flag.cause_number} {flag.cause_label}",
                 reason=reason.strip())
    session.flush()
    return flag


def confirm_link(session: Session, actor: User, number: str, target: str, *,
                 reason: str) -> DocumentLink:
    """The quality clerk confirms a link that was our reading of the handbook (a process
    and its controlling regulation): it is then shown as any other link. The link itself,
    and so the signed content, does not change."""
    if not actor.can(Permission.DRAFT_DOCUMENTS):
        raise Forbidden(_l("You may not confirm links between documents."))
    document = session.scalar(sa.select(Document).where(Document.number == number))
    link = None if document is None or document.current_revision_id is None else (
        session.scalar(sa.select(DocumentLink).where(
            DocumentLink.revision_id == document.current_revision_id,
            DocumentLink.target_number == target, DocumentLink.inferred.is_(True))))
    if document is None or link is None:
        raise NotFound(_l("%(number)s has no inferred link to %(target)s to confirm.",
                          number=number, target=target))
    if not reason.strip():
        raise Invalid(_l("Say how you confirmed the link (the handbook section, or who "
                         "agreed to it)."))
    link.inferred = False
    trail.record(session, actor, "confirm", "document_link",
                 f"{number} {link.revision.label} → {target}", field="inferred",
                 old="inferred", new="confirmed", reason=reason.strip())
    session.flush()
    return link


def _clear_on_new_revision(session: Session, revision: Revision) -> None:
    for flag in open_flags_for(session, revision.document):
        flag.cleared_at = utcnow()
        flag.clear_reason = f"revised: {revision.label}"
        trail.record(session, None, "clear", "procedure", revision.document.number,
                     field="needs_review", old=f"{flag.cause_number} {flag.cause_label}",
                     reason=f"procedure revision {revision.label} in force")


@events.subscribe(events.REVISION_EFFECTIVE)
def _on_effective(session: Session, revision: Revision, previous: Revision | None = None,
                  **_: Any) -> None:
    if revision.document.kind == DocKind.PROCESS and previous is not None:
        _clear_on_new_revision(session, revision)
    if previous is not None:
        flag_dependants(session, revision, FlagReason.REVISED)


@events.subscribe(events.REVISION_WITHDRAWN)
def _on_withdrawn(session: Session, revision: Revision, **_: Any) -> None:
    flag_dependants(session, revision, FlagReason.WITHDRAWN)


@events.subscribe(events.REVISION_DRAFTED)
def _on_drafted(session: Session, revision: Revision, **_: Any) -> None:
    current = revision.document.current_revision
    if current is not None and current.id != revision.id:
        copy_structure(session, current, revision)


# -- traceability -----------------------------------------------------------------------------

@dataclass
class TraceProcess:
    process: Target
    forms: list[Target]
    clauses: list[str]


@dataclass
class TraceRegulation:
    regulation: Target
    clauses: list[str]  # the clauses of this row the regulation names
    processes: list[TraceProcess]


@dataclass
class TraceRow:
    clause: str
    title: Any
    regulations: list[TraceRegulation]
    uncontrolled: list[TraceProcess]  # processes serving the clause with no regulation

    @property
    def is_gap(self) -> bool:
        return not self.regulations


@dataclass
class Traceability:
    rows: list[TraceRow]
    gaps: list[tuple[TraceProcess, str]]  # processes with no controlling document, and why
    broken: list[tuple[Target, list[Target]]]  # processes whose controller is not in force
    inferred: set[tuple[str, str]] = field(default_factory=set)  # (process, regulation)

    def is_inferred(self, process: Target, regulation: Target) -> bool:
        return (process.number, regulation.number) in self.inferred


def clause_row(clause: str, rows: Iterable[str]) -> str | None:
    """'8.2.1' belongs to the row '8.2'; the most specific matching row wins."""
    best = None
    for row in rows:
        if (clause == row or clause.startswith(row + ".")) and (best is None
                                                                  or len(row) > len(best)):
            best = row
    return best


def traceability(session: Session) -> Traceability:
    """ISO clause → regulation → procedures → forms, from the revisions in force."""
    rows = session.execute(
        sa.select(Document, RevisionSource)
        .join(RevisionSource, RevisionSource.revision_id == Document.current_revision_id,
              isouter=True)
        .where(Document.current_revision_id.is_not(None),
               Document.kind.in_([DocKind.REGULATION, DocKind.PROCESS])))
    docs: dict[str, Document] = {}
    clauses: dict[str, list[str]] = {}
    gap_notes: dict[str, str] = {}
    for document, meta in rows.tuples():
        docs[document.number] = document
        clauses[document.number] = list(meta.iso_clauses) if meta else []
        gap_notes[document.number] = meta.gap_note if meta else ""
    process_numbers = sorted(n for n, d in docs.items() if d.kind == DocKind.PROCESS)
    controllers: dict[str, list[str]] = {n: [] for n in process_numbers}
    forms: dict[str, list[str]] = {n: [] for n in process_numbers}
    link_rows = session.execute(
        sa.select(Document.number, DocumentLink.kind, DocumentLink.target_number,
                  DocumentLink.inferred)
        .join(DocumentLink, DocumentLink.revision_id == Document.current_revision_id)
        .where(Document.kind == DocKind.PROCESS,
               DocumentLink.kind.in_([LinkKind.CONTROLLED_BY, LinkKind.USES_FORM]))
        .order_by(Document.number, DocumentLink.position))
    inferred: set[tuple[str, str]] = set()  # (process, regulation) linked by our reading
    for number, kind, target, is_inferred in link_rows:
        (controllers if kind == LinkKind.CONTROLLED_BY else forms)[number].append(target)
        if is_inferred and kind == LinkKind.CONTROLLED_BY:
            inferred.add((number, target))
    # a regulation naming a process in `controls` counts as well
    for number, target in session.execute(
            sa.select(Document.number, DocumentLink.target_number)
            .join(DocumentLink, DocumentLink.revision_id == Document.current_revision_id)
            .where(DocumentLink.kind == LinkKind.CONTROLS)):
        if target in controllers and number not in controllers[target]:
            controllers[target].append(number)
    found = targets(session, [n for v in forms.values() for n in v]
                    + [n for v in controllers.values() for n in v] + list(docs))

    def trace_process(number: str) -> TraceProcess:
        return TraceProcess(found[number], [found[f] for f in forms[number]], clauses[number])

    row_ids = [c for c, _t in ISO_CLAUSES]
    out_rows = []
    for clause, title in ISO_CLAUSES:
        regulations = []
        for number in sorted(n for n, d in docs.items() if d.kind == DocKind.REGULATION):
            named = [c for c in clauses[number] if clause_row(c, row_ids) == clause]
            if not named:
                continue
            controlled = [p for p in process_numbers if number in controllers[p]]
            regulations.append(TraceRegulation(found[number], named,
                                               [trace_process(p) for p in controlled]))
        uncontrolled = [trace_process(p) for p in process_numbers if not controllers[p]
                        and any(clause_row(c, row_ids) == clause for c in clauses[p])]
        out_rows.append(TraceRow(clause, title, regulations, uncontrolled))
    gaps = [(trace_process(p), gap_notes[p]) for p in process_numbers if not controllers[p]]
    broken = [(found[p], [found[c] for c in controllers[p] if not found[c].in_force])
              for p in process_numbers]
    return Traceability(out_rows, gaps, [(p, cs) for p, cs in broken if cs], inferred)


# -- search --------------------------------------------------------------------------------

@text_provider
def procedure_text(session: Session, revision: Revision) -> dict[str, str]:
    steps = steps_of(session, revision.id)
    if not steps:
        return {}
    return {
        "steps": "\n".join(f"{s.number} {s.title} {s.explanation}" for s in steps),
        "lanes": " ".join(lane.name for lane in lanes_of(session, revision.id)),
    }
