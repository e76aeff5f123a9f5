"""What a review's plan and report signatures signed, recomputed from the review as
stored now (for `qms verify-trail` and the signature status)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from qms.auth.signatures import SignedContent
from qms.reviews.models import Review
from qms.reviews.service import plan_hash, report_hash


def _contents(
    session: Session, object_ids: list[str], digest: Callable[[Review], str], what: str
) -> dict[str, SignedContent]:
    ids = [int(i) for i in object_ids if i.isdigit()]
    if not ids:
        return {}
    session.expire_all()  # hash what the database holds, not what the session remembers
    reviews = session.scalars(sa.select(Review).where(Review.id.in_(ids)))
    # "what" names the record for the reader: "review plan R-2026-001"
    return {str(r.id): SignedContent(digest(r), what % {"ref": r.ref}, "") for r in reviews}


def review_plan_content(session: Session, object_ids: list[str]) -> dict[str, SignedContent]:
    """The content hasher of signatures on review plans (object_type "review_plan")."""
    return _contents(session, object_ids, plan_hash, _("review plan %(ref)s"))


def review_report_content(session: Session, object_ids: list[str]) -> dict[str, SignedContent]:
    """The content hasher of signatures on review reports (object_type "review_report")."""
    return _contents(session, object_ids, report_hash, _("review report %(ref)s"))
