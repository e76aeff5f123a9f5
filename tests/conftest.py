"""Fixtures: a fresh database per test (SQLite file copied from a template, or the
PostgreSQL database of QMS_TEST_DATABASE_URL truncated after each test), the app, clients
signed in as each role, and factory helpers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from qms import create_app
from qms.db import make_engine
from qms.models import metadata
from tests.factories import TEST_PASSWORD, seed_departments

PG_URL = os.environ.get("QMS_TEST_DATABASE_URL", "")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Create the schema once per run."""
    if PG_URL:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            # whatever an earlier run or another branch left (tables these models do not
            # know would make drop_all fail on their foreign keys)
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
            metadata.create_all(conn)
        engine.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    engine.dispose()
    return str(path)


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        yield PG_URL
        _empty_pg_database()
        return
    path = tmp_path / "qms.sqlite3"
    shutil.copyfile(database_template, path)
    yield f"sqlite:///{path}"


_EMPTYING: list[str] = []


def _empty_pg_database() -> None:
    """Empty every table and restart every sequence, as TRUNCATE … RESTART IDENTITY would,
    but in one round trip of DELETEs: TRUNCATE of some 80 tables costs about 0.2 s a test on
    PostgreSQL (it replaces each table's files), DELETE of the few rows a test made about
    0.01 s. Should a foreign key still refuse the DELETEs, TRUNCATE does it."""
    engine = make_engine(PG_URL)
    try:
        with engine.begin() as conn:
            if not _EMPTYING:
                sequences = conn.scalars(
                    sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
                ).all()
                # the foreign keys that close a cycle (document ↔ revision) first
                cycles = [
                    f'UPDATE "{t.name}" SET '  # noqa: S608 - the models' own names
                    + ", ".join(f'"{c.name}" = NULL' for c in fk.columns)
                    for t in metadata.sorted_tables
                    for fk in t.foreign_key_constraints
                    if fk.use_alter
                ]
                _EMPTYING.append(
                    "; ".join(
                        cycles
                        + [f'DELETE FROM "{t.name}"' for t in reversed(metadata.sorted_tables)]  # noqa: S608
                        + [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
                    )
                )
            conn.exec_driver_sql(_EMPTYING[0])
    except sa.exc.IntegrityError:
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


class BrowserLikeClient(FlaskClient):
    """A test client that sends a write the way the product's own pages and clients do.

    CSRF protection stays on, as in production. A form post carries the ``csrf_token``
    its page would have rendered (signed from this client's session, exactly as
    ``generate_csrf`` does), and a cookie-session JSON write the ``X-CSRFToken`` header
    that ``static/`` scripts send. A request that already names a token, or sends a
    Bearer token, is left as it is, so tests can send a forged or missing token.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        method = str(kwargs.get("method", "GET")).upper()
        writes = method in ("POST", "PUT", "PATCH", "DELETE")
        if writes and (not args or isinstance(args[0], str)):
            headers = dict(kwargs.get("headers") or {})
            if not str(headers.get("Authorization", "")).startswith("Bearer "):
                self._add_csrf_token(kwargs, headers)
        return super().open(*args, **kwargs)

    def _add_csrf_token(self, kwargs: dict[str, Any], headers: dict[str, Any]) -> None:
        if "X-CSRFToken" in headers:
            return
        data = kwargs.get("data")
        if isinstance(data, dict) and "csrf_token" in data:
            return
        token = self.csrf_token()
        if kwargs.get("json") is not None or not (data is None or isinstance(data, dict)):
            headers["X-CSRFToken"] = token
            kwargs["headers"] = headers
            return
        kwargs["data"] = {**(data or {}), "csrf_token": token}

    def csrf_token(self) -> str:
        """The token a page rendered now for this client's session would carry."""
        import hashlib

        from itsdangerous import URLSafeTimedSerializer

        app = self.application
        with self.session_transaction() as session:
            raw = session.get("csrf_token")
            if raw is None:
                raw = session["csrf_token"] = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324 - as flask-wtf
        serializer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")
        return str(serializer.dumps(raw))


_APPS: list[Flask] = []


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    while _APPS:
        app = _APPS.pop()
        app.extensions["qms.engine"].dispose()
        if "qms.search.engine" in app.extensions:  # searchers hold their segment files open
            app.extensions["qms.search.engine"].close_all()


def make_test_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    settings: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "DATA_DIR": tmp_path,
    }
    settings.update(overrides)
    application = create_app("testing", **settings)
    application.test_client_class = BrowserLikeClient
    _APPS.append(application)
    return application


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = make_test_app(database_url, tmp_path)
    with application.app_context():
        from qms.db import get_session

        seed_departments(get_session())
        get_session().commit()
    return application


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    """A session inside an app context, for service tests."""
    with app.test_request_context():
        from qms.db import get_session

        yield get_session()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def login(client: FlaskClient, username: str, password: str = TEST_PASSWORD) -> Any:
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def users(app: Flask) -> dict[str, Any]:
    """One user per demo role, committed; returns username → id."""
    from tests.factories import make_role_users

    with app.app_context():
        return make_role_users()


@pytest.fixture
def client_as(app: Flask, users: dict[str, Any]) -> Any:
    def signed_in(username: str) -> FlaskClient:
        c = app.test_client()
        response = login(c, username)
        assert response.status_code == 302, response.data
        return c

    return signed_in
