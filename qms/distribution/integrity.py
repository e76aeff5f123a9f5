"""What a periodic review's signature signed: the revision in force, as stored now."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.auth.signatures import SignedContent
from qms.distribution.models import PeriodicReview
from qms.documents.integrity import revision_content


def periodic_review_content(session: Session, object_ids: list[str]) -> dict[str, SignedContent]:
    """The content hasher of signatures on periodic reviews (object_type "document_review")."""
    ids = [int(i) for i in object_ids if i.isdigit()]
    if not ids:
        return {}
    reviewed = dict(
        session.execute(
            sa.select(PeriodicReview.id, PeriodicReview.revision_id).where(
                PeriodicReview.id.in_(ids)
            )
        )
        .tuples()
        .all()  # a list: a Result has keys() and dict() would take it for a mapping
    )
    contents = revision_content(session, sorted({str(r) for r in reviewed.values()}))
    return {
        str(review_id): contents[str(revision_id)]
        for review_id, revision_id in reviewed.items()
        if str(revision_id) in contents
    }
