"""What distribution does when a revision changes state (inside the publishing transaction)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from qms import events
from qms.distribution import copies, periodic, reading
from qms.documents.models import Revision


@events.subscribe(events.REVISION_EFFECTIVE)
def on_revision_effective(session: Session, revision: Revision,
                          previous: Revision | None = None) -> None:
    if previous is not None:
        copies.recall_outstanding(
            session, None, revision.document,
            copies.superseded_reason(previous.label, revision.label), keep=revision)
        reading.lapse_pending(session, previous)
    reading.assign_reading(session, revision, previous)


@events.subscribe(events.REVISION_WITHDRAWN)
def on_revision_withdrawn(session: Session, revision: Revision) -> None:
    copies.recall_outstanding(session, None, revision.document,
                              copies.withdrawn_reason(revision.label, revision.end_reason))
    reading.lapse_pending(session, revision)


@events.subscribe(events.REVISION_DRAFTED)
def on_revision_drafted(session: Session, revision: Revision) -> None:
    periodic.apply_kind_interval(session, revision)
