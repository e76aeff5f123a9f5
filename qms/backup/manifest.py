"""The manifest of a backup (manifest.json) and the file copies it describes.

A backup folder holds the database (``database.sqlite3`` or ``database.pgdump``), the data
folder's own files under ``data/`` (secret key, trail key, trail checkpoints, attachments)
and ``manifest.json``: each file's size and SHA-256, the database kind, its schema
(Alembic revision), the application version, when it was made, and what the snapshot
holds — the trail's head (last entry and its hash) and how many records of each kind."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

FORMAT = 1
MANIFEST = "manifest.json"
DATA = "data"  # the data folder's files, under data/ in the backup
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
COUNTED = ("documents", "revisions", "trail_entries", "signatures", "attachments")
CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestDamaged(ValueError):
    """manifest.json is missing, unreadable or does not describe a backup."""


@dataclass(frozen=True)
class FileEntry:
    size: int
    sha256: str


@dataclass(frozen=True)
class Snapshot:
    """What the database snapshot holds, read from the snapshot itself."""

    alembic_revision: str | None
    trail_seq: int
    trail_hash: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Manifest:
    created_at: str
    app_version: str
    database_kind: str
    snapshot: Snapshot
    trail_key: str  # "in_backup" or "environment" (QMS_TRAIL_KEY, kept apart)
    files: dict[str, FileEntry] = field(default_factory=dict)

    @property
    def database_file(self) -> str:
        return DATABASE_FILES[self.database_kind]

    def data_files(self) -> list[str]:
        """Names of the data folder's files in the backup (relative to data/)."""
        prefix = DATA + "/"
        return sorted(name.removeprefix(prefix) for name in self.files if name.startswith(prefix))

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "created_at": self.created_at,
                "app_version": self.app_version,
                "database": {
                    "kind": self.database_kind,
                    "file": self.database_file,
                    "alembic_revision": self.snapshot.alembic_revision,
                },
                "trail_head": {"seq": self.snapshot.trail_seq, "hash": self.snapshot.trail_hash},
                "counts": self.snapshot.counts,
                "trail_key": self.trail_key,
                "files": {name: asdict(entry) for name, entry in sorted(self.files.items())},
            },
            indent=2,
            ensure_ascii=False,
        )


def parse(text: str) -> Manifest:
    """Read manifest.json, refusing anything that is not a manifest this version wrote."""
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ManifestDamaged(f"not a QMS backup manifest (format {raw.get('format')!r})")
        database, head, counts = raw["database"], raw["trail_head"], raw["counts"]
        kind = database["kind"]
        if kind not in DATABASE_FILES:
            raise ManifestDamaged(f"unknown database kind {kind!r}")
        revision = database["alembic_revision"]
        if revision is not None and not isinstance(revision, str):
            raise ManifestDamaged("alembic_revision is not a text")
        snapshot = Snapshot(
            alembic_revision=revision,
            trail_seq=_int(head["seq"]),
            trail_hash=str(head["hash"]),
            counts={name: _int(counts[name]) for name in COUNTED},
        )
        files = {}
        for name, entry in raw["files"].items():
            _check_name(name)
            sha = str(entry["sha256"])
            if not _SHA256.match(sha):
                raise ManifestDamaged(f"{name}: sha256 is not a SHA-256")
            files[name] = FileEntry(size=_int(entry["size"]), sha256=sha)
        manifest = Manifest(
            created_at=str(raw["created_at"]),
            app_version=str(raw["app_version"]),
            database_kind=kind,
            snapshot=snapshot,
            trail_key=str(raw["trail_key"]),
            files=files,
        )
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as err:
        raise ManifestDamaged(f"{type(err).__name__}: {err}") from None
    if manifest.database_file not in files:
        raise ManifestDamaged(f"{manifest.database_file} is not listed")
    return manifest


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ManifestDamaged(f"{value!r} is not a count")
    return value


def _check_name(name: Any) -> None:
    """A file name of the manifest stays inside the backup: relative, no '..'."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise ManifestDamaged(f"bad file name {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        raise ManifestDamaged(f"bad file name {name!r}")
    if name not in DATABASE_FILES.values() and path.parts[0] != DATA:
        raise ManifestDamaged(f"bad file name {name!r}")


# -- copying and hashing ------------------------------------------------------------------


def copy_file(source: Path, target: Path) -> FileEntry:
    """Copy source to a new file target, synced to disk; its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as src, target.open("xb") as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return FileEntry(size, digest.hexdigest())


def copy_complete_lines(source: Path, target: Path) -> FileEntry:
    """Copy a file another process appends to: what it holds now, up to its last whole line."""
    with source.open("rb") as src, target.open("xb") as out:
        left = os.fstat(src.fileno()).st_size
        copied = cut = 0
        while left and (chunk := src.read(min(CHUNK, left))):
            out.write(chunk)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                cut = copied + newline + 1
            copied += len(chunk)
            left -= len(chunk)
        out.truncate(cut)
        out.flush()
        os.fsync(out.fileno())
    return hash_file(target)


def hash_file(path: Path) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(size, digest.hexdigest())


def sync_folder(path: Path) -> None:
    """Make a rename or a new file in the folder durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
