"""Posting lists read whole from a Whoosh segment and kept, compact, for the process.

A segment never changes once written: an update adds a new segment, a deletion only marks
documents as deleted (in the index's table of contents, not in the segment), a merge writes
a new segment. What was read from a segment therefore serves every searcher that has it —
the next one after a publish too — and is kept in one cache per process, keyed by the
index's directory and the segment's id (random, never reused: nothing cached outlives its
segment), bounded in bytes, least recently used first out. Deleted documents stay in the
cached lists; the matcher removes them with the deletions of its own searcher.

A list is stored as arrays: the segment's document numbers (sorted), the weights, and for
a positional field the positions of each document (each value as stored — a count, then
the positions — one after the other, with where each starts).
Reading a list decodes Whoosh's blocks once; after that a document is found by bisection
and its positions are an array slice, both in C.
"""

from __future__ import annotations

import logging
import operator
import os
import pickle
import struct
import threading
from array import array
from collections import OrderedDict
from itertools import accumulate, islice
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import TermNotFound

log = logging.getLogger("qms.search")

CACHE_BYTES = 256 * 2**20  # decoded posting lists kept per process


class SegmentPostings:
    """One term's postings in one segment. The i-th document's positions are
    flat[starts[i]:starts[i + 1]]; or, in a dense list (a term in most of the segment's
    documents), document d's are flat[starts[d]:starts[d + 1]] (empty when d has none),
    so that no search is needed to find them. The weights, when not given, are the number
    of positions times the field's boost (as CJKText.encode writes them), worked out when
    first asked for — only ranking needs them."""

    __slots__ = ("_weights", "boost", "dense", "flat", "ids", "starts")

    def __init__(self, ids: array, weights: array | None, flat: array, starts: array,
                 boost: float = 1.0, dense: bool = False) -> None:
        self.ids = ids
        self._weights = weights
        self.flat = flat
        self.starts = starts
        self.boost = boost
        self.dense = dense

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def weights(self) -> array:
        if self._weights is None:
            starts = self.starts
            if self.dense:
                ends = map(starts.__getitem__, map((1).__add__, self.ids))
                counts = map(operator.sub, ends, map(starts.__getitem__, self.ids))
            else:
                counts = map(operator.sub, islice(starts, 1, None), starts)
            self._weights = array("f", map(self.boost.__mul__, counts) if self.boost != 1
                                  else counts)
        return self._weights

    @property
    def nbytes(self) -> int:
        return 200 + 4 * (2 * len(self.ids) + len(self.flat) + len(self.starts))

    def positions(self, i: int) -> array:
        """The positions of the i-th document (a positional field only)."""
        at = self.ids[i] if self.dense else i
        return self.flat[self.starts[at]:self.starts[at + 1]]


EMPTY = SegmentPostings(array("I"), array("f"), array("I"), array("I"))


def read(leaf: Any, fieldname: str, term: str, positional: bool) -> SegmentPostings:
    """A term's postings in one segment (deleted documents included), decoded whole."""
    try:
        matcher = leaf.postings(fieldname, term)
    except TermNotFound:
        return EMPTY
    inner = getattr(matcher, "child", matcher)  # under the filter of deleted documents
    ids, weights, values = array("I"), array("f"), []
    if isinstance(inner, W3LeafMatcher):  # whole blocks at a time
        while inner.is_active():
            inner._read_ids()
            inner._read_weights()
            inner._read_values()
            ids.extend(inner._ids)
            weights.extend(inner._weights)
            values.extend(inner._values)
            inner._next_block()
    else:  # postings inlined in the term's entry
        while inner.is_active():
            ids.append(inner.id())
            weights.append(inner.weight())
            values.append(inner.value())
            inner.next()
    if not positional:
        return SegmentPostings(ids, weights, EMPTY.flat, EMPTY.starts)
    # each value: the count, then the positions (native uint32)
    flat = array("I", b"".join([v[4:] for v in values]))
    starts = array("I", accumulate([(len(v) >> 2) - 1 for v in values], initial=0))
    return SegmentPostings(ids, weights, flat, starts)


# -- the positions file a rebuild writes beside its segment ----------------------------

SIDECAR_SUFFIX = ".qpos"  # <segment id>.qpos: Whoosh's clean-up removes it with its segment
_TRAILER = struct.Struct("<Q")
SIDECAR_FORMAT = 4  # a file of another format is not read (Whoosh's blocks are)


