import sqlalchemy as sa
from click.testing import CliRunner

from qms.auth.signatures import MEANING_LABELS, signatures_for
from qms.cli import trail_checkpoint, verify_trail
from qms.db import get_engine, get_session
from qms.documents.models import content_hash
from qms.trail.checkpoints import checkpoint_path
from qms.trail.models import GENESIS_HASH, TrailEntry, TrailHead

EN = {"LANG": "en_US.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}
ZH = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}


def _raw(statement, **params):
    """What someone with database access does: SQL straight through the engine."""
    from qms.db import get_engine

    with get_engine().begin() as conn:
        conn.execute(sa.text(statement), params)


def test_verify_trail_names_an_altered_entry(app, users):
    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(verify_trail, [], env=EN)
        assert result.exit_code == 0, result.output
        assert "intact" in result.output
        _raw("UPDATE trail_entry SET actor_name = 'mallory' WHERE seq = 3")
        result = runner.invoke(verify_trail, [], env=EN)
        assert result.exit_code == 1
        assert "Entry 3 (written at " in result.output
        assert "NOT intact: 1 problems in the trail" in result.output
        result = runner.invoke(verify_trail, [], env=ZH)
    assert result.exit_code == 1
    assert "第 3 条记录" in result.output


def test_verify_trail_finds_the_tail_deleted_with_the_head(app, users):
    runner = CliRunner()
    with app.app_context():
        assert runner.invoke(verify_trail, [], env=EN).exit_code == 0
        last = get_session().scalar(sa.select(sa.func.max(TrailEntry.seq)))
        _raw("DELETE FROM trail_entry WHERE seq > 5")
        _raw("DELETE FROM trail_head")
        result = runner.invoke(verify_trail, [], env=EN)
    assert result.exit_code == 1
    assert "The trail's head row is missing" in result.output
    assert "The trail ends at entry 5, but the checkpoint written at " in result.output
    assert f"recorded entry {last}: entries 6 to {last} were removed" in result.output


def test_verify_trail_finds_a_chain_re_hashed_without_the_key(app, users):
    """The attacker recomputes every hash with the published, unkeyed algorithm."""
    runner = CliRunner()
    with app.app_context():
        assert runner.invoke(verify_trail, [], env=EN).exit_code == 0
        table = TrailEntry.__table__
        with get_engine().begin() as conn:
            conn.execute(sa.update(table).where(table.c.seq == 2).values(reason="forged"))
            prev = GENESIS_HASH
            for row in conn.execute(sa.select(table).order_by(table.c.seq)).mappings().all():
                entry = TrailEntry(**{**row, "prev_hash": prev})
                prev = entry.compute_hash()
                conn.execute(
                    sa.update(table)
                    .where(table.c.seq == row["seq"])
                    .values(prev_hash=entry.prev_hash, entry_hash=prev)
                )
            conn.execute(sa.update(TrailHead.__table__).values(last_hash=prev))
        result = runner.invoke(verify_trail, [], env=EN)
    assert result.exit_code == 1
    assert "Entry 1 (written at " in result.output
    assert "re-hashed without the trail key: its HMAC does not verify" in result.output


def test_verify_trail_finds_an_edited_checkpoint_file(app, users):
    runner = CliRunner()
    with app.app_context():
        assert runner.invoke(verify_trail, [], env=EN).exit_code == 0
        path = checkpoint_path(app.config["DATA_DIR"])
        lines = path.read_text().splitlines()
        fields = lines[0].split("\t")
        fields[1] = str(int(fields[1]) + 100)
        path.write_text("\n".join(["\t".join(fields), *lines[1:]]) + "\n")
        result = runner.invoke(verify_trail, [], env=EN)
    assert result.exit_code == 1
    assert f"Line 1 of {path} fails its HMAC" in result.output


