"""Search in a long-running server: gunicorn with two workers on a temporary SQLite
database, documents created and issued through the API with Bearer tokens while searches
go on through both workers. Every answer must be 200 and show an issued document within
2 seconds of the commit (a worker used to answer 500 from facet counting after the first
issue, until it was restarted)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "Search-long-running-Qm7!x"
GUNICORN = Path(sys.executable).with_name("gunicorn")
FRESH_WITHIN = 2.0  # seconds from the commit of an issue to a search that finds it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(data_dir: Path, database_url: str) -> dict[str, str]:
    """What `qms init` does (schema, departments, demo users), and a token per user."""
    from qms import create_app
    from qms.auth import service as auth
    from qms.db import get_session
    from qms.demo import create_demo_data
    from qms.migrate import upgrade

    os.environ["QMS_DEMO_PASSWORD"] = PASSWORD
    try:
        app = create_app("testing", DATABASE_URL=database_url, DATA_DIR=data_dir)
        tokens = {}
        with app.app_context():
            upgrade(database_url)
            session = get_session()
            create_demo_data(session)
            session.commit()
            for name in ("clerk", "reviewer", "approver", "staff"):
                user = auth.user_by_username(session, name)
                assert user is not None
                tokens[name] = auth.create_token(session, user, user, "long-running test")
            session.commit()
        app.extensions["qms.engine"].dispose()
    finally:
        os.environ.pop("QMS_DEMO_PASSWORD", None)
    return tokens


class Server:
    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.base = base
        self.tokens = tokens

    def call(self, method: str, path: str, user: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            self.base + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.tokens[user]}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def search(self, q: str) -> dict[str, Any]:
        status, body = self.call(
            "GET", "/api/v1/search?" + urllib.parse.urlencode({"q": q}), "staff"
        )
        assert status == 200, (q, status, body)
        return dict(body)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    if not GUNICORN.exists():
        pytest.skip("gunicorn is not installed")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database_url = f"sqlite:///{data_dir / 'qms.sqlite3'}"
    tokens = _setup(data_dir, database_url)
    port = _free_port()
    env = {
        **os.environ,
        "QMS_ENV": "development",
        "QMS_DATA_DIR": str(data_dir),
        "QMS_DATABASE_URL": database_url,
        "QMS_SECRET_KEY": "long-running-test-key",
    }
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "qms:create_app()",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "gunicorn.log").read_text()) from None
                time.sleep(0.2)
        yield Server(base, tokens)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        # Flask logs every unhandled exception (a 500) as "Exception on <path>"
        errors = [
            line
            for line in (tmp_path / "gunicorn.log").read_text().splitlines()
            if "Exception on" in line or "IndexError" in line
        ]
        shutil.rmtree(data_dir, ignore_errors=True)
        assert not errors, errors


def _issue(server: Server, title: str, body: str) -> str:
    status, created = server.call(
        "POST",
        "/api/v1/documents",
        "clerk",
        {
            "title": title,
            "kind": "regulation",
            "department": "KF",
            "body": body,
            "change_summary": "首次发布",
        },
    )
    assert status == 201, created
    number = created["number"]
    sha = created["content_sha256"]
    path = f"/api/v1/documents/{number}/transitions"
    for user, action in [
        ("clerk", {"action": "submit", "reviewers": ["reviewer"], "approver": "approver"}),
        ("reviewer", {"action": "review"}),
        ("approver", {"action": "approve"}),
        ("clerk", {"action": "issue"}),
    ]:
        status, answer = server.call(
            "POST", path, user, {**action, "password": PASSWORD, "content_sha256": sha}
        )
        assert status == 200, (action, answer)
    assert answer["status"] == "effective", answer
    return str(number)


def test_searches_stay_200_and_fresh_while_documents_are_issued(server: Server) -> None:
    assert server.search("投诉")["meta"]["total"] == 0
    issued: list[str] = []
    for i in range(8):
        marker = f"longrun{i}x"
        number = _issue(
            server,
            f"业主投诉处理制度{i}",
            f"## 总则\n\n业主投诉应在3个工作日内答复。编号 {marker}。\n",
        )
        issued.append(number)
        committed = time.monotonic()
        while True:  # both workers answer in turn; each answer must be a 200
            found = server.search(marker)
            complaints = server.search("投诉")
            assert complaints["facets"]["kind"] or not complaints["items"]
            if [item["number"] for item in found["items"]] == [number] and complaints["meta"][
                "total"
            ] == len(issued):
                break
            assert time.monotonic() - committed < FRESH_WITHIN, (marker, found, complaints)
            time.sleep(0.05)
        for _ in range(4):  # several more rounds through both workers, all consistent
            answer = server.search("投诉")
            assert answer["meta"]["total"] == len(issued)
            assert sum(row["count"] for row in answer["facets"]["kind"]) == len(issued)
            assert {item["number"] for item in answer["items"]} == set(issued)
