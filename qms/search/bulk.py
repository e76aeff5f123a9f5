"""Writing a whole index in one pass (the rebuild), fast.

Whoosh's SegmentWriter handles every posting on its own: a tuple into the pool, pickled,
sorted, merged and written one call at a time — most of a rebuild's time, since a Chinese
document has thousands of n-gram postings. BulkWriter keeps the SegmentWriter for what is
per document (stored fields, ID fields, columns, field lengths), but collects the postings
of the n-gram text fields per term: in memory for a batch of documents, then as one sorted
run file per batch, merged term by term at commit and written to the segment a whole block
(the codec's own block writer) at a time. The index written is a normal Whoosh index; the
positions of the positional fields are also written beside it as plain arrays
(postings.SidecarWriter), which the matcher reads far faster than Whoosh's blocks.

Written for the pinned whoosh-reloaded 2.7.5 (W3 codec, SegmentWriter).
"""

from __future__ import annotations

import heapq
import itertools
import os
import pickle
import shutil
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from whoosh import formats
from whoosh.codec.whoosh3 import W3FieldWriter
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from qms.search.postings import SIDECAR_SUFFIX, SidecarWriter

# One term of one batch: (fieldname, term bytes, docnums, position counts, positions); or,
# from Whoosh's own pool, (fieldname, term bytes, docnums, weights, values)
TermPostings = tuple[str, bytes, array, Any, Any]

# Run records are pickled together, about this many bytes of Python objects (a record's
# own overhead counted): the merge holds one chunk of every run at once.
RUN_CHUNK_BYTES = 256 * 1024
RECORD_OVERHEAD = 400
MERGE_FAN_IN = 24  # runs merged at once


