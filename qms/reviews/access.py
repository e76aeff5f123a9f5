"""Review records under the documents' visibility rule: a review quotes the revisions it
covers (number, title, defects found in their text), so someone not named on the review
sees it only when they may read every document it covers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.auth.models import User
from qms.documents import visibility
from qms.documents.models import Document, Revision
from qms.reviews import service
from qms.reviews.models import Participant, Review, ReviewObject


def _named(user: User, review: Review) -> bool:
    return review.approver_id == user.id or any(p.user_id == user.id for p in review.participants)


def may_see_review(session: Session, user: User, review: Review) -> bool:
    if not service.can_view(user, review):
        return False
    if _named(user, review):
        return True
    return all(
        visibility.can_read_document(session, user, obj.revision.document)
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
    )
    return stmt.where(sa.or_(named, ~unreadable))
