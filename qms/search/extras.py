"""Other features add searchable text to a revision (a procedure's steps and lanes, an
external document's source) by registering a provider here."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from qms.documents.models import Revision

TextProvider = Callable[[Session, Revision], dict[str, str]]
PROVIDERS: list[TextProvider] = []


def text_provider(fn: TextProvider) -> TextProvider:
    if fn not in PROVIDERS:
        PROVIDERS.append(fn)
    return fn


def extra_text(session: Session, revision: Revision) -> dict[str, str]:
    """Field name ("steps", "lanes", …) → text, from every provider."""
    merged: dict[str, str] = {}
    for provider in PROVIDERS:
        for field, text in provider(session, revision).items():
            merged[field] = (merged.get(field, "") + "\n" + text).strip()
    return merged
