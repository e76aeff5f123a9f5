"""Benchmark: throughput under load, gunicorn with 2 workers (issue 13, part 7).

Targets on 2 cores, against /healthz measured in the same run: a document page and the
register page ≥ 0.25 of its requests per second, the list API and the document API ≥ 0.5,
the search API ≥ 0.3, and no errors.

It creates a database (SQLite in a temporary folder, or a scratch PostgreSQL database
qms_bench_<pid> dropped at the end), fills it with `qms init --documents documents` (the
company's documents and the demo users), starts gunicorn with 2 sync workers on it, signs
in as staff for the pages (session cookie) and takes an API token for the JSON endpoints,
then drives each endpoint in turn with wrk (-t2 -c8) for a fixed time. For each it
prints requests per second, p50/p95/p99 latency, the ratio to /healthz and the errors
(answers other than 2xx, and socket errors); and the workers' CPU time per request (from
/proc) with its ratio to /healthz's, which other load on the machine does not skew.

--mixed runs a mixed workload instead, for --seconds: reader threads on all the pages
and APIs while writer threads create drafts, edit them, and take them through review,
approval and issue through the API; it reports the 5xx answers (there must be none).

    .venv/bin/python bench/load.py [--seconds 20] [--json] [--database sqlite|postgresql]
                                   [--mixed]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_SERVER = os.environ.get("QMS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PASSWORD = "Bench-load-" + secrets.token_urlsafe(12)
SEARCH_QUERY = "投诉"

# endpoint → minimum ratio of its requests per second to those of /healthz
TARGETS = {
    "healthz": None,
    "document_page": 0.25,
    "register_page": 0.25,
    "list_api": 0.5,
    "document_api": 0.5,
    "search_api": 0.3,
}

# Counts every answer that is not 2xx, and the 5xx among them, across wrk's threads, and
# prints the summary as one JSON line for the caller to read.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0; s5xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if status >= 500 then s5xx = s5xx + 1 end
end
function done(summary, latency, requests)
  local bad, fivexx = 0, 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx"); fivexx = fivexx + t:get("s5xx") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non2xx": %d, "s5xx": %d, ' ..
    '"socket_errors": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, bad, fivexx,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Client:
    """Cookies, CSRF tokens and JSON over http.client, one connection per request."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {}
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, text

    def json(self, method: str, path: str, data: object | None = None) -> tuple[int, object]:
        body = json.dumps(data).encode() if data is not None else None
        status, text = self.request(method, path, body, "application/json" if body else None)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def sign_in(self, username: str, password: str) -> None:
        _status, page = self.request("GET", "/login")
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page
        )
        if not match:
            raise RuntimeError("no CSRF token on the sign-in page")
        body = urlencode(
            {"csrf_token": match.group(1), "username": username, "password": password}
        ).encode()
        status, _page = self.request("POST", "/login", body, "application/x-www-form-urlencoded")
        if status != 302:
            raise RuntimeError(f"sign-in as {username} answered {status}")


# -- the database and the server --------------------------------------------------------


