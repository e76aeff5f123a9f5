"""The append-only audit trail. Each entry carries the hash of the one before it.

Hash schemes: 1 is the original unkeyed SHA-256 (entries written before the trail key
existed keep it and are verified that way); 2 is HMAC-SHA256 with the trail key, kept
outside the database, over the same fields plus the scheme number. A database upgraded
from scheme 1 still verifies: its old entries the old way, everything after them keyed."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from qms.db import Base, utcnow
from qms.trail.keys import mac

GENESIS_HASH = "0" * 64
UNKEYED = 1
KEYED = 2
ENTRY_PURPOSE = b"qms-trail-entry"


class TrailEntry(Base):
    __tablename__ = "trail_entry"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_name: Mapped[str] = mapped_column(sa.String(100), default="")
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    field: Mapped[str | None] = mapped_column(sa.String(64))
    old_value: Mapped[str | None] = mapped_column(sa.Text)
    new_value: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    entry_hash: Mapped[str] = mapped_column(sa.String(64))
    # Rows written before the keyed chain get 1 from the migration's server default.
    hash_scheme: Mapped[int] = mapped_column(default=KEYED, server_default=sa.text("1"))

    __table_args__ = (sa.Index("ix_trail_entry_object", "object_type", "object_id"),)

    def _fields(self) -> list[object]:
        return [
            self.seq,
            self.at.isoformat(),
            self.actor_id,
            self.actor_name,
            self.action,
            self.object_type,
            self.object_id,
            self.field,
            self.old_value,
            self.new_value,
            self.reason or "",
            self.prev_hash,
        ]

    def compute_hash(self) -> str:
        """The unkeyed SHA-256 of scheme 1 (what anyone can recompute)."""
        payload = json.dumps(self._fields(), ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def compute_keyed_hash(self, key: bytes) -> str:
        """HMAC-SHA256 with the trail key (scheme 2)."""
        payload = json.dumps([KEYED, *self._fields()], ensure_ascii=False)
        return mac(key, ENTRY_PURPOSE, payload.encode())

    def hash_with(self, key: bytes) -> str | None:
        """The hash this entry should carry under its own scheme; None for an unknown one."""
        if self.hash_scheme == UNKEYED:
            return self.compute_hash()
        if self.hash_scheme == KEYED:
            return self.compute_keyed_hash(key)
        return None


class TrailHead(Base):
    """One row: the last sequence number and hash. Locking it serialises trail writers."""

    __tablename__ = "trail_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(sa.String(64), default=GENESIS_HASH)
