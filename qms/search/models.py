"""Models of search: the outbox that keeps the index in step with the database."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from qms.db import Base, utcnow


class SearchOutbox(Base):
    """A change that affects search, written in the same transaction as the change and
    removed once the index has taken it in."""

    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"), index=True)
    revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("revision.id"))
    event: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
