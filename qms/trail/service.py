"""Writing and checking the audit trail. Writers run inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.db import utcnow
from qms.trail.models import GENESIS_HASH, TrailEntry, TrailHead


class Actor(Protocol):
    id: int
    display_name: str
    username: str


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, str | int):
        return str(value.value)
    return str(value)


def _lock_head(session: Session) -> TrailHead:
    # UPDATE first: it takes the row lock (PostgreSQL) or the write lock (SQLite) before
    # we read the last hash, so two writers never chain onto the same entry.
    result = session.execute(
        sa.update(TrailHead).where(TrailHead.id == 1).values(last_seq=TrailHead.last_seq)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(TrailHead(id=1, last_seq=0, last_hash=GENESIS_HASH))
        session.flush()
    head = session.execute(
        sa.select(TrailHead).where(TrailHead.id == 1).execution_options(populate_existing=True)
    ).scalar_one()
    return head


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: Any = None,
    *,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    reason: str = "",
) -> TrailEntry:
    head = _lock_head(session)
    entry = TrailEntry(
        seq=head.last_seq + 1,
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_name=(actor.display_name or actor.username) if actor else "system",
        action=action,
        object_type=object_type,
        object_id=_text(object_id),
        field=field,
        old_value=_text(old),
        new_value=_text(new),
        reason=reason or "",
        prev_hash=head.last_hash,
    )
    entry.entry_hash = entry.compute_hash()
    head.last_seq = entry.seq
    head.last_hash = entry.entry_hash
    session.add(entry)
    session.flush()
    return entry


def record_changes(
    session: Session,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: Any,
    changes: Mapping[str, tuple[Any, Any]],
    reason: str = "",
) -> None:
    """One entry per changed field; unchanged fields are skipped."""
    for name, (old, new) in changes.items():
        if _text(old) != _text(new):
            record(
                session,
                actor,
                action,
                object_type,
                object_id,
                field=name,
                old=old,
                new=new,
                reason=reason,
            )


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


def verify_chain(session: Session, batch: int = 2000) -> ChainBreak | None:
    """Walk the chain in order; return the first entry that does not verify."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for entry in _entries_in_order(session, batch):
        if entry.seq != expected_seq:
            return ChainBreak(expected_seq, "missing entry")
        if entry.prev_hash != expected_prev:
            return ChainBreak(entry.seq, "does not link to the entry before it")
        if entry.compute_hash() != entry.entry_hash:
            return ChainBreak(entry.seq, "content altered after it was written")
        expected_prev = entry.entry_hash
        expected_seq += 1
    head = session.get(TrailHead, 1)
    if head is not None and head.last_seq != expected_seq - 1:
        return ChainBreak(expected_seq, "entries removed from the end")
    return None


def _entries_in_order(session: Session, batch: int) -> Iterator[TrailEntry]:
    last = 0
    while True:
        rows = session.scalars(
            sa.select(TrailEntry).where(TrailEntry.seq > last).order_by(TrailEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


@dataclass(frozen=True)
class TrailFilter:
    actor: str = ""
    object_type: str = ""
    object_id: str = ""
    action: str = ""
    date_from: datetime | None = None
    date_to: datetime | None = None


def filtered(flt: TrailFilter) -> sa.Select[tuple[TrailEntry]]:
    stmt = sa.select(TrailEntry)
    if flt.actor:
        stmt = stmt.where(TrailEntry.actor_name.contains(flt.actor, autoescape=True))
    if flt.object_type:
        stmt = stmt.where(TrailEntry.object_type == flt.object_type)
    if flt.object_id:
        stmt = stmt.where(TrailEntry.object_id == flt.object_id)
    if flt.action:
        stmt = stmt.where(TrailEntry.action == flt.action)
    if flt.date_from:
        stmt = stmt.where(TrailEntry.at >= flt.date_from)
    if flt.date_to:
        stmt = stmt.where(TrailEntry.at < flt.date_to)
    return stmt.order_by(TrailEntry.seq.desc())


CSV_HEADER = [
    "seq",
    "at_utc",
    "actor",
    "action",
    "object_type",
    "object_id",
    "field",
    "old_value",
    "new_value",
    "reason",
    "entry_hash",
]


def csv_row(e: TrailEntry) -> list[Any]:
    return [
        e.seq,
        e.at.isoformat(),
        e.actor_name,
        e.action,
        e.object_type,
        e.object_id or "",
        e.field or "",
        e.old_value or "",
        e.new_value or "",
        e.reason,
        e.entry_hash,
    ]
