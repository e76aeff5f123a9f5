"""Benchmark: the document register, GET /api/v1/documents and a document page with
20,000 documents and 100,000 revisions (issue 3's targets: p95 within 50 ms for the
register and the API, 30 ms for a document page, server time).

It seeds a SQLite database in a temporary folder, then times each page through the WSGI
app (server time, no network), and measures in the same run the baseline: the
straightforward register SQL without Flask — one statement joining documents, departments
and both revisions, counted over a subquery, 50 rows at the same random offsets and
filters. The ratio shows what the app's two-step page query and the whole request cost
against it.

    .venv/bin/python bench/register.py [--docs 20000] [--revisions-per-doc 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from qms import create_app
from qms.db import get_session
from qms.documents.labels import format_label
from qms.documents.models import DocKind, Document, Revision, content_hash
from qms.models import metadata

KINDS = [
    DocKind.REGULATION,
    DocKind.PROCESS,
    DocKind.FORM,
    DocKind.JOB_DESCRIPTION,
    DocKind.WORK_INSTRUCTION,
]
PREFIX = {
    DocKind.REGULATION: "ZD",
    DocKind.PROCESS: "LC",
    DocKind.FORM: "BD",
    DocKind.JOB_DESCRIPTION: "GW",
    DocKind.WORK_INSTRUCTION: "ZY",
}
WORDS = "业主投诉处理装修申请保证金管理费用收缴暂停服务消防安全巡查保洁绿化车辆出入证评审缺陷"


def seed(app, n_docs: int, per_doc: int) -> None:
    from tests.factories import make_user, seed_departments

    rng = random.Random(7)
    with app.test_request_context():
        session = get_session()
        depts = list(seed_departments(session).values())
        clerk = make_user(session, "clerk", *[], department="PZ")
        from qms.auth.models import UserRole
        from qms.auth.permissions import Role

        clerk.role_rows = [UserRole(role=Role.QUALITY_CLERK)]
        session.commit()
        clerk_id = clerk.id
        engine = session.get_bind()
    now = datetime.now(UTC)
    doc_rows, rev_rows = [], []
    rev_id = 0
    for i in range(1, n_docs + 1):
        kind = KINDS[i % len(KINDS)]
        dept = depts[i % len(depts)]
        number = f"{PREFIX[kind]}-{dept.code}-{i:05d}"
        title = "".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))) + "制度"
        first_rev = rev_id + 1
        for r in range(per_doc):
            rev_id += 1
            state = "effective" if r == per_doc - 1 else "superseded"
            body = "## 总则\n\n" + "".join(rng.choice(WORDS) for _ in range(600))
            label = format_label(1 + r, 0)
            rev_rows.append(
                {
                    "id": rev_id,
                    "document_id": i,
                    "major": 1 + r,
                    "minor": 0,
                    "label": label,
                    "state": state,
                    "title": title,
                    "body": body,
                    "change_summary": "修订",
                    "content_sha256": content_hash(number, label, title, body, "修订"),
                    "version": 1,
                    "author_id": clerk_id,
                    "is_major": True,
                    "created_at": now,
                    "updated_at": now,
                    "effective_date": date(2020, 1, 1) + timedelta(days=r * 200),
                    "end_reason": "",
                }
            )
        doc_rows.append(
            {
                "id": i,
                "number": number,
                "title": title,
                "kind": kind.value,
                "family": "standard",
                "department_id": dept.id,
                "author_id": clerk_id,
                "confidentiality": "internal",
                "status": "effective",
                "current_revision_id": first_rev + per_doc - 1,
                "working_revision_id": None,
                "review_interval_months": 24,
                "next_review_date": date(2026, 1, 1) + timedelta(days=i % 900),
                "created_at": now,
            }
        )
    with engine.begin() as conn:
        conn.execute(sa.text("PRAGMA foreign_keys=OFF"))
        conn.execute(sa.insert(Document.__table__), doc_rows)
        for start in range(0, len(rev_rows), 5000):
            conn.execute(sa.insert(Revision.__table__), rev_rows[start : start + 5000])
        conn.execute(sa.text("ANALYZE"))


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
        "n": len(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--revisions-per-doc", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app("testing", DATABASE_URL=url, DATA_DIR=Path(tmp), WTF_CSRF_ENABLED=False)
        metadata.create_all(app.extensions["qms.engine"])
        t0 = time.perf_counter()
        seed(app, args.docs, args.revisions_per_doc)
        seed_s = time.perf_counter() - t0
        client = app.test_client()
        from tests.factories import TEST_PASSWORD

        assert (
            client.post("/login", data={"username": "clerk", "password": TEST_PASSWORD}).status_code
            == 302
        )
        rng = random.Random(1)
        pages = max(1, args.docs // 50)
        kinds = [k.value for k in KINDS]

        def register_page():
            q = rng.choice(
                [
                    "",
                    f"?page={rng.randint(1, pages)}",
                    f"?kind={rng.choice(kinds)}",
                    "?sort=title&dir=desc",
                    "?department=KF&sort=next_review",
                    "?q=投诉",
                    "?review=overdue",
                ]
            )
            assert client.get("/documents/" + q).status_code == 200

        def api_page():
            q = rng.choice(
                [
                    "",
                    f"?page={rng.randint(1, pages)}",
                    f"?kind={rng.choice(kinds)}",
                    "?status=effective&department=GC",
                    "?q=装修",
                ]
            )
            assert client.get("/api/v1/documents" + q).status_code == 200

        numbers = []
        with app.app_context():
            numbers = get_session().scalars(sa.select(Document.number).limit(500)).all()

        def document_page():
            assert client.get(f"/documents/{rng.choice(numbers)}").status_code == 200

        engine = app.extensions["qms.engine"]
        from qms.documents.queries import RegisterFilter, register_select

        filters = [
            {},
            {"kind": "form"},
            {"sort": "title", "descending": True},
            {"department": "KF", "sort": "next_review"},
            {"q": "投诉"},
            {"review": "overdue"},
        ]

        def baseline():
            flt = RegisterFilter(**rng.choice(filters))
            naive = register_select(flt)
            offset = rng.choice([0, rng.randint(0, pages - 1) * 50])
            with engine.connect() as conn:
                conn.execute(
                    sa.select(sa.func.count()).select_from(naive.order_by(None).subquery())
                ).scalar()
                conn.execute(naive.limit(50).offset(offset)).all()

        for fn in (register_page, api_page, document_page, baseline):
            timed(fn, 10)  # warm caches
        results = {
            "documents": args.docs,
            "revisions": args.docs * args.revisions_per_doc,
            "seed_seconds": round(seed_s, 1),
            "baseline_sql_register_page": summary(timed(baseline, args.repeat)),
            "register_page": summary(timed(register_page, args.repeat)),
            "api_documents": summary(timed(api_page, args.repeat)),
            "document_page": summary(timed(document_page, args.repeat)),
        }
        base = results["baseline_sql_register_page"]["p95_ms"]
        targets = {"register_page": 50, "api_documents": 50, "document_page": 30}
        for key, target in targets.items():
            results[key]["target_p95_ms"] = target
            results[key]["meets_target"] = results[key]["p95_ms"] <= target
            results[key]["ratio_to_baseline_p95"] = round(results[key]["p95_ms"] / base, 2)
        app.extensions["qms.engine"].dispose()
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    print(
        f"{args.docs} documents, {args.docs * args.revisions_per_doc} revisions "
        f"(seeded in {results['seed_seconds']} s), {args.repeat} requests each, server time"
    )
    print(f"{'page':<28}{'p50 ms':>9}{'p95 ms':>9}{'target':>8}{'× baseline':>12}  ok")
    b = results["baseline_sql_register_page"]
    print(f"{'baseline: bare SQL page':<28}{b['p50_ms']:>9}{b['p95_ms']:>9}{'':>8}{'1.00':>12}")
    for key in targets:
        r = results[key]
        print(
            f"{key:<28}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['target_p95_ms']:>8}"
            f"{r['ratio_to_baseline_p95']:>12}  {'yes' if r['meets_target'] else 'NO'}"
        )


if __name__ == "__main__":
    main()
