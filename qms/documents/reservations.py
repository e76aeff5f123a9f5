"""Numbers held elsewhere for documents not yet made (a writing plan's items). Features
register a provider here at import, so the documents package never imports them: a
provider takes the session and a number and returns who holds it (a short description
in the reader's language) or None."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

NumberHolder = Callable[[Session, str], object | None]
PROVIDERS: list[NumberHolder] = []


def number_holder(fn: NumberHolder) -> NumberHolder:
    if fn not in PROVIDERS:
        PROVIDERS.append(fn)
    return fn


def holder_of(session: Session, number: str) -> object | None:
    """Who holds the number, or None when nobody does."""
    for provider in PROVIDERS:
        holder = provider(session, number)
        if holder is not None:
            return holder
    return None
