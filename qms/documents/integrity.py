"""A revision's content hash recomputed from its stored text, for checking signatures.

The stored ``content_sha256`` is a copy: a change made directly in the database
(``UPDATE revision SET body = …``) leaves it as it was. Signatures are therefore checked
against the hash of the content as it is now."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.auth.signatures import SignedContent
from qms.documents.models import Document, Revision, content_hash


def _rows(session: Session, revision_ids: list[int]) -> sa.Result[tuple[object, ...]]:
    # Columns, not entities: the bodies are hashed and dropped, and what the database
    # holds is read even when the session already has the revision loaded.
    return session.execute(
        sa.select(
            Revision.id,
            Document.number,
            Revision.label,
            Revision.title,
            Revision.body,
            Revision.change_summary,
            Revision.structure_sha256,
        )
        .join(Document, Revision.document_id == Document.id)
        .where(Revision.id.in_(revision_ids))
    )


def current_content_hashes(session: Session, revision_ids: Iterable[int]) -> dict[int, str]:
    """revision id -> SHA-256 of its content as stored now."""
    ids = sorted(set(revision_ids))
    if not ids:
        return {}
    return {
        rid: content_hash(number, label, title, body, summary, structure or "")
        for rid, number, label, title, body, summary, structure in _rows(session, ids)
    }


def revision_content(session: Session, object_ids: list[str]) -> dict[str, SignedContent]:
    """The content hasher of signatures on revisions (object_type "revision")."""
    ids = [int(i) for i in object_ids if i.isdigit()]
    if not ids:
        return {}
    return {
        str(rid): SignedContent(
            content_hash(number, label, title, body, summary, structure or ""), number, label
        )
        for rid, number, label, title, body, summary, structure in _rows(session, ids)
    }
