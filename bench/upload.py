"""Benchmark: Word uploads within the request limit, against the real app (issue 11, item 11).

Target: any upload within QMS_MAX_UPLOAD_MB (20) is handled or refused in ≤ 5 s and
≤ 300 MB peak RSS of the worker.

It initialises a temporary SQLite database (`qms init`), starts gunicorn with one sync
worker on it, signs in as the clerk and posts each file to the import form as a browser
does (CSRF token, multipart). Before each post the worker's peak-RSS mark is reset
(`/proc/<pid>/clear_refs`), after it `VmHWM` is read from `/proc/<pid>/status`. The
baseline is a normal small upload measured in the same run; every line shows the ratio
of time and peak RSS to it. The hostile files are those of `tests/word/hostile.py` at full
size: a 200 MB document.xml (compressing like real XML, and as a bomb), parts together
beyond the total, 100,000 parts, XML nested 100,000 deep, billion laughs, a declared
entity, 600,000 paragraphs (beyond the element budget), 40 MB of text, one 12 MB
paragraph, an unsafe part name; and a legitimate 50-page procedure exported by the app.

    .venv/bin/python bench/upload.py [--json] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qms.documents.lifecycle import RevState  # noqa: E402
from qms.word.export_docx import CopyData, SignatureLine, build_copy  # noqa: E402
from tests.word import hostile  # noqa: E402

MB = 1024 * 1024
TIME_TARGET_S = 5.0
RSS_TARGET_MB = 300.0
PASSWORD = "Bench-upload-" + secrets.token_urlsafe(12)


def procedure(sections: int = 40) -> str:
    """About 50 printed pages: per section a heading, prose, a nested list and a table
    (as bench/word.py)."""
    sentence = (
        "客户服务中心接到业主投诉后，应在规定时限内登记、分派并跟踪处理结果，"
        "**确保**每一项投诉*有记录、有回访*。"
    )
    parts = []
    for s in range(1, sections + 1):
        parts.append(f"## {s} 第{s}节 投诉处理要求\n")
        parts.extend(sentence * 3 + "\n" for _ in range(4))
        parts.append(f"### {s}.1 步骤\n")
        for i in range(1, 6):
            parts.append(f"{i}. 第{i}步：{sentence}")
            if i == 2:
                parts.extend(["    - 工程服务部：维修类", "    - 安全管理部：治安类"])
        parts.append("")
        parts.append("| 类别 | 时限 | 责任部门 | 记录 |\n|---|---|---|---|")
        parts.extend(
            f"| 类别{r} | {r + 1} 个工作日 | 客户服务中心 | 业主意见受理表 |" for r in range(6)
        )
        parts.append("")
    return "\n".join(parts)


def fifty_pages() -> bytes:
    data = CopyData(
        number="CX-KF-001",
        title="业主投诉处理程序",
        label="B/0",
        state=RevState.EFFECTIVE,
        kind="程序文件",
        department="客户服务中心",
        effective_date=date(2025, 1, 1),
        change_summary="修订处理时限",
        body=procedure(),
        signatures=[
            SignatureLine("李静", "起草", "2024-12-01 09:00"),
            SignatureLine("孙丽", "批准", "2024-12-03 11:00"),
        ],
    )
    return build_copy(data, None)


# name → (builder, expected outcome: "import" or "refuse")
FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "normal (baseline)": (hostile.normal, "import"),
    "legitimate 50 pages": (fifty_pages, "import"),
    "document.xml 200 MB, XML-like": (lambda: hostile.big_document_xml(200 * MB), "refuse"),
    "document.xml 200 MB, bomb": (lambda: hostile.zip_bomb(200 * MB), "refuse"),
    "3 × 40 MB parts (total)": (lambda: hostile.unpacks_beyond_total(3, 40 * MB), "refuse"),
    "100,000 parts": (lambda: hostile.many_parts(100_000), "refuse"),
    "XML nested 100,000 deep": (lambda: hostile.deeply_nested(100_000), "refuse"),
    "billion laughs": (hostile.billion_laughs, "refuse"),
    "declared entity (&foo;)": (hostile.declared_entity, "refuse"),
    "600,000 paragraphs": (lambda: hostile.element_flood(600_000), "refuse"),
    "40 MB of paragraphs": (lambda: hostile.long_text(40 * MB), "refuse"),
    "one 12 MB paragraph": (lambda: hostile.huge_paragraph(12 * MB), "refuse"),
    "part ../../outside.xml": (hostile.unsafe_name, "refuse"),
}


class Browser:
    """Cookies, CSRF tokens and multipart posts over http.client: no redirects followed,
    so the time measured is that of the import request alone."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if content_type:
            headers["Content-Type"] = content_type
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        conn.close()
        return response.status, text

    def csrf(self, path: str) -> str:
        _status, page = self.request("GET", path)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            r'value="([^"]+)"[^>]*name="csrf_token"', page
        )
        if not match:
            raise RuntimeError(f"no CSRF token on {path}")
        return match.group(1)

    def sign_in(self, username: str, password: str) -> None:
        token = self.csrf("/login")
        body = urlencode({"csrf_token": token, "username": username, "password": password}).encode()
        status, _page = self.request("POST", "/login", body, "application/x-www-form-urlencoded")
        if status != 302:
            raise RuntimeError(f"sign-in as {username} answered {status}")

    def import_docx(self, data: bytes, filename: str) -> tuple[int, str]:
        fields = {
            "csrf_token": self.csrf("/documents/import-docx"),
            "title": "",
            "kind": "procedure",
            "department": "KF",
            "family": "standard",
        }
        boundary = "bench" + secrets.token_hex(8)
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/vnd.openxmlformats-'
            f"officedocument.wordprocessingml.document\r\n\r\n"
        ).encode()
        body += data + f"\r\n--{boundary}--\r\n".encode()
        return self.request(
            "POST", "/documents/import-docx", body, f"multipart/form-data; boundary={boundary}"
        )