class SidecarWriter:
    """The positional postings of a segment as plain arrays (document numbers, counts,
    positions) with a directory of terms at the end: read back with one pread per term,
    instead of decoding Whoosh's pickled blocks."""

    def __init__(self, path: str) -> None:
        self.fh = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.directory: dict[tuple[str, str], tuple[int, int, int, bool]] = {}
        self.offset = 0
        self.doc_count = 0
        self.field_lengths: dict[str, array] = {}  # per field, each document's length

    def add(self, fieldname: str, term: str, ids: array, counts: array,
            positions: array, doc_count: int) -> None:
        """One term: its document numbers, where each one's positions start (and, last,
        end) — per document number when the term is in at least half the segment's
        documents (SegmentPostings.dense) — and the positions."""
        self.doc_count = doc_count
        dense = 2 * len(ids) >= doc_count
        if dense:
            by_doc = array("I", bytes(4 * doc_count))
            for docnum, count in zip(ids, counts, strict=True):
                by_doc[docnum] = count
            counts = by_doc
        starts = array("I", accumulate(counts, initial=0))
        self.directory[(fieldname, term)] = (self.offset, len(ids), len(positions), dense)
        for part in (ids, starts, positions):
            data = part.tobytes()
            self.fh.write(data)
            self.offset += len(data)

    def close(self) -> None:
        lengths = {name: found.tobytes() for name, found in self.field_lengths.items()}
        self.fh.write(pickle.dumps((SIDECAR_FORMAT, self.doc_count, self.directory, lengths),
                                   pickle.HIGHEST_PROTOCOL))
        self.fh.write(_TRAILER.pack(self.offset))
        self.fh.close()


