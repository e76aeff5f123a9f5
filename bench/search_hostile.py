"""Hostile search queries against normal ones, in one run, on the search benchmark's corpus.

    .venv/bin/python bench/search_hostile.py --docs 2000 [--repeat 5] [--json]

Every query goes through GET /api/v1/search (parsing, matching, ranking, the typo and
document-number suggestions, snippets), as a staff member with a token. The baseline is
the median time of a set of ordinary queries measured in the same run; each hostile query
is reported with its status (200 answered, 422 refused), its median and worst time in ms,
and its worst time as a ratio to the baseline median.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

_spec = importlib.util.spec_from_file_location("qms_bench_search", ROOT / "bench" / "search.py")
if _spec is None or _spec.loader is None:
    raise SystemExit("bench/search.py not found")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

from qms import create_app  # noqa: E402

BASELINE = [
    "投诉",
    "装修保证金",
    "业主 投诉",
    '"垃圾清运"',
    "ZD-KF-001",
    "KF-001",
    "001",
    "deposit",
    "業主投訴",
    "监",
    "audit procedure",
    "电梯运行 巡查",
]

HOSTILE = {
    "ZD-KF-0 ×150": "ZD-KF-0" * 150,
    "a ×5000": "a" * 5000,
    "a ×200 (at the cap)": "a" * 200,
    "ZD-KF-0 ×28 (196 chars)": "ZD-KF-0" * 28,
    "ZD-KF-0 ×28, spaced": " ".join(["ZD-KF-0"] * 28),
    "deposit typo ×24": " ".join(["depposit"] * 24),
    "12 long typos": " ".join(f"proceduer{i}x" for i in range(12)),
    "投诉 ×100 (200 chars)": "投诉" * 100,
    "投 ×200": "投" * 200,
    "200 common chars": "".join(corpus.TERMS)[:200],
    "99 two-char words": " ".join(["投诉"] * 66),
    "quoted ×40": " ".join(f'"{t}"' for t in corpus.TERMS[:40]),
    "digits ×199": "1" * 199,
    "numbers ×28": " ".join(f"ZD-KF-{i:03d}" for i in range(28)),
    "dash chain ×100": "-".join(["a1"] * 66),
    "symbols ×5000": "!?" * 2500,
}


def timed(client: Any, headers: dict[str, str], q: str, repeat: int) -> tuple[int, list[float]]:
    times: list[float] = []
    status = 0
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get("/api/v1/search", query_string={"q": q}, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        status = response.status_code
        if status not in (200, 422):
            raise SystemExit(f"{q[:40]!r}: {status} {response.data[:300]!r}")
    return status, times


def run(n_docs: int, revisions: int, repeat: int, seed: int) -> dict[str, Any]:
    logging.getLogger("qms").setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="qms-search-hostile-"))
    try:
        app = create_app(
            "testing",
            DATABASE_URL=f"sqlite:///{tmp / 'qms.sqlite3'}",
            DATA_DIR=tmp,
            WTF_CSRF_ENABLED=False,
        )
        docs = corpus.make_corpus(n_docs, revisions, seed)
        corpus.load_database(app, docs)
        with app.app_context():
            from qms.auth import service as auth
            from qms.db import get_session
            from qms.search import service

            start = time.perf_counter()
            service.rebuild()
            build_s = time.perf_counter() - start
            session = get_session()
            user = auth.user_by_username(session, "benchstaff")
            token = auth.create_token(session, user, user, "bench")
            session.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for q in BASELINE:  # warm the caches as a running server has them
            timed(client, headers, q, 1)
        base_times = [t for q in BASELINE for t in timed(client, headers, q, repeat)[1]]
        baseline = statistics.median(base_times)
        rows = {}
        for name, q in HOSTILE.items():
            status, times = timed(client, headers, q, repeat)
            rows[name] = {
                "chars": len(q),
                "status": status,
                "p50_ms": round(statistics.median(times), 2),
                "max_ms": round(max(times), 2),
                "max_ratio": round(max(times) / baseline, 1),
            }
        with app.app_context():
            service.get_engine(app).close()
        return {
            "docs": n_docs,
            "revisions_per_doc": revisions,
            "repeat": repeat,
            "build_s": round(build_s, 1),
            "baseline": {
                "p50_ms": round(baseline, 2),
                "max_ms": round(max(base_times), 2),
                "queries": len(BASELINE),
            },
            "hostile": rows,
            "worst_ratio": max(r["max_ratio"] for r in rows.values()),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--revisions", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("QMS_ENV", "testing")
    report = run(args.docs, args.revisions, args.repeat, args.seed)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    b = report["baseline"]
    print(
        f"hostile search queries — {report['docs']} documents × "
        f"{report['revisions_per_doc']} revisions, GET /api/v1/search, {report['repeat']} "
        f"runs each; index built in {report['build_s']} s"
    )
    print(f"baseline ({b['queries']} ordinary queries): p50 {b['p50_ms']} ms, max {b['max_ms']} ms")
    print(f"{'query':28} {'chars':>6} {'status':>6} {'p50 ms':>8} {'max ms':>8} {'max/base':>9}")
    for name, r in report["hostile"].items():
        print(
            f"{name:28} {r['chars']:>6} {r['status']:>6} {r['p50_ms']:>8} {r['max_ms']:>8} "
            f"{r['max_ratio']:>9}"
        )
    print(f"worst hostile query: {report['worst_ratio']}× the baseline median")


if __name__ == "__main__":
    main()
