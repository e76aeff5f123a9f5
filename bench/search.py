"""Search benchmark: QMS's Whoosh index against SQLite FTS5 (trigram, LIKE under 3
characters) on the same seeded synthetic corpus, in one run.

    .venv/bin/python bench/search.py --docs 5000 [--json]

Reports p50/p95 latency per query class for both engines, recall against exact
substring matches (folded: NFKC + t2s + lower case; Latin words and numbers whole),
build time, index size, publish→searchable lag, end-to-end GET /api/v1/search latency,
the rebuild's own peak memory (max RSS of a fresh process running only the rebuild) and
the benchmark process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ is first on sys.path, where sibling benchmarks (bench/docx.py)
# would shadow real packages: put the project root there instead.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import sqlalchemy as sa  # noqa: E402

from qms import create_app  # noqa: E402
from qms.search import analysis  # noqa: E402

TERMS = (  # noqa: SIM905 - a word list reads better as text
    "业主 投诉 处理 装修 保证金 垃圾 清运 暂停 服务 管理 费用 收缴 催缴 通知 工程 巡查 电梯 运行 "
    "保安 盘查 可疑 人员 失物 招领 消防 安检 保洁 绿化 车辆 会所 档案 回访 质量 评审 认证 审核 "
    "缺陷 记录 检查 组长 计划 文件 控制 发放 收回 受控 副本 版本 修订 批准 发布 生效 作废 替代 "
    "客户 中心 部门 经理 文员 岗位 职责 制度 流程 程序 表单 手册 方针 目标 纠正 措施 预防 内审 "
    "不符合 监督 证书 机构 顾问 开发商 施工 单位 水牌 出入证 空调 电源 停止 批复 申请 登记 签收 "
    "工作日 每月 第一 阶段 回归 首次 部分 严重 一般 建议 结论 资料 归档 保密 培训 模板 汇总"
).split()
FILLER = "的 在 和 按 由 对 应 须 及 并 后 前 内 时 为 将 已 可 不 与".split()  # noqa: SIM905
KINDS = [("regulation", "ZD"), ("process", "LC"), ("procedure", "CX"), ("form", "BD")]
DEPTS = ["KF", "BA", "GJ", "GC", "XZ", "CW", "PZ"]
LATIN = ["ISO", "deposit", "procedure", "owner", "GB/T", "audit"]


def _st_table() -> dict[str, str]:
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "STCharacters.txt"
    table: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        simp, _, cands = line.partition("\t")
        trad = cands.split(" ")[0]
        if len(simp) == 1 and len(trad) == 1:
            table[simp] = trad
    return table


def make_corpus(n_docs: int, revisions: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    st = str.maketrans(_st_table())
    numbers = []
    for i in range(n_docs):
        kind, prefix = KINDS[i % len(KINDS)]
        dept = DEPTS[(i // len(KINDS)) % len(DEPTS)]
        numbers.append((kind, dept, f"{prefix}-{dept}-{i // (len(KINDS) * len(DEPTS)) + 1:03d}"))
    docs = []
    for kind, dept, number in numbers:
        traditional = rng.random() < 0.15
        length = int(min(12000, max(300, rng.lognormvariate(8.0, 0.5))))  # median ≈ 3,000
        revs = []
        for _revision in range(revisions):
            parts: list[str] = []
            size = 0
            while size < length:
                words = [rng.choice(TERMS) if rng.random() < 0.7 else rng.choice(FILLER)
                         for _ in range(rng.randint(4, 12))]
                if rng.random() < 0.05:
                    words.append(rng.choice(numbers)[2])
                if rng.random() < 0.03:
                    words.append(rng.choice(LATIN))
                if rng.random() < 0.1:
                    words.append(f"{rng.randint(1, 30)}日")
                sentence = "".join(words) + "。"
                parts.append(sentence)
                size += len(sentence)
            body = "".join(parts)
            title = "".join(rng.sample(TERMS, 2)) + rng.choice(["制度", "流程", "程序", "记录表"])
            if traditional:
                body, title = body.translate(st), title.translate(st)
            revs.append({"title": title, "body": body})
        docs.append({"kind": kind, "dept": dept, "number": number, "revisions": revs,
                     "traditional": traditional})
    return docs


# -- loading the corpus into a QMS database -------------------------------------------

def load_database(app: Any, docs: list[dict[str, Any]]) -> None:
    from qms.auth.models import Department
    from qms.db import get_session
    from qms.documents.models import Document, Revision, content_hash
    from qms.models import metadata
    from tests.factories import make_user, seed_departments

    with app.app_context():
        session = get_session()
        metadata.create_all(session.get_bind())
        seed_departments(session)
        from qms.auth.permissions import Role

        clerk = make_user(session, "benchclerk", Role.QUALITY_CLERK)
        make_user(session, "benchstaff", Role.STAFF)
        session.commit()
        dept_ids = {d.code: d.id for d in session.scalars(sa.select(Department))}
        now = datetime.now(UTC)
        conn = session.connection()
        doc_rows, rev_rows = [], []
        rev_id = 0
        for i, d in enumerate(docs, start=1):
            current = None
            for r, rev in enumerate(d["revisions"], start=1):
                rev_id += 1
                last = r == len(d["revisions"])
                label = f"{chr(64 + r)}/0"
                rev_rows.append({
                    "id": rev_id, "document_id": i, "major": r, "minor": 0, "label": label,
                    "state": "effective" if last else "superseded", "title": rev["title"],
                    "body": rev["body"], "change_summary": "", "version": 1,
                    "content_sha256": content_hash(d["number"], label, rev["title"],
                                                   rev["body"], ""),
                    "author_id": clerk.id, "is_major": True, "created_at": now,
                    "updated_at": now, "effective_date": date(2020 + r, 1, 1),
                    "end_reason": "",
                })
                if last:
                    current = rev_id
            doc_rows.append({
                "id": i, "number": d["number"], "title": d["revisions"][-1]["title"],
                "kind": d["kind"], "family": "standard", "department_id": dept_ids[d["dept"]],
                "author_id": clerk.id, "confidentiality": "internal", "status": "effective",
                "review_interval_months": 24, "created_at": now, "current_revision_id": None,
            })
            d["current_revision_id"] = current
        conn.execute(sa.insert(Document), doc_rows)
        for start in range(0, len(rev_rows), 2000):
            conn.execute(sa.insert(Revision), rev_rows[start:start + 2000])
        conn.execute(sa.update(Document).where(Document.id == sa.bindparam("d_id")).values(
            current_revision_id=sa.bindparam("c_id")),
            [{"d_id": i, "c_id": d["current_revision_id"]} for i, d in enumerate(docs, 1)])
        session.commit()


# -- the engines under test ---------------------------------------------------------------

def build_in_child(tmp: Path) -> tuple[float, float]:
    """The rebuild in a fresh process (spawned: none of this process's corpus), so that its
    peak memory is the rebuild's own: (seconds, max RSS in MB)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_child_build, str(tmp)).result()


def _child_build(tmp: str, full: bool = False) -> tuple[float, float]:
    os.environ.setdefault("QMS_ENV", "testing")
    logging.getLogger("qms").setLevel(logging.ERROR)
    app = create_app("testing", DATABASE_URL=f"sqlite:///{Path(tmp) / 'qms.sqlite3'}",
                     DATA_DIR=Path(tmp), WTF_CSRF_ENABLED=False)
    if full:  # what `qms reindex` does: the current index and the history of every revision
        from qms.search import service

        with app.app_context():
            start = time.perf_counter()
            service.rebuild()
            seconds = time.perf_counter() - start
    else:
        seconds = build_whoosh(app)
    return seconds, peak_rss_mb()


def full_rebuild_in_child(tmp: Path) -> tuple[float, float]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_child_build, str(tmp), True).result()


