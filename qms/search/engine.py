"""The search engine behind one small interface: index, remove, query, rebuild.

Whoosh (whoosh-reloaded, pinned) stores two indexes in one *generation* directory under
DATA_DIR/search/: `current` (each document's effective revision) and `history` (every
revision). The file ACTIVE names the generation in use; a rebuild fills a new generation
and swaps ACTIVE with an atomic rename while searches go on in the old one.

One writer at a time, across processes: every change to the index happens under an
exclusive fcntl lock on DATA_DIR/search/writer.lock, so gunicorn workers queue for it
instead of failing on Whoosh's own lock.

Matching is exact and done here, not by Whoosh's query objects: a phrase's rarest n-gram
gives the candidates, checked against the other n-grams' positions on posting lists read
whole and cached per segment for the process (postings.py; a rebuild writes them beside
its segment as plain arrays, bulk.py). Ranking is Whoosh's BM25F, computed on the same
lists.

Readers in other processes. Whoosh opens a segment's per-document files (stored fields,
columns, field lengths) only when first asked, checks each time whether the file is there,
and a commit in another process deletes the files of the segments it merged away. A reader
opened before such a commit then met a segment without its files: its facet column was
left out of the column of the whole index (shorter: IndexError in facet counting; or
shifted: wrong counts), its stored fields came back as None (TypeError), its field lengths
as the default (other ranking), and an open between a commit's new table of contents and
its clean-up failed (IndexUnavailable: a rebuild in a request). So every reader opens all
of a segment's files while it holds DATA_DIR/search/files.lock shared, and answers from
what it opened for as long as it lives (_hold_files); a commit writes its table of
contents and deletes files only while it holds that lock exclusively (_writer), as does
the removal of an old generation. A deleted file stays readable through the descriptors
already open to it (POSIX), so a searcher is a consistent snapshot until it is replaced
(at the next query after a commit: the disk space of merged segments is freed then).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import heapq
import logging
import operator
import os
import shutil
import struct
import threading
import time
import uuid
import warnings
from array import array
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate, chain, repeat
from pathlib import Path
from typing import Any, Protocol

from whoosh import fields as wf
from whoosh import formats, index
from whoosh import query as wq
from whoosh.analysis import Token, Tokenizer
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.support.levenshtein import distance as levenshtein_distance

from qms.search import analysis
from qms.search.bulk import BulkWriter
from qms.search.postings import CACHE as POSTINGS
from qms.search.postings import segment_id as postings_segment_id

log = logging.getLogger("qms.search")

INDEXES = ("current", "history")
COMPLETE = "COMPLETE"  # in a generation directory: built whole (holds when, in ns)
FILES_LOCK = "files.lock"  # shared: opening a reader; exclusive: deleting index files
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
    text: str = ""  # the folded segment, when known (a compound is then one term)
    quoted: bool = False  # typed in quotes: searched as written, never split into words

    def plan(self, max_gram: int = analysis.MAX_GRAM) -> list[tuple[str, int]]:
        """The content terms that must all be present, each at its offset from the phrase
        start: one term for a CJK run of up to max_gram characters, a word or a compound;
        else the run's overlapping n-grams."""
        if self.text:
            whole = analysis.compound(self.text)
            if whole is not None:
                return [(whole, 0)]
            runs = [m.group() for m in analysis.TOKEN_RE.finditer(self.text)]
        else:
            runs = analysis.runs_from_tokens(self.tokens)
        return analysis.gram_plan(runs, max_gram)


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
    """Whoosh tokenizer with the same terms and positions as analysis.index_terms
    (used only where Whoosh itself analyses text; indexing goes through CJKText.index)."""

    max_gram = 2  # pickled in the schema; indexes written before it hold bigrams at most

    def __init__(self, max_gram: int = analysis.MAX_GRAM) -> None:
        self.max_gram = max_gram

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, mode: str = "", **kwargs: Any) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        poses = analysis.index_terms(analysis.fold(value), self.max_gram)
        for text, plist in poses.items():
            for pos in plist:
                token.text = text
                token.boost = 1.0
                token.stopped = False
                if positions:
                    token.pos = start_pos + pos
                yield token


_UINT = struct.Struct("!I")


class PackedPositions(formats.Positions):
    """formats.Positions with the positions stored as a uint32 array instead of pickled
    deltas: cheaper to write, and read as array slices (postings.SegmentPostings). An
    index written with formats.Positions is rebuilt (_open_index)."""

    def encode(self, poslist: list[int]) -> bytes:
        return bytes(_UINT.pack(len(poslist)) + array("I", poslist).tobytes())

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return array("I", valuestring[_UINT.size:]).tolist()


