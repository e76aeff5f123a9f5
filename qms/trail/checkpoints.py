"""Signed checkpoints of the trail's head, kept outside the database.

One line per committed transaction that wrote trail entries (and one per `qms trail
checkpoint` or clean `qms verify-trail`), appended to ``<data dir>/trail-checkpoints.log``:

    v1 <TAB> seq <TAB> entry hash <TAB> written at (UTC) <TAB> legacy_until <TAB> key id <TAB> HMAC

``legacy_until`` is the last entry hashed without the key (scheme 1); it never changes, so a
chain re-hashed without the key cannot pass off keyed entries as old ones. A line is
about 190 bytes, written with one O_APPEND write (whole lines even from several workers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qms.trail.keys import key_id, mac

FILE_NAME = "trail-checkpoints.log"
VERSION = "v1"
PURPOSE = b"qms-trail-checkpoint"


def checkpoint_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / FILE_NAME


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    entry_hash: str
    written_at: datetime
    legacy_until: int
    key_id: str
    line_no: int = 0


@dataclass(frozen=True)
class BadLine:
    line_no: int
    problem: str  # "unreadable", "other_key" or "mac"
    key_id: str = ""


def _payload(seq: int, entry_hash: str, written_at: str, legacy_until: int, kid: str) -> str:
    return "\t".join([VERSION, str(seq), entry_hash, written_at, str(legacy_until), kid])


def format_line(
    key: bytes, seq: int, entry_hash: str, legacy_until: int, now: datetime | None = None
) -> str:
    written_at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    payload = _payload(seq, entry_hash, written_at, legacy_until, key_id(key))
    return payload + "\t" + mac(key, PURPOSE, payload.encode()) + "\n"


def append(path: Path, key: bytes, seq: int, entry_hash: str, legacy_until: int) -> None:
    """Append one signed line; the file is created readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = format_line(key, seq, entry_hash, legacy_until).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def parse(key: bytes, line: str, line_no: int) -> Checkpoint | BadLine:
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 7 or parts[0] != VERSION:
        return BadLine(line_no, "unreadable")
    _v, seq, entry_hash, written_at, legacy_until, kid, signature = parts
    try:
        checkpoint = Checkpoint(
            seq=int(seq),
            entry_hash=entry_hash,
            written_at=datetime.fromisoformat(written_at),
            legacy_until=int(legacy_until),
            key_id=kid,
            line_no=line_no,
        )
    except ValueError:
        return BadLine(line_no, "unreadable")
    if kid != key_id(key):
        return BadLine(line_no, "other_key", kid)
    payload = _payload(checkpoint.seq, entry_hash, written_at, checkpoint.legacy_until, kid)
    if not _equal(mac(key, PURPOSE, payload.encode()), signature):
        return BadLine(line_no, "mac")
    return checkpoint


def _equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def read(path: Path, key: bytes) -> Iterator[Checkpoint | BadLine]:
    """Every line of the file in order, streamed (the file may be large)."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield parse(key, line, number)


def first_legacy_until(path: Path, key: bytes) -> int | None:
    """legacy_until of the first good line, or None when the file has none."""
    if not path.is_file():
        return None
    for item in read(path, key):
        if isinstance(item, Checkpoint):
            return item.legacy_until
    return None


def last(path: Path, key: bytes) -> Checkpoint | None:
    """The last line of the file, when it is a good checkpoint (read from the end)."""
    if not path.is_file():
        return None
    with path.open("rb") as raw:
        raw.seek(0, os.SEEK_END)
        size = raw.tell()
        raw.seek(max(0, size - 4096))
        tail = raw.read().decode("utf-8", errors="replace").splitlines()
    lines = [line for line in tail if line.strip()]
    if not lines:
        return None
    item = parse(key, lines[-1], 0)
    return item if isinstance(item, Checkpoint) else None
