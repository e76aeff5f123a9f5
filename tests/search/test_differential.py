"""The search engine against a brute-force scan and Whoosh's own query path.

Random sequences of index, update, remove, commit, rebuild and query on ONE long-lived
engine object, as a server process has it: every answer (hit set, total, facet counts)
must equal a substring scan of the texts the engine was given, and Whoosh's own phrase
query over the same index. Segments come and go under the engine's caches (new segments on
every commit, merges, deletions, new generations), which is what broke facet counting in a
running server (IndexError until the worker restarted).

A second engine plays another worker whose searcher was opened before commits made
elsewhere (merges, optimize: the old segments' files deleted) and is still read from, as
in the middle of a query: it must answer as the index was when it opened it (a rare
IndexError and TypeError in a 30-minute mixed run under gunicorn).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from whoosh import query as wq

from qms.search import analysis, service
from qms.search.engine import IndexEntry, WhooshEngine, _writer

CHARS = "业主投诉装修業訴"  # 業 and 訴 fold to 业 and 诉
WORDS = ["kf", "iso", "deposit"]
KEYS = [f"d{i}" for i in range(8)]
KINDS = ["form", "regulation"]
DEPARTMENTS = ["KF", "BA"]
FACETS = ("kind", "department", "state")

cjk_runs = st.text(alphabet=CHARS, min_size=1, max_size=6)
pieces = st.one_of(cjk_runs, st.sampled_from(WORDS))
texts = st.lists(pieces, max_size=10).map(lambda parts: " ".join(parts))
queries = st.one_of(
    st.text(alphabet=CHARS, min_size=1, max_size=4),
    st.sampled_from(WORDS),
    st.tuples(st.text(alphabet=CHARS, min_size=1, max_size=3), st.sampled_from(WORDS)).map(
        " ".join
    ),
    st.tuples(
        st.text(alphabet=CHARS, min_size=2, max_size=3),
        st.text(alphabet=CHARS, min_size=1, max_size=2),
    ).map(" ".join),
)


def entry(key: str, title: str, body: str, kind: str, department: str) -> IndexEntry:
    number = int(key[1:])
    return IndexEntry(
        key=key,
        document_id=number,
        revision_id=number,
        number=f"T-{number}",
        label="A/0",
        title=title,
        body=body,
        kind=kind,
        department=department,
        state="effective",
        content_sha256=f"{title}|{body}",
    )


def found_in(e: IndexEntry, query: str) -> bool:
    """Every whitespace-separated part of the query in one field of the entry: CJK as a
    substring of the folded text, a Latin word as a whole word."""
    fields = [analysis.fold(t) for t in (e.number, e.title, e.body)]
    for part in analysis.fold(query).split():
        if analysis.is_cjk(part):
            if not any(part in f for f in fields):
                return False
        else:
            word = re.compile(r"(?<![0-9a-z])" + re.escape(part) + r"(?![0-9a-z])")
            if not any(word.search(f) for f in fields):
                return False
    return True


def whoosh_query(query: str) -> wq.Query:
    """The same query as Whoosh's own objects: a phrase of the index's bigrams (or one
    term) per part, all parts required."""
    parts: list[wq.Query] = []
    for part in analysis.fold(query).split():
        if analysis.is_cjk(part) and len(part) > 2:
            parts.append(wq.Phrase("content", [part[i : i + 2] for i in range(len(part) - 1)]))
        else:
            parts.append(wq.Term("content", part))
    return parts[0] if len(parts) == 1 else wq.And(parts)


class LongLivedEngine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="qms-search-diff-"))
        self.engine = WhooshEngine(self.root)
        self.engine.rebuild({"current": list, "history": list}, replay=lambda ids, gen: None)
        self.model: dict[str, IndexEntry] = {}  # what the index holds, committed
        self.staged: dict[str, IndexEntry | None] = {}  # one batch (None: removal)
        self.worker = WhooshEngine(self.root)  # another process's engine
        self.pinned: dict[str, IndexEntry] | None = None  # what its searcher was opened on

    def teardown(self) -> None:
        self.engine.close()
        self.worker.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- changes --

    @rule(
        key=st.sampled_from(KEYS),
        title=texts,
        body=texts,
        kind=st.sampled_from(KINDS),
        department=st.sampled_from(DEPARTMENTS),
    )
    def index_now(self, key: str, title: str, body: str, kind: str, department: str) -> None:
        """A new document or an update, committed at once."""
        e = entry(key, title, body, kind, department)
        self.engine.index("current", [e])
        self.model[key] = e

    @rule(key=st.sampled_from(KEYS))
    def remove_now(self, key: str) -> None:
        self.engine.remove("current", [key])
        self.model.pop(key, None)

    @rule(
        key=st.sampled_from(KEYS),
        body=texts,
        kind=st.sampled_from(KINDS),
        department=st.sampled_from(DEPARTMENTS),
    )
    def stage_update(self, key: str, body: str, kind: str, department: str) -> None:
        self.staged[key] = entry(key, "", body, kind, department)

    @rule(key=st.sampled_from(KEYS))
    def stage_removal(self, key: str) -> None:
        self.staged[key] = None

    @precondition(lambda self: bool(self.staged))
    @rule()
    def commit(self) -> None:
        """A batch in one commit per index, as the outbox drain applies it."""
        upserts = [e for e in self.staged.values() if e is not None]
        removals = [k for k, e in self.staged.items() if e is None]
        self.engine.apply({"current": (upserts, removals)})
        for key, e in self.staged.items():
            if e is None:
                self.model.pop(key, None)
            else:
                self.model[key] = e
        self.staged = {}

    @rule(optimize=st.booleans())
    def commit_elsewhere(self, optimize: bool) -> None:
        """A commit without changes in another process: small segments merged (or all of
        them, optimize) and the files of the old ones deleted."""
        other = WhooshEngine(self.root)
        with other.writer_lock():
            _writer(other._open_for_write("current", None)).commit(optimize=optimize)

    @rule()
    def pin_worker(self) -> None:
        """The other worker opens its searcher now and keeps reading from it whatever is
        committed meanwhile (what happens between its up-to-date check and its reads)."""
        self.worker.close()
        searcher, _memo = self.worker._searcher("current")
        searcher.up_to_date = lambda: True  # type: ignore[method-assign]
        self.pinned = dict(self.model)

    @precondition(lambda self: self.pinned is not None)
    @rule(query=queries, commit=st.sampled_from([None, False, True]))
    def query_pinned_worker(self, query: str, commit: bool | None) -> None:
        """The other worker's answer, after a commit elsewhere (commit: whether it
        optimizes) or not."""
        assert self.pinned is not None
        if commit is not None:
            self.commit_elsewhere(optimize=commit)
        # every document and facet value of the searcher it opened, whatever matches
        searcher, memo = self.worker._searcher("current")
        live = [d for d in range(searcher.doc_count_all()) if not searcher.reader().is_deleted(d)]
        assert sorted(searcher.stored_fields(d)["key"] for d in live) == sorted(self.pinned)
        for name in FACETS if live else ():
            column = self.worker._column(searcher, memo, name)
            expected = Counter(getattr(e, name) for e in self.pinned.values())
            assert Counter(column[d] for d in live) == expected, name
        phrases = service.parse_query(query).phrases
        matched = {k for k, e in self.pinned.items() if found_in(e, query)}
        result = self.worker.query(
            "current",
            phrases,
            filters={},
            page=1,
            per_page=100,
            facets=FACETS,
            facet_filters={},
        )
        assert {h.key for h in result.hits} == matched, query
        assert result.total == len(matched), query
        if matched:
            for name in FACETS:
                expected = Counter(getattr(self.pinned[k], name) for k in matched)
                assert result.facets[name] == dict(expected), (query, name)

    @rule()
    def rebuild(self) -> None:
        """A new generation swapped in under the same engine object."""
        self.pinned = None  # the other worker opens the new generation at its next query
        committed = list(self.model.values())
        self.engine.rebuild(
            {"current": lambda: iter(committed), "history": list}, replay=lambda ids, gen: None
        )

    # -- answers --

    @rule(query=queries, kind=st.one_of(st.none(), st.sampled_from(KINDS)))
    def query(self, query: str, kind: str | None) -> None:
        phrases = service.parse_query(query).phrases
        assert phrases, query
        matched = {k for k, e in self.model.items() if found_in(e, query)}
        selected = {k for k in matched if kind is None or self.model[k].kind == kind}
        result = self.engine.query(
            "current",
            phrases,
            filters={"kind": [kind]} if kind else {},
            page=1,
            per_page=100,
            facets=FACETS,
            facet_filters={},
        )
        assert {h.key for h in result.hits} == selected, query
        assert result.total == len(selected), query
        if matched:
            for name in FACETS:
                expected = Counter(getattr(self.model[k], name) for k in matched)
                assert result.facets[name] == dict(expected), (query, name)
        assert self.engine.matching_ids("current", phrases) == {
            self.model[k].document_id for k in matched
        }, query
        # Whoosh's own phrase query on the engine's searcher
        searcher = self.engine.searcher("current")
        whoosh = {
            searcher.stored_fields(d)["key"] for d in searcher.docs_for_query(whoosh_query(query))
        }
        assert whoosh == matched, query

    @invariant()
    def every_document_once(self) -> None:
        """The searcher in use holds each committed key once (no stale deletion), and
        every facet column covers every document number."""
        searcher = self.engine.searcher("current")
        keys = [f["key"] for f in searcher.all_stored_fields()]
        assert sorted(keys) == sorted(self.model)
        reader = searcher.reader()
        for name in ("kind", "department") if reader.doc_count_all() else ():
            assert len(list(reader.column_reader(name))) == reader.doc_count_all()


LongLivedEngine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_a_long_lived_engine_answers_as_a_scan_does = LongLivedEngine.TestCase
