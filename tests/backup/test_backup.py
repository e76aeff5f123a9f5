"""`qms backup` while documents are being written, `qms restore` onto a new server, and
every way a backup or a restore must refuse: what the administrator reads, and that
nothing is left half-written or changed."""

from __future__ import annotations

import errno
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from qms.backup import database
from qms.backup import service as backup_service
from qms.backup.cli import backup, restore
from qms.db import get_session, new_session
from qms.documents.integrity import current_content_hashes
from qms.documents.models import Document, Revision
from qms.trail.models import TrailEntry
from qms.word.models import Attachment
from tests.backup.conftest import EN, IMAGE, ZH, Installation
from tests.factories import make_document

SQLITE_ONLY = pytest.mark.parametrize("kind", ["sqlite"])


def run_backup(installation: Installation, dest: Path, env: dict[str, str] = EN) -> Result:
    with installation.app.app_context():
        return CliRunner().invoke(backup, [str(dest)], env=env)


def run_restore(
    installation: Installation, src: Path, *args: str, env: dict[str, str] = EN
) -> Result:
    with installation.app.app_context():
        return CliRunner().invoke(restore, [str(src), *args], env=env)


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


class DocumentWriter(threading.Thread):
    """Staff at work: documents drafted, and some signed through to effective, one
    transaction each, for as long as the backup runs."""

    def __init__(self, installation: Installation) -> None:
        super().__init__(daemon=True)
        self.app = installation.app
        self.stop = threading.Event()
        self.made = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.app.app_context():
                while not self.stop.is_set():
                    session = new_session()
                    try:
                        state = "effective" if self.made % 3 == 0 else "draft"
                        make_document(session, state=state, title=f"并发起草的文件 {self.made}")
                        session.commit()
                    finally:
                        session.close()
                    self.made += 1
        except BaseException as err:
            self.error = err

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while self.made < count and self.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.error is None, self.error
        assert self.made >= count, "the writer stalled"


def documents_in(installation: Installation) -> int:
    with installation.app.app_context():
        return int(get_session().scalar(sa.select(sa.func.count()).select_from(Document)) or 0)


def test_round_trip_while_documents_are_written(source, target, tmp_path, monkeypatch):
    writer = DocumentWriter(source)
    snapshot_function = f"snapshot_{database.kind_of(source.url)}"
    real_snapshot = getattr(database, snapshot_function)

    def snapshot_amid_writes(*args: Any) -> Any:
        # Documents commit after the checkpoints were copied and before the snapshot,
        # during it, and after it while the attachments are copied.
        writer.wait_for(writer.made + 2)
        facts = real_snapshot(*args)
        writer.wait_for(writer.made + 2)
        return facts

    monkeypatch.setattr(database, snapshot_function, snapshot_amid_writes)
    before = documents_in(source)
    writer.start()
    try:
        writer.wait_for(1)
        made = run_backup(source, tmp_path / "backups" / "2026-11-29")
        writer.wait_for(writer.made + 2)
    finally:
        writer.stop.set()
        writer.join(60)
    assert writer.error is None, writer.error
    assert made.exit_code == 0, made.output
    after = documents_in(source)
    dest = tmp_path / "backups" / "2026-11-29"
    manifest = manifest_of(dest)
    in_backup = manifest["counts"]["documents"]
    assert before < in_backup < after  # writes went on before and after the snapshot
    assert f"Backup written to {dest}" in made.output
    assert f"with {in_backup} documents" in made.output
    assert "The search index is not in the backup" in made.output
    assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == ["2026-11-29"]
    names = set(manifest["files"])
    assert {"data/trail.key", "data/trail-checkpoints.log", "data/secret_key"} <= names
    assert f"data/attachments/{_sha(IMAGE)}" in names
    assert not any(name.startswith("data/search") for name in names)
    assert manifest["database"]["alembic_revision"] == backup_service._schema_head(source.url)
    assert manifest["database"]["kind"] == database.kind_of(source.url)

    restored = run_restore(target, dest)
    assert restored.exit_code == 0, restored.output
    head = manifest["trail_head"]
    assert f"Documents: {in_backup}, as in the backup." in restored.output
    assert (
        f"Audit trail: {head['seq']} entries; the last, entry {head['seq']} with hash "
        f"{head['hash'][:16]}…, is the one the backup's manifest names." in restored.output
    )
    signatures = manifest["counts"]["signatures"]
    assert f"{signatures} signatures verified, each matches what it signed" in restored.output
    assert "Search index rebuilt (" in restored.output
    assert "Restore complete: everything above was verified." in restored.output
    _assert_complete(target, in_backup)
    assert (target.data_dir / "attachments" / _sha(IMAGE)).read_bytes() == IMAGE
    assert (target.data_dir / "trail.key").read_bytes() == (
        source.data_dir / "trail.key"
    ).read_bytes()
    assert (target.data_dir / "trail.key").stat().st_mode & 0o777 == 0o600
    assert (target.data_dir / "secret_key").read_text() == "development-secret-key-of-this-server"
    with target.app.app_context():  # the rebuilt index answers the way the server asks it
        from qms.auth.models import User
        from qms.search import service as search

        session = get_session()
        clerk = session.scalar(sa.select(User).where(User.username == "clerk1"))
        found = search.search(session, clerk, "投诉处理")
        assert "服务投诉处理制度" in [hit.title for hit in found.hits]


