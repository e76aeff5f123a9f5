"""Mail: every message is a row written in the transaction that caused it (the outbox)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import User
from qms.db import Base, str_enum, utcnow


class MailStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for the commit and the SMTP hand-over (or its next attempt)
    OUTBOX = "outbox"  # no SMTP server configured: read on the outbox page
    SENT = "sent"
    FAILED = "failed"  # every attempt failed; an administrator may send it again


class MailMessage(Base):
    __tablename__ = "mail_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    to_address: Mapped[str] = mapped_column(sa.String(200), default="")
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[MailStatus] = mapped_column(
        str_enum(MailStatus, length=16),
        default=MailStatus.QUEUED, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(sa.Text, default="")
    # Hand-overs to SMTP tried so far; a queued message waits until next_attempt_at.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]

    recipient: Mapped[User | None] = relationship(lazy="joined")