class Sidecar:
    """A positions file opened for reading (the directory in memory, the arrays read per
    term with pread, so threads share it)."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        size = os.fstat(self.fd).st_size
        (start,) = _TRAILER.unpack(os.pread(self.fd, _TRAILER.size, size - _TRAILER.size))
        loaded = pickle.loads(  # noqa: S301 - our own file
            os.pread(self.fd, size - _TRAILER.size - start, start))
        if not (isinstance(loaded, tuple) and loaded[0] == SIDECAR_FORMAT):
            raise ValueError("a positions file of another format")
        self.doc_count: int = loaded[1]
        self.directory: dict[tuple[str, str], tuple[int, int, int, bool]] = loaded[2]
        self.field_lengths: dict[str, array] = {}
        for name, data in loaded[3].items():
            self.field_lengths[name] = array("I")
            self.field_lengths[name].frombytes(data)
        self.fields = {name for name, _term in self.directory}

    def read(self, fieldname: str, term: str, boost: float) -> SegmentPostings:
        found = self.directory.get((fieldname, term))
        if found is None:
            return EMPTY
        offset, n, m, dense = found
        k = (self.doc_count if dense else n) + 1  # entries in starts
        data = memoryview(os.pread(self.fd, 4 * (n + k + m), offset))
        if len(data) != 4 * (n + k + m):
            raise ValueError("the positions file is cut short")
        ids, starts, flat = array("I"), array("I"), array("I")
        ids.frombytes(data[:4 * n])
        starts.frombytes(data[4 * n:4 * (n + k)])
        flat.frombytes(data[4 * (n + k):])
        return SegmentPostings(ids, None, flat, starts, boost, dense)

    def __del__(self, _close: Any = os.close) -> None:  # when no reader holds it any more
        # (os.close bound at definition: at interpreter exit the module's globals are gone)
        fd = getattr(self, "fd", None)
        if fd is not None:
            _close(fd)


class PostingsCache:
    """Decoded postings per (segment, field, term), shared by the threads of a process."""

    def __init__(self, limit_bytes: int = CACHE_BYTES) -> None:
        self.limit = limit_bytes
        self.size = 0
        self.items: OrderedDict[tuple[str, str, str], SegmentPostings] = OrderedDict()
        self.lengths: dict[tuple[str, str], array] = {}
        self.sidecars: dict[str, Sidecar | None] = {}
        self.vocabularies: dict[tuple[str, str], dict[str, int]] = {}
        self.lock = threading.Lock()

    def get(self, leaf: Any, fieldname: str, term: str, positional: bool,
            folder: str | None = None) -> SegmentPostings:
        """A term's postings in a segment, from the cache, the segment's positions file in
        `folder` (the index's directory), or Whoosh's own blocks."""
        segment = segment_id(leaf)
        if segment is None:  # an empty index
            return EMPTY
        key = (f"{folder}/{segment}", fieldname, term)
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
                return found
        sidecar = self._sidecar(folder, segment) if folder else None
        found = None
        if sidecar is not None and fieldname in sidecar.fields:
            try:
                found = sidecar.read(fieldname, term, leaf.schema[fieldname].format.field_boost)
            except (OSError, ValueError):
                log.warning("positions file of segment %s unreadable; using the index's own",
                            segment, exc_info=True)
        if found is None:
            found = read(leaf, fieldname, term, positional)
        with self.lock:
            if key not in self.items:
                self.items[key] = found
                self.size += found.nbytes
                while self.size > self.limit and len(self.items) > 1:
                    _key, old = self.items.popitem(last=False)
                    self.size -= old.nbytes
        return found

    def _sidecar(self, folder: str, segment: str) -> Sidecar | None:
        path = os.path.join(folder, segment + SIDECAR_SUFFIX)
        if path in self.sidecars:
            return self.sidecars[path]
        try:
            found: Sidecar | None = Sidecar(path) if os.path.exists(path) else None
        except (OSError, ValueError, EOFError, pickle.UnpicklingError, struct.error):
            found = None  # none written (a segment of updates), or unreadable: use Whoosh
        with self.lock:
            if len(self.sidecars) > 64:  # segments come and go; a few are in use
                self.sidecars.clear()
            self.sidecars[path] = found
        return found

    def hold_sidecar(self, folder: str, segment: str) -> None:
        """Open a segment's positions file now, if it has one (a reader being opened, under
        the engine's files lock: the file cannot be deleted meanwhile). Later, if it was
        let go (more than 64 segments) and has been deleted since, the segment's postings
        are read from Whoosh's own blocks: the same lists."""
        self._sidecar(folder, segment)

    def field_lengths(self, leaf: Any, fieldname: str, folder: str | None = None) -> array:
        """Each document's length in a field, as Whoosh stores it (default 1), for BM25:
        from the segment's positions file, or asked of Whoosh document by document."""
        segment = segment_id(leaf)
        if segment is None:
            return array("I")
        key = (f"{folder}/{segment}", fieldname)
        found = self.lengths.get(key)
        if found is None:
            sidecar = self._sidecar(folder, segment) if folder else None
            if sidecar is not None and fieldname in sidecar.field_lengths:
                found = sidecar.field_lengths[fieldname]
            else:
                # (Whoosh answers None, not the default, for a document whose field is
                # empty in a segment where others have it: 1, as the positions file has it)
                length = leaf.doc_field_length
                found = array("I", (length(d, fieldname, 1) or 1
                                    for d in range(leaf.doc_count_all())))
            with self.lock:
                if len(self.lengths) > 64:  # segments come and go; a few are in use
                    self.lengths.clear()
                self.lengths[key] = found
        return found

    def words(self, leaf: Any, fieldname: str, folder: str | None = None) -> dict[str, int]:
        """The segment's Latin words and numbers in a field (no CJK n-gram, no single
        character), each with its frequency, for typo suggestions: read from the lexicon
        once per segment."""
        segment = segment_id(leaf)
        if segment is None:
            return {}
        key = (f"{folder}/{segment}", fieldname)
        found = self.vocabularies.get(key)
        if found is None:
            found = {}
            for tbytes, info in leaf.iter_field(fieldname):
                if len(tbytes) < 2 or (not tbytes.isascii() and _has_cjk(tbytes)):
                    continue
                found[tbytes.decode("utf-8")] = int(info.weight())
            with self.lock:
                if len(self.vocabularies) > 64:  # segments come and go; a few are in use
                    self.vocabularies.clear()
                self.vocabularies[key] = found
        return found

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.lengths.clear()
            self.sidecars.clear()
            self.vocabularies.clear()
            self.size = 0


def _has_cjk(tbytes: bytes) -> bool:
    from qms.search.analysis import is_cjk

    return is_cjk(tbytes.decode("utf-8"))


def segment_id(leaf: Any) -> str | None:
    segment = leaf.segment()
    return None if segment is None else str(segment.segment_id())


CACHE = PostingsCache()
