"""Attachments (images taken from imported Word files) and the record of each import,
with the list of content that could not be converted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import User
from qms.db import Base, utcnow
from qms.documents.models import Document, Revision


class Attachment(Base):
    """A file belonging to a document, stored once under DATA_DIR/attachments/<sha256>
    and referenced from the Markdown body as /attachments/<sha256>."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"), index=True)
    revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("revision.id"))
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    document: Mapped[Document] = relationship()

    __table_args__ = (sa.UniqueConstraint("document_id", "sha256",
                                          name="uq_attachment_document_sha256"),)


class WordImport(Base):
    """One accepted upload: what it became and what it could not carry over."""

    __tablename__ = "word_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"), index=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    file_sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    image_count: Mapped[int] = mapped_column(default=0)
    # [{"kind": "text_box", "count": 2, "samples": ["…"]}, …]
    unconverted: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    imported_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    document: Mapped[Document] = relationship()
    revision: Mapped[Revision] = relationship()
    imported_by: Mapped[User] = relationship()