def alert(page: str) -> str:
    match = re.search(r'id="import-error">(.*?)</div>', page, re.S)
    text = match.group(1) if match else ""
    return re.sub(r"\s+", " ", text.replace("&amp;", "&").replace("&#34;", '"')).strip()


def worker_pid(master: int) -> int:
    for _ in range(200):
        path = Path(f"/proc/{master}/task/{master}/children")
        children = path.read_text().split() if path.exists() else []
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError("gunicorn started no worker")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unpacked(data: bytes) -> int:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(m.file_size for m in archive.infolist())
    except zipfile.BadZipFile:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", nargs="*", help="run only files whose name contains this")
    args = parser.parse_args()
    names = [
        n
        for n in FILES
        if n == "normal (baseline)" or not args.only or any(o in n for o in args.only)
    ]

    with tempfile.TemporaryDirectory(prefix="qms-bench-upload-") as tmp:
        env = {
            **os.environ,
            "QMS_DATA_DIR": tmp,
            "QMS_ENV": "development",
            "QMS_DATABASE_URL": f"sqlite:///{tmp}/qms.sqlite3",
            "QMS_SECRET_KEY": secrets.token_hex(32),
            "QMS_DEMO_PASSWORD": PASSWORD,
        }
        bin_dir = Path(sys.executable).parent
        subprocess.run(
            [str(bin_dir / "qms"), "init"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
        )
        port = free_port()
        server = subprocess.Popen(
            [
                str(bin_dir / "gunicorn"),
                "-w",
                "1",
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
            worker = worker_pid(server.pid)
            browser = Browser(port)
            for _ in range(100):
                try:
                    browser.sign_in("clerk", PASSWORD)
                    break
                except (ConnectionError, OSError):
                    time.sleep(0.1)
            results = []
            for name in names:
                build, expected = FILES[name]
                data = build()
                browser.import_docx(hostile.normal(), "warm-up.docx")  # same code paths warm
                reset_peak(worker)
                start = time.perf_counter()
                status, page = browser.import_docx(data, "upload.docx")
                seconds = time.perf_counter() - start
                results.append(
                    {
                        "file": name,
                        "packed_mb": len(data) / MB,
                        "unpacked_mb": unpacked(data) / MB,
                        "expected": expected,
                        "status": status,
                        "seconds": seconds,
                        "peak_rss_mb": peak_mb(worker),
                        "message": alert(page),
                    }
                )
        finally:
            server.terminate()
            server.wait(timeout=30)

    base = results[0]
    ok = True
    for row in results:
        row["time_ratio"] = row["seconds"] / base["seconds"]
        row["rss_ratio"] = row["peak_rss_mb"] / base["peak_rss_mb"]
        outcome_ok = (
            (row["status"] == 302) if row["expected"] == "import" else (row["status"] in (413, 422))
        )
        row["ok"] = (
            outcome_ok and row["seconds"] <= TIME_TARGET_S and row["peak_rss_mb"] <= RSS_TARGET_MB
        )
        ok = ok and row["ok"]

    if args.json:
        print(
            json.dumps(
                {
                    "target": {"seconds": TIME_TARGET_S, "peak_rss_mb": RSS_TARGET_MB},
                    "files": results,
                    "pass": ok,
                },
                ensure_ascii=False,
                indent=1,
            )
        )
        return 0 if ok else 1
    print(
        f"gunicorn, 1 sync worker; targets ≤ {TIME_TARGET_S:.0f} s and ≤ {RSS_TARGET_MB:.0f} "
        f"MB peak RSS; ratios against the baseline (a normal small upload, this run)"
    )
    print(
        f"{'file':32} {'packed':>8} {'unpacked':>9} {'status':>6} {'time':>8} "
        f"{'×base':>6} {'peak RSS':>9} {'×base':>6}  ok"
    )
    for row in results:
        print(
            f"{row['file']:32} {row['packed_mb']:6.1f}MB {row['unpacked_mb']:7.1f}MB "
            f"{row['status']:>6} {row['seconds']:7.2f}s {row['time_ratio']:6.1f} "
            f"{row['peak_rss_mb']:7.0f}MB {row['rss_ratio']:6.2f}  "
            f"{'yes' if row['ok'] else 'NO'}"
        )
    for row in results:
        if row["message"]:
            print(f"  {row['file']}: {row['message'][:160]}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