def test_clean_verify_writes_a_checkpoint_and_checkpoint_does_not_repeat_itself(app, users):
    runner = CliRunner()
    with app.app_context():
        path = checkpoint_path(app.config["DATA_DIR"])
        before = len(path.read_text().splitlines())
        result = runner.invoke(verify_trail, [], env=EN)
        assert result.exit_code == 0, result.output
        head = get_session().get(TrailHead, 1)
        assert f"checkpoint of entry {head.last_seq} written to {path}" in result.output
        lines = path.read_text().splitlines()
        assert lines[-1].split("\t")[1:3] == [str(head.last_seq), head.last_hash]
        # Nothing happened since: neither command adds a line.
        assert runner.invoke(verify_trail, [], env=EN).exit_code == 0
        result = runner.invoke(trail_checkpoint, [], env=EN)
        assert result.exit_code == 0
        assert f"Checkpoint of entry {head.last_seq} written" in result.output
    assert len(path.read_text().splitlines()) <= before + 1


def _effective_document(app):
    from tests.factories import make_document

    session = get_session()
    document = make_document(session, state="effective")
    session.commit()
    return document


def test_verify_trail_finds_a_signature_whose_content_changed_in_the_database(app, users):
    runner = CliRunner()
    with app.app_context():
        document = _effective_document(app)
        revision = document.current_revision
        assert runner.invoke(verify_trail, [], env=EN).exit_code == 0
        _raw("UPDATE revision SET body = 'forged' WHERE id = :id", id=revision.id)
        result = runner.invoke(verify_trail, [], env=EN)
        signatures = signatures_for(get_session(), "revision", [revision.id])
    assert result.exit_code == 1
    assert signatures
    for s in signatures:
        at = s.signed_at.strftime("%Y-%m-%d %H:%M:%S")
        assert (
            f"Signature of {s.printed_name} ({MEANING_LABELS[s.meaning]}, signed at {at} UTC) "
            f"on {document.number} revision {revision.label} is invalid: the content "
            "changed after signing" in result.output
        )
    assert f"{len(signatures)} invalid signatures" in result.output


def test_verify_trail_finds_a_signature_re_sealed_to_match_changed_content(app, users):
    """Someone changes the text, its stored hash, the signature's hash and recomputes the
    signature's (unkeyed) seal: the page cannot tell, the keyed trail can."""
    runner = CliRunner()
    with app.app_context():
        document = _effective_document(app)
        revision = document.current_revision
        session = get_session()
        forged = content_hash(document.number, revision.label, revision.title, "forged", "")
        signature = next(
            s for s in signatures_for(session, "revision", [revision.id]) if s.meaning == "approved"
        )
        signature.content_sha256 = forged
        seal = signature.compute_seal()
        number, label, signature_id = document.number, revision.label, signature.id
        session.rollback()
        _raw(
            "UPDATE revision SET body = 'forged', change_summary = '', content_sha256 = :h "
            "WHERE id = :id",
            h=forged,
            id=revision.id,
        )
        _raw(
            "UPDATE signature SET content_sha256 = :h, seal = :seal WHERE id = :id",
            h=forged,
            seal=seal,
            id=signature_id,
        )
        result = runner.invoke(verify_trail, [], env=EN)
    assert result.exit_code == 1
    assert (
        f"on {number} revision {label} has no matching entry in the audit "
        "trail" in result.output
    )


def test_trail_new_key_writes_a_private_key_file_once(tmp_path):
    from qms.cli import main

    runner = CliRunner()
    env = {"QMS_DATA_DIR": str(tmp_path)}
    result = runner.invoke(main, ["trail", "new-key"], env=env)
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "trail.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(key_file.read_text().strip()) == 64
    again = runner.invoke(main, ["trail", "new-key"], env=env)
    assert again.exit_code == 2
    assert "exists already" in again.output
    printed = runner.invoke(main, ["trail", "new-key", "--print"], env=env)
    assert len(printed.output.strip()) == 64


def test_qms_serve_answers_on_its_port(database_url, tmp_path):
    """`make run` ends in `qms serve`: it must really serve, not return at once."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, QMS_DATABASE_URL=database_url, QMS_DATA_DIR=str(tmp_path))
    qms = Path(sys.executable).parent / "qms"
    proc = subprocess.Popen([str(qms), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        body = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = r.read()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
        assert body is not None, proc.stdout.read().decode() if proc.poll() is not None else ""
        assert b'"status":"ok"' in body.replace(b" ", b"")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