def _assert_complete(installation: Installation, documents: int) -> None:
    """Every document the snapshot holds is whole: its revisions, their content as hashed,
    its entry in the trail; nothing written after the snapshot is there."""
    with installation.app.app_context():
        session = get_session()
        rows = session.scalars(sa.select(Document)).all()
        assert len(rows) == documents
        created = set(
            session.scalars(
                sa.select(TrailEntry.object_id).where(
                    TrailEntry.action == "create", TrailEntry.object_type == "document"
                )
            )
        )
        revisions = session.execute(sa.select(Revision.id, Revision.content_sha256)).all()
        hashes = current_content_hashes(session, [r.id for r in revisions])
        assert all(hashes[r.id] == r.content_sha256 for r in revisions)
        for document in rows:
            assert document.number in created
            assert document.working_revision_id or document.current_revision_id
        attachment = session.scalar(sa.select(Attachment))
        assert attachment is not None
        assert (installation.data_dir / "attachments" / attachment.sha256).is_file()


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# -- backup: bad destinations -------------------------------------------------------------


@SQLITE_ONLY
def test_a_destination_under_a_file_fails_and_leaves_nothing(source, tmp_path):
    blocker = tmp_path / "backups"
    blocker.write_text("not a folder")
    result = run_backup(source, blocker / "2026-11-29")
    assert result.exit_code == 1
    assert "The backup was not made: part of the path is a file, not a folder" in result.output
    assert "Nothing was left behind" in result.output
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backups", "source"]


@SQLITE_ONLY
@pytest.mark.parametrize(("env", "said"), [(EN, "the disk is full"), (ZH, "磁盘已满")])
def test_a_full_disk_fails_loudly_and_leaves_nothing(source, tmp_path, monkeypatch, env, said):
    copied: list[Path] = []

    def disk_full(source_file: Path, target_file: Path) -> Any:
        copied.append(target_file)
        raise OSError(errno.ENOSPC, "No space left on device", str(target_file))

    monkeypatch.setattr(backup_service, "copy_file", disk_full)
    folder = tmp_path / "backups"
    folder.mkdir()
    result = run_backup(source, folder / "nightly", env=env)
    assert result.exit_code == 1
    assert said in result.output
    assert copied  # it failed while writing, after the database copy was made
    assert list(folder.iterdir()) == []  # neither the backup nor its incomplete sibling


@SQLITE_ONLY
def test_an_existing_backup_is_never_overwritten(source, tmp_path):
    dest = tmp_path / "backups" / "monday"
    assert run_backup(source, dest).exit_code == 0
    before = manifest_of(dest)
    result = run_backup(source, dest)
    assert result.exit_code == 2
    assert f"{dest} is not empty: a backup goes into a new or empty folder" in result.output
    assert manifest_of(dest) == before
    empty = tmp_path / "backups" / "tuesday"
    empty.mkdir()
    assert run_backup(source, empty).exit_code == 0
    assert (empty / "manifest.json").is_file()


