"""The gate: a revision under review is not approved while accepted serious or general
defects against it are open or unverified. Imported by qms/reviews/views.py."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import events
from qms.documents.models import Revision
from qms.errors import Conflict


@events.subscribe(events.BEFORE_APPROVE)
def refuse_with_open_defects(session: Session, revision: Revision, **_: object) -> None:
    from qms.reviews.service import blocking_defects

    blocking = blocking_defects(session, revision.id)
    if not blocking:
        return
    names = "; ".join(
        f"{d.review.ref}#{d.number} ({d.severity}) {d.description[:60]}" for d in blocking)
    raise Conflict(
        _l("Revision %(label)s cannot be approved: accepted defects are still open or "
           "unverified: %(defects)s.", label=revision.label, defects=names),
        code="open_review_defects",
        details={"defects": [{"review": d.review.ref, "review_id": d.review_id,
                              "number": d.number, "severity": str(d.severity)}
                             for d in blocking]},
    )
