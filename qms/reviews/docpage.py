"""Reviews on the document page: the review of the revision shown (state, leader, link), its
open defects by type, and for the reviewer and the approver the same next to the sign
button, so nobody signs without seeing them. Imported by qms/reviews/views.py."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_login import current_user
from sqlalchemy.orm import Session

from qms.documents.lifecycle import RevState
from qms.documents.models import Document, Revision
from qms.documents.pages import page_section, sign_note
from qms.reviews import access, service
from qms.reviews.gate import _defect_line, _review_line
from qms.reviews.lifecycle import ReviewState
from qms.reviews.models import (
    SEVERITY_LABELS,
    STATE_LABELS,
    Defect,
    Disposition,
    Review,
    ReviewObject,
    Severity,
)


def _reviews_of(session: Session, revision_id: int) -> list[Review]:
    return list(
        session.scalars(
            sa.select(Review)
            .join(ReviewObject, ReviewObject.review_id == Review.id)
            .where(ReviewObject.revision_id == revision_id)
            .order_by(Review.id.desc())
            .limit(20)
        ).unique()
    )


def open_defects(session: Session, revision_id: int) -> list[Defect]:
    """Defects against this revision not settled: undecided, or accepted and not verified."""
    return list(
        session.scalars(
            sa.select(Defect)
            .join(Review, Review.id == Defect.review_id)
            .where(
                Defect.revision_id == revision_id,
                sa.or_(
                    Defect.disposition == Disposition.OPEN,
                    sa.and_(
                        Defect.disposition == Disposition.ACCEPTED, Defect.verified_at.is_(None)
                    ),
                ),
                Defect.carried_to_id.is_(None),
                Review.state != ReviewState.CANCELLED,
            )
            .order_by(Defect.review_id, Defect.number)
        )
    )


def _by_severity(defects: list[Defect]) -> list[tuple[str, Any, list[Defect]]]:
    return [
        (str(s), SEVERITY_LABELS[s], [d for d in defects if d.severity == s])
        for s in Severity
        if any(d.severity == s for d in defects)
    ]


@page_section
def reviews_of_revision(
    session: Session, document: Document, revision: Revision
) -> tuple[str, dict[str, Any]] | None:
    if not current_user.is_authenticated:
        return None
    reviews = [
        r
        for r in _reviews_of(session, revision.id)
        if access.may_see_review(session, current_user, r)
    ]
    seen = {r.id for r in reviews}
    defects = [d for d in open_defects(session, revision.id) if d.review_id in seen]
    may_plan = (
        revision.state == RevState.IN_REVIEW
        and service.may_lead(current_user)
        and not service.open_reviews_of(session, revision.id)
    )
    if not reviews and not may_plan:
        return None
    return "reviews/_document_reviews.html", {
        "document": document,
        "revision": revision,
        "reviews": reviews,
        "defects": defects,
        "by_severity": _by_severity(defects),
        "may_plan": may_plan,
        "STATE": STATE_LABELS,
        "SEVERITY": SEVERITY_LABELS,
    }


@sign_note
def before_signing(session: Session, revision: Revision) -> tuple[str, dict[str, Any]] | None:
    """The reviews under way and the unsettled defects of the revision to be signed."""
    reviews = service.open_reviews_of(session, revision.id)
    defects = open_defects(session, revision.id)
    if not reviews and not defects:
        return None
    return "reviews/_sign_note.html", {
        "reviews": reviews,
        "defects": defects,
        "by_severity": _by_severity(defects),
        "review_lines": {r.id: _review_line(r) for r in reviews},
        "defect_lines": {d.id: _defect_line(d) for d in defects},
        "STATE": STATE_LABELS,
    }