def build_fts_all_revisions(path: Path, docs: list[dict[str, Any]]) -> float:
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(number, title, body, tokenize='trigram')")
    conn.executemany("INSERT INTO f(number, title, body) VALUES (?, ?, ?)", (
        (analysis.fold(d["number"]), analysis.fold(r["title"]), analysis.fold(r["body"]))
        for d in docs for r in d["revisions"]))
    conn.commit()
    conn.close()
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    """This process's own peak resident memory: VmHWM (ru_maxrss keeps the peak of the
    process it was forked from across exec, so a spawned child would report ours)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return maxrss_mb()


def build_whoosh(app: Any) -> float:
    from qms.search import service

    with app.app_context():
        engine = service.get_engine(app)
        current_source = None

        def entries() -> Any:
            for revision in service._chunks(service._effective_stmt()):
                session = sa.orm.Session.object_session(revision)
                key = service.current_key(revision.document_id)
                yield service.entry_for(session, revision, key)

        current_source = entries
        start = time.perf_counter()
        engine.rebuild({"current": current_source, "history": list}, replay=lambda ids, gen: None)
        return time.perf_counter() - start


def build_fts(path: Path, docs: list[dict[str, Any]]) -> tuple[sqlite3.Connection, float]:
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(number, title, body, tokenize='trigram')")
    conn.executemany("INSERT INTO f(rowid, number, title, body) VALUES (?, ?, ?, ?)", (
        (i, analysis.fold(d["number"]), analysis.fold(d["revisions"][-1]["title"]),
         analysis.fold(d["revisions"][-1]["body"])) for i, d in enumerate(docs, start=1)))
    conn.commit()
    return conn, time.perf_counter() - start


def fts_query(conn: sqlite3.Connection, terms: list[str]) -> set[int]:
    short = [t for t in terms if len(t) < 3]
    long_ = [t for t in terms if len(t) >= 3]
    if long_:
        match = " AND ".join('"' + t.replace('"', '""') + '"' for t in long_)
        sql = "SELECT rowid FROM f WHERE f MATCH ?"
        params: list[Any] = [match]
        for t in short:
            sql += " AND (title LIKE ? OR body LIKE ? OR number LIKE ?)"
            params += [f"%{t}%"] * 3
        sql += " ORDER BY rank"
    else:
        sql = "SELECT rowid FROM f WHERE " + " AND ".join(  # noqa: S608 - placeholders only
            "(title LIKE ? OR body LIKE ? OR number LIKE ?)" for _ in short)
        params = [f"%{t}%" for t in short for _ in range(3)]
    return {r[0] for r in conn.execute(sql, params)}


def whoosh_query(app: Any, text: str, limit: int | None = 20) -> tuple[set[int], int]:
    """The engine's own query path: the first page (limit) with its exact total, or with
    limit=None every matching document (recall)."""
    from qms.search import service

    parsed = service.parse_query(text)
    engine = service.get_engine(app)
    if limit is None:
        found = engine.matching_ids("current", parsed.phrases)
        return found, len(found)
    result = engine.query("current", parsed.phrases, filters={}, page=1, per_page=limit)
    return {h.document_id for h in result.hits}, result.total


# -- queries and ground truth --------------------------------------------------------------

def make_queries(docs: list[dict[str, Any]], per_class: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed + 1)
    st = str.maketrans(_st_table())
    two = [t for t in TERMS if len(t) == 2]
    longer = [t for t in TERMS if len(t) >= 3] + [a + b for a in two[:20] for b in two[20:30]]
    nums = [d["number"] for d in docs]
    chars = sorted({c for t in TERMS for c in t})
    return {
        "2-char": [rng.choice(two) for _ in range(per_class)],
        "3-4 char": [rng.choice(longer)[:4] for _ in range(per_class)],
        "multi-term": [f"{rng.choice(two)} {rng.choice(two)}" for _ in range(per_class)],
        "number": [rng.choice(nums) for _ in range(per_class)],
        "partial number": [rng.choice(nums).split("-", 1)[1] if rng.random() < 0.5
                           else rng.choice(nums).rsplit("-", 1)[1] for _ in range(per_class)],
        "traditional": [rng.choice(longer).translate(st) for _ in range(per_class)],
        "quoted phrase": ['"' + rng.choice(two) + rng.choice(two) + '"'
                          for _ in range(per_class)],
        "single char": [rng.choice(chars) for _ in range(per_class)],
    }


def query_terms(text: str) -> list[str]:
    """The folded pieces a document must contain (what 'exact substring' means here)."""
    parsed_quotes = re.findall(r'"([^"]*)"', text)
    rest = re.sub(r'"[^"]*"', " ", text)
    return [analysis.fold(t) for t in parsed_quotes + rest.split() if t.strip()]


def truth(folded_docs: list[str], terms: list[str]) -> set[int]:
    pats = []
    for t in terms:
        if analysis.is_cjk(t):
            pats.append(None)
        else:  # Latin words and numbers are whole tokens by design
            pats.append(re.compile(r"(?<![0-9a-z])" + re.escape(t) + r"(?![0-9a-z])"))
    found = set()
    for i, text in enumerate(folded_docs, start=1):
        if all((t in text) if p is None else p.search(text) for t, p in zip(terms, pats,
                                                                             strict=True)):
            found.add(i)
    return found


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the run ---------------------------------------------------------------------------------

def run(n_docs: int, revisions: int, per_class: int, seed: int,
        full: bool = False) -> dict[str, Any]:
    logging.getLogger("qms").setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="qms-search-bench-"))
    app = create_app("testing", DATABASE_URL=f"sqlite:///{tmp / 'qms.sqlite3'}",
                     DATA_DIR=tmp, WTF_CSRF_ENABLED=False)
    report: dict[str, Any] = {"docs": n_docs, "revisions_per_doc": revisions}
    t0 = time.perf_counter()
    docs = make_corpus(n_docs, revisions, seed)
    report["corpus"] = {
        "generate_s": round(time.perf_counter() - t0, 1),
        "median_chars": int(statistics.median(len(d["revisions"][-1]["body"]) for d in docs)),
        "traditional_share": round(sum(d["traditional"] for d in docs) / n_docs, 3),
    }
    load_database(app, docs)
    whoosh_build, build_rss = build_in_child(tmp)
    fts, fts_build = build_fts(tmp / "fts.sqlite3", docs)
    engine_size = 0
    with app.app_context():
        from qms.search import service

        engine_size = service.get_engine(app).size_bytes()
    report["build"] = {
        "whoosh_s": round(whoosh_build, 2), "fts5_s": round(fts_build, 2),
        "ratio": round(whoosh_build / fts_build, 1),
        "whoosh_index_mb": round(engine_size / 1e6, 1),
        "fts5_index_mb": round((tmp / "fts.sqlite3").stat().st_size / 1e6, 1),
        "whoosh_build_max_rss_mb": round(build_rss, 1),
    }
    folded_docs = [analysis.fold(" ".join([d["number"], d["revisions"][-1]["title"],
                                           d["revisions"][-1]["body"]])) for d in docs]
    queries = make_queries(docs, per_class, seed)
    classes: dict[str, Any] = {}
    with app.app_context():
        for name, qs in queries.items():
            w_times, f_times, recalls, f_recalls = [], [], [], []
            for q in qs:
                start = time.perf_counter()
                whoosh_query(app, q)
                w_times.append((time.perf_counter() - start) * 1000)
                terms = query_terms(q)
                start = time.perf_counter()
                f_found = fts_query(fts, terms)
                f_times.append((time.perf_counter() - start) * 1000)
                expected = truth(folded_docs, terms)
                w_found, _n = whoosh_query(app, q, limit=None)
                if expected:
                    recalls.append(len(w_found & expected) / len(expected))
                    f_recalls.append(len(f_found & expected) / len(expected))
            classes[name] = {
                "whoosh_p50_ms": round(pct(w_times, .5), 2),
                "whoosh_p95_ms": round(pct(w_times, .95), 2),
                "fts5_p50_ms": round(pct(f_times, .5), 2),
                "fts5_p95_ms": round(pct(f_times, .95), 2),
                "p95_ratio": round(pct(w_times, .95) / max(pct(f_times, .95), 1e-6), 2),
                "whoosh_recall": round(min(recalls), 4) if recalls else None,
                "fts5_recall": round(min(f_recalls), 4) if f_recalls else None,
                "example": qs[0],
            }
    report["queries"] = classes
    report["api"] = api_latency(app, [q for qs in queries.values() for q in qs[:10]])
    report["publish_lag"] = publish_lag(app, samples=20)
    if full:
        with app.app_context():
            from qms.search import service

            service.get_engine(app).close_all()
        seconds, rss = full_rebuild_in_child(tmp)
        fts_all = build_fts_all_revisions(tmp / "fts-all.sqlite3", docs)
        report["full_rebuild"] = {"whoosh_s": round(seconds, 1), "fts5_s": round(fts_all, 1),
                                  "ratio": round(seconds / fts_all, 1),
                                  "whoosh_max_rss_mb": round(rss, 1)}
    report["max_rss_mb"] = round(maxrss_mb(), 1)
    fts.close()
    with app.app_context():
        from qms.search import service

        service.get_engine(app).close()
    shutil.rmtree(tmp, ignore_errors=True)  # the corpus, its database and both indexes
    return report


def api_latency(app: Any, queries: list[str]) -> dict[str, float]:
    from qms.auth import service as auth
    from qms.db import get_session

    with app.app_context():
        session = get_session()
        user = auth.user_by_username(session, "benchstaff")
        token = auth.create_token(session, user, user, "bench")
        session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for q in queries:
        start = time.perf_counter()
        response = client.get("/api/v1/search", query_string={"q": q}, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.data
    return {"p50_ms": round(pct(times, .5), 1), "p95_ms": round(pct(times, .95), 1),
            "n": len(times)}


def publish_lag(app: Any, samples: int) -> dict[str, float]:
    """Commit of a newly effective document → first search that finds it (same process;
    the after-commit drain is part of the lag)."""
    from qms.auth.models import Department, User
    from qms.db import get_session
    from qms.documents import service as documents
    from qms.documents.models import DocKind, Family

    lags = []
    with app.test_request_context():
        session = get_session()
        clerk = session.scalar(sa.select(User).where(User.username == "benchclerk"))
        dept = session.scalar(sa.select(Department).where(Department.code == "KF"))
        for i in range(samples):
            marker = f"benchmarker{i}x"
            documents.register_effective(
                session, clerk, number=f"BM-{i:04d}", title=f"发布延迟测试{i}",
                kind=DocKind.REGULATION, department=dept, family=Family.STANDARD,
                label="A/0", body=f"新发布的文件 {marker}", change_summary="",
                effective_date=date.today())
            start = time.perf_counter()
            session.commit()
            while not whoosh_query(app, marker)[0]:
                if time.perf_counter() - start > 30:
                    break
            lags.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": round(pct(lags, .5), 1), "p95_ms": round(pct(lags, .95), 1)}


def print_table(report: dict[str, Any]) -> None:
    print(f"QMS search benchmark — {report['docs']} effective documents × "
          f"{report['revisions_per_doc']} revisions; median {report['corpus']['median_chars']} "
          f"chars; {report['corpus']['traditional_share']:.0%} traditional")
    b = report["build"]
    print(f"build: whoosh {b['whoosh_s']} s, fts5 {b['fts5_s']} s (×{b['ratio']}); "
          f"index whoosh {b['whoosh_index_mb']} MB, fts5 {b['fts5_index_mb']} MB; "
          f"rebuild's own peak memory (max RSS of the process) {b['whoosh_build_max_rss_mb']} MB")
    print(f"{'class':16} {'whoosh p50':>10} {'p95':>8} {'fts5 p50':>9} {'p95':>8} "
          f"{'p95 ×':>6} {'recall':>7} {'fts5 rec':>8}  example")
    for name, c in report["queries"].items():
        print(f"{name:16} {c['whoosh_p50_ms']:>10} {c['whoosh_p95_ms']:>8} "
              f"{c['fts5_p50_ms']:>9} {c['fts5_p95_ms']:>8} {c['p95_ratio']:>6} "
              f"{c['whoosh_recall']!s:>7} {c['fts5_recall']!s:>8}  {c['example']}")
    a, lag = report["api"], report["publish_lag"]
    print(f"GET /api/v1/search: p50 {a['p50_ms']} ms, p95 {a['p95_ms']} ms ({a['n']} requests)")
    print(f"publish→searchable: p50 {lag['p50_ms']} ms, p95 {lag['p95_ms']} ms")
    if "full_rebuild" in report:
        f = report["full_rebuild"]
        print(f"full rebuild (current + history of every revision, as `qms reindex`): whoosh "
              f"{f['whoosh_s']} s, fts5 over every revision {f['fts5_s']} s (×{f['ratio']}); "
              f"its own peak memory {f['whoosh_max_rss_mb']} MB")
    print(f"peak memory of the benchmark process (holds the corpus): {report['max_rss_mb']} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--revisions", type=int, default=5)
    parser.add_argument("--queries", type=int, default=30, help="queries per class")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--full-rebuild", action="store_true",
                        help="also time what `qms reindex` does: both indexes, every revision")
    args = parser.parse_args()
    os.environ.setdefault("QMS_ENV", "testing")
    report = run(args.docs, args.revisions, args.queries, args.seed, full=args.full_rebuild)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
