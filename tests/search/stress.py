"""Several processes on one search index, as gunicorn's sync workers and `qms worker` have
it: writer processes update, remove, merge and optimize while reader processes, each with
ONE long-lived WhooshEngine, query with facets and filters over and over.

Every answer is checked against what the entries are known to hold (each entry's words,
kind and department follow from its number), so a reader that answers from a segment
changed under it is caught even when it does not fail: the hits are exactly the matching
entries present, the facet counts are those of the hits, the total is their number.

Used by tests/search/test_concurrent_readers.py (a few seconds) and as a script for a
long run:  .venv/bin/python -m tests.search.stress --seconds 120 [--readers 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import random
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from qms.search import service
from qms.search.engine import IndexEntry, WhooshEngine, _writer

KEYS = 120  # entries come and go among these numbers
KINDS = ("form", "regulation", "record")
DEPARTMENTS = ("KF", "BA")
QUERIES = {"业主": lambda n: n % 2 == 0, "装修": lambda n: n % 3 == 0,
           "投诉": lambda n: n % 2 == 0 or n % 5 == 0}
FACETS = ("kind", "department", "state")


def kind_of(n: int) -> str:
    return KINDS[n % 3]


def department_of(n: int) -> str:
    return DEPARTMENTS[(n // 3) % 2]


def entry(n: int, version: int) -> IndexEntry:
    words = ["文件控制程序"]
    if n % 2 == 0:
        words.append("业主投诉处理")
    if n % 3 == 0:
        words.append("装修管理")
    if n % 5 == 0:
        words.append("投诉回访")
    words.append(f"版本{version}")
    return IndexEntry(key=f"d{n}", document_id=n, revision_id=n * 1000 + version,
                      number=f"S-{n:03d}", label=f"A/{version}", title=f"制度 {n}",
                      body="，".join(words), kind=kind_of(n), department=department_of(n),
                      state="effective", content_sha256=f"{n}/{version}")


def seed(root: Path) -> WhooshEngine:
    engine = WhooshEngine(root)
    engine.rebuild({"current": lambda: [entry(n, 0) for n in range(0, KEYS, 2)],
                    "history": list}, replay=lambda ids, gen: None)
    return engine


def writer(root: str, seconds: float, index: int, writers: int, errors: Any,
           present: Any) -> None:
    """Small commits (each a new segment; Whoosh merges the small ones on commit), removals,
    now and then an optimize (every segment merged into one, the old files deleted), on
    the numbers n with n % writers == index; then what it left in the index."""
    rng = random.Random(100 + index)
    engine = WhooshEngine(Path(root))
    mine = [n for n in range(KEYS) if n % writers == index]
    there = {n for n in mine if n % 2 == 0}  # as seeded
    deadline = time.monotonic() + seconds
    version = 0
    try:
        while time.monotonic() < deadline:
            version += 1
            with engine.writer_lock():
                roll = rng.random()
                if roll < 0.6:
                    numbers = {rng.choice(mine) for _ in range(rng.randint(1, 4))}
                    engine.index("current", [entry(n, version) for n in numbers])
                    there |= numbers
                elif roll < 0.9:
                    numbers = {rng.choice(mine) for _ in range(rng.randint(1, 3))}
                    engine.remove("current", [f"d{n}" for n in numbers])
                    there -= numbers
                else:
                    ix = engine._open_for_write("current", None)
                    _writer(ix).commit(optimize=True)
    except Exception:
        errors.put(f"writer: {traceback.format_exc()}")
    present.put(sorted(there))


def check_answer(text: str, filters: dict[str, list[str]], result: Any) -> list[str]:
    """What is wrong with one answer (all hits on one page)."""
    problems = []
    numbers = [h.document_id for h in result.hits]
    if len(numbers) != result.total:
        problems.append(f"{text}: {len(numbers)} hits for a total of {result.total}")
    if len(set(numbers)) != len(numbers):
        problems.append(f"{text}: an entry found twice")
    for n in numbers:
        if not QUERIES[text](n):
            problems.append(f"{text}: d{n} does not hold the words")
        if filters.get("kind") and kind_of(n) not in filters["kind"]:
            problems.append(f"{text}: d{n} is not of the kind filtered")
    if result.facets:
        expected_kinds = dict(Counter(map(kind_of, numbers)))
        expected_departments = dict(Counter(map(department_of, numbers)))
        if result.facets.get("kind", {}) != expected_kinds:
            problems.append(f"{text}: kind facet {result.facets.get('kind')} for hits "
                            f"{expected_kinds}")
        if result.facets.get("department", {}) != expected_departments:
            problems.append(f"{text}: department facet {result.facets.get('department')} "
                            f"for hits {expected_departments}")
        if numbers and result.facets.get("state", {}) != {"effective": len(numbers)}:
            problems.append(f"{text}: state facet {result.facets.get('state')}")
    return problems


def expected(present: set[int], text: str) -> list[int]:
    return sorted(n for n in present if QUERIES[text](n))


def reader(root: str, seconds: float, seed_: int, errors: Any, answers: Any,
           finished: Any, present: Any) -> None:
    """One long-lived engine, as a sync worker holds it, querying until the time is up;
    then, once the writers are done, each query against the entries they left."""
    rng = random.Random(seed_)
    engine = WhooshEngine(Path(root))
    parsed = {text: service.parse_query(text).phrases for text in QUERIES}
    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline:
        text = rng.choice(list(QUERIES))
        filters = {"kind": [rng.choice(KINDS)]} if rng.random() < 0.4 else {}
        try:
            result = engine.query("current", parsed[text], filters=filters, page=1,
                                  per_page=KEYS, facets=FACETS, facet_filters=filters)
        except Exception:
            errors.put(f"reader: {traceback.format_exc()}")
            continue
        done += 1
        for problem in check_answer(text, filters, result):
            errors.put(f"reader: {problem}")
    finished.wait(timeout=120)
    there = set(present)
    for text in QUERIES:
        try:
            result = engine.query("current", parsed[text], filters={}, page=1,
                                  per_page=KEYS, facets=FACETS, facet_filters={})
        except Exception:
            errors.put(f"reader, at the end: {traceback.format_exc()}")
            continue
        found = sorted(h.document_id for h in result.hits)
        if found != expected(there, text) or result.total != len(found):
            errors.put(f"reader, at the end: {text} finds {found} ({result.total}), "
                       f"the entries are {expected(there, text)}")
        for problem in check_answer(text, {}, result):
            errors.put(f"reader, at the end: {problem}")
    engine.close()
    answers.put(done)


def run(root: Path, seconds: float, readers: int = 2, writers: int = 1) -> tuple[int, list[str]]:
    """Answers given and problems found (none: an empty list), after a final check of
    every query on a fresh engine."""
    seed(root)
    ctx = multiprocessing.get_context("fork")
    manager = ctx.Manager()
    errors, answers, left = ctx.Queue(), ctx.Queue(), ctx.Queue()
    finished, present = manager.Event(), manager.list()
    procs = [ctx.Process(target=writer, args=(str(root), seconds, i, writers, errors, left))
             for i in range(writers)]
    procs += [ctx.Process(target=reader, args=(str(root), seconds, i, errors, answers,
                                               finished, present))
              for i in range(readers)]
    for p in procs:
        p.start()
    for _ in range(writers):
        present.extend(left.get(timeout=seconds + 120))
    finished.set()
    done = 0
    for _ in range(readers):
        done += answers.get(timeout=seconds + 120)
    for p in procs:
        p.join(timeout=60)
    # and a new engine, as a worker started now
    fresh = WhooshEngine(root)
    for text in QUERIES:
        result = fresh.query("current", service.parse_query(text).phrases, filters={},
                             page=1, per_page=KEYS, facets=FACETS)
        found = sorted(h.document_id for h in result.hits)
        if found != expected(set(present), text):
            errors.put(f"a new engine: {text} finds {found}, "
                       f"the entries are {expected(set(present), text)}")
    fresh.close()
    manager.shutdown()
    found = []
    while True:
        try:
            found.append(errors.get(timeout=0.5))
        except queue.Empty:
            break
    for p in procs:
        if p.exitcode != 0:
            found.append(f"a process ended with {p.exitcode}")
    return done, found


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--writers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        done, found = run(Path(tmp), args.seconds, args.readers, args.writers)
    kinds = Counter(" | ".join(x.strip() for x in line.strip().splitlines()[-6:])[:600]
                    for line in found)
    print(f"{done} answers, {len(found)} problems")
    for line, n in kinds.most_common(20):
        print(f"{n:6d}  {line}")


if __name__ == "__main__":
    main()