@contextmanager
def database(kind: str, tmp: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/qms.sqlite3"
        return
    import psycopg

    name = f"qms_bench_{os.getpid()}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def qms(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "qms"), *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"qms {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def procedure_with_most_links(url: str) -> str:
    import sqlalchemy as sa

    from qms.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            number = conn.execute(
                sa.text(
                    "SELECT d.number FROM document d JOIN document_link l"
                    " ON l.revision_id = d.current_revision_id WHERE d.kind = 'process'"
                    " GROUP BY d.number ORDER BY count(*) DESC, d.number LIMIT 1"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return str(number)


@contextmanager
def gunicorn(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            "--log-level",
            "warning",
            "qms:create_app()",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        for _ in range(300):
            try:
                if Client(port).request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not answer /healthz")
        yield server
    finally:
        server.terminate()
        server.wait(timeout=60)


# -- fixed-endpoint runs with wrk --------------------------------------------------------


def run_wrk(port: int, path: str, headers: dict[str, str], seconds: int, script: Path) -> dict:
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "30s", "-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    return {
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "requests": raw["requests"],
        "errors": raw["non2xx"] + raw["socket_errors"],
        "p50": round(raw["p50_us"] / 1000, 1),
        "p95": round(raw["p95_us"] / 1000, 1),
        "p99": round(raw["p99_us"] / 1000, 1),
    }


def endpoints(number: str, cookie: str, token: str) -> dict[str, tuple[str, dict[str, str]]]:
    page = {"Cookie": cookie}
    api = {"Authorization": f"Bearer {token}"}
    return {
        "healthz": ("/healthz", {}),
        "document_page": (f"/documents/{number}", page),
        "register_page": ("/documents/", page),
        "list_api": ("/api/v1/documents", api),
        "document_api": (f"/api/v1/documents/{number}", api),
        "search_api": (f"/api/v1/search?q={quote(SEARCH_QUERY)}", api),
    }


def check_answers(port: int, number: str, cookie: str, token: str) -> None:
    """Each endpoint answers what a reader expects before it is timed (not a sign-in page)."""
    for name, (path, headers) in endpoints(number, cookie, token).items():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"{name}: {path} answered {response.status}")
        if name in ("document_page", "document_api") and number not in text:
            raise RuntimeError(f"{name}: {number} not on {path}")


def worker_cpu_seconds(master: int) -> float:
    """User and system CPU time of gunicorn's workers so far."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    ticks = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def fixed_runs(port: int, number: str, seconds: int, tmp: str, master: int) -> dict[str, dict]:
    staff = Client(port)
    staff.sign_in("staff", PASSWORD)
    cookie = staff.cookie_header()
    token = TOKENS["staff"]
    check_answers(port, number, cookie, token)
    script = Path(tmp) / "count.lua"
    script.write_text(WRK_SCRIPT)
    results: dict[str, dict] = {}
    for name, (path, headers) in endpoints(number, cookie, token).items():
        run_wrk(port, path, headers, 2, script)  # warm the workers' caches
        cpu = worker_cpu_seconds(master)
        results[name] = {"path": path, **run_wrk(port, path, headers, seconds, script)}
        cpu = worker_cpu_seconds(master) - cpu
        results[name]["cpu_ms"] = round(cpu * 1000 / max(results[name]["requests"], 1), 2)
    base = results["healthz"]["rps"]
    for name, row in results.items():
        row["ratio"] = round(row["rps"] / base, 3) if base else 0.0
        # what the ratio would be with the workers alone on the machine: their CPU time per
        # request against /healthz's (other engineers' load skews the req/s ratio)
        row["cpu_ratio"] = (
            round(results["healthz"]["cpu_ms"] / row["cpu_ms"], 3) if row["cpu_ms"] else 0.0
        )
        target = TARGETS[name]
        row["target"] = target
        row["ok"] = row["errors"] == 0 and (target is None or row["ratio"] >= target)
    return results


# -- the mixed workload -------------------------------------------------------------------

TOKENS: dict[str, str] = {}


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_status: Counter[str] = Counter()
        self.five_xx: list[str] = []
        self.unexpected: list[str] = []
        self.cycles = 0

    def note(self, what: str, status: int, expected: tuple[int, ...] = (200,)) -> None:
        with self.lock:
            self.by_status[f"{status // 100}xx"] += 1
            if status >= 500:
                self.five_xx.append(f"{what}: {status}")
            elif status not in expected:
                self.unexpected.append(f"{what}: {status}")


def reader(port: int, number: str, stop: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    page = Client(port)
    page.sign_in("staff", PASSWORD)
    api = Client(port, TOKENS["staff"])
    while time.monotonic() < stop:
        choice = rng.randrange(6)
        try:
            if choice == 0:
                status, _ = page.request("GET", f"/documents/{number}")
            elif choice == 1:
                status, _ = page.request("GET", f"/documents/?page={rng.randint(1, 2)}")
            elif choice == 2:
                status, _ = api.request("GET", "/api/v1/documents?per_page=20")
            elif choice == 3:
                status, _ = api.request("GET", f"/api/v1/documents/{number}")
            elif choice == 4:
                status, _ = api.request("GET", f"/api/v1/search?q={quote(SEARCH_QUERY)}")
            else:
                status, _ = page.request("GET", "/healthz")
        except OSError as err:
            tally.note(f"read {choice}: {err}", 599)
            continue
        tally.note(f"read {choice}", status)


def writer(port: int, stop: float, tally: Tally, seed: int) -> None:
    """Draft, edit, submit, review, approve and issue new documents through the API."""
    rng = random.Random(seed)
    as_user = {u: Client(port, TOKENS[u]) for u in ("clerk", "reviewer", "approver")}

    def call(who: str, method: str, path: str, data: object | None, what: str, ok=(200,)):
        status, body = as_user[who].json(method, path, data)
        tally.note(what, status, ok)
        return status, body

    def seen(who: str, number: str, label: str) -> str:
        status, body = call(who, "GET", f"/api/v1/documents/{number}?revision={label}", None, "get")
        return body["content_sha256"] if status == 200 and isinstance(body, dict) else ""

    while time.monotonic() < stop:
        try:
            status, body = call(
                "clerk",
                "POST",
                "/api/v1/documents",
                {
                    "title": f"业主投诉回访记录制度{rng.randint(1, 10**6)}",
                    "kind": "regulation",
                    "department": "KF",
                    "body": "## 总则\n\n投诉应在3个工作日内答复。\n",
                    "change_summary": "首次发布",
                },
                "create draft",
                (201,),
            )
            if status != 201 or not isinstance(body, dict):
                continue
            number, label = body["number"], body["revision"]
            call(
                "clerk",
                "PATCH",
                f"/api/v1/documents/{number}/draft",
                {
                    "body": "## 总则\n\n投诉应在2个工作日内答复，并回访。\n",
                    "base_hash": body["content_sha256"],
                },
                "edit draft",
            )
            path = f"/api/v1/documents/{number}/transitions"
            steps = [
                ("clerk", {"action": "submit", "reviewers": ["reviewer"], "approver": "approver"}),
                ("reviewer", {"action": "review"}),
                ("approver", {"action": "approve"}),
                ("clerk", {"action": "issue"}),
            ]
            for who, step in steps:
                if time.monotonic() >= stop:
                    break
                data = {**step, "password": PASSWORD, "content_sha256": seen(who, number, label)}
                status, _ = call(who, "POST", path, data, step["action"])
                if status != 200:
                    break
            else:
                with tally.lock:
                    tally.cycles += 1
        except OSError as err:
            tally.note(f"write: {err}", 599)


def mixed_run(port: int, number: str, seconds: int) -> dict:
    tally = Tally()
    stop = time.monotonic() + seconds
    threads = [
        threading.Thread(target=reader, args=(port, number, stop, tally, i)) for i in range(6)
    ] + [threading.Thread(target=writer, args=(port, stop, tally, 100 + i)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(tally.by_status.values())
    return {
        "seconds": seconds,
        "requests": total,
        "rps": round(total / seconds, 1),
        "by_status": dict(sorted(tally.by_status.items())),
        "5xx": len(tally.five_xx),
        "5xx_examples": tally.five_xx[:10],
        "unexpected": len(tally.unexpected),
        "unexpected_examples": tally.unexpected[:10],
        "documents_issued": tally.cycles,
        "ok": not tally.five_xx,
    }


# -- main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--mixed", action="store_true")
    args = parser.parse_args()
    # stopped from outside (SIGTERM), it still stops gunicorn and drops its scratch database
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with (
        tempfile.TemporaryDirectory(prefix="qms-bench-load-") as tmp,
        database(args.database, tmp) as url,
    ):
        env = {
            **os.environ,
            "QMS_DATA_DIR": tmp,
            "QMS_ENV": "development",
            "QMS_DATABASE_URL": url,
            "QMS_SECRET_KEY": secrets.token_hex(32),
            "QMS_DEMO_PASSWORD": PASSWORD,
        }
        qms(env, "init", "--documents", "documents")
        for username in ("staff", "clerk", "reviewer", "approver"):
            TOKENS[username] = qms(env, "user", "token", username, "--name", "bench").strip()
        number = procedure_with_most_links(url)
        port = free_port()
        with gunicorn(env, port) as server:
            if args.mixed:
                results = {"mixed": mixed_run(port, number, args.seconds)}
            else:
                results = fixed_runs(port, number, args.seconds, tmp, server.pid)

    ok = all(r["ok"] for r in results.values())
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return 0 if ok else 1
    print(
        f"gunicorn, 2 sync workers, {args.database}; {os.cpu_count()} cores; "
        + (
            f"mixed workload for {args.seconds} s (6 readers, 2 writers)"
            if args.mixed
            else f"wrk -t2 -c8, {args.seconds} s per endpoint; document {number}"
        )
    )
    if args.mixed:
        m = results["mixed"]
        print(
            f"{m['requests']} requests ({m['rps']}/s), by status {m['by_status']}, "
            f"{m['documents_issued']} documents issued"
        )
        print(f"5xx: {m['5xx']} {m['5xx_examples']}")
        print(f"other unexpected answers: {m['unexpected']} {m['unexpected_examples']}")
    else:
        print(
            f"{'endpoint':<15}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
            f"{'×healthz':>10}{'target':>8}{'errors':>8}{'cpu ms':>8}{'cpu ×':>7}  ok"
        )
        for name, r in results.items():
            target = f"{r['target']:.2f}" if r["target"] else ""
            print(
                f"{name:<15}{r['rps']:>8}{r['p50']:>8}{r['p95']:>8}{r['p99']:>8}"
                f"{r['ratio']:>10.3f}{target:>8}{r['errors']:>8}{r['cpu_ms']:>8}"
                f"{r['cpu_ratio']:>7.3f}  {'yes' if r['ok'] else 'NO'}"
            )
        print(
            "cpu ms: the workers' CPU time per request; cpu ×: /healthz's against it "
            "(the ratio with the workers alone on the CPU, database server not counted)"
        )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