# -- restore: bad backups and targets -----------------------------------------------------


@pytest.fixture
def made(source: Installation, tmp_path: Path) -> Path:
    dest = tmp_path / "backups" / "made"
    result = run_backup(source, dest)
    assert result.exit_code == 0, result.output
    return dest


def _state_of(installation: Installation) -> tuple[Any, ...]:
    """What a restore could change: the records, the keys, the checkpoints, the files."""
    with installation.app.app_context():
        session = get_session()
        numbers = tuple(session.scalars(sa.select(Document.number).order_by(Document.id)))
        entries = session.scalar(sa.select(sa.func.count()).select_from(TrailEntry))
    files = tuple(
        sorted(
            (str(p.relative_to(installation.data_dir)), p.read_bytes())
            for p in installation.data_dir.rglob("*")
            if p.is_file() and "search" not in p.parts and not p.name.startswith("qms.sqlite3")
        )
    )
    return numbers, entries, files


@pytest.fixture
def busy_target(target: Installation) -> Installation:
    """A server already in use: its own documents, trail and key."""
    with target.app.app_context():
        from tests.factories import seed_departments

        session = get_session()
        seed_departments(session)
        make_document(session, state="draft", title="另一台服务器上的文件")
        session.commit()
    return target


@SQLITE_ONLY
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_changed_file_refuses_the_restore_and_changes_nothing(made, busy_target, force):
    image = made / "data" / "attachments" / _sha(IMAGE)
    image.write_bytes(IMAGE[:-1] + b"\x00")  # same size, other content
    before = _state_of(busy_target)
    result = run_restore(busy_target, made, *force)
    assert result.exit_code == 2
    assert (
        f"The backup was altered or damaged: data/attachments/{_sha(IMAGE)} does not match "
        "its SHA-256 in the manifest" in result.output
    )
    assert "Nothing was restored." in result.output
    assert _state_of(busy_target) == before
    zh = run_restore(busy_target, made, *force, env=ZH)
    assert f"备份已被改动或损坏：data/attachments/{_sha(IMAGE)}" in zh.output
    assert "未恢复任何内容" in zh.output


