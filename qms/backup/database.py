"""The database part of a backup: SQLite through its online backup API, PostgreSQL through
pg_dump in the snapshot of an open transaction; putting either back; and reading what a
snapshot holds (schema, trail head, counts) from that very snapshot."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from qms.auth.models import Signature, User
from qms.backup.manifest import Snapshot, copy_file
from qms.documents.models import Document, Revision
from qms.trail.models import GENESIS_HASH, TrailEntry, TrailHead
from qms.word.models import Attachment

COUNTED_TABLES = {
    "documents": Document.__table__,
    "revisions": Revision.__table__,
    "trail_entries": TrailEntry.__table__,
    "signatures": Signature.__table__,
    "attachments": Attachment.__table__,
}


class ToolFailed(RuntimeError):
    """pg_dump or pg_restore is missing or answered with an error (its message)."""


def kind_of(url: str) -> str:
    return "postgresql" if make_url(url).get_backend_name() == "postgresql" else "sqlite"


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise ToolFailed(f"{url} is not a SQLite database file")
    return Path(database)


def read_snapshot(conn: Connection) -> Snapshot:
    """Schema revision, trail head and record counts, as this connection's snapshot has them."""
    inspector = sa.inspect(conn)
    revision = None
    if inspector.has_table("alembic_version"):
        revision = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    head = conn.execute(
        sa.select(TrailHead.__table__.c.last_seq, TrailHead.__table__.c.last_hash).where(
            TrailHead.__table__.c.id == 1
        )
    ).first()
    counts = {
        name: int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
        for name, table in COUNTED_TABLES.items()
    }
    return Snapshot(
        alembic_revision=revision,
        trail_seq=int(head[0]) if head else 0,
        trail_hash=str(head[1]) if head else GENESIS_HASH,
        counts=counts,
    )


@contextmanager
def sqlite_file(path: Path) -> Iterator[Connection]:
    """A read-only connection to a SQLite file (one in a backup: nothing is written to it)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    engine = sa.create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool
    )
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def records_held(engine: Engine) -> tuple[dict[str, int], list[str]]:
    """How many documents, users and trail entries the database holds, and which tables
    hold rows at all (a schema alone, as `qms db upgrade` leaves it, is no record)."""
    counts: dict[str, int] = {}
    tables = []
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        for label, model in (
            ("documents", Document),
            ("users", User),
            ("trail_entries", TrailEntry),
        ):
            table = model.__table__
            if model.__tablename__ in names:
                counts[label] = int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
        # bookkeeping, not records: the schema's revision, and the data generation every
        # write replaces (qms/db.py), which even a fresh, migrated database has
        for name in sorted(names - {"alembic_version", "data_generation"}):
            if conn.scalar(sa.select(sa.literal(1)).select_from(sa.table(name)).limit(1)):
                tables.append(name)
    return counts, tables


# -- SQLite -------------------------------------------------------------------------------


def snapshot_sqlite(url: str, target: Path) -> Snapshot:
    """Copy the live database with SQLite's backup API: one read transaction, so writers
    (WAL) go on and the copy is the database as of one moment. The copy is a single file."""
    source = sqlite_path(url)
    if not source.is_file():
        raise ToolFailed(f"the database file {source} does not exist")
    src = sqlite3.connect(str(source), timeout=30)
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    with sqlite_file(target) as conn:
        return read_snapshot(conn)


def restore_sqlite(backup_file: Path, url: str) -> None:
    """Put the database file in place of the configured one (the application stopped)."""
    target = sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        copy_file(backup_file, partial)
        # The old database's journal would be replayed onto the restored file.
        for suffix in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


# -- PostgreSQL ---------------------------------------------------------------------------


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolFailed(
            f"{name} is not installed (PostgreSQL client programs of the server's version)"
        )
    return path


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string for the URL, and the environment with its password
    (PGPASSWORD, so that it does not show in the process list)."""
    from psycopg.conninfo import make_conninfo

    parsed = make_url(url)
    params: dict[str, str] = {}
    if parsed.database:
        params["dbname"] = parsed.database
    if parsed.host:
        params["host"] = parsed.host
    if parsed.port:
        params["port"] = str(parsed.port)
    if parsed.username:
        params["user"] = parsed.username
    for name, value in parsed.query.items():
        params[name] = value if isinstance(value, str) else value[-1]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return make_conninfo(**params), env


def check_tools(*names: str) -> None:
    for name in names:
        _tool(name)


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        name = Path(command[0]).name
        raise ToolFailed(f"{name}: {(done.stderr or done.stdout).strip()}")


def snapshot_postgresql(engine: Engine, url: str, target: Path) -> Snapshot:
    """pg_dump --format=custom in the snapshot of a transaction held open meanwhile, so the
    head and counts read in that transaction describe exactly what was dumped."""
    pg_dump = _tool("pg_dump")
    conninfo, env = libpq_target(url)
    with (
        engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
        conn.begin(),
    ):
        snapshot_id = conn.scalar(sa.text("SELECT pg_export_snapshot()"))
        facts = read_snapshot(conn)
        _run(
            [
                pg_dump,
                "--format=custom",
                f"--file={target}",
                f"--snapshot={snapshot_id}",
                "--no-password",
                f"--dbname={conninfo}",
            ],
            env,
        )
    return facts


def restore_postgresql(backup_file: Path, url: str) -> None:
    """pg_restore into the configured database in one transaction: all or nothing."""
    pg_restore = _tool("pg_restore")
    conninfo, env = libpq_target(url)
    _run(
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={conninfo}",
            str(backup_file),
        ],
        env,
    )