class CJKText(wf.FieldType):
    """A text field indexed with CJK n-grams (1 to max_gram characters), whole words and
    number compounds; with positions, or term frequencies only (a field used for ranking)."""

    indexed = True
    scorable = True
    stored = False
    unique = False
    max_gram = 2  # pickled in the schema; indexes written before it hold bigrams at most

    def __init__(self, field_boost: float = 1.0, positions: bool = True,
                 max_gram: int = analysis.MAX_GRAM) -> None:
        self.format = (PackedPositions(field_boost=field_boost) if positions
                       else formats.Frequency(field_boost=field_boost))
        self.max_gram = max_gram
        self.analyzer = _CJKTokenizer(max_gram)
        self.column_type = None
        self.vector = None

    def term_positions(self, value: Any) -> dict[str, list[int]]:
        """term → positions of a value (one text or several parts)."""
        parts = [value] if isinstance(value, str) else list(value)
        return analysis.index_terms([analysis.fold(p) for p in parts], self.max_gram)

    def encode(self, counts: Sequence[int], positions: array) -> tuple[array, list[bytes]]:
        """The weights and values of one term's postings: `counts` positions in each
        document, all of them in `positions`."""
        boost = self.format.field_boost
        weights = array("f", [n * boost for n in counts])
        pack = _UINT.pack
        if isinstance(self.format, formats.Positions):
            ends = list(accumulate(counts))
            return weights, [pack(n) + positions[end - n:end].tobytes()
                             for n, end in zip(counts, ends, strict=True)]
        return weights, [pack(n) for n in counts]  # formats.Frequency

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        terms = self.term_positions(value)
        counts = [len(p) for p in terms.values()]
        weights, values = self.encode(counts, array("I", chain.from_iterable(terms.values())))
        for term, n, weight, vbytes in zip(terms, counts, weights, values, strict=True):
            yield term.encode("utf-8"), n, weight, vbytes


POOL_MB = 16  # Whoosh's posting pool in a rebuild (its estimate; real objects take ~2×)

# CJK n-gram sizes per index (kept in the schema: an index of another size is rebuilt)
MAX_GRAMS = {"current": analysis.MAX_GRAM, "history": analysis.MAX_GRAM}