class BulkWriter:
    """A SegmentWriter for a new, empty index, with the postings of `fields` collected
    per term. Use add_document(), then commit() or cancel()."""

    # postings held in memory per MB of the writer's limit before a sorted run is written
    # (arrays of about 16 bytes a posting, with the per-term overhead)
    POSTINGS_PER_MB = 16_384

    def __init__(self, writer: SegmentWriter, fields: Sequence[str],
                 batch_postings: int = 128 * POSTINGS_PER_MB) -> None:
        if not isinstance(writer, SegmentWriter) or not isinstance(writer.fieldwriter,
                                                                   W3FieldWriter):
            raise TypeError("BulkWriter needs Whoosh's SegmentWriter with the W3 codec")
        self.writer = writer
        self.schema = writer.schema
        self.fields = tuple(sorted(fields))
        self.batch_postings = batch_postings
        # per field, term → (document numbers, number of positions in each, positions)
        self.batch: dict[str, dict[str, tuple[array, array, array]]] = {
            name: {} for name in self.fields}
        self.pending = 0
        self.runs: list[str] = []
        # runs and the positions file beside the index (same file system; Whoosh's
        # clean-up leaves names starting with a dot alone)
        self.tempdir = tempfile.mkdtemp(prefix=".bulk-", dir=writer.storage.folder)
        # each document's (approximate, as Whoosh stores it) length per field
        self.lengths: dict[str, array] = {name: array("I") for name in self.fields}
        self.positional = {name for name in self.fields
                           if isinstance(self.schema[name].format, formats.Positions)}
        writer._flush_segment = self._flush_segment

    def add_document(self, **fields: Any) -> None:
        writer = self.writer
        docnum = writer.docnum
        lengths: dict[str, int] = {}
        for name in self.fields:
            value = fields.pop(name, None)
            terms = {} if value is None else self.schema[name].term_positions(value)
            batch = self.batch[name]
            for term, plist in terms.items():
                entry = batch.get(term)
                if entry is None:
                    entry = batch[term] = (array("I"), array("I"), array("I"))
                entry[0].append(docnum)
                entry[1].append(len(plist))
                entry[2].fromlist(plist)
            self.pending += len(terms)
            lengths[name] = sum(map(len, terms.values()))
        writer.add_document(**fields)
        # the field lengths of the document just finished (its number is still current)
        perdoc = writer.perdocwriter
        for name, length in lengths.items():
            perdoc.add_field(name, self.schema[name], None, length)
            self.lengths[name].append(byte_to_length(length_to_byte(length)) if length else 0)
        if self.pending >= self.batch_postings:
            self._write_run()

    def commit(self) -> None:
        """Commit the segment, and put its positions file beside it."""
        segment = self.writer.newsegment.segment_id()
        folder = self.writer.storage.folder
        try:
            self.writer.commit()
            positions = os.path.join(self.tempdir, "positions")
            if os.path.exists(positions):  # not when there was no document
                os.replace(positions, os.path.join(folder, segment + SIDECAR_SUFFIX))
        finally:
            self._cleanup()

    def cancel(self) -> None:
        try:
            self.writer.cancel()
        finally:
            self._cleanup()

    # -- runs --

    def _write_run(self) -> None:
        if not self.pending:
            return
        self.runs.append(self._write_records(self._batch_terms()))
        self.batch = {name: {} for name in self.fields}
        self.pending = 0

    def _write_records(self, records: Iterable[TermPostings]) -> str:
        """A sorted run file of term records, pickled a chunk at a time."""
        fd, path = tempfile.mkstemp(suffix=".run", dir=self.tempdir)
        with os.fdopen(fd, "wb") as fh:
            chunk: list[Any] = []
            size = 0
            for name, tbytes, ids, counts, positions in records:
                chunk.append((name, tbytes, ids.tobytes(), counts.tobytes(),
                              positions.tobytes()))
                size += RECORD_OVERHEAD + len(ids) * 8 + len(positions) * 4
                if size >= RUN_CHUNK_BYTES:
                    pickle.dump(chunk, fh, pickle.HIGHEST_PROTOCOL)
                    chunk, size = [], 0
            if chunk:
                pickle.dump(chunk, fh, pickle.HIGHEST_PROTOCOL)
        return path

    def _merged(self, sources: list[Iterable[TermPostings]]) -> Iterator[TermPostings]:
        """Sorted term records from sorted sources (earlier sources hold lower document
        numbers), one record per term: the same term's parts concatenated."""
        merged = heapq.merge(*sources, key=lambda t: (t[0], t[1]))
        for (name, tbytes), parts in itertools.groupby(merged, key=lambda t: (t[0], t[1])):
            _n, _t, ids, counts, positions = next(parts)
            for part in parts:  # noqa: B031 - the same term in later runs (higher docnums)
                ids.extend(part[2])
                counts.extend(part[3])
                positions.extend(part[4])
            yield name, tbytes, ids, counts, positions

    def _fewer_runs(self) -> None:
        """Merge runs a group at a time until the final merge reads at most MERGE_FAN_IN
        (it holds a chunk of every run in memory)."""
        while len(self.runs) > MERGE_FAN_IN:
            runs, self.runs = self.runs, []
            for start in range(0, len(runs), MERGE_FAN_IN):
                group = runs[start:start + MERGE_FAN_IN]
                self.runs.append(self._write_records(
                    self._merged([self._read_run(p) for p in group])))

    def _read_run(self, path: str) -> Iterator[TermPostings]:
        with open(path, "rb") as fh:
            while True:
                try:
                    chunk = pickle.load(fh)  # noqa: S301 - our own temporary run file
                except EOFError:
                    break
                for name, tbytes, ids, counts, positions in chunk:
                    yield name, tbytes, array("I", ids), array("I", counts), array("I", positions)
        os.unlink(path)

    def _batch_terms(self) -> Iterator[TermPostings]:
        """The batch's postings in (field, term bytes) order."""
        for name in self.fields:  # sorted
            terms = sorted((term.encode("utf-8"), entry) for term, entry in
                           self.batch[name].items())
            for tbytes, (ids, counts, positions) in terms:
                yield name, tbytes, ids, counts, positions

    def _cleanup(self) -> None:
        self.batch = {name: {} for name in self.fields}
        shutil.rmtree(self.tempdir, ignore_errors=True)

    # -- the segment's postings --

    def _flush_segment(self) -> None:
        """SegmentWriter._flush_segment, with the collected terms merged in."""
        writer = self.writer
        writer.perdocwriter.close()
        sidecar = SidecarWriter(os.path.join(self.tempdir, "positions"))
        self._fewer_runs()
        collected = self._merged([*(self._read_run(p) for p in self.runs), self._batch_terms()])
        merged = heapq.merge(collected, _pool_terms(writer.pool.iter_postings()),
                             key=lambda t: (t[0], t[1]))
        fieldwriter: W3FieldWriter = writer.fieldwriter
        current_field = None
        for name, tbytes, ids, weights, values in merged:  # one record per term
            if name != current_field:
                if current_field is not None:
                    fieldwriter.finish_field()
                fieldwriter.start_field(name, self.schema[name])
                current_field = name
            fieldwriter.start_term(tbytes)
            if name in self.lengths:  # collected here: counts and positions
                counts, positions = weights, values
                if name in self.positional:
                    sidecar.add(name, tbytes.decode("utf-8"), ids, counts, positions,
                                writer.docnum)
                weights, values = self.schema[name].encode(counts, positions)
            self._write_postings(fieldwriter, name, ids, weights, values)
            fieldwriter.finish_term()
        if current_field is not None:
            fieldwriter.finish_field()
        fieldwriter.close()
        # as Whoosh's doc_field_length answers with a default of 1
        sidecar.field_lengths = {name: array("I", (n or 1 for n in self.lengths[name]))
                                 for name in self.fields}
        sidecar.close()

    def _write_postings(self, fieldwriter: W3FieldWriter, name: str, ids: array,
                        weights: array, values: list[bytes]) -> None:
        """One term's postings, a whole block at a time (the last block is written by
        finish_term, as Whoosh does)."""
        postwriter = fieldwriter._postwriter
        limit = postwriter._blocklimit
        lengths = self.lengths.get(name)
        for start in range(0, len(ids), limit):
            if start:
                postwriter._write_block()
            block_ids = ids[start:start + limit]
            block_weights = weights[start:start + limit]
            postwriter._ids = block_ids
            postwriter._weights = block_weights
            postwriter._values = [v for v in values[start:start + limit] if v]
            postwriter._maxweight = max(max(block_weights), 0)
            if lengths is None:
                postwriter._minlength, postwriter._maxlength = None, 0
            else:
                block_lengths = [lengths[d] for d in block_ids]
                postwriter._minlength = min(block_lengths) or None
                postwriter._maxlength = max(block_lengths)


def _pool_terms(postings: Iterable[tuple[str, bytes, int, float, bytes | None]]
                ) -> Iterator[TermPostings]:
    """The pool's sorted postings (the fields Whoosh indexed itself), grouped per term."""
    for (name, tbytes), group in itertools.groupby(postings, key=lambda p: (p[0], p[1])):
        ids, weights, values = array("I"), array("f"), []
        for _n, _t, docnum, weight, vbytes in group:
            ids.append(docnum)
            weights.append(weight)
            values.append(vbytes or b"")
        yield name, tbytes, ids, weights, values

