import sqlalchemy as sa
from click.testing import CliRunner

from qms.cli import verify_trail
from qms.trail.models import TrailEntry


def test_verify_trail_names_an_altered_entry(app, users):
    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(verify_trail, [])
        assert result.exit_code == 0, result.output
        assert "intact" in result.output
        from qms.db import get_session

        s = get_session()
        s.execute(sa.update(TrailEntry).where(TrailEntry.seq == 3).values(actor_name="mallory"))
        s.commit()
        result = runner.invoke(verify_trail, [])
    assert result.exit_code == 1
    assert "entry 3" in result.output


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