def make_schema(max_gram: int = analysis.MAX_GRAM) -> wf.Schema:
    return wf.Schema(
        key=wf.ID(stored=True, unique=True),
        document_id=wf.STORED(),
        revision_id=wf.STORED(),
        number_id=wf.ID(stored=True),
        number=CJKText(field_boost=8.0, positions=False, max_gram=max_gram),
        title=CJKText(field_boost=3.0, positions=False, max_gram=max_gram),
        content=CJKText(max_gram=max_gram),
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
        # every thread's cache of searchers, so that close_all() can close them
        self._caches: list[dict[str, tuple[str, Searcher, dict[Any, Any]]]] = []
        self._caches_lock = threading.Lock()

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
        with _file_lock(self.root / "writer.lock", blocking) as held:
            yield held

    # -- writing --

    def _open_for_write(self, which: str, gen: str | None) -> index.Index:
        gen = gen or self.active_generation()
        if gen is None:
            raise IndexUnavailable("no active index")
        return _open_index(self.root / gen / which)

    def index(self, which: str, entries: Iterable[IndexEntry], *, gen: str | None = None) -> None:
        ix = self._open_for_write(which, gen)
        with _writer(ix) as writer:
            for entry in entries:
                writer.update_document(**_document_fields(entry))

    def remove(self, which: str, keys: Iterable[str], *, gen: str | None = None) -> None:
        ix = self._open_for_write(which, gen)
        with _writer(ix) as writer:
            for key in keys:
                writer.delete_by_term("key", key)

    def apply(self, changes: dict[str, tuple[list[IndexEntry], list[str]]], *,
              gen: str | None = None) -> None:
        """Several upserts and removals per index, one commit each."""
        for which, (upserts, removals) in changes.items():
            if not upserts and not removals:
                continue
            ix = self._open_for_write(which, gen)
            with _writer(ix) as writer:
                for key in removals:
                    writer.delete_by_term("key", key)
                for entry in upserts:
                    writer.update_document(**_document_fields(entry))

    # -- rebuilding --

    def rebuilding(self) -> bool:
        """Whether a rebuild is running now: its marker is there and its process still
        holds the rebuild lock (a killed rebuild leaves the marker, not the lock)."""
        marker = self.root / "REBUILDING"
        try:
            if time.time() - marker.stat().st_mtime >= STALE_REBUILD_SECONDS:
                return False
        except FileNotFoundError:
            return False
        with self._rebuild_lock(blocking=False) as free:
            return not free

    @contextlib.contextmanager
    def _rebuild_lock(self, blocking: bool = True) -> Iterator[bool]:
        """One rebuild at a time, across processes; yields False when not blocking and a
        rebuild holds it."""
        with _file_lock(self.root / "rebuild.lock", blocking) as held:
            yield held

    def _complete(self, path: Path) -> bool:
        return (path / COMPLETE).is_file()

    def clean_up(self) -> list[str]:
        """Remove what a killed rebuild left behind — its REBUILDING marker and replay.log,
        a generation never completed, a half-written ACTIVE — unless a rebuild is running.
        Says what was removed (nothing: an empty list)."""
        with self._rebuild_lock(blocking=False) as free:
            return self._clean_up() if free else []

    def _clean_up(self) -> list[str]:
        """clean_up() under the rebuild lock."""
        removed: list[str] = []
        with self.writer_lock():
            active = self.active_generation()
            for name in ("REBUILDING", "replay.log"):
                if (self.root / name).exists():
                    (self.root / name).unlink()
                    removed.append(name)
            for path in sorted(self.root.glob("ACTIVE.*")):
                path.unlink(missing_ok=True)
                removed.append(path.name)
            for path in sorted(p for p in self.root.glob("gen-*") if p.is_dir()):
                if path.name != active and not self._complete(path):
                    with _files_lock(self.root, shared=False):
                        shutil.rmtree(path, ignore_errors=True)
                    removed.append(f"{path.name} (an unfinished rebuild)")
        return removed

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
        with self._rebuild_lock():
            # debris of a rebuild that was killed (this one holds the lock now)
            for what in self._clean_up():
                log.warning("search index: removed %s left by an interrupted rebuild", what)
            gen = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
            with self.writer_lock():
                (self.root / "replay.log").write_text("")
                (self.root / "REBUILDING").write_text(gen)
            try:
                for which in INDEXES:
                    path = self.root / gen / which
                    path.mkdir(parents=True)
                    schema = make_schema(MAX_GRAMS[which])
                    ix = index.create_in(str(path), schema)
                    writer = BulkWriter(
                        # Whoosh's own pool keeps only the few ID and keyword postings
                        _writer(ix, limitmb=min(limitmb, POOL_MB)),
                        fields=[name for name, f in schema.items() if isinstance(f, CJKText)],
                        batch_postings=limitmb * BulkWriter.POSTINGS_PER_MB)
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
                    # the marker that this generation is whole: only a generation with it
                    # is ever kept besides the active one
                    (self.root / gen / COMPLETE).write_text(str(time.time_ns()))
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
        previous = self.active_generation()
        if previous and (self.root / previous).is_dir() and \
                not self._complete(self.root / previous):
            # in use until now, so whole (written before generations had the marker)
            (self.root / previous / COMPLETE).write_text(str(time.time_ns() - 1))
        tmp = self.root / f"ACTIVE.{uuid.uuid4().hex}"
        tmp.write_text(gen)
        os.replace(tmp, self._active_file)

    def _remove_old_generations(self, keep: int) -> None:
        """Keep the active generation and the last complete ones before it (readers may
        still be in them), chosen by their completion marker — never by modification time,
        which a killed rebuild's partial generation would win."""
        active = self.active_generation()

        def completed(path: Path) -> int:
            try:
                return int((path / COMPLETE).read_text().strip() or 0)
            except (OSError, ValueError):
                return -1

        gens = sorted(((completed(p), p) for p in self.root.glob("gen-*")
                       if p.is_dir() and p.name != active), reverse=True)
        kept = [p for stamp, p in gens if stamp >= 0][:keep - 1]
        for _stamp, path in gens:
            if path not in kept:
                with _files_lock(self.root, shared=False):  # no reader opening it now
                    shutil.rmtree(path, ignore_errors=True)

    # -- reading --

    def searcher(self, which: str) -> Searcher:
        """A searcher of the active generation, cached per thread and refreshed when the
        index changed."""
        return self._searcher(which)[0]

    def _searcher(self, which: str) -> tuple[Searcher, dict[Any, Any]]:
        """The cached searcher and its memo (filter sets, facet columns), which lives as
        long as the searcher does."""
        gen = self.active_generation()
        if gen is None:
            raise IndexUnavailable("no active index")
        cache: dict[str, tuple[str, Searcher, dict[Any, Any]]] | None = \
            self._local.__dict__.get("cache")
        if cache is None:
            cache = self._local.__dict__["cache"] = {}
            with self._caches_lock:
                self._caches.append(cache)
        cached = cache.get(which)
        try:
            # (a searcher a commit has made stale is still a whole snapshot of the index —
            # it holds its files open — and is replaced at the next query)
            if cached is not None and cached[0] == gen and cached[1].up_to_date():
                return cached[1], cached[2]
            # A new generation, or a commit (new segments, a merge, deletions) since this
            # searcher was opened: a whole new searcher, with a memo of its own. Never
            # Searcher.refresh(): whoosh-reloaded's reader reuse keeps a segment's reader
            # with the deletions it had, and adds back segments a merge has replaced — a
            # reader whose document numbers no longer match its columns (IndexError in
            # facet counting) and whose updated documents match twice.
            if cached is not None:
                cache.pop(which, None)
                cached[1].close()
            gen, searcher = self._open_searcher(which)
            memo: dict[Any, Any] = {"generation": (gen, searcher.reader().generation())}
        except Exception as err:
            cache.pop(which, None)
            raise IndexUnavailable(str(err)) from err
        cache[which] = (gen, searcher, memo)
        return searcher, memo

    def _open_searcher(self, which: str) -> tuple[str, Searcher]:
        """A new searcher of the active generation (and its name) holding all its files
        (_hold_files), opened under the shared files lock: no commit deletes a file or a
        table of contents meanwhile."""
        for attempt in range(3):
            with _files_lock(self.root, shared=True):
                gen = self.active_generation()
                if gen is None:
                    raise IndexUnavailable("no active index")
                searcher = _open_index(self.root / gen / which).searcher()
                try:
                    _hold_files(searcher.reader(), _folder(searcher))
                except StaleSegment as err:
                    searcher.close()
                    if attempt == 2:
                        raise IndexUnavailable(str(err)) from err
                    log.warning("search: %s changed while opened; opened again", which,
                                exc_info=True)
                    continue
                return gen, searcher
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close this thread's searchers."""
        cache: dict[str, tuple[str, Searcher, dict[Any, Any]]] = \
            self._local.__dict__.pop("cache", {})
        with self._caches_lock:
            self._caches = [c for c in self._caches if c is not cache]
        for _gen, searcher, _memo in cache.values():
            searcher.close()

    def close_all(self) -> None:
        """Close every thread's searchers (at shutdown: no thread may be searching)."""
        with self._caches_lock:
            caches = list(self._caches)
        for cache in caches:  # emptied, still registered: its thread may search again
            for _gen, searcher, _memo in cache.values():
                if not searcher.is_closed:
                    searcher.close()
            cache.clear()

    # -- matching: exact sets of document numbers --

    def _filter_docs(self, searcher: Searcher, memo: dict[Any, Any],
                     filters: dict[str, list[str]]) -> set[int] | None:
        """Documents allowed by the filters (None: no filter), memoised per searcher."""
        allowed: set[int] | None = None
        for name, values in sorted(filters.items()):
            if not values:
                continue
            key = ("filter", name, tuple(sorted(values)))
            docs = memo.get(key)
            if docs is None:
                docs = set()
                for value in values:
                    docs |= _term_docs(searcher, name, value)
                memo[key] = docs
            allowed = set(docs) if allowed is None else allowed & docs
        return allowed

    def _column(self, searcher: Searcher, memo: dict[Any, Any], name: str) -> list[Any]:
        key = ("column", name)
        if key not in memo:
            memo[key] = list(searcher.reader().column_reader(name, translate=True))
        column: list[Any] = memo[key]
        return column

    def query(self, which: str, phrases: list[Phrase], *, filters: dict[str, list[str]],
              page: int, per_page: int, facets: tuple[str, ...] = (),
              facet_filters: dict[str, list[str]] | None = None) -> EngineResult:
        """One page of hits, best first; the total and the facet counts are exact. Facets
        are counted under facet_filters (default: the same filters), so that a facet still
        shows the other choices once one is selected."""
        # (No retry here: a searcher reads only the files it opened with the files lock
        # held, so another process's commit cannot change its segments under it — the
        # IndexError and TypeError of a long mixed run; see the module docstring.)
        return self._query(which, phrases, filters=filters, page=page, per_page=per_page,
                           facets=facets, facet_filters=facet_filters)

    def _query(self, which: str, phrases: list[Phrase], *, filters: dict[str, list[str]],
               page: int, per_page: int, facets: tuple[str, ...],
               facet_filters: dict[str, list[str]] | None) -> EngineResult:
        searcher, memo = self._searcher(which)
        fast = not any(_is_fuzzy_word(p) for p in phrases)
        matched = _matching(searcher, phrases, memo)
        allowed = self._filter_docs(searcher, memo, filters)
        selected = matched if allowed is None else matched & allowed
        counts: dict[str, dict[str, int]] = {}
        if facets and matched:
            if facet_filters is None:
                base = selected
            else:
                allowed_base = self._filter_docs(searcher, memo, facet_filters)
                base = matched if allowed_base is None else matched & allowed_base
            for name in facets:
                column = self._column(searcher, memo, name)
                counts[name] = dict(Counter(map(column.__getitem__, base)))
        hits: list[EngineHit] = []
        if fast and selected and (page - 1) * per_page < len(selected):
            for score, docnum in _rank(searcher, memo, phrases, selected,
                                       page * per_page)[(page - 1) * per_page:]:
                stored = searcher.stored_fields(docnum)
                hits.append(EngineHit(key=stored["key"], document_id=stored["document_id"],
                                      revision_id=stored["revision_id"],
                                      score=score, state=stored["state"]))
        elif selected and (page - 1) * per_page < len(selected):
            results = searcher.search(scoring_query(phrases, searcher), filter=selected,
                                      limit=page * per_page, terms=False)
            for score, docnum in results.top_n[(page - 1) * per_page:]:
                stored = searcher.stored_fields(docnum)
                hits.append(EngineHit(key=stored["key"], document_id=stored["document_id"],
                                      revision_id=stored["revision_id"],
                                      score=float(score or 0), state=stored["state"]))
        return EngineResult(hits=hits, total=len(selected), facets=counts)

    def matching_ids(self, which: str, phrases: list[Phrase]) -> set[int]:
        """Document ids of every match (no filter, no ranking): recall checks."""
        searcher = self.searcher(which)
        matched = _matching(searcher, phrases)
        return {searcher.stored_fields(d)["document_id"] for d in matched}

    def facet_counts(self, which: str, phrases: list[Phrase], *, filters: dict[str, list[str]],
                     facets: tuple[str, ...]) -> dict[str, dict[str, int]]:
        return self.query(which, phrases, filters=filters, page=1, per_page=1, facets=facets,
                          facet_filters=filters).facets

    def suggest_words(self, which: str, word: str, limit: int = 3) -> list[str]:
        """Close Latin words from the index's own vocabulary (typo tolerance): within one
        edit (words of up to 5 characters) or two, closest first, then the most frequent.
        Bounded: a word longer than MAX_FUZZY_WORD gets none, candidates are only the
        words of a near length whose letters differ little (Whoosh's own corrector walked
        the whole lexicon: seconds a word), answers are kept per searcher."""
        if len(word) > MAX_FUZZY_WORD or len(word) < 2:
            return []
        searcher, memo = self._searcher(which)
        answers: dict[str, list[str]] = memo.setdefault("suggestions", {})
        if word in answers:
            return answers[word]
        by_length = memo.get("words")
        if by_length is None:
            frequencies: Counter[str] = Counter()
            folder = _folder(searcher)
            for leaf, _offset in searcher.reader().leaf_readers():
                frequencies.update(POSTINGS.words(leaf, "content", folder))
            by_length = memo["words"] = {}
            for w, f in frequencies.items():
                by_length.setdefault(len(w), []).append((w, f, frozenset(w)))
        maxdist = 1 if len(word) <= 5 else 2
        letters = frozenset(word)
        found: list[tuple[int, int, str]] = []
        for size in range(len(word) - maxdist, len(word) + maxdist + 1):
            for w, f, its_letters in by_length.get(size, ()):
                # each edit changes the set of letters by two at most: a cheap first cut
                if len(letters ^ its_letters) > 2 * maxdist:
                    continue
                d = levenshtein_distance(word, w, limit=maxdist + 1)
                if d <= maxdist:
                    found.append((d, -f, w))
        suggestions = [w for _d, _f, w in sorted(found)[:limit]]
        if len(answers) > 256:
            answers.clear()
        answers[word] = suggestions
        return suggestions

    def numbers(self, which: str) -> list[str]:
        searcher = self.searcher(which)
        return [t.decode("utf-8") for t in searcher.lexicon("number_id")]

    def indexed(self, which: str) -> dict[str, tuple[str, str]]:
        """key → (content_sha256, state) of everything in an index (reconciliation)."""
        searcher = self.searcher(which)
        return {f["key"]: (f.get("content_sha256", ""), f.get("state", ""))
                for f in searcher.all_stored_fields()}

    def verify(self, which: str, facets: tuple[str, ...] = ("kind", "department", "state"),
               probes: int = 3) -> list[str]:
        """What a running server would meet in this index, found the way it searches: this
        engine's cached searcher (as a worker holds it) against a reader opened now (same
        segments, same deletions), every facet column against the documents, each key
        once, and probe queries (the most frequent terms) with their facets counted,
        against Whoosh's own answer. The problems found (none: an empty list)."""
        problems: list[str] = []
        gen = self.active_generation()
        if gen is None:
            return [f"{which}: no active index"]
        try:
            searcher, memo = self._searcher(which)
            _gen, fresh = self._open_searcher(which)
        except IndexUnavailable as err:
            return [f"{which}: the index cannot be opened: {err}"]
        try:
            def segments(s: Searcher) -> list[tuple[str, int, int]]:
                return sorted((str(postings_segment_id(leaf)), leaf.doc_count_all(),
                               leaf.doc_count()) for leaf, _offset in s.reader().leaf_readers())

            if segments(searcher) != segments(fresh):
                problems.append(f"{which}: the searcher in use holds other segments or "
                                f"deletions than the index has ({len(segments(searcher))} "
                                f"segments, the index {len(segments(fresh))})")
            total = searcher.doc_count_all()
            for name in facets if total else ():
                column = self._column(searcher, memo, name)
                if len(column) != total:
                    problems.append(f"{which}: the {name} facet has {len(column)} entries "
                                    f"for {total} documents")
            keys = Counter(f["key"] for f in searcher.all_stored_fields())
            twice = sorted(k for k, n in keys.items() if n > 1)
            if twice:
                problems.append(f"{which}: {len(twice)} entries found more than once "
                                f"({', '.join(twice[:5])})")
            for term in fresh.reader().most_frequent_terms("content", probes) if total else ():
                text = term[1].decode("utf-8") if isinstance(term[1], bytes) else term[1]
                found = self.query(which, [Phrase(tokens=[text], text=text)], filters={},
                                   page=1, per_page=10, facets=facets, facet_filters={})
                expected = len(list(fresh.docs_for_query(wq.Term("content", text))))
                if found.total != expected:
                    problems.append(f"{which}: a search for {text} finds {found.total} "
                                    f"documents, the index holds {expected}")
                for name, counts in found.facets.items():
                    if sum(counts.values()) != found.total:
                        problems.append(f"{which}: the {name} facet of {text} counts "
                                        f"{sum(counts.values())} of {found.total}")
        except Exception as err:  # what the server would answer with a 500
            problems.append(f"{which}: a search as the server runs it fails: "
                            f"{type(err).__name__}: {err}")
        finally:
            fresh.close()
        return problems

    def hold(self, which: str) -> Searcher:
        """A searcher of the index as it is now, apart from this thread's cache: as
        another worker holds one while this process commits (verify_held)."""
        return self._open_searcher(which)[1]

    def verify_held(self, which: str, searcher: Searcher,
                    facets: tuple[str, ...] = ("kind", "department", "state")) -> list[str]:
        """What a worker that opened `searcher` before a commit (touch) made elsewhere still
        reads from it (its segments may have been merged away and their files deleted):
        every document's stored fields and every facet value, as many as it has documents.
        Closes the searcher. The problems found (none: an empty list)."""
        problems: list[str] = []
        try:
            total = searcher.doc_count_all()
            for name in facets if total else ():
                column = list(searcher.reader().column_reader(name, translate=True))
                if len(column) != total:
                    problems.append(f"{which}: a searcher opened before a commit reads "
                                    f"{len(column)} {name} values for {total} documents")
            stored = [searcher.stored_fields(d) for d in range(total)
                      if not searcher.reader().is_deleted(d)]
            if len(stored) != searcher.doc_count() or not all(f.get("key") for f in stored):
                problems.append(f"{which}: a searcher opened before a commit no longer "
                                f"reads its documents")
        except Exception as err:  # what the server would answer with a 500
            problems.append(f"{which}: a searcher opened before a commit fails: "
                            f"{type(err).__name__}: {err}")
        finally:
            searcher.close()
        return problems

    def touch(self, which: str) -> None:
        """Commit to an index without a change (small segments may be merged), as the next
        publish would: a searcher opened before must notice and see the same documents."""
        ix = self._open_for_write(which, None)
        _writer(ix).commit()

    def doc_count(self, which: str) -> int:
        return int(self.searcher(which).doc_count())

    def size_bytes(self) -> int:
        gen = self.active_generation()
        if gen is None:
            return 0
        return sum(p.stat().st_size for p in (self.root / gen).rglob("*") if p.is_file())


@contextlib.contextmanager
def _file_lock(path: Path, blocking: bool, shared: bool = False) -> Iterator[bool]:
    """A lock on a file, across processes (exclusive, or shared with other shared
    holders); yields False when not blocking and another holds it."""
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                        | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _files_lock(root: Path, shared: bool) -> contextlib.AbstractContextManager[bool]:
    """DATA_DIR/search/files.lock: held shared while a reader opens an index's files,
    exclusively while a commit writes its table of contents and deletes the files of the
    segments it replaced, or a generation is removed (module docstring)."""
    return _file_lock(Path(root) / FILES_LOCK, blocking=True, shared=shared)


def _writer(ix: index.Index, **kwargs: Any) -> Any:
    """A writer of plain segment files. (Whoosh's compound segment file is read through an
    in-memory copy of the whole file — over a gigabyte per process at 20,000 documents.)
    Its commit publishes the new table of contents and deletes the files of the segments
    merged away under the exclusive files lock, so that no reader is opening them then."""
    writer = ix.writer(compound=False, **kwargs)
    commit_toc = writer._commit_toc
    root = Path(ix.storage.folder).parent.parent  # DATA_DIR/search/<generation>/<index>

    def _commit_toc(segments: list[Any]) -> None:
        with _files_lock(root, shared=False):
            commit_toc(segments)

    writer._commit_toc = _commit_toc
    return writer


# the column every segment with documents has: each document stores its key
_REQUIRED_COLUMNS = ("_stored",)


class StaleSegment(Exception):
    """A segment of the reader just opened has lost files it must have (deleted by a
    commit that did not take the files lock)."""


def _hold_files(reader: Any, folder: str | None) -> None:
    """Open now every file of every segment that Whoosh would open only when first asked
    (stored fields, columns, field lengths, and the positions file written by a rebuild),
    and make each segment answer from what was opened: a file a commit deletes later stays
    readable through its open descriptor, and the segment never looks again whether its
    files are there (Whoosh's W3PerDocReader asks the file system at every call, so a
    segment merged away elsewhere lost its columns and stored fields mid-life). Call while
    holding the files lock shared."""
    files = set(os.listdir(folder)) if folder else set()
    for leaf, _offset in reader.leaf_readers():
        perdoc = getattr(leaf, "_perdoc", None)
        if not isinstance(perdoc, W3PerDocReader):
            continue  # an empty index
        # every column file of the segment (<segment id>.<name>.col): stored fields, the
        # sortable fields, each field's lengths
        prefix = leaf.segment().segment_id() + "."
        present = {name[len(prefix):-len(W3Codec.COLUMN_EXT)] for name in files
                   if name.startswith(prefix) and name.endswith(W3Codec.COLUMN_EXT)}
        for name in present:
            if name not in perdoc._colfiles:
                perdoc._colfiles[name] = perdoc._get_column_file(name)
        if leaf.doc_count_all() and not present.issuperset(_REQUIRED_COLUMNS):
            raise StaleSegment(f"segment {leaf.segment().segment_id()} has lost "
                               f"{', '.join(sorted(set(_REQUIRED_COLUMNS) - present))}")
        perdoc.has_column = present.__contains__
        segment = postings_segment_id(leaf)
        if folder and segment:
            POSTINGS.hold_sidecar(folder, segment)


def _open_index(path: Path) -> index.Index:
    """Open an index or raise IndexUnavailable (also when it is of an older format — CJK
    n-grams of another size, pickled positions, compound segments — so that it is
    rebuilt). Whoosh leaves an
    unreadable table of contents open when it fails; that file is closed here, without a
    ResourceWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            ix = index.open_dir(str(path))
        except Exception as err:
            message = f"{path.name}: {type(err).__name__}: {err}"
        else:
            grams = max_gram_of(ix.schema)
            expected = MAX_GRAMS.get(path.name, grams)
            if not isinstance(ix.schema["content"].format, PackedPositions):
                message = f"{path.name}: positions in an older format"
            elif any(segment.is_compound() for segment in ix._segments()):
                message = f"{path.name}: compound segment files"
            elif grams != expected:
                message = f"{path.name}: CJK n-grams up to {grams}, not {expected}"
            else:
                return ix
            ix.close()
        gc.collect()
    raise IndexUnavailable(message)


def max_gram_of(schema: wf.Schema) -> int:
    """The longest CJK n-gram the index holds."""
    return int(getattr(schema["content"], "max_gram", 2))


def _term_docs(searcher: Searcher, fieldname: str, text: str) -> set[int]:
    try:
        matcher = searcher.reader().postings(fieldname, text)
    except TermNotFound:
        return set()
    return set(matcher.all_ids())


def _folder(searcher: Searcher) -> str | None:
    """The index's directory (where a rebuild put its positions files)."""
    storage = getattr(getattr(searcher, "_ix", None), "storage", None)
    return getattr(storage, "folder", None)


def _is_fuzzy_word(phrase: Phrase) -> bool:
    return phrase.fuzzy and len(phrase.tokens) == 1 and not analysis.is_cjk(phrase.tokens[0])


def _segment_phrase_docs(leaf: Any, plan: list[tuple[str, int]], within: set[int] | None,
                         folder: str | None) -> set[int]:
    """Documents of one segment (its own numbers) where the plan's terms all occur at their
    offsets: the rarest term's documents, each checked against the other terms' positions
    (bisection and array slices on cached lists). A term repeated in the plan is read
    once, and nothing is read when one of the terms is not in the segment."""
    frequency: dict[str, int] = {}
    for term, _offset in plan:
        if term not in frequency:
            frequency[term] = leaf.doc_frequency("content", term)
            if not frequency[term]:
                return set()
    read = {term: POSTINGS.get(leaf, "content", term, True, folder) for term in frequency}
    lists = sorted(((read[term], offset) for term, offset in plan), key=lambda t: len(t[0]))
    first, first_offset = lists[0]
    if not first:
        return set()
    if len(lists) == 1:
        return set(first.ids) if within is None else within.intersection(first.ids)
    if any(not postings for postings, _o in lists[1:]):
        return set()
    # the hot loop, on local names and C-level calls: array slices for the positions (at
    # a document's own number in a dense list, else found by bisection); the first term's
    # positions that can still start the phrase — usually one — are tested against each
    # other term's positions shifted back to the first term's
    rest = [(None if p.dense else p.ids, p.flat, p.starts, len(p.ids), offset - first_offset,
             k == len(lists) - 1) for k, (p, offset) in enumerate(lists[1:], start=1)]
    ids, flat, bounds, dense = first.ids, first.flat, first.starts, first.dense
    candidates: Iterable[tuple[int, int]] = enumerate(ids)
    if within is not None:
        candidates = [(i, d) for i, d in candidates if d in within]
    kept = set()
    for i, docnum in candidates:
        at = docnum if dense else i
        a, b = bounds[at], bounds[at + 1]
        start = flat[a] if b - a == 1 else -1
        starts: Sequence[int] = flat[a:b] if start < 0 else ()
        for other_ids, other_flat, other_bounds, n, shift, last in rest:
            if other_ids is None:
                j = docnum
            else:
                j = bisect_left(other_ids, docnum)
                if j == n or other_ids[j] != docnum:
                    break
            there = other_flat[other_bounds[j]:other_bounds[j + 1]]
            if start >= 0:  # one start, the usual case
                if start + shift not in there:
                    break
            elif last:  # only whether one start is left
                if set(there).isdisjoint(map(shift.__add__, starts)):
                    break
            else:
                starts = [p for p in starts if p + shift in there]
                if not starts:
                    break
                if len(starts) == 1:
                    start = starts[0]
        else:
            kept.add(docnum)
    return kept


def _phrases_docs(searcher: Searcher, plans: list[list[tuple[str, int]]]) -> set[int]:
    """Documents (searcher numbers) holding every plan, segment by segment, deleted
    documents left out."""
    matched: set[int] = set()
    folder = _folder(searcher)
    for leaf, offset in searcher.reader().leaf_readers():
        docs: set[int] | None = None
        for plan in plans:  # longest first: the most selective
            docs = _segment_phrase_docs(leaf, plan, docs, folder)
            if not docs:
                break
        if docs:
            if leaf.has_deletions():
                docs.difference_update(leaf.deleted_docs_set)
            matched.update(map(offset.__add__, docs) if offset else docs)
    return matched


MAX_FUZZY_WORD = 24  # longer words get no typo suggestions (no word is that long)
MATCHES_KEPT = 64  # matched sets kept per searcher: the next page, the same query retyped


def _matching(searcher: Searcher, phrases: list[Phrase],
              memo: dict[Any, Any] | None = None) -> set[int]:
    """Document numbers where every phrase occurs (checked on positions where a phrase is
    more than one term); a fuzzy Latin word by Whoosh's own fuzzy query. With the
    searcher's memo, the last few answers are kept (the caller must not change them)."""
    grams = max_gram_of(searcher.schema)
    plans = sorted((p.plan(grams) for p in phrases if not _is_fuzzy_word(p)),
                   key=len, reverse=True)
    if any(not plan for plan in plans):
        return set()
    fuzzy = sorted(p.tokens[0] for p in phrases if _is_fuzzy_word(p))
    key = (tuple(tuple(plan) for plan in plans), tuple(fuzzy))
    kept: OrderedDict[Any, set[int]] = (OrderedDict() if memo is None else
                                        memo.setdefault("matches", OrderedDict()))
    if key in kept:
        kept.move_to_end(key)
        return kept[key]
    matched = _phrases_docs(searcher, plans) if plans else None
    for word in fuzzy:
        if matched is None or matched:
            docs = set(searcher.docs_for_query(_fuzzy_term("content", word)))
            matched = docs if matched is None else matched & docs
    kept[key] = matched = matched or set()
    if len(kept) > MATCHES_KEPT:
        kept.popitem(last=False)
    return matched


# -- ranking: BM25F as Whoosh scores it, on the cached lists ---------------------------

SCORE_TABLES_LIMIT = 500_000  # scored postings kept per searcher and thread


def _scoring_terms(phrases: list[Phrase], searcher: Searcher) -> list[tuple[str, str]]:
    """The (field, term) pairs scoring_query(phrases, searcher) scores (no fuzzy phrase)."""
    grams = max_gram_of(searcher.schema)
    reader = searcher.reader()
    terms: list[tuple[str, str]] = []
    for phrase in phrases:
        plan = phrase.plan(grams)
        if len(plan) > 1:  # as scoring_query picks it
            rarest = min(plan, key=lambda t: reader.doc_frequency("content", t[0]))
            terms.append(("content", rarest[0]))
        else:
            terms.extend(("content", term) for term, _o in plan)
        terms.extend(("title", term) for term, _o in plan)
        if phrase.numberlike:
            terms.extend(("number", term) for term, _o in plan)
    return terms


def _term_scores(searcher: Searcher, memo: dict[Any, Any], fieldname: str,
                 term: str) -> dict[int, float]:
    """BM25F of one term in every document that has it (as Whoosh's BM25F scores it),
    kept per searcher."""
    tables: OrderedDict[tuple[str, str], dict[int, float]] = memo.setdefault(
        "scores", OrderedDict())
    key = (fieldname, term)
    found = tables.get(key)
    if found is not None:
        tables.move_to_end(key)
        return found
    weighting = searcher.weighting
    B = weighting._field_B.get(fieldname, weighting.B) if isinstance(weighting, BM25F) \
        else 0.75
    K1 = weighting.K1 if isinstance(weighting, BM25F) else 1.2
    idf = searcher.idf(fieldname, term)
    avgfl = searcher.avg_field_length(fieldname) or 1
    positional = isinstance(searcher.schema[fieldname].format, formats.Positions)
    found = {}
    folder = _folder(searcher)
    for leaf, offset in searcher.reader().leaf_readers():
        postings = POSTINGS.get(leaf, fieldname, term, positional, folder)
        if not postings:
            continue
        lengths = POSTINGS.field_lengths(leaf, fieldname, folder)
        # Whoosh's scoring.bm25, inline
        found.update(zip(map(offset.__add__, postings.ids), [
            idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * lengths[d] / avgfl)))
            for d, tf in zip(postings.ids, postings.weights, strict=True)], strict=True))
    tables[key] = found
    memo["scores_size"] = memo.get("scores_size", 0) + len(found)
    while memo["scores_size"] > SCORE_TABLES_LIMIT and len(tables) > 1:
        _key, old = tables.popitem(last=False)
        memo["scores_size"] -= len(old)
    return found


