"""Idempotency keys: the answer to a creating API request, kept for 24 hours under the
key its client sent, so that a retried request is answered again instead of repeated."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from qms.db import Base


class IdempotencyKey(Base):
    __tablename__ = "idempotency_key"
    # One key per user: a second request under it while the first is in flight fails here.
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    key: Mapped[str] = mapped_column(sa.String(200))
    # SHA-256 of the method, path and body: the same key with another request is refused.
    request_sha256: Mapped[str] = mapped_column(sa.String(64))
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