@SQLITE_ONLY
def test_a_changed_manifest_refuses_the_restore_and_changes_nothing(made, busy_target):
    manifest = manifest_of(made)
    manifest["files"]["data/trail-checkpoints.log"]["size"] += 1
    (made / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = _state_of(busy_target)
    result = run_restore(busy_target, made, "--force")
    assert result.exit_code == 2
    assert "data/trail-checkpoints.log holds " in result.output
    assert "bytes, the manifest says" in result.output
    assert _state_of(busy_target) == before


@SQLITE_ONLY
def test_a_manifest_whose_head_differs_from_the_database_is_refused(made, busy_target):
    manifest = manifest_of(made)
    manifest["trail_head"]["seq"] -= 1
    (made / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = _state_of(busy_target)
    result = run_restore(busy_target, made, "--force")
    assert result.exit_code == 2
    assert "database.sqlite3 does not hold what the manifest says" in result.output
    assert _state_of(busy_target) == before


@SQLITE_ONLY
def test_a_manifest_naming_a_file_outside_the_backup_is_refused(made, busy_target):
    manifest = manifest_of(made)
    manifest["files"]["../outside"] = manifest["files"]["data/secret_key"]
    (made / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = _state_of(busy_target)
    result = run_restore(busy_target, made, "--force")
    assert result.exit_code == 2
    assert "The backup's manifest.json is damaged (bad file name '../outside')" in result.output
    assert _state_of(busy_target) == before


@SQLITE_ONLY
def test_a_folder_without_a_manifest_is_not_a_backup(target, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    result = run_restore(target, folder)
    assert result.exit_code == 2
    assert f"{folder} holds no manifest.json: it is not a backup made by qms backup" in (
        result.output
    )


@SQLITE_ONLY
def test_a_backup_from_a_newer_version_is_refused(made, busy_target):
    import sqlite3

    copy = made / "database.sqlite3"
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    conn.close()
    manifest = manifest_of(made)
    manifest["database"]["alembic_revision"] = "0099_from_the_future"
    found = backup_service.hash_file(copy)
    manifest["files"]["database.sqlite3"] = {"size": found.size, "sha256": found.sha256}
    (made / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = _state_of(busy_target)
    result = run_restore(busy_target, made, "--force")
    assert result.exit_code == 2
    assert "has schema 0099_from_the_future, which this version of QMS" in result.output
    assert "it was made by a newer version" in result.output
    assert _state_of(busy_target) == before


@SQLITE_ONLY
def test_a_target_in_use_is_replaced_only_with_force(made, busy_target, source):
    before = _state_of(busy_target)
    result = run_restore(busy_target, made)
    assert result.exit_code == 2
    assert "The target already holds records: 1 documents;" in result.output
    assert "run the command again with --force" in result.output
    assert _state_of(busy_target) == before
    zh = run_restore(busy_target, made, env=ZH)
    assert "目标已有记录" in zh.output
    assert "--force" in zh.output
    assert _state_of(busy_target) == before

    forced = run_restore(busy_target, made, "--force", env=ZH)
    assert forced.exit_code == 0, forced.output
    assert "恢复完成" in forced.output
    assert _state_of(busy_target)[0] == _state_of(source)[0]


@SQLITE_ONLY
def test_a_restore_that_does_not_verify_says_so(made, target):
    """The trail key the backup holds is not the key its trail was written with."""
    key = made / "data" / "trail.key"
    key.write_text("f" * 64 + "\n")
    manifest = manifest_of(made)
    found = backup_service.hash_file(key)
    manifest["files"]["data/trail.key"] = {"size": found.size, "sha256": found.sha256}
    (made / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = run_restore(target, made)
    assert result.exit_code == 1
    assert "Audit trail NOT intact" in result.output
    assert "do not put the system back into use until they are resolved" in result.output


@SQLITE_ONLY
def test_a_backup_of_an_older_schema_is_upgraded_on_restore(target, tmp_path):
    from qms.migrate import upgrade
    from tests.conftest import make_test_app

    old = tmp_path / "old"
    old.mkdir()
    url = f"sqlite:///{old / 'qms.sqlite3'}"
    upgrade(url, "0006_meeting_held")
    installation = Installation(make_test_app(url, old), url, old)
    made = run_backup(installation, tmp_path / "backups" / "old")
    assert made.exit_code == 0, made.output
    assert "(schema 0006_meeting_held)" in made.output
    result = run_restore(target, tmp_path / "backups" / "old")
    assert result.exit_code == 0, result.output
    head = backup_service._schema_head(target.url)
    assert f"Database upgraded from schema 0006_meeting_held to {head}." in result.output


@SQLITE_ONLY
def test_a_new_production_server_needs_no_key_before_the_restore(made, tmp_path):
    """Production refuses to start without the trail key; `qms restore` takes it from the
    backup, as `qms` itself is run on the new server."""
    from qms.cli import main

    server = tmp_path / "new-server"
    env = {
        **EN,
        "QMS_ENV": "production",
        "QMS_SECRET_KEY": "a-production-secret-key-for-this-test",
        "QMS_DATA_DIR": str(server),
        "QMS_DATABASE_URL": f"sqlite:///{server / 'qms.sqlite3'}",
        "QMS_TRAIL_KEY": "",
    }
    refused = CliRunner().invoke(main, ["verify-trail"], env=env)
    assert refused.exit_code != 0  # the server cannot start yet
    result = CliRunner().invoke(main, ["restore", str(made)], env=env)
    assert result.exit_code == 0, result.output
    assert "Restore complete: everything above was verified." in result.output
    verified = CliRunner().invoke(main, ["verify-trail"], env=env)
    assert verified.exit_code == 0, verified.output
    assert "Audit trail intact" in verified.output
