"""Making a backup while the application keeps writing, and restoring one.

Consistency without stopping anyone: the trail checkpoints are copied first (every line
in them names an entry committed before the database snapshot), then the database as of
one moment, then the attachments (a file is stored before the row naming it commits, so
every attachment of the snapshot is on disk by then). The backup is written into a hidden
sibling folder and renamed into place only once complete, so a failure leaves nothing.

A restore checks every file against the manifest before it touches anything, refuses a
target that holds records unless forced, then puts the database and files back, verifies
the trail and signatures, and rebuilds the search index (which is never backed up)."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from qms.backup import database
from qms.backup.manifest import (
    DATA,
    DATABASE_FILES,
    MANIFEST,
    FileEntry,
    Manifest,
    ManifestDamaged,
    Snapshot,
    copy_complete_lines,
    copy_file,
    hash_file,
    parse,
    sync_folder,
)
from qms.db import get_engine, new_session
from qms.errors import DomainError
from qms.integrity import RecordsCheck
from qms.trail import checkpoints, keys

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name
ATTACHMENTS = "attachments"
PRIVATE_FILES = (SECRET_KEY_FILE, keys.KEY_FILE, checkpoints.FILE_NAME)


class BackupError(DomainError):
    """A backup or restore that was refused or failed; the message says why and what
    state things were left in."""

    def __init__(self, message: Any, *, refused: bool = False) -> None:
        super().__init__(message, code="refused" if refused else "failed")
        self.refused = refused


def _app() -> Flask:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qms")
    except PackageNotFoundError:
        return "unknown"


# -- backup -------------------------------------------------------------------------------


@dataclass
class BackupMade:
    path: Path
    manifest: Manifest

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.manifest.files.values())

    @property
    def attachments(self) -> int:
        return sum(1 for name in self.manifest.data_files() if name.startswith(ATTACHMENTS + "/"))


def make_backup(dest: Path) -> BackupMade:
    """Write a complete backup to dest (a new or empty folder), or nothing at all."""
    dest = Path(os.path.abspath(dest))
    _refuse_existing(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{dest.name}.incomplete-", dir=dest.parent))
    except OSError as err:
        raise _backup_failed(_os_reason(err), err.filename or dest, dest) from None
    try:
        manifest = _write_backup(partial)
        (partial / MANIFEST).write_text(manifest.to_json() + "\n", encoding="utf-8")
        sync_folder(partial)
        os.rename(partial, dest)
        sync_folder(dest.parent)
    except BaseException as err:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(err, OSError):  # named where it would have been, not in the hidden folder
            where = str(err.filename or dest).replace(str(partial), str(dest))
            raise _backup_failed(_os_reason(err), where, dest) from None
        if isinstance(err, sqlite3.Error | SQLAlchemyError):
            reason = _l("the disk is full") if "full" in str(err) else str(err)
            raise _backup_failed(reason, dest, dest) from None
        if isinstance(err, database.ToolFailed):
            raise _backup_failed(str(err), dest, dest) from None
        raise
    return BackupMade(dest, manifest)


def _refuse_existing(dest: Path) -> None:
    if not (dest.exists() or dest.is_symlink()):
        return
    if not dest.is_dir():
        raise BackupError(
            _l("%(path)s exists and is not a folder: name a new or empty folder.", path=str(dest)),
            refused=True,
        )
    if any(dest.iterdir()):
        raise BackupError(
            _l(
                "%(path)s is not empty: a backup goes into a new or empty folder, so that "
                "no earlier backup is overwritten.",
                path=str(dest),
            ),
            refused=True,
        )


def _write_backup(partial: Path) -> Manifest:
    from qms.trail.service import write_checkpoint

    app = _app()
    url = str(app.config["DATABASE_URL"])
    data_dir = Path(app.config["DATA_DIR"])
    kind = database.kind_of(url)
    files: dict[str, FileEntry] = {}
    (partial / DATA).mkdir()

    session = new_session()
    try:  # sign the head as it is now, so the copied checkpoints reach close to the snapshot
        write_checkpoint(session)
    finally:
        session.close()
    log = data_dir / checkpoints.FILE_NAME
    if log.is_file():  # first: every line names an entry the snapshot will hold
        files[f"{DATA}/{checkpoints.FILE_NAME}"] = copy_complete_lines(
            log, partial / DATA / checkpoints.FILE_NAME
        )

    db_file = partial / DATABASE_FILES[kind]
    if kind == "sqlite":
        snapshot = database.snapshot_sqlite(url, db_file)
    else:
        snapshot = database.snapshot_postgresql(get_engine(), url, db_file)
    files[DATABASE_FILES[kind]] = hash_file(db_file)

    for name in (SECRET_KEY_FILE, keys.KEY_FILE):
        if (data_dir / name).is_file():
            files[f"{DATA}/{name}"] = copy_file(data_dir / name, partial / DATA / name)
    for name in PRIVATE_FILES:
        if (partial / DATA / name).is_file():
            (partial / DATA / name).chmod(0o600)
    for source in _attachment_files(data_dir):  # after the snapshot: all its files are there
        name = source.relative_to(data_dir).as_posix()
        target = partial / DATA / name
        target.parent.mkdir(parents=True, exist_ok=True)
        files[f"{DATA}/{name}"] = copy_file(source, target)

    if app.config.get("TRAIL_KEY"):
        trail_key = "environment"
    elif f"{DATA}/{keys.KEY_FILE}" in files:
        trail_key = "in_backup"
    else:
        trail_key = "none"
    return Manifest(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        app_version=app_version(),
        database_kind=kind,
        snapshot=snapshot,
        trail_key=trail_key,
        files=files,
    )


def _attachment_files(data_dir: Path) -> list[Path]:
    folder = data_dir / ATTACHMENTS
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(p.startswith(".") for p in path.relative_to(folder).parts)
    )


def _os_reason(err: OSError) -> Any:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return _l("the disk is full")
    if err.errno in (errno.EACCES, errno.EPERM):
        return _l("no permission to write there")
    if err.errno == errno.EROFS:
        return _l("the disk is read-only")
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return _l("part of the path is a file, not a folder")
    return err.strerror or str(err)


def _backup_failed(reason: Any, path: Any, dest: Path) -> BackupError:
    return BackupError(
        _l(
            "The backup was not made: %(reason)s (%(path)s). Nothing was left behind; "
            "%(dest)s is as it was.",
            reason=reason,
            path=str(path),
            dest=str(dest),
        )
    )


# -- checking a backup --------------------------------------------------------------------


def check_backup(src: Path) -> Manifest:
    """Read the manifest and check every file it lists; refuse at the first difference."""
    src = Path(src)
    manifest_path = src / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(
            _l(
                "%(path)s holds no manifest.json: it is not a backup made by qms backup.",
                path=str(src),
            ),
            refused=True,
        )
    try:
        manifest = parse(manifest_path.read_text(encoding="utf-8"))
    except (ManifestDamaged, OSError, UnicodeDecodeError) as err:
        raise BackupError(
            _l(
                "The backup's manifest.json is damaged (%(detail)s). Nothing was restored.",
                detail=str(err),
            ),
            refused=True,
        ) from None
    for name, expected in sorted(manifest.files.items()):
        path = src / name
        if not path.is_file():
            raise _altered(
                _l(
                    "%(file)s is missing from the backup, although the manifest lists it.",
                    file=name,
                )
            )
        found = hash_file(path)
        if found.size != expected.size:
            raise _altered(
                _l(
                    "%(file)s holds %(found)s bytes, the manifest says %(expected)s.",
                    file=name,
                    found=found.size,
                    expected=expected.size,
                )
            )
        if found.sha256 != expected.sha256:
            raise _altered(
                _l(
                    "%(file)s does not match its SHA-256 in the manifest (file %(found)s…, "
                    "manifest %(expected)s…).",
                    file=name,
                    found=found.sha256[:12],
                    expected=expected.sha256[:12],
                )
            )
    if manifest.database_kind == "sqlite":
        try:
            with database.sqlite_file(src / manifest.database_file) as conn:
                held = database.read_snapshot(conn)
        except SQLAlchemyError:
            raise _altered(
                _l("%(file)s is not a QMS database.", file=manifest.database_file)
            ) from None
        if held != manifest.snapshot:
            raise _altered(_snapshot_differs(manifest.database_file, held, manifest.snapshot))
    return manifest


def _snapshot_differs(name: str, held: Snapshot, said: Snapshot) -> Any:
    return _l(
        "%(file)s does not hold what the manifest says: its audit trail ends at entry "
        "%(seq)s (manifest: %(expected_seq)s), it holds %(documents)s documents (manifest: "
        "%(expected_documents)s).",
        file=name,
        seq=held.trail_seq,
        expected_seq=said.trail_seq,
        documents=held.counts.get("documents"),
        expected_documents=said.counts.get("documents"),
    )


def _altered(detail: Any) -> BackupError:
    return BackupError(
        _l(
            "The backup was altered or damaged: %(detail)s Nothing was restored.",
            detail=detail,
        ),
        refused=True,
    )


# -- restore ------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    manifest: Manifest
    database_kind: str
    attachments: int = 0
    upgraded_to: str | None = None
    restored: Snapshot | None = None  # what the restored database holds
    records: RecordsCheck | None = None
    index_entries: int = 0
    index_problems: list[str] = field(default_factory=list)

    @property
    def head_matches(self) -> bool:
        said = self.manifest.snapshot
        if self.restored is None or self.records is None:
            return False
        trail = self.records.trail
        return (trail.last_seq, trail.last_hash) == (said.trail_seq, said.trail_hash) and (
            self.restored.trail_seq,
            self.restored.trail_hash,
        ) == (said.trail_seq, said.trail_hash)

    @property
    def documents_match(self) -> bool:
        return self.restored is not None and self.restored.counts.get(
            "documents"
        ) == self.manifest.snapshot.counts.get("documents")

    @property
    def verified(self) -> bool:
        return bool(
            self.records is not None
            and self.records.intact
            and self.head_matches
            and self.documents_match
            and not self.index_problems
        )


def restore_backup(src: Path, *, force: bool = False) -> RestoreReport:
    """Check the backup and the target, then restore the database and the data folder's
    files, verify the trail and signatures, and rebuild the search index."""
    app = _app()
    url = str(app.config["DATABASE_URL"])
    data_dir = Path(app.config["DATA_DIR"])
    src = Path(os.path.abspath(src))
    manifest = check_backup(src)
    kind = database.kind_of(url)
    _refuse_unfit_target(manifest, src, kind, url, data_dir, force)

    report = RestoreReport(manifest=manifest, database_kind=kind)
    engine = get_engine()
    engine.dispose()  # no connection of ours may hold the database being replaced
    try:
        if kind == "sqlite":
            database.restore_sqlite(src / manifest.database_file, url)
        else:
            database.restore_postgresql(src / manifest.database_file, url)
    except (OSError, database.ToolFailed) as err:
        reason = _os_reason(err) if isinstance(err, OSError) else str(err)
        raise BackupError(
            _l(
                "The database could not be restored: %(reason)s. The configured database "
                "was left as it was.",
                reason=reason,
            )
        ) from None
    engine.dispose()
    try:
        report.attachments = _restore_data_files(src, manifest, data_dir)
    except OSError as err:
        raise BackupError(
            _l(
                "The database was restored, but the data folder's files could not be: "
                "%(reason)s (%(path)s). Fix the cause and run qms restore again with --force.",
                reason=_os_reason(err),
                path=str(err.filename or data_dir),
            )
        ) from None
    # The key and the first checkpoint are read once per application: read them again.
    app.extensions.pop(keys._CACHE, None)
    from qms.trail import service as trail

    app.extensions.pop(trail._LEGACY, None)

    revision = manifest.snapshot.alembic_revision
    if revision is not None and revision != _schema_head(url):
        from qms.migrate import upgrade

        upgrade(url)
        report.upgraded_to = _schema_head(url)
    _verify_restored(report)
    return report


def _refuse_unfit_target(
    manifest: Manifest, src: Path, kind: str, url: str, data_dir: Path, force: bool
) -> None:
    app = _app()
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    if manifest.database_kind != kind:
        raise BackupError(
            _l(
                "The backup holds a %(backup)s database, but the configured database "
                "(QMS_DATABASE_URL) is %(target)s. Nothing was restored.",
                backup=names[manifest.database_kind],
                target=names[kind],
            ),
            refused=True,
        )
    try:
        if kind == "postgresql":
            database.check_tools("pg_restore")
        else:
            database.sqlite_path(url)
    except database.ToolFailed as err:
        raise BackupError(
            _l("Cannot restore here: %(reason)s. Nothing was restored.", reason=str(err)),
            refused=True,
        ) from None
    revision = manifest.snapshot.alembic_revision
    if revision is not None and not _schema_known(url, revision):
        raise BackupError(
            _l(
                "The backup's database has schema %(revision)s, which this version of QMS "
                "(%(version)s) does not know: it was made by a newer version. Install that "
                "version, then restore. Nothing was restored.",
                revision=revision,
                version=app_version(),
            ),
            refused=True,
        )
    configured = app.config.get("TRAIL_KEY")
    in_backup = src / DATA / keys.KEY_FILE
    if manifest.trail_key == "environment" and not configured:
        raise BackupError(
            _l(
                "The backup was made with the trail key in QMS_TRAIL_KEY, which a backup "
                "does not hold: set QMS_TRAIL_KEY to that key, then restore. Nothing was "
                "restored."
            ),
            refused=True,
        )
    if (
        configured
        and in_backup.is_file()
        and configured.strip() != in_backup.read_text(encoding="utf-8").strip()
    ):
        raise BackupError(
            _l(
                "QMS_TRAIL_KEY differs from the trail key in the backup: the restored "
                "audit trail could not be verified. Unset QMS_TRAIL_KEY or set it to the "
                "backup's key. Nothing was restored."
            ),
            refused=True,
        )
    if not force:
        try:
            counts, tables = database.records_held(get_engine())
        except SQLAlchemyError as err:
            raise BackupError(
                _l(
                    "The configured database cannot be reached: %(reason)s. Nothing was restored.",
                    reason=str(getattr(err, "orig", None) or err).strip(),
                ),
                refused=True,
            ) from None
        files = _records_in_data_dir(data_dir)
        if tables or files:
            raise BackupError(
                _l(
                    "The target already holds records: %(what)s. A restore replaces them; "
                    "if that is what you want, run the command again with --force. Nothing "
                    "was restored.",
                    what=_what_is_held(counts, tables, files, data_dir),
                ),
                refused=True,
            )
    try:  # the data folder must take files before the database is replaced
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as err:
        raise BackupError(
            _l(
                "Cannot write to the data folder %(path)s: %(reason)s. Nothing was restored.",
                path=str(data_dir),
                reason=_os_reason(err),
            ),
            refused=True,
        ) from None


def _what_is_held(
    counts: dict[str, int], tables: list[str], files: list[str], data_dir: Path
) -> str:
    held = []
    if counts.get("documents"):
        held.append(_l("%(count)s documents", count=counts["documents"]))
    if counts.get("users"):
        held.append(_l("%(count)s users", count=counts["users"]))
    if counts.get("trail_entries"):
        held.append(_l("%(count)s audit-trail entries", count=counts["trail_entries"]))
    if tables and not held:
        held.append(_l("rows in the tables %(tables)s", tables=", ".join(tables[:5])))
    if files:
        held.append(
            _l(
                "%(files)s in the data folder %(folder)s",
                files=", ".join(files),
                folder=str(data_dir),
            )
        )
    return "; ".join(str(part) for part in held)


def _records_in_data_dir(data_dir: Path) -> list[str]:
    found = []
    if (data_dir / keys.KEY_FILE).is_file():
        found.append(keys.KEY_FILE)
    log = data_dir / checkpoints.FILE_NAME
    if log.is_file() and log.stat().st_size > 0:
        found.append(checkpoints.FILE_NAME)
    if _attachment_files(data_dir):
        found.append(ATTACHMENTS)
    return found


def _schema_script(url: str) -> Any:
    from alembic.script import ScriptDirectory

    from qms.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config(url))


def _schema_known(url: str, revision: str) -> bool:
    try:
        return _schema_script(url).get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown revision
        return False


def _schema_head(url: str) -> str | None:
    head: str | None = _schema_script(url).get_current_head()
    return head


def _restore_data_files(src: Path, manifest: Manifest, data_dir: Path) -> int:
    names = manifest.data_files()
    if checkpoints.FILE_NAME not in names:  # checkpoints of another trail would not verify
        (data_dir / checkpoints.FILE_NAME).unlink(missing_ok=True)
    attachments = 0
    for name in names:
        target = data_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.restoring-{os.getpid()}")
        partial.unlink(missing_ok=True)
        try:
            copied = copy_file(src / DATA / name, partial)
            if copied != manifest.files[f"{DATA}/{name}"]:
                raise OSError(errno.EIO, "changed while it was being restored", str(src / name))
            if name in PRIVATE_FILES:
                partial.chmod(0o600)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        attachments += name.startswith(ATTACHMENTS + "/")
    return attachments


def _verify_restored(report: RestoreReport) -> None:
    from qms.integrity import check_records
    from qms.search import service as search

    session = new_session()
    try:
        report.restored = database.read_snapshot(session.connection())
        session.rollback()
        report.records = check_records(session)
        session.rollback()
        report.index_entries = search.rebuild_size(session)
        session.close()
        search.rebuild()
        found = search.check(session)
        report.index_problems = found.remaining + [
            f"{which}: {len(r.stale)} stale, {len(r.missing)} missing, {len(r.extra)} extra"
            for which, r in found.reconciliation.items()
            if r.stale or r.missing or r.extra
        ]
    finally:
        session.close()
