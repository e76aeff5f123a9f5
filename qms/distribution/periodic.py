"""Periodic review (定期评审): each document is looked at again after its interval. Without
change the reviewer signs and the date moves on; with change a new revision starts."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import Meaning, User
from qms.auth.permissions import Permission
from qms.auth.signatures import sign
from qms.distribution.models import KindReviewInterval, PeriodicReview, ReviewOutcome
from qms.documents import service as documents
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind, Document, Revision
from qms.documents.periodic import DUE_WINDOW_DAYS, review_status_of
from qms.errors import Conflict, Forbidden, Invalid
from qms.trail import service as trail


def review_status(document: Document, today: date | None = None) -> str | None:
    """'overdue', 'due' or None (the rule of qms.documents.periodic)."""
    return review_status_of(document.next_review_date, document.status, today or clock.today())


def due_documents(today: date) -> sa.Select[tuple[Document]]:
    return (
        sa.select(Document)
        .where(
            Document.status == RevState.EFFECTIVE,
            Document.next_review_date.is_not(None),
            Document.next_review_date <= today + timedelta(days=DUE_WINDOW_DAYS),
        )
        .order_by(Document.next_review_date, Document.number)
    )


# -- intervals per kind --------------------------------------------------------------------


def interval_for_kind(session: Session, kind: DocKind) -> int:
    row = session.get(KindReviewInterval, kind)
    return row.months if row is not None else documents.default_interval(kind)


def intervals(session: Session) -> dict[DocKind, int]:
    return {kind: interval_for_kind(session, kind) for kind in DocKind}


def set_kind_interval(
    session: Session, actor: User, kind: DocKind, months: int, *, apply_to_existing: bool = False
) -> int:
    """Set the interval for new documents of a kind; optionally for existing ones too
    (their next date moves when they are next reviewed or revised). Returns how many
    existing documents changed."""
    if not actor.can(Permission.ISSUE_DOCUMENTS):
        raise Forbidden(_l("Only document control may set review intervals."))
    if not 1 <= months <= 120:
        raise Invalid(_l("A review interval is between 1 and 120 months."))
    old = interval_for_kind(session, kind)
    row = session.get(KindReviewInterval, kind)
    if row is None:
        session.add(KindReviewInterval(kind=kind, months=months))
    else:
        row.months = months
    session.flush()
    trail.record(
        session,
        actor,
        "update",
        "kind_review_interval",
        str(kind),
        field="months",
        old=old,
        new=months,
    )
    changed = 0
    if apply_to_existing:
        for document in session.scalars(
            sa.select(Document).where(
                Document.kind == kind, Document.review_interval_months != months
            )
        ):
            trail.record(
                session,
                actor,
                "update",
                "document",
                document.number,
                field="review_interval_months",
                old=document.review_interval_months,
                new=months,
            )
            document.review_interval_months = months
            changed += 1
        session.flush()
    return changed


def apply_kind_interval(session: Session, revision: Revision) -> None:
    """A new document takes its kind's interval (when the clerk has set one)."""
    document = revision.document
    if document.current_revision_id is not None or revision.major != 1 or revision.minor != 0:
        return
    row = session.get(KindReviewInterval, document.kind)
    if (
        row is None
        or document.review_interval_months != documents.default_interval(document.kind)
        or row.months == document.review_interval_months
    ):
        return
    trail.record(
        session,
        None,
        "update",
        "document",
        document.number,
        field="review_interval_months",
        old=document.review_interval_months,
        new=row.months,
        reason=f"interval for {document.kind}",
    )
    document.review_interval_months = row.months
    session.flush()


# -- reviewing ------------------------------------------------------------------------------


def _current(document: Document) -> Revision:
    current = document.current_revision
    if current is None or current.state != RevState.EFFECTIVE:
        raise Conflict(
            _l("%(number)s has no effective revision to review.", number=document.number),
            code="not_effective",
        )
    return current


def _require(actor: User) -> None:
    if not actor.can(Permission.ISSUE_DOCUMENTS):
        raise Forbidden(_l("Only document control may record a periodic review."))


def review_without_change(
    session: Session,
    actor: User,
    document: Document,
    *,
    password: str,
    comment: str = "",
    today: date | None = None,
) -> PeriodicReview:
    """The document is still suitable: sign, and the next review is an interval from today."""
    _require(actor)
    today = today or clock.today()
    current = _current(document)
    review = PeriodicReview(
        document=document,
        revision=current,
        outcome=ReviewOutcome.NO_CHANGE,
        reviewed_by_id=actor.id,
        comment=comment.strip(),
        due_date=document.next_review_date,
    )
    session.add(review)
    session.flush()
    signature = sign(
        session,
        actor,
        password,
        Meaning.REVIEWED,
        content_sha256=current.content_sha256,
        object_type="document_review",
        object_id=review.id,
        comment=comment,
    )
    review.signature_id = signature.id
    old = document.next_review_date
    document.next_review_date = clock.add_months(today, document.review_interval_months)
    review.next_review_date = document.next_review_date
    session.flush()
    trail.record(
        session,
        actor,
        "periodic_review",
        "document",
        document.number,
        field="next_review_date",
        old=old,
        new=document.next_review_date,
        reason=comment or "no change",
    )
    return review


def review_with_change(
    session: Session, actor: User, document: Document, *, comment: str, major_change: bool = False
) -> PeriodicReview:
    """The document must change: a new revision starts; the date moves once it is effective."""
    _require(actor)
    if not comment.strip():
        raise Invalid(_l("Say what must change."))
    current = _current(document)
    revision = documents.revise(
        session, actor, document, major_change=major_change, change_summary=comment
    )
    review = PeriodicReview(
        document=document,
        revision=current,
        outcome=ReviewOutcome.REVISE,
        reviewed_by_id=actor.id,
        comment=comment.strip(),
        due_date=document.next_review_date,
        new_revision=revision,
    )
    session.add(review)
    session.flush()
    trail.record(
        session,
        actor,
        "periodic_review",
        "document",
        document.number,
        field="outcome",
        new=ReviewOutcome.REVISE,
        reason=f"{comment.strip()} (revision {revision.label} started)",
    )
    return review


def history(session: Session, document: Document) -> list[PeriodicReview]:
    return list(
        session.scalars(
            sa.select(PeriodicReview)
            .where(PeriodicReview.document_id == document.id)
            .order_by(PeriodicReview.reviewed_at.desc())
        )
    )
