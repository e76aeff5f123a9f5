"""Features above documents add sections to the document page (links of a procedure,
copies, reviews …) without the documents package importing them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from qms.documents.models import Document, Revision

# (session, document, revision shown) → (template, context) or None
PageSection = Callable[[Session, Document, Revision], tuple[str, dict[str, Any]] | None]
PAGE_SECTIONS: list[PageSection] = []


def page_section(fn: PageSection) -> PageSection:
    if fn not in PAGE_SECTIONS:
        PAGE_SECTIONS.append(fn)
    return fn


def sections(
    session: Session, document: Document, revision: Revision
) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for fn in PAGE_SECTIONS:
        section = fn(session, document, revision)
        if section is not None:
            out.append(section)
    return out


# (session, document, revision in the editor, state of a refused step) → (template, context)
EditorSection = Callable[
    [Session, Document, Revision, dict[str, Any]], tuple[str, dict[str, Any]] | None
]
EDITOR_SECTIONS: list[EditorSection] = []


def editor_section(fn: EditorSection) -> EditorSection:
    """Features above documents add parts to the draft editor (the links of the revision)."""
    if fn not in EDITOR_SECTIONS:
        EDITOR_SECTIONS.append(fn)
    return fn


def editor_sections(
    session: Session, document: Document, revision: Revision, state: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for fn in EDITOR_SECTIONS:
        section = fn(session, document, revision, state)
        if section is not None:
            out.append(section)
    return out


# (session, revision in work) → (template, context) or None: what the reviewer and the
# approver must see next to the sign button (open reviews and defects of that revision).
SignNote = Callable[[Session, Revision], tuple[str, dict[str, Any]] | None]
SIGN_NOTES: list[SignNote] = []


def sign_note(fn: SignNote) -> SignNote:
    if fn not in SIGN_NOTES:
        SIGN_NOTES.append(fn)
    return fn


def sign_notes(session: Session, revision: Revision) -> list[tuple[str, dict[str, Any]]]:
    return [note for fn in SIGN_NOTES if (note := fn(session, revision)) is not None]
