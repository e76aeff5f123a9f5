"""The gate: a revision is not approved while a review meeting of it is still under way
(its report not yet approved), nor while a serious or general defect against it is
undecided, or accepted and not yet verified. Imported by qms/reviews/views.py.

The refusal names each review and defect as a clerk reads them on the review pages; the
same facts go into the error's details for API clients."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from qms import events
from qms.documents.models import Revision
from qms.errors import Conflict
from qms.reviews.models import SEVERITY_LABELS, STATE_LABELS, Defect, Disposition, Review

EXCERPT_CHARS = 80
_TRAILING = "。．.，,；;：:！!？? \t\r\n"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line of user text, without its own closing punctuation (the sentence around it
    brings its own, so a clerk never reads "。。")."""
    line = re.sub(r"\s+", " ", text or "").strip()
    if len(line) > limit:
        line = line[:limit].rstrip() + "…"
    return line.rstrip(_TRAILING) or "—"


def _review_line(review: Review) -> str:
    return _(
        "Review %(ref)s “%(title)s” is at the step “%(state)s”; its report must be approved "
        "first.",
        ref=review.ref,
        title=excerpt(review.title),
        state=STATE_LABELS[review.state],
    )


def _defect_line(defect: Defect) -> str:
    values = {
        "ref": f"{defect.review.ref}#{defect.number}",
        "severity": SEVERITY_LABELS[defect.severity],
        "text": excerpt(defect.description),
    }
    if defect.disposition == Disposition.OPEN:
        return _("Defect %(ref)s (%(severity)s) has no decision yet: “%(text)s”.", **values)
    if defect.fixed_at is None:
        return _("Defect %(ref)s (%(severity)s) is accepted and not fixed yet: “%(text)s”.",
                 **values)
    return _("Defect %(ref)s (%(severity)s) is fixed but the fix is not verified yet: "
             "“%(text)s”.", **values)


def _defect_details(defect: Defect) -> dict[str, Any]:
    return {"review": defect.review.ref, "review_id": defect.review_id,
            "number": defect.number, "severity": str(defect.severity),
            "severity_label": str(SEVERITY_LABELS[defect.severity]),
            "disposition": str(defect.disposition), "text": defect.description,
            "summary": _defect_line(defect)}


@events.subscribe(events.BEFORE_APPROVE)
def refuse_while_reviews_are_open(session: Session, revision: Revision, **_kw: object) -> None:
    from qms.reviews.service import blocking_defects, open_reviews_of, undisposed_defects

    reviews = open_reviews_of(session, revision.id)
    defects = undisposed_defects(session, revision.id) + blocking_defects(session, revision.id)
    if not reviews and not defects:
        return
    lines = [_review_line(r) for r in reviews] + [_defect_line(d) for d in defects]
    message = " ".join(
        [_("Revision %(label)s cannot be approved yet.", label=revision.label), *lines])
    raise Conflict(
        message,
        code="open_review_defects" if defects and not reviews else "review_in_progress",
        details={
            "reviews": [{"review": r.ref, "review_id": r.id, "title": r.title,
                         "state": str(r.state), "state_label": str(STATE_LABELS[r.state]),
                         "summary": _review_line(r)} for r in reviews],
            "defects": [_defect_details(d) for d in defects],
        },
    )


def own_unsettled_serious(session: Session, revision_id: int, user_id: int) -> list[Defect]:
    """Serious defects this person raised against this revision that are not settled:
    undecided, or accepted and not yet verified (not handed on to a regression review)."""
    import sqlalchemy as sa

    from qms.reviews.lifecycle import ReviewState
    from qms.reviews.models import Severity

    return list(session.scalars(
        sa.select(Defect).join(Review, Review.id == Defect.review_id)
        .where(Defect.revision_id == revision_id, Defect.raised_by_id == user_id,
               Defect.severity == Severity.SERIOUS,
               sa.or_(Defect.disposition == Disposition.OPEN,
                      sa.and_(Defect.disposition == Disposition.ACCEPTED,
                              Defect.verified_at.is_(None))),
               Defect.carried_to_id.is_(None),
               Review.state != ReviewState.CANCELLED)
        .order_by(Defect.review_id, Defect.number)))


@events.subscribe(events.BEFORE_AGREE)
def refuse_agreement_over_own_serious_defects(
    session: Session, revision: Revision, reviewer: Any, **_kw: object
) -> None:
    """A reviewer (the review leader included) who raised a serious defect against this
    revision does not sign "reviewed, agree" while that defect is unsettled."""
    defects = own_unsettled_serious(session, revision.id, reviewer.id)
    if not defects:
        return
    message = " ".join([
        _("You raised serious defects against revision %(label)s that are not settled yet; "
          "you can agree once each is decided against, or its fix is verified.",
          label=revision.label),
        *[_defect_line(d) for d in defects]])
    raise Conflict(message, code="own_serious_defects_open",
                   details={"reviews": [], "defects": [_defect_details(d) for d in defects]})