def _rank(searcher: Searcher, memo: dict[Any, Any], phrases: list[Phrase], selected: set[int],
          limit: int) -> list[tuple[float, int]]:
    """The best `limit` of the selected documents, best first, ties by document order."""
    tables = [_term_scores(searcher, memo, f, t) for f, t in _scoring_terms(phrases, searcher)]
    docs = list(selected)
    totals: list[float] = [0.0] * len(docs)
    for table in tables:  # C-level loops: a few hundred ns a document
        totals = list(map(operator.add, totals, map(table.get, docs, repeat(0.0))))
    best = heapq.nsmallest(limit, zip(map(operator.neg, totals), docs, strict=True))
    return [(-negative, docnum) for negative, docnum in best]


def _fuzzy_term(fieldname: str, word: str) -> wq.Query:
    return wq.FuzzyTerm(fieldname, word, maxdist=1 if len(word) <= 5 else 2, prefixlength=1)


def scoring_query(phrases: list[Phrase], searcher: Searcher) -> wq.Query:
    """What ranks the matches (the matching itself is exact, see _phrase_docs): the
    phrase's content terms, with the title and the number as an optional boost. Only the
    rarest content term of each phrase is required, so that ranking walks as few
    postings as the matching did."""
    required: list[wq.Query] = []
    boosts: list[wq.Query] = []
    for phrase in phrases:
        toks = phrase.tokens
        if phrase.fuzzy and len(toks) == 1 and not analysis.is_cjk(toks[0]):
            required.append(_fuzzy_term("content", toks[0]))
            boosts.append(_fuzzy_term("title", toks[0]))
            continue
        plan = phrase.plan(max_gram_of(searcher.schema))
        if len(plan) > 1:
            reader = searcher.reader()
            rarest = min(plan, key=lambda t: reader.doc_frequency("content", t[0]))
            required.append(wq.Term("content", rarest[0]))
        else:
            required.extend(wq.Term("content", term) for term, _o in plan)
        boosts.extend(wq.Term("title", term) for term, _o in plan)
        if phrase.numberlike:
            boosts.extend(wq.Term("number", term) for term, _o in plan)
    must = required[0] if len(required) == 1 else wq.And(required)
    return wq.AndMaybe(must, wq.Or(boosts)) if boosts else must
