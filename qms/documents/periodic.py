"""When a document's periodic review is due: one rule for the register, the tasks and the
periodic-review pages."""

from __future__ import annotations

from datetime import date, timedelta

from qms.documents.lifecycle import RevState

# A review is "due" this many days before its date, "overdue" after it.
DUE_WINDOW_DAYS = 30


def review_status_of(next_review_date: date | None, status: str, today: date) -> str | None:
    """'overdue', 'due' (within DUE_WINDOW_DAYS) or None."""
    if next_review_date is None or status != RevState.EFFECTIVE:
        return None
    if next_review_date < today:
        return "overdue"
    if next_review_date <= today + timedelta(days=DUE_WINDOW_DAYS):
        return "due"
    return None
