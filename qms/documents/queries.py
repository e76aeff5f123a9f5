"""Read models: the register and a document's history, filtered, sorted and paginated in
SQL, never loading bodies they do not show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased, defer

from qms.auth.models import Department, Signature, User
from qms.auth.signatures import signatures_for
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind, Document, Revision
from qms.documents.periodic import DUE_WINDOW_DAYS
from qms.documents.visibility import (
    Reader,
    hides_unseen_trail_entries,
    readable_documents_clause,
    visible_revisions,
)
from qms.pagination import Page
from qms.trail import service as trail
from qms.trail.models import TrailEntry

SORTS = {
    "number": Document.number,
    "title": Document.title,
    "kind": Document.kind,
    "department": Department.code,
    "status": Document.status,
    "effective_date": None,  # set below (needs the alias)
    "next_review": Document.next_review_date,
}


@dataclass
class RegisterFilter:
    q: str = ""
    kind: str = ""
    department: str = ""
    status: str = ""
    review: str = ""  # "due" (within 60 days), "overdue"
    effective_only: bool = False
    sort: str = "number"
    descending: bool = False
    today: date = field(default_factory=date.today)
    # whose register: documents this reader may not read are left out (None: all)
    reader: Reader | None = None


def filter_from_args(args: Any, *, register: bool, today: date, reader: Reader) -> RegisterFilter:
    """The register's filter from a query string, for one reader: staff see effective
    documents only, and nobody sees documents they may not read."""
    return RegisterFilter(
        q=str(args.get("q", ""))[:100],
        kind=args.get("kind", ""),
        department=args.get("department", ""),
        status=args.get("status", ""),
        review=args.get("review", ""),
        effective_only=not register,
        sort=args.get("sort", "number"),
        descending=args.get("dir") == "desc",
        today=today,
        reader=reader,
    )


Current = aliased(Revision, name="current_rev")
Working = aliased(Revision, name="working_rev")

_COLUMNS = (
    Document.id,
    Document.number,
    Document.title,
    Document.kind,
    Document.family,
    Document.status,
    Document.next_review_date,
    Document.review_interval_months,
    Department.code.label("department_code"),
    Department.name.label("department_name"),
    Department.name_en.label("department_name_en"),
    Current.label.label("current_label"),
    Current.effective_date.label("effective_date"),
    Working.label.label("working_label"),
    Working.state.label("working_state"),
)


def _details(stmt: sa.Select[Any]) -> sa.Select[Any]:
    return (
        stmt.join(Department, Department.id == Document.department_id)
        .outerjoin(Current, Current.id == Document.current_revision_id)
        .outerjoin(Working, Working.id == Document.working_revision_id)
    )


def _filtered(stmt: sa.Select[Any], flt: RegisterFilter) -> sa.Select[Any]:
    if flt.reader is not None:
        stmt = stmt.where(readable_documents_clause(flt.reader))
    if flt.effective_only:
        stmt = stmt.where(Document.status == RevState.EFFECTIVE)
    if flt.q:
        like = f"%{flt.q.strip()}%"
        stmt = stmt.where(sa.or_(Document.number.ilike(like), Document.title.ilike(like)))
    if flt.kind:
        try:
            stmt = stmt.where(Document.kind == DocKind(flt.kind))
        except ValueError:
            stmt = stmt.where(sa.false())
    if flt.department:
        stmt = stmt.where(
            Document.department_id.in_(
                sa.select(Department.id).where(Department.code == flt.department)
            )
        )
    if flt.status:
        try:
            stmt = stmt.where(Document.status == RevState(flt.status))
        except ValueError:
            stmt = stmt.where(sa.false())
    if flt.review == "overdue":
        stmt = stmt.where(Document.next_review_date < flt.today)
    elif flt.review == "due":
        stmt = stmt.where(
            Document.status == RevState.EFFECTIVE,
            Document.next_review_date >= flt.today,
            Document.next_review_date <= flt.today + timedelta(days=DUE_WINDOW_DAYS),
        )
    return stmt


def _order(flt: RegisterFilter) -> list[Any]:
    # The tie-breaker runs in the same direction so an index on (column, number) serves both.
    column: Any = (
        Current.effective_date
        if flt.sort == "effective_date"
        else SORTS.get(flt.sort) or Document.number
    )
    if column is Department.code:
        column = Document.department_id
    if flt.descending:
        return [column.desc(), Document.number.desc()]
    return [column.asc(), Document.number.asc()]


def register_select(flt: RegisterFilter) -> sa.Select[Any]:
    """The whole register as one statement (CSV export)."""
    return _filtered(_details(sa.select(*_COLUMNS)), flt).order_by(*_order(flt))


def register_page(session: Session, flt: RegisterFilter, page: int, per_page: int) -> Page[Any]:
    """Count and pick the page's ids on the document table alone, then join the details
    of those rows only: three statements whatever the page size."""
    ids = _filtered(sa.select(Document.id), flt)
    total = session.scalar(sa.select(sa.func.count()).select_from(ids.subquery())) or 0
    if flt.sort == "effective_date":
        ids = ids.outerjoin(Current, Current.id == Document.current_revision_id)
    page_ids = ids.order_by(*_order(flt)).limit(per_page).offset((page - 1) * per_page)
    chosen = page_ids.subquery()
    rows = list(
        session.execute(
            _details(sa.select(*_COLUMNS))
            .join(chosen, chosen.c.id == Document.id)
            .order_by(*_order(flt))
        )
    )
    return Page(rows, int(total), page, per_page)


def register_rows(session: Session, flt: RegisterFilter) -> Any:
    return session.execute(register_select(flt).execution_options(yield_per=500))


@dataclass
class History:
    revisions: list[Revision]
    signatures: dict[int, list[Signature]]


def history(session: Session, document: Document) -> History:
    """Every revision (without bodies) and their signatures, in two statements."""
    revisions = list(
        session.scalars(
            sa.select(Revision)
            .options(defer(Revision.body))
            .where(Revision.document_id == document.id)
            .order_by(Revision.major.desc(), Revision.minor.desc())
        )
    )
    by_revision: dict[int, list[Signature]] = {r.id: [] for r in revisions}
    for signature in signatures_for(session, "revision", by_revision):
        by_revision[int(signature.object_id)].append(signature)
    return History(revisions, by_revision)


def document_trail_select(session: Session, user: User, document: Document) -> sa.Select[Any]:
    """The document's trail entries for this reader, newest first: entries about revisions
    they may not see are left out (readers) or kept, content withheld, for the audit-trail
    permission (see visibility.hides_unseen_trail_entries)."""
    # a revision's text and the links kept beside it
    about_revisions: sa.ColumnElement[bool] = TrailEntry.object_type.in_(
        ("revision", "revision_links")
    )
    if hides_unseen_trail_entries(user):
        seen = visible_revisions(session, user, history(session, document).revisions)
        about_revisions = sa.and_(
            about_revisions,
            TrailEntry.object_id.in_([f"{document.number} {r.label}" for r in seen]),
        )
    else:
        about_revisions = sa.and_(
            about_revisions,
            TrailEntry.object_id.startswith(f"{document.number} ", autoescape=True),
        )
    return trail.filtered(trail.TrailFilter()).where(
        sa.or_(
            sa.and_(TrailEntry.object_type == "document", TrailEntry.object_id == document.number),
            about_revisions,
        )
    )
