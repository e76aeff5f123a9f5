"""An installation to back up and an empty one to restore into, each with its own
database: a SQLite file, or a scratch PostgreSQL database created and dropped here (never
the shared test database), both migrated with Alembic as `qms db upgrade` does."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from qms.db import get_session, make_engine
from qms.migrate import upgrade
from tests.conftest import make_test_app
from tests.factories import make_document, make_role_users, seed_departments

PG_URL = os.environ.get("QMS_TEST_DATABASE_URL", "")
EN = {"LANG": "en_US.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
ZH = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@dataclass
class Installation:
    app: Flask
    url: str
    data_dir: Path


class ScratchDatabases:
    """PostgreSQL databases of this test run, on the server of QMS_TEST_DATABASE_URL."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def create(self, suffix: str) -> str:
        name = f"qms_backup_test_{os.getpid()}_{suffix}"
        with self._server() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.made.append(name)
        return sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._server() as conn:
            for name in self.made:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    @contextmanager
    def _server(self) -> Iterator[sa.Connection]:
        engine = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not PG_URL:
        pytest.skip(
            "PostgreSQL: set QMS_TEST_DATABASE_URL (a scratch database is made on its server)"
        )
    return str(request.param)


@pytest.fixture
def scratch() -> Iterator[ScratchDatabases]:
    databases = ScratchDatabases()
    yield databases
    if databases.made:
        databases.drop_all()


def _installation(kind: str, scratch: ScratchDatabases, folder: Path, suffix: str) -> Installation:
    folder.mkdir()
    url = scratch.create(suffix) if kind == "postgresql" else f"sqlite:///{folder / 'qms.sqlite3'}"
    upgrade(url)
    return Installation(make_test_app(url, folder), url, folder)


def _put_in_use(installation: Installation) -> None:
    """Users, an effective (signed) document with an image, a draft, a secret key file."""
    from qms.word.models import Attachment
    from qms.word.service import store_file

    (installation.data_dir / "secret_key").write_text("development-secret-key-of-this-server")
    with installation.app.app_context():
        session = get_session()
        seed_departments(session)
        session.commit()
        make_role_users()
        document = make_document(session, state="effective")
        make_document(session, title="绿化养护作业规程")
        stored = store_file(installation.data_dir / "attachments", _sha(IMAGE), IMAGE)
        session.add(
            Attachment(
                document_id=document.id,
                revision_id=document.current_revision_id,
                sha256=stored.name,
                filename="平面图.png",
                content_type="image/png",
                size=len(IMAGE),
                uploaded_by_id=document.author_id,
            )
        )
        session.commit()


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Made once per run and copied for each test: a migrated empty installation and one
    in use (migrating and signing take seconds)."""
    root = tmp_path_factory.mktemp("backup-templates")
    empty = _installation("sqlite", ScratchDatabases(), root / "empty", "")
    in_use = _installation("sqlite", ScratchDatabases(), root / "in_use", "")
    _put_in_use(in_use)
    for made in (empty, in_use):
        made.app.extensions["qms.engine"].dispose()
        if "qms.search.engine" in made.app.extensions:
            made.app.extensions["qms.search.engine"].close_all()
    return {"empty": empty.data_dir, "in_use": in_use.data_dir}


def _copy_of(template: Path, folder: Path) -> Installation:
    shutil.copytree(template, folder, ignore=shutil.ignore_patterns("search"))
    url = f"sqlite:///{folder / 'qms.sqlite3'}"
    return Installation(make_test_app(url, folder), url, folder)


@pytest.fixture
def source(
    kind: str, scratch: ScratchDatabases, tmp_path: Path, sqlite_templates: dict[str, Path]
) -> Installation:
    """An installation in use."""
    if kind == "sqlite":
        return _copy_of(sqlite_templates["in_use"], tmp_path / "source")
    installation = _installation(kind, scratch, tmp_path / "source", "src")
    _put_in_use(installation)
    return installation


@pytest.fixture
def target(
    kind: str, scratch: ScratchDatabases, tmp_path: Path, sqlite_templates: dict[str, Path]
) -> Installation:
    """A new server: its database migrated, nothing in it, an empty data folder."""
    if kind == "sqlite":
        return _copy_of(sqlite_templates["empty"], tmp_path / "target")
    return _installation(kind, scratch, tmp_path / "target", "dst")


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
