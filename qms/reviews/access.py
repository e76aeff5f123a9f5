"""Review records under the documents' visibility rule: a review quotes the revisions it
covers (number, title, defects found in their text), so someone not named on the review
sees it only when they may read every document it covers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.documents import visibility
from qms.documents.models import Document, Revision
from qms.reviews import service
from qms.reviews.models import (
    CATEGORY_LABELS,
    DISPOSITION_LABELS,
    SEVERITY_LABELS,
    STATE_LABELS,
    Participant,
    Review,
    ReviewObject,
)
from qms.trail import labels as trail_labels
from qms.trail.access import content_gate


def _named(user: User, review: Review) -> bool:
    return (
        review.approver_id == user.id
        or any(p.user_id == user.id for p in review.participants)
        or service.signs_a_reviewed_revision(user, review)
    )


def may_see_review(session: Session, user: User, review: Review) -> bool:
    if not service.can_view(user, review):
        return False
    if _named(user, review):
        return True
    return all(
        visibility.cleared_for_document(session, user, obj.revision.document)
        for obj in review.objects
    )


def readable_reviews(session: Session, user: User, stmt: sa.Select[Any]) -> sa.Select[Any]:
    """`may_see_review` in SQL, so lists count and page right."""
    reader = visibility.reader_for(session, user)
    unreadable = (
        sa.select(ReviewObject.id)
        .join(Revision, Revision.id == ReviewObject.revision_id)
        .join(Document, Document.id == Revision.document_id)
        .where(ReviewObject.review_id == Review.id)
        .where(sa.not_(visibility.readable_documents_clause(reader)))
        .exists()
    )
    named = sa.or_(
        Review.approver_id == user.id,
        Review.id.in_(sa.select(Participant.review_id).where(Participant.user_id == user.id)),
        Review.id.in_(service.reviews_of_signers(user.id)),
    )
    return stmt.where(sa.or_(named, ~unreadable))


def takes_part_in_reviews(session: Session, user: User) -> bool:
    """Whether the reviews list has anything for this user: leaders and register readers
    see every review; anyone else only those they are named on."""
    if service.may_lead(user) or user.can(Permission.VIEW_REGISTER):
        return True
    mine = sa.select(Participant.review_id).where(Participant.user_id == user.id)
    named = sa.select(Review.id).where(sa.or_(Review.id.in_(mine), Review.approver_id == user.id))
    return bool(session.scalar(sa.select(named.exists())))


def _review_id(ref: str) -> int | None:
    """RV-0012 or RV-0012#3 (a defect) → 12."""
    head = ref.split("#", 1)[0]
    if not head.startswith("RV-") or not head[3:].isdigit():
        return None
    return int(head[3:])


@content_gate(service.OBJECT_TYPE, service.DEFECT_TYPE)
def _review_content(session: Session, user: User, refs: Sequence[str]) -> set[str]:
    """Review and defect entries quote the text under review: theirs who may see the review."""
    ids = {i for r in refs if (i := _review_id(r)) is not None}
    if not ids:
        return set()
    seen = {
        review.id
        for review in session.scalars(sa.select(Review).where(Review.id.in_(sorted(ids))))
        if may_see_review(session, user, review)
    }
    return {r for r in refs if _review_id(r) in seen}


# the trail says a review's states and a defect's codes in words
trail_labels.value_labels(service.OBJECT_TYPE, "state", STATE_LABELS)
trail_labels.value_labels(service.DEFECT_TYPE, "severity", SEVERITY_LABELS)
trail_labels.value_labels(service.DEFECT_TYPE, "category", CATEGORY_LABELS)
trail_labels.value_labels(service.DEFECT_TYPE, "disposition", DISPOSITION_LABELS)
