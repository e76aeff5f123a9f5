"""The search engine behind one small interface: index, remove, query, rebuild.

Whoosh (whoosh-reloaded, pinned) stores two indexes in one *generation* directory under
DATA_DIR/search/: `current` (each document's effective revision) and `history` (every
revision). The file ACTIVE names the generation in use; a rebuild fills a new generation
and swaps ACTIVE with an atomic rename while searches go on in the old one.

One writer at a time, across processes: every change to the index happens under an
exclusive fcntl lock on DATA_DIR/search/writer.lock, so gunicorn workers queue for it
instead of failing on Whoosh's own lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import os
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from whoosh import fields as wf
from whoosh import formats, index, sorting
from whoosh import query as wq
from whoosh.analysis import Token, Tokenizer
from whoosh.searching import Searcher

from qms.search import analysis

log = logging.getLogger("qms.search")

INDEXES = ("current", "history")
STALE_REBUILD_SECONDS = 6 * 3600


@dataclass
class IndexEntry:
    """What the index knows of one revision (key: document id in `current`, revision id
    in `history`)."""

    key: str
    document_id: int
    revision_id: int
    number: str
    label: str
    title: str
    body: str
    kind: str
    department: str
    state: str
    content_sha256: str
    effective_date: date | None = None
    extras: dict[str, str] = field(default_factory=dict)
    viewers: list[str] = field(default_factory=lambda: ["*"])


@dataclass
class Phrase:
    """One part of a query: consecutive tokens, all required, optionally tried as a
    document number too."""

    tokens: list[str]
    numberlike: bool = False
    fuzzy: bool = False


@dataclass
class EngineHit:
    key: str
    document_id: int
    revision_id: int
    score: float
    state: str


@dataclass
class EngineResult:
    hits: list[EngineHit]
    total: int
    facets: dict[str, dict[str, int]]


class SearchEngine(Protocol):
    """What the rest of QMS needs from a search engine; Whoosh is one implementation."""

    def index(self, which: str, entries: Iterable[IndexEntry], *,
              gen: str | None = None) -> None: ...
    def remove(self, which: str, keys: Iterable[str], *, gen: str | None = None) -> None: ...
    def query(self, which: str, phrases: list[Phrase], *, filters: dict[str, list[str]],
              page: int, per_page: int, facets: tuple[str, ...] = ()) -> EngineResult: ...
    def rebuild(self, sources: dict[str, Callable[[], Iterable[IndexEntry]]], *,
                replay: Callable[[set[int], str], None],
                progress: Callable[[int], None] | None = None) -> str: ...


class IndexUnavailable(Exception):
    """The active index is missing or cannot be opened (the caller rebuilds it)."""


# -- the Whoosh field for Chinese text -------------------------------------------------

class _CJKTokenizer(Tokenizer):
    """Whoosh tokenizer with the same tokens and positions as analysis.index_positions
    (used only where Whoosh itself analyses text; indexing goes through CJKText.index)."""

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, mode: str = "", **kwargs: Any) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        poses = analysis.index_positions(analysis.fold(value))
        for text, plist in poses.items():
            for pos in plist:
                token.text = text
                token.boost = 1.0
                token.stopped = False
                if positions:
                    token.pos = start_pos + pos
                yield token


class CJKText(wf.FieldType):
    """A text field indexed with CJK bigrams/unigrams and whole words, with positions."""

    indexed = True
    scorable = True
    stored = False
    unique = False

    def __init__(self, field_boost: float = 1.0) -> None:
        self.format = formats.Positions(field_boost=field_boost)
        self.analyzer = _CJKTokenizer()
        self.column_type = None
        self.vector = None

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        parts = [value] if isinstance(value, str) else list(value)
        boost = self.format.field_boost
        encode = self.format.encode
        for term, plist in analysis.index_positions([analysis.fold(p) for p in parts]).items():
            yield term.encode("utf-8"), len(plist), len(plist) * boost, encode(plist)


def make_schema() -> wf.Schema:
    return wf.Schema(
        key=wf.ID(stored=True, unique=True),
        document_id=wf.STORED(),
        revision_id=wf.STORED(),
        number_id=wf.ID(stored=True),
        number=CJKText(field_boost=8.0),
        title=CJKText(field_boost=3.0),
        content=CJKText(),
        kind=wf.ID(stored=True, sortable=True),
        department=wf.ID(stored=True, sortable=True),
        state=wf.ID(stored=True, sortable=True),
        viewers=wf.KEYWORD(commas=True),
        content_sha256=wf.STORED(),
    )


def _document_fields(e: IndexEntry) -> dict[str, Any]:
    extras = [e.extras[k] for k in sorted(e.extras) if e.extras[k]]
    return {
        "key": e.key,
        "document_id": e.document_id,
        "revision_id": e.revision_id,
        "number_id": e.number,
        "number": e.number,
        "title": e.title,
        "content": [e.number, e.title, e.body, *extras],
        "kind": e.kind,
        "department": e.department,
        "state": e.state,
        "viewers": ",".join(e.viewers),
        "content_sha256": e.content_sha256,
    }


# -- the engine ------------------------------------------------------------------------

class WhooshEngine:
    """SearchEngine on Whoosh, rooted at DATA_DIR/search."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    # -- paths and locks --

    @property
    def _active_file(self) -> Path:
        return self.root / "ACTIVE"

    def active_generation(self) -> str | None:
        try:
            name = self._active_file.read_text().strip()
        except FileNotFoundError:
            return None
        return name or None

    @contextlib.contextmanager
    def writer_lock(self, blocking: bool = True) -> Iterator[bool]:
        """The single-writer lock across processes; yields False when not blocking and
        someone else holds it."""
        with open(self.root / "writer.lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- writing --

    def _open_for_write(self, which: str, gen: str | None) -> index.Index:
        gen = gen or self.active_generation()
        if gen is None:
            raise IndexUnavailable("no active index")
        return _open_index(self.root / gen / which)

    def index(self, which: str, entries: Iterable[IndexEntry], *, gen: str | None = None) -> None:
        ix = self._open_for_write(which, gen)
        with ix.writer() as writer:
            for entry in entries:
                writer.update_document(**_document_fields(entry))

    def remove(self, which: str, keys: Iterable[str], *, gen: str | None = None) -> None:
        ix = self._open_for_write(which, gen)
        with ix.writer() as writer:
            for key in keys:
                writer.delete_by_term("key", key)

    def apply(self, changes: dict[str, tuple[list[IndexEntry], list[str]]], *,
              gen: str | None = None) -> None:
        """Several upserts and removals per index, one commit each."""
        for which, (upserts, removals) in changes.items():
            if not upserts and not removals:
                continue
            ix = self._open_for_write(which, gen)
            with ix.writer() as writer:
                for key in removals:
                    writer.delete_by_term("key", key)
                for entry in upserts:
                    writer.update_document(**_document_fields(entry))

    # -- rebuilding --

    def rebuilding(self) -> bool:
        marker = self.root / "REBUILDING"
        try:
            return time.time() - marker.stat().st_mtime < STALE_REBUILD_SECONDS
        except FileNotFoundError:
            return False

    def note_changed(self, document_ids: Iterable[int]) -> None:
        """While a rebuild runs, remember what changed so it is replayed into the new
        generation before the swap (call under the writer lock)."""
        if not self.rebuilding():
            return
        with open(self.root / "replay.log", "a") as fh:
            fh.write("".join(f"{d}\n" for d in document_ids))

    def rebuild(self, sources: dict[str, Callable[[], Iterable[IndexEntry]]], *,
                replay: Callable[[set[int], str], None],
                progress: Callable[[int], None] | None = None,
                limitmb: int = 128) -> str:
        """Build every index into a new generation, then swap it in atomically."""
        with open(self.root / "rebuild.lock", "a+") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            gen = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
            with self.writer_lock():
                (self.root / "replay.log").write_text("")
                (self.root / "REBUILDING").write_text(gen)
            try:
                schema = make_schema()
                for which in INDEXES:
                    path = self.root / gen / which
                    path.mkdir(parents=True)
                    ix = index.create_in(str(path), schema)
                    writer = ix.writer(limitmb=limitmb)
                    try:
                        for entry in sources[which]():
                            writer.add_document(**_document_fields(entry))
                            if progress:
                                progress(1)
                    except BaseException:
                        writer.cancel()
                        raise
                    writer.commit()
                with self.writer_lock():
                    replay_file = self.root / "replay.log"
                    changed = {int(line) for line in replay_file.read_text().split() if line}
                    replay(changed, gen)
                    self._swap(gen)
                    (self.root / "REBUILDING").unlink(missing_ok=True)
                    replay_file.unlink(missing_ok=True)
            except BaseException:
                (self.root / "REBUILDING").unlink(missing_ok=True)
                shutil.rmtree(self.root / gen, ignore_errors=True)
                raise
            self._remove_old_generations(keep=2)
            return gen

    def _swap(self, gen: str) -> None:
        tmp = self.root / f"ACTIVE.{uuid.uuid4().hex}"
        tmp.write_text(gen)
        os.replace(tmp, self._active_file)

    def _remove_old_generations(self, keep: int) -> None:
        """Keep the active generation and the one before (readers may still be in it)."""
        active = self.active_generation()
        gens = sorted((p for p in self.root.glob("gen-*") if p.is_dir()),
                      key=lambda p: p.stat().st_mtime, reverse=True)
        for path in [p for p in gens if p.name != active][keep - 1:]:
            shutil.rmtree(path, ignore_errors=True)

    # -- reading --

    def searcher(self, which: str) -> Searcher:
        """A searcher of the active generation, cached per thread and refreshed when the
        index changed."""
        gen = self.active_generation()
        if gen is None:
            raise IndexUnavailable("no active index")
        cache: dict[str, tuple[str, Searcher]] = self._local.__dict__.setdefault("cache", {})
        cached = cache.get(which)
        try:
            if cached is not None and cached[0] == gen:
                searcher = cached[1]
                if not searcher.up_to_date():
                    searcher = searcher.refresh()
            else:
                if cached is not None:
                    cached[1].close()
                searcher = _open_index(self.root / gen / which).searcher()
        except Exception as err:
            cache.pop(which, None)
            raise IndexUnavailable(str(err)) from err
        cache[which] = (gen, searcher)
        return searcher

    def close(self) -> None:
        cache: dict[str, tuple[str, Searcher]] = self._local.__dict__.pop("cache", {})
        for _gen, searcher in cache.values():
            searcher.close()

    def query(self, which: str, phrases: list[Phrase], *, filters: dict[str, list[str]],
              page: int, per_page: int, facets: tuple[str, ...] = ()) -> EngineResult:
        searcher = self.searcher(which)
        q = build_query(phrases, searcher)
        filter_q = _filter_query(filters)
        groupedby = {name: sorting.FieldFacet(name, maptype=sorting.Count) for name in facets}
        results = searcher.search_page(q, page, pagelen=per_page, filter=filter_q,
                                       groupedby=groupedby or None, terms=False)
        hits = []
        for hit in results:
            stored = hit.fields()
            hits.append(EngineHit(key=stored["key"], document_id=stored["document_id"],
                                  revision_id=stored["revision_id"], score=float(hit.score or 0),
                                  state=stored["state"]))
        counts = {name: dict(results.results.groups(name)) for name in facets}
        return EngineResult(hits=hits, total=results.total, facets=counts)

    def facet_counts(self, which: str, phrases: list[Phrase], *, filters: dict[str, list[str]],
                     facets: tuple[str, ...]) -> dict[str, dict[str, int]]:
        searcher = self.searcher(which)
        groupedby = {name: sorting.FieldFacet(name, maptype=sorting.Count) for name in facets}
        results = searcher.search(build_query(phrases, searcher), limit=1,
                                  filter=_filter_query(filters), groupedby=groupedby,
                                  terms=False)
        return {name: dict(results.groups(name)) for name in facets}

    def suggest_words(self, which: str, word: str) -> list[str]:
        """Close Latin words from the index's own vocabulary (typo tolerance)."""
        searcher = self.searcher(which)
        maxdist = 1 if len(word) <= 5 else 2
        return [w for w in searcher.suggest("content", word, limit=3, maxdist=maxdist)
                if not analysis.is_cjk(w) and len(w) > 1]

    def numbers(self, which: str) -> list[str]:
        searcher = self.searcher(which)
        return [t.decode("utf-8") for t in searcher.lexicon("number_id")]

    def indexed(self, which: str) -> dict[str, tuple[str, str]]:
        """key → (content_sha256, state) of everything in an index (reconciliation)."""
        searcher = self.searcher(which)
        return {f["key"]: (f.get("content_sha256", ""), f.get("state", ""))
                for f in searcher.all_stored_fields()}

    def doc_count(self, which: str) -> int:
        return int(self.searcher(which).doc_count())

    def size_bytes(self) -> int:
        gen = self.active_generation()
        if gen is None:
            return 0
        return sum(p.stat().st_size for p in (self.root / gen).rglob("*") if p.is_file())


def _open_index(path: Path) -> index.Index:
    """Open an index or raise IndexUnavailable. Whoosh leaves an unreadable table of
    contents open when it fails; that file is closed here, without a ResourceWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            return index.open_dir(str(path))
        except Exception as err:
            message = f"{path.name}: {type(err).__name__}: {err}"
        gc.collect()
    raise IndexUnavailable(message)


def build_query(phrases: list[Phrase], searcher: Searcher | None = None) -> wq.Query:
    parts: list[wq.Query] = []
    for phrase in phrases:
        alternatives: list[wq.Query] = []
        fields = ["content", "title"] + (["number"] if phrase.numberlike else [])
        for fieldname in fields:
            toks = phrase.tokens
            if phrase.fuzzy and len(toks) == 1 and not analysis.is_cjk(toks[0]):
                maxdist = 1 if len(toks[0]) <= 5 else 2
                alternatives.append(wq.FuzzyTerm(fieldname, toks[0], maxdist=maxdist,
                                                 prefixlength=1))
            elif len(toks) == 1:
                alternatives.append(wq.Term(fieldname, toks[0]))
            else:
                alternatives.append(wq.Phrase(fieldname, toks))
        parts.append(wq.Or(alternatives))
    return wq.And(parts) if len(parts) > 1 else parts[0]


def _filter_query(filters: dict[str, list[str]]) -> wq.Query | None:
    clauses: list[wq.Query] = []
    for name, values in filters.items():
        if not values:
            continue
        terms: list[wq.Query] = [wq.Term(name, v) for v in values]
        clauses.append(terms[0] if len(terms) == 1 else wq.Or(terms))
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else wq.And(clauses)
