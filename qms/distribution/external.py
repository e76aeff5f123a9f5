"""External documents (外来文件): laws, national standards, contracts, customer requirements.
Each is a document of kind EXTERNAL registered as in force, plus its source, edition,
owner and the date its currency was last checked."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.distribution.models import (
    CATEGORY_LABELS,
    ExternalCategory,
    ExternalSource,
    is_web_address,
)
from qms.documents import labels
from qms.documents import service as documents
from qms.documents.models import DocKind, Document, Family, Revision
from qms.errors import Forbidden, Invalid, NotFound
from qms.search.extras import text_provider
from qms.trail import service as trail


def _check_web_address(url: str) -> None:
    if url.strip() and not is_web_address(url):
        raise Invalid(_l("The web address must start with http:// or https://."))


def _require(actor: User) -> None:
    if not actor.can(Permission.ISSUE_DOCUMENTS):
        raise Forbidden(_l("Only document control may register external documents."))


def register_external(
    session: Session, actor: User, *, title: str, category: ExternalCategory, source: str,
    department: Department, owner: User, reference: str = "", edition: str = "",
    url: str = "", notes: str = "", number: str = "", effective_date: date | None = None,
    checked_on: date | None = None,
) -> ExternalSource:
    _require(actor)
    if not source.strip():
        raise Invalid(_l("Say where the document comes from (its source)."))
    _check_web_address(url)
    today = clock.today()
    document = documents.register_effective(
        session, actor, number=number, title=title, kind=DocKind.EXTERNAL,
        department=department, family=Family.STANDARD, label="A/0", body=notes,
        change_summary=edition.strip() or reference.strip(),
        effective_date=effective_date or today,
    )
    ext = ExternalSource(document=document, category=category, source=source.strip(),
                         reference=reference.strip(), edition=edition.strip(), url=url.strip(),
                         owner=owner, currency_checked_on=checked_on or today)
    session.add(ext)
    session.flush()
    trail.record(session, actor, "create", "external_source", document.number,
                 new=f"{category}; {ext.source}; {ext.reference}; {ext.edition}; "
                     f"owner={owner.username}")
    return ext


def update_external(session: Session, actor: User, ext: ExternalSource, *,
                    category: ExternalCategory, source: str, reference: str, url: str,
                    owner: User, reason: str = "") -> ExternalSource:
    _require(actor)
    if not source.strip():
        raise Invalid(_l("Say where the document comes from (its source)."))
    _check_web_address(url)
    changes = {
        "category": (ext.category, category),
        "source": (ext.source, source.strip()),
        "reference": (ext.reference, reference.strip()),
        "url": (ext.url, url.strip()),
        "owner": (ext.owner.username, owner.username),
    }
    ext.category, ext.source, ext.reference, ext.url = (category, source.strip(),
                                                        reference.strip(), url.strip())
    ext.owner = owner
    session.flush()
    trail.record_changes(session, actor, "update", "external_source", ext.document.number,
                         changes, reason=reason)
    return ext


def check_currency(session: Session, actor: User, ext: ExternalSource, *,
                   checked_on: date | None = None, note: str = "") -> ExternalSource:
    """The owner or the clerk confirmed the edition held is still the current one."""
    if not (actor.can(Permission.ISSUE_DOCUMENTS) or actor.id == ext.owner_id):
        raise Forbidden(_l("Only the owner or document control may record a currency check."))
    checked_on = checked_on or clock.today()
    if checked_on > clock.today():
        raise Invalid(_l("A currency check cannot be dated in the future."))
    old = ext.currency_checked_on
    ext.currency_checked_on = checked_on
    ext.currency_note = note.strip()
    session.flush()
    trail.record(session, actor, "check_currency", "external_source", ext.document.number,
                 field="currency_checked_on", old=old, new=checked_on, reason=note)
    return ext


def new_edition(session: Session, actor: User, ext: ExternalSource, *, edition: str,
                notes: str, effective_date: date | None = None,
                reference: str | None = None) -> Revision:
    """A new edition replaces the one held: it becomes the next major revision, the old one
    is superseded (and its copies go on the recall list)."""
    _require(actor)
    if not edition.strip():
        raise Invalid(_l("Name the new edition."))
    document = ext.document
    major = session.scalar(sa.select(sa.func.max(Revision.major))
                           .where(Revision.document_id == document.id)) or 0
    old = (ext.edition, ext.reference)
    ext.edition = edition.strip()
    if reference is not None:
        ext.reference = reference.strip()
    ext.currency_checked_on = clock.today()
    revision = documents.register_effective_revision(
        session, actor, document, label=labels.format_label(major + 1, 0), body=notes,
        change_summary=edition.strip(), effective_date=effective_date or clock.today())
    trail.record(session, actor, "new_edition", "external_source", document.number,
                 field="edition", old=f"{old[0]} {old[1]}".strip(),
                 new=f"{ext.edition} {ext.reference}".strip())
    return revision


def get_external(session: Session, number: str) -> ExternalSource:
    ext = session.scalar(sa.select(ExternalSource).join(ExternalSource.document)
                         .where(Document.number == number.strip()))
    if ext is None:
        raise NotFound(_l("There is no external document numbered %(number)s.", number=number))
    return ext


def register_stmt(*, q: str = "", category: ExternalCategory | None = None,
                  include_obsolete: bool = False) -> sa.Select[tuple[ExternalSource]]:
    stmt = sa.select(ExternalSource).join(ExternalSource.document)
    if category is not None:
        stmt = stmt.where(ExternalSource.category == category)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(sa.or_(Document.number.ilike(like), Document.title.ilike(like),
                                 ExternalSource.source.ilike(like),
                                 ExternalSource.reference.ilike(like),
                                 ExternalSource.edition.ilike(like)))
    if not include_obsolete:
        from qms.documents.lifecycle import RevState

        stmt = stmt.where(Document.status == RevState.EFFECTIVE)
    return stmt.order_by(Document.number)


@text_provider
def external_text(session: Session, revision: Revision) -> dict[str, str]:
    """Search finds an external document by its source, reference and edition."""
    if revision.document.kind != DocKind.EXTERNAL:
        return {}
    ext = session.get(ExternalSource, revision.document_id)
    if ext is None:
        return {}
    parts = [ext.source, ext.reference, ext.edition, str(CATEGORY_LABELS[ext.category])]
    return {"external": " ".join(p for p in parts if p)}
