"""Database plumbing: the declarative base, engines, the per-request session and
after-commit hooks (search index and mail run only once the database has the truth)."""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Stores naive UTC on every backend and always hands back aware UTC datetimes."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def str_enum(cls: type[enum.Enum], length: int = 24) -> sa.Enum:
    """An enum stored as its value in a plain string column (no native enum type)."""
    return sa.Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = sa.create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


def init_app(app: Flask, engine: Engine | None = None) -> None:
    if engine is None:
        url = app.config["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
    app.extensions["qms.engine"] = engine
    app.extensions["qms.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def get_engine() -> Engine:
    engine: Engine = current_app.extensions["qms.engine"]
    return engine


def get_session() -> Session:
    """The session of the current request or CLI command (one per app context)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["qms.sessionmaker"]()
    session: Session = g.db_session
    return session


def new_session() -> Session:
    """A session of its own, outside the request's (background work, tests)."""
    session: Session = current_app.extensions["qms.sessionmaker"]()
    return session


# -- after-commit hooks -------------------------------------------------------------

_HOOKS = "qms.after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run callback once the session's current transaction commits; drop it on rollback."""
    session.info.setdefault(_HOOKS, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop(_HOOKS, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # a failed side effect must never undo a committed record
            import logging

            logging.getLogger("qms").exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_HOOKS, None)


# -- the data generation ------------------------------------------------------------------
#
# One row whose value changes in every transaction that writes anything, whoever writes it
# (a view, the API, the CLI, `qms worker`, a test's own engine): the whole-answer cache of
# qms/pagecache.py keys its entries on it, so any committed write makes every cached answer
# of every worker process a miss. Writes are noticed per connection from the statements
# themselves (INSERT, UPDATE, DELETE and DDL), and the value is replaced just before the
# commit, inside the same transaction: a reader never sees the new data with the old value.
# The value is random rather than a counter, so that a restored database (an older value)
# followed by new writes never meets an answer cached before the restore.


class DataGeneration(Base):
    """A single row (id 1); its value changes on every committed write."""

    __tablename__ = "data_generation"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(sa.BigInteger)


_WROTE = "qms.wrote"
_HAS_TABLE = "qms.data_generation"
_WRITES = re.compile(
    r"\s*(?:INSERT|UPDATE|DELETE|REPLACE|UPSERT|MERGE|TRUNCATE|CREATE|DROP|ALTER"
    r"|WITH\b.*\b(?:INSERT|UPDATE|DELETE)\b)",
    re.IGNORECASE | re.DOTALL,
)


_NOTED = "qms.generation"


def generation_column() -> Any:
    """The value as a column of another statement: signing in reads it with the session or
    token it checks (one statement), and notes it with `note_generation`."""
    return sa.select(DataGeneration.value).where(DataGeneration.id == 1).scalar_subquery()


def note_generation(session: Session, value: int | None) -> None:
    session.info[_NOTED] = int(value or 0)


def read_generation(session: Session) -> int:
    """The current value (0 before the first write of a fresh database): the one read with
    the signed-in session or token of this request, else read now."""
    if _NOTED in session.info:
        return int(session.info.pop(_NOTED))
    value = session.execute(sa.select(generation_column())).scalar()
    return int(value or 0)


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(
    conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    if _WRITES.match(statement):
        conn.info[_WROTE] = True


@event.listens_for(Engine, "rollback")
def _forget_writes(conn: Any) -> None:
    conn.info.pop(_WROTE, None)


@event.listens_for(Engine, "commit")
def _new_generation(conn: Any) -> None:
    if not conn.info.pop(_WROTE, False):
        return
    dbapi = conn.connection.dbapi_connection
    postgres = conn.dialect.name == "postgresql"
    cursor = dbapi.cursor()
    try:
        if not conn.info.get(_HAS_TABLE):
            # a database not yet migrated this far (Alembic's own runs): on PostgreSQL a
            # failed statement would abort the transaction, so ask first
            cursor.execute(
                "SELECT to_regclass('data_generation') IS NOT NULL"
                if postgres
                else "SELECT count(*) FROM sqlite_master WHERE name = 'data_generation'"
            )
            if not cursor.fetchone()[0]:
                return
            conn.info[_HAS_TABLE] = True
        value = secrets.randbits(62) + 1  # our own integer: safe to write into the SQL
        cursor.execute(
            f"INSERT INTO data_generation (id, value) VALUES (1, {value}) "  # noqa: S608
            f"ON CONFLICT (id) DO UPDATE SET value = {value}"
        )
    finally:
        cursor.close()
