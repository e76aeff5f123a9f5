"""Writing and checking the audit trail. Writers run inside the caller's transaction."""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

from qms.db import after_commit, utcnow
from qms.trail import checkpoints
from qms.trail.keys import current_key, key_id
from qms.trail.models import GENESIS_HASH, KEYED, UNKEYED, TrailEntry, TrailHead


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
    key = current_key()
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
        hash_scheme=KEYED,
    )
    entry.entry_hash = entry.compute_keyed_hash(key)
    head.last_seq = entry.seq
    head.last_hash = entry.entry_hash
    session.add(entry)
    session.flush()
    _checkpoint_after_commit(session, key, entry)
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


# -- checkpoints after commit -------------------------------------------------------------

_PENDING = "qms.trail_checkpoint"
_LEGACY = "qms.trail_legacy_until"


@dataclass
class _PendingCheckpoint:
    path: Path
    key: bytes
    legacy_until: int
    seq: int = 0
    entry_hash: str = ""

    def write(self) -> None:
        checkpoints.append(self.path, self.key, self.seq, self.entry_hash, self.legacy_until)


def data_dir() -> Path:
    return Path(current_app.config["DATA_DIR"])


def legacy_until(session: Session, key: bytes) -> int:
    """The last entry hashed without the key: fixed by the first checkpoint ever written."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    known: int | None = app.extensions.get(_LEGACY)
    if known is None:
        known = checkpoints.first_legacy_until(checkpoints.checkpoint_path(data_dir()), key)
        if known is None:
            known = (
                session.scalar(
                    sa.select(sa.func.max(TrailEntry.seq)).where(TrailEntry.hash_scheme == UNKEYED)
                )
                or 0
            )
        app.extensions[_LEGACY] = known
    return known


def _checkpoint_after_commit(session: Session, key: bytes, entry: TrailEntry) -> None:
    """One checkpoint per committed transaction, of its last entry, once the database has it."""
    pending: _PendingCheckpoint | None = session.info.get(_PENDING)
    if pending is None:
        pending = _PendingCheckpoint(
            checkpoints.checkpoint_path(data_dir()), key, legacy_until(session, key)
        )
        session.info[_PENDING] = pending
        after_commit(session, pending.write)
    pending.seq, pending.entry_hash = entry.seq, entry.entry_hash


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_pending_checkpoint(session: Session) -> None:
    session.info.pop(_PENDING, None)


def write_checkpoint(session: Session) -> int:
    """Sign the head as the database has it now (`qms trail checkpoint`); its sequence number."""
    key = current_key()
    head = _head_now(session)
    if head is None or head.last_seq == 0:
        return 0
    path = checkpoints.checkpoint_path(data_dir())
    newest = checkpoints.last(path, key)
    if newest is not None and (newest.seq, newest.entry_hash) == (head.last_seq, head.last_hash):
        return head.last_seq  # already there: a cron job does not grow the file while idle
    checkpoints.append(path, key, head.last_seq, head.last_hash, legacy_until(session, key))
    return head.last_seq


def _head_now(session: Session) -> TrailHead | None:
    return session.scalar(
        sa.select(TrailHead).where(TrailHead.id == 1).execution_options(populate_existing=True)
    )


# -- verification -------------------------------------------------------------------------

MAX_FINDINGS = 200


def _when(value: datetime | None) -> str:
    if value is None:
        return "?"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Finding:
    """One thing verification found, with where it is (entry, time, checkpoint line)."""

    kind: str
    seq: int | None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def problem(self) -> str:
        return self.message()

    def message(self) -> str:
        return _messages()[self.kind] % self.params


# Kept for callers of the first version: verify_chain returns the first finding.
ChainBreak = Finding


def _messages() -> dict[str, str]:
    # gettext at call time, so the CLI speaks the language it was asked for.
    return {
        "missing": _(
            "Entries %(first)s to %(last)s are missing: deleted from the middle of the "
            "trail (the entry after them, %(next)s, was written at %(at)s)."
        ),
        "unlinked": _(
            "Entry %(seq)s (written at %(at)s) does not link to the entry before it: the "
            "chain was cut or re-hashed there."
        ),
        "altered": _(
            "Entry %(seq)s (written at %(at)s) was altered after it was written, or "
            "re-hashed without the trail key: its HMAC does not verify."
        ),
        "altered_unkeyed": _(
            "Entry %(seq)s (written at %(at)s, before the trail was keyed) was altered "
            "after it was written: its hash does not verify."
        ),
        "unkeyed_after_keyed": _(
            "Entry %(seq)s (written at %(at)s) carries an unkeyed hash although the trail "
            "has been keyed since entry %(since)s: the chain was re-hashed without the "
            "trail key."
        ),
        "unknown_scheme": _(
            "Entry %(seq)s (written at %(at)s) names an unknown hash scheme %(scheme)s."
        ),
        "tail_removed": _(
            "Entries %(first)s to %(last)s were removed from the end of the trail (the "
            "head row still names entry %(last)s)."
        ),
        "head_missing": _(
            "The trail's head row is missing although the trail has %(count)s entries."
        ),
        "head_mismatch": _(
            "The trail's head row names entry %(head)s, but the last entry is %(seq)s "
            "(written at %(at)s)."
        ),
        "truncated": _(
            "The trail ends at entry %(last)s, but the checkpoint written at %(written)s "
            "(line %(line)s of %(file)s) recorded entry %(seq)s: entries %(first)s to "
            "%(seq)s were removed from the end, head row included."
        ),
        "checkpoint_differs": _(
            "Entry %(seq)s (written at %(at)s) differs from the checkpoint written at "
            "%(written)s (line %(line)s of %(file)s): it was replaced, or the chain "
            "re-hashed."
        ),
        "checkpoint_mac": _(
            "Line %(line)s of %(file)s fails its HMAC: the checkpoint file was edited or "
            "the line forged."
        ),
        "checkpoint_unreadable": _(
            "Line %(line)s of %(file)s is not a checkpoint: the checkpoint file was edited."
        ),
        "checkpoint_other_key": _(
            "Line %(line)s of %(file)s was signed with another trail key (key id "
            "%(other)s; this installation's key is %(ours)s): the trail key was replaced, "
            "or the file comes from another installation."
        ),
        "checkpoint_legacy": _(
            "Line %(line)s of %(file)s names entry %(value)s as the last unkeyed entry, "
            "where the first checkpoint names entry %(first)s."
        ),
        "wrong_key": _(
            "None of the %(count)s keyed entries verifies with this installation's trail "
            "key (key id %(key_id)s): the key was replaced or lost, or the whole trail was "
            "re-hashed. Restore the original trail.key or QMS_TRAIL_KEY."
        ),
        "checkpoint_missing": _(
            "The checkpoint file %(file)s does not exist, although the trail has keyed "
            "entries (from entry %(seq)s): it was deleted, or the data directory is not "
            "this installation's."
        ),
    }


@dataclass
class TrailReport:
    findings: list[Finding] = field(default_factory=list)
    count: int = 0  # all findings, including those beyond MAX_FINDINGS
    entries: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    checkpoints: int = 0
    legacy_until: int | None = None
    checkpoint_file: Path | None = None

    @property
    def intact(self) -> bool:
        return self.count == 0

    def add(self, finding: Finding) -> None:
        self.count += 1
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)


def verify_trail(
    session: Session, key: bytes, checkpoint_file: Path, batch: int = 2000
) -> TrailReport:
    """Check the chain with the key, its head, and the checkpoints kept outside the database."""
    report = TrailReport(checkpoint_file=checkpoint_file)
    later: list[Finding] = []  # checkpoint findings come after the chain's, in seq order
    newest = _check_checkpoints(session, key, checkpoint_file, report, later)
    _walk_chain(session, key, report, batch)
    _check_head(session, report)
    name = str(checkpoint_file)
    if newest is not None and newest.seq > report.last_seq:
        report.add(
            Finding(
                "truncated",
                newest.seq,
                {
                    "last": report.last_seq,
                    "first": report.last_seq + 1,
                    "seq": newest.seq,
                    "written": _when(newest.written_at),
                    "line": newest.line_no,
                    "file": name,
                },
            )
        )
    first_keyed = _first_keyed(session)
    if not checkpoint_file.is_file() and first_keyed is not None:
        report.add(Finding("checkpoint_missing", first_keyed, {"file": name, "seq": first_keyed}))
    for finding in later:
        report.add(finding)
    return report


def _first_keyed(session: Session) -> int | None:
    return session.scalar(
        sa.select(TrailEntry.seq)
        .where(TrailEntry.hash_scheme != UNKEYED)
        .order_by(TrailEntry.seq)
        .limit(1)
    )


def _check_checkpoints(
    session: Session, key: bytes, path: Path, report: TrailReport, out: list[Finding]
) -> checkpoints.Checkpoint | None:
    if not path.is_file():
        return None
    name = str(path)
    newest: checkpoints.Checkpoint | None = None
    group: list[checkpoints.Checkpoint] = []
    for item in checkpoints.read(path, key):
        if isinstance(item, checkpoints.BadLine):
            params: dict[str, Any] = {"line": item.line_no, "file": name}
            if item.problem == "other_key":
                params.update(other=item.key_id, ours=key_id(key))
            out.append(Finding(f"checkpoint_{item.problem}", None, params))
            continue
        report.checkpoints += 1
        if report.legacy_until is None:
            report.legacy_until = item.legacy_until
        elif item.legacy_until != report.legacy_until:
            out.append(
                Finding(
                    "checkpoint_legacy",
                    None,
                    {
                        "line": item.line_no,
                        "file": name,
                        "value": item.legacy_until,
                        "first": report.legacy_until,
                    },
                )
            )
        if newest is None or item.seq > newest.seq:
            newest = item
        group.append(item)
        if len(group) >= 1000:
            _compare_with_entries(session, group, name, out)
            group = []
    _compare_with_entries(session, group, name, out)
    return newest


def _compare_with_entries(
    session: Session, group: list[checkpoints.Checkpoint], name: str, out: list[Finding]
) -> None:
    """Each checkpoint names an entry and its hash: the entry, if still there, must agree."""
    if not group:
        return
    stored = {
        seq: (entry_hash, at)
        for seq, entry_hash, at in session.execute(
            sa.select(TrailEntry.seq, TrailEntry.entry_hash, TrailEntry.at).where(
                TrailEntry.seq.in_({c.seq for c in group})
            )
        )
    }
    reported: set[int] = set()
    for checkpoint in group:
        found = stored.get(checkpoint.seq)
        if found is None or found[0] == checkpoint.entry_hash or checkpoint.seq in reported:
            continue  # a missing entry is reported by the chain walk or as truncation
        reported.add(checkpoint.seq)
        out.append(
            Finding(
                "checkpoint_differs",
                checkpoint.seq,
                {
                    "seq": checkpoint.seq,
                    "at": _when(found[1]),
                    "written": _when(checkpoint.written_at),
                    "line": checkpoint.line_no,
                    "file": name,
                },
            )
        )


def _walk_chain(session: Session, key: bytes, report: TrailReport, batch: int) -> None:
    expected_prev = GENESIS_HASH
    expected_seq = 1
    keyed_since: int | None = None
    if report.legacy_until is not None:
        keyed_since = report.legacy_until + 1
    first_keyed: int | None = None
    keyed_good = keyed_bad = 0
    for entry in _entries_in_order(session, batch):
        report.entries += 1
        at = _when(entry.at)
        if entry.seq != expected_seq:
            report.add(
                Finding(
                    "missing",
                    expected_seq,
                    {"first": expected_seq, "last": entry.seq - 1, "next": entry.seq, "at": at},
                )
            )
        elif entry.prev_hash != expected_prev:
            report.add(Finding("unlinked", entry.seq, {"seq": entry.seq, "at": at}))
        since = first_keyed if first_keyed is not None else keyed_since
        if entry.hash_scheme == UNKEYED and since is not None and entry.seq >= since:
            report.add(
                Finding(
                    "unkeyed_after_keyed", entry.seq, {"seq": entry.seq, "at": at, "since": since}
                )
            )
        else:
            expected = entry.hash_with(key)
            if expected is None:
                report.add(
                    Finding(
                        "unknown_scheme",
                        entry.seq,
                        {"seq": entry.seq, "at": at, "scheme": entry.hash_scheme},
                    )
                )
            elif not hmac.compare_digest(expected, entry.entry_hash):
                kind = "altered_unkeyed" if entry.hash_scheme == UNKEYED else "altered"
                report.add(Finding(kind, entry.seq, {"seq": entry.seq, "at": at}))
                keyed_bad += entry.hash_scheme == KEYED
            else:
                keyed_good += entry.hash_scheme == KEYED
        if entry.hash_scheme != UNKEYED and first_keyed is None:
            first_keyed = entry.seq
        # Carry on from what is stored, so each later problem is reported once, by itself.
        expected_prev = entry.entry_hash
        expected_seq = entry.seq + 1
        report.last_seq, report.last_hash = entry.seq, entry.entry_hash
    if keyed_bad > 1 and keyed_good == 0:
        # Not one keyed entry verifies: most likely the key, not every entry, is wrong.
        report.add(Finding("wrong_key", None, {"count": keyed_bad, "key_id": key_id(key)}))


def _check_head(session: Session, report: TrailReport) -> None:
    head = _head_now(session)
    if head is None:
        if report.last_seq:
            report.add(Finding("head_missing", None, {"count": report.entries}))
        return
    if head.last_seq > report.last_seq:
        report.add(
            Finding(
                "tail_removed",
                report.last_seq + 1,
                {"first": report.last_seq + 1, "last": head.last_seq},
            )
        )
    elif head.last_seq != report.last_seq or head.last_hash != report.last_hash:
        last = session.scalar(
            sa.select(TrailEntry)
            .where(TrailEntry.seq == report.last_seq)
            .execution_options(populate_existing=True)
        )
        report.add(
            Finding(
                "head_mismatch",
                report.last_seq,
                {
                    "head": head.last_seq,
                    "seq": report.last_seq,
                    "at": _when(last.at if last else None),
                },
            )
        )


def _entries_in_order(session: Session, batch: int) -> Iterator[TrailEntry]:
    last = 0
    while True:
        rows = session.scalars(
            sa.select(TrailEntry)
            .where(TrailEntry.seq > last)
            .order_by(TrailEntry.seq)
            .limit(batch)
            .execution_options(populate_existing=True)  # what the database holds now
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        for row in rows:  # keep memory flat on a long trail, and leave the caller's objects
            session.expunge(row)


def verify_chain(session: Session, batch: int = 2000) -> Finding | None:
    """The first problem with the trail of this installation, or None when it verifies."""
    report = verify_trail(
        session, current_key(), checkpoints.checkpoint_path(data_dir()), batch=batch
    )
    return report.findings[0] if report.findings else None


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
