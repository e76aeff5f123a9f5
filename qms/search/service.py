"""Search: keeping the index in step with the database (outbox, drain, rebuild,
reconciliation) and answering queries with permissions checked against the database."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import event
from sqlalchemy.orm import Session, joinedload, selectinload

from qms import events
from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.db import after_commit, new_session
from qms.documents import visibility
from qms.documents.lifecycle import RevState
from qms.documents.models import KIND_LABELS, STATE_LABELS, DocKind, Document, Revision
from qms.documents.service import can_view
from qms.pagination import PageNumbers
from qms.search import analysis
from qms.search.engine import IndexEntry, IndexUnavailable, Phrase, WhooshEngine
from qms.search.extras import extra_text
from qms.search.models import SearchOutbox

log = logging.getLogger("qms.search")

# What a query may hold (more is refused with a message, 422 in the API): every part of a
# search is then bounded — the postings read, the positions checked, the typo suggestions
# (engine.MAX_FUZZY_WORD) and the document numbers compared (MAX_NUMBER_GUESSES).
MAX_QUERY_CHARS = 200
MAX_PHRASES = 12  # separate words or phrases
MAX_TERMS = 64  # distinct index terms (CJK n-grams, words, compounds) of all phrases
MAX_NUMBER_GUESSES = 3  # document numbers of a query compared for "did you mean"
MAX_NUMBER_CHARS = 40
MAX_PAGE = 500
PUBLIC_STATES = (RevState.EFFECTIVE, RevState.SUPERSEDED, RevState.OBSOLETE)
HISTORY_STATES = (RevState.SUPERSEDED, RevState.OBSOLETE)
FACETS = ("kind", "department", "state")
CHUNK = 200


def get_engine(app: Flask | None = None) -> WhooshEngine:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    engine = app.extensions.get("qms.search.engine")
    if engine is None:
        root = app.config.get("SEARCH_DIR") or Path(app.config["DATA_DIR"]) / "search"
        engine = app.extensions["qms.search.engine"] = WhooshEngine(Path(root))
    return engine


# -- the outbox: written in the publishing transaction ------------------------------------

_SCHEDULED = "qms.search.drain_scheduled"


def _enqueue(session: Session, revision: Revision, name: str) -> None:
    session.add(SearchOutbox(document_id=revision.document_id, revision_id=revision.id,
                             event=name))
    if current_app.config.get("WORKER"):
        return  # `qms worker` drains the outbox
    if not session.info.get(_SCHEDULED):
        session.info[_SCHEDULED] = True
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def _drain_after_commit() -> None:
            session.info.pop(_SCHEDULED, None)
            with app.app_context():
                drain(app)

        after_commit(session, _drain_after_commit)


@event.listens_for(Session, "after_rollback")
def _forget_schedule(session: Session) -> None:
    session.info.pop(_SCHEDULED, None)


@events.subscribe(events.REVISION_DRAFTED)
def _on_drafted(session: Session, revision: Revision) -> None:
    _enqueue(session, revision, "drafted")


@events.subscribe(events.REVISION_CHANGED)
def _on_changed(session: Session, revision: Revision) -> None:
    _enqueue(session, revision, "changed")


@events.subscribe(events.REVISION_EFFECTIVE)
def _on_effective(session: Session, revision: Revision, previous: Revision | None = None) -> None:
    _enqueue(session, revision, "effective")
    if previous is not None:
        _enqueue(session, previous, "superseded")


@events.subscribe(events.REVISION_WITHDRAWN)
def _on_withdrawn(session: Session, revision: Revision) -> None:
    _enqueue(session, revision, "withdrawn")


# -- from the database to index entries -------------------------------------------------

def _viewers(revision: Revision) -> list[str]:
    # the visibility rule's terms: "*" for every reader, confidentiality and named people
    return visibility.index_viewers(
        visibility.document_facts(revision.document), visibility.revision_facts(revision)
    )


def entry_for(session: Session, revision: Revision, key: str) -> IndexEntry:
    document = revision.document
    return IndexEntry(
        key=key, document_id=document.id, revision_id=revision.id, number=document.number,
        label=revision.label, title=revision.title, body=revision.body,
        kind=str(document.kind), department=document.department.code,
        state=str(revision.state), content_sha256=revision.content_sha256,
        effective_date=revision.effective_date, extras=extra_text(session, revision),
        viewers=_viewers(revision),
    )


def current_key(document_id: int) -> str:
    return f"d{document_id}"


def history_key(revision_id: int) -> str:
    return f"r{revision_id}"


Changes = dict[str, tuple[list[IndexEntry], list[str]]]


def changes_for(session: Session, document_ids: Iterable[int]) -> Changes:
    """What both indexes must hold for these documents, read from the database."""
    changes: Changes = {"current": ([], []), "history": ([], [])}
    ids = sorted(set(document_ids))
    for start in range(0, len(ids), CHUNK):
        documents = session.scalars(
            sa.select(Document).where(Document.id.in_(ids[start:start + CHUNK]))
            .options(selectinload(Document.revisions).selectinload(Revision.reviews))
        ).all()
        for document in documents:
            current = document.current_revision
            if current is not None and current.state == RevState.EFFECTIVE:
                changes["current"][0].append(entry_for(session, current, current_key(document.id)))
            else:
                changes["current"][1].append(current_key(document.id))
            for revision in document.revisions:
                changes["history"][0].append(entry_for(session, revision, history_key(revision.id)))
    return changes


# -- the single writer -----------------------------------------------------------------------

def drain(app: Flask | None = None, *, blocking: bool = True) -> int:
    """Take every pending outbox row into the index. Runs under the cross-process writer
    lock; rows are deleted only after the index has committed them (at least once)."""
    engine = get_engine(app)
    done = 0
    with engine.writer_lock(blocking) as locked:
        if not locked:
            return 0
        if engine.active_generation() is None:
            needs_build = True
        else:
            needs_build = False
            session = new_session()
            try:
                while True:
                    rows = session.execute(
                        sa.select(SearchOutbox.id, SearchOutbox.document_id)
                        .order_by(SearchOutbox.id).limit(CHUNK * 5)).all()
                    if not rows:
                        break
                    document_ids = {r.document_id for r in rows}
                    engine.apply(changes_for(session, document_ids))
                    engine.note_changed(document_ids)
                    session.execute(sa.delete(SearchOutbox).where(
                        SearchOutbox.id.in_([r.id for r in rows])))
                    session.commit()
                    done += len(rows)
            except IndexUnavailable:
                needs_build = True
            finally:
                session.close()
    if needs_build:
        rebuild()
    return done


def pending(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)) or 0)


# -- rebuilding and reconciliation --------------------------------------------------------------

def _chunks(stmt: sa.Select[Any]) -> Iterator[Revision]:
    """Revisions in id order, CHUNK at a time, each chunk in a fresh session (memory)."""
    last = 0
    while True:
        session = new_session()
        try:
            batch = session.scalars(
                stmt.where(Revision.id > last).order_by(Revision.id).limit(CHUNK)
                .options(joinedload(Revision.document), selectinload(Revision.reviews))
            ).all()
            if not batch:
                return
            yield from batch
            last = batch[-1].id
        finally:
            session.close()


def _effective_stmt() -> sa.Select[Any]:
    return (sa.select(Revision).join(Document, Document.current_revision_id == Revision.id)
            .where(Revision.state == RevState.EFFECTIVE))


def rebuild(progress: Callable[[int], None] | None = None) -> str:
    """Build both indexes from the database in a new generation and swap it in."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    engine = get_engine(app)

    def source(stmt: sa.Select[Any],
               key: Callable[[Revision], str]) -> Callable[[], Iterator[IndexEntry]]:
        def entries() -> Iterator[IndexEntry]:
            for revision in _chunks(stmt):
                session = Session.object_session(revision)
                if session is not None:
                    yield entry_for(session, revision, key(revision))
        return entries

    def replay(document_ids: set[int], gen: str) -> None:
        # Under the writer lock, just before the swap: what changed while we were building,
        # and whatever is still waiting in the outbox, goes into the new generation.
        session = new_session()
        try:
            rows = session.execute(sa.select(SearchOutbox.id, SearchOutbox.document_id)).all()
            engine.apply(changes_for(session, document_ids | {r.document_id for r in rows}),
                         gen=gen)
            if rows:
                session.execute(sa.delete(SearchOutbox).where(
                    SearchOutbox.id.in_([r.id for r in rows])))
                session.commit()
        finally:
            session.close()

    return engine.rebuild(
        {"current": source(_effective_stmt(), lambda r: current_key(r.document_id)),
         "history": source(sa.select(Revision), lambda r: history_key(r.id))},
        replay=replay, progress=progress)


def rebuild_size(session: Session) -> int:
    """How many entries a rebuild writes (for the progress bar)."""
    current = session.scalar(sa.select(sa.func.count()).select_from(_effective_stmt().subquery()))
    history = session.scalar(sa.select(sa.func.count()).select_from(Revision))
    return int(current or 0) + int(history or 0)


@dataclass
class Reconciliation:
    stale: list[str] = field(default_factory=list)  # indexed hash or state differs
    missing: list[str] = field(default_factory=list)  # in the database, not indexed
    extra: list[str] = field(default_factory=list)  # indexed, gone from the database


def reconcile(session: Session, *, repair: bool = True) -> dict[str, Reconciliation]:
    """Find revisions whose content hash (or state) differs from what was indexed, and
    (with repair) re-index them."""
    engine = get_engine()
    truth = {
        "current": {current_key(d): (sha, str(st), d) for d, sha, st in session.execute(
            sa.select(Revision.document_id, Revision.content_sha256, Revision.state)
            .join(Document, Document.current_revision_id == Revision.id)
            .where(Revision.state == RevState.EFFECTIVE))},
        "history": {history_key(r): (sha, str(st), d) for r, d, sha, st in session.execute(
            sa.select(Revision.id, Revision.document_id, Revision.content_sha256, Revision.state))},
    }
    report: dict[str, Reconciliation] = {}
    to_fix: set[int] = set()
    removals: dict[str, list[str]] = {}
    for which, expected in truth.items():
        indexed = engine.indexed(which)
        found = Reconciliation()
        for key, (sha, state, doc_id) in expected.items():
            if key not in indexed:
                found.missing.append(key)
                to_fix.add(doc_id)
            elif indexed[key] != (sha, state):
                found.stale.append(key)
                to_fix.add(doc_id)
        found.extra = sorted(set(indexed) - set(expected))
        removals[which] = found.extra
        report[which] = found
    if repair and (to_fix or any(removals.values())):
        with engine.writer_lock():
            changes = changes_for(session, to_fix)
            for which, keys in removals.items():
                changes[which][1].extend(keys)
            engine.apply(changes)
            engine.note_changed(to_fix)
    return report


@dataclass
class IndexCheck:
    """What `qms reindex --check` found and did."""

    debris: list[str] = field(default_factory=list)  # left by a killed rebuild, removed
    reconciliation: dict[str, Reconciliation] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # a server would meet them, fixed
    remaining: list[str] = field(default_factory=list)  # still there after the repair


def check(session: Session) -> IndexCheck:
    """Clean up after a killed rebuild, reconcile the index with the database, and search
    the index the way a running server does — before and after a commit it has to notice
    (engine.verify) — rebuilding it when that fails."""
    engine = get_engine()
    report = IndexCheck(debris=engine.clean_up())
    if engine.active_generation() is None:
        report.problems.append("no active index")
        rebuild()
        report.remaining = _verify(engine)
        return report
    report.problems = _verify(engine)
    report.reconciliation = reconcile(session)
    # what the next publish does to a searcher in use: here, and in another worker that
    # opened its searcher before and reads from it after (its segments merged away)
    held = {}
    for which in ("current", "history"):
        with contextlib.suppress(IndexUnavailable):  # reported by _verify
            held[which] = engine.hold(which)
    with engine.writer_lock():
        for which in ("current", "history"):
            engine.touch(which)
    for which, searcher in held.items():
        report.problems += engine.verify_held(which, searcher, FACETS)
    report.problems += [p for p in _verify(engine) if p not in report.problems]
    if report.problems:
        rebuild()
        engine.close()
        report.remaining = _verify(engine)
    return report


def _verify(engine: WhooshEngine) -> list[str]:
    return [p for which in ("current", "history") for p in engine.verify(which, FACETS)]


# -- queries ------------------------------------------------------------------------------

TAG_RE = re.compile(r"</?[a-zA-Z][^<>]{0,200}>")
QUOTED_RE = re.compile(r'"([^"]*)"|“([^”]*)”|「([^」]*)」|『([^』]*)』')
NUMBER_RE = re.compile(r"^(?:[a-z]{1,6}-)*[a-z0-9]*\d[a-z0-9]*(?:-[a-z0-9]+)*$")


@dataclass
class ParsedQuery:
    phrases: list[Phrase]
    needles: list[str]  # folded runs to highlight
    notes: list[Any]
    blank: bool  # nothing typed at all
    refused: Any = None  # why the query is not searched at all (too long)

    @property
    def empty(self) -> bool:
        return not self.phrases


def parse_query(text: str | None) -> ParsedQuery:
    """Turn what a user typed into phrases. Never raises: quotes may be unbalanced, any
    Whoosh or SQL syntax is plain text here. A query over the limits (characters, phrases,
    index terms) comes back refused, with the reason, and no phrase."""
    text = (text or "").strip()
    notes: list[Any] = []
    if len(text) > MAX_QUERY_CHARS:
        return _refused(_l("Your search is %(length)d characters long; at most %(limit)d "
                           "are searched. Search for a shorter phrase.",
                           length=len(text), limit=MAX_QUERY_CHARS))
    # pasted markup: the tags are not what anyone looks for
    folded = analysis.fold(TAG_RE.sub(" ", text))
    segments: list[str] = []

    quoted: set[int] = set()

    def take_quoted(m: re.Match[str]) -> str:
        quoted.add(len(segments))
        segments.append(next(g for g in m.groups() if g is not None))
        return " "

    rest = QUOTED_RE.sub(take_quoted, folded)
    segments.extend(rest.split())
    phrases: list[Phrase] = []
    needles: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for position, segment in enumerate(segments):
        tokens = analysis.phrase_tokens(segment)
        if not tokens or tuple(tokens) in seen:
            continue
        seen.add(tuple(tokens))
        numberlike = bool(NUMBER_RE.match(segment.strip("\"'()[]{}.,;:!?")))
        phrases.append(Phrase(tokens=tokens, numberlike=numberlike, text=segment,
                              quoted=position in quoted))
        needles.extend(m.group() for m in analysis.TOKEN_RE.finditer(segment))
        if numberlike:
            needles.append(segment.strip("\"'()[]{}.,;:!?"))
    if len(phrases) > MAX_PHRASES:
        return _refused(_l("Your search has %(count)d separate words or phrases; at most "
                           "%(limit)d are searched together.",
                           count=len(phrases), limit=MAX_PHRASES))
    terms = {term for phrase in phrases for term, _offset in phrase.plan()}
    if len(terms) > MAX_TERMS:
        return _refused(_l("Your search is too long to look up: %(count)d different terms, "
                           "at most %(limit)d. Search for a shorter phrase.",
                           count=len(terms), limit=MAX_TERMS))
    if not phrases and text:
        notes.append(_l("Nothing to search for: type a word, a phrase or a document number. "
                        "Punctuation, symbols and emoji alone are not searched."))
    return ParsedQuery(phrases=phrases, needles=needles, notes=notes, blank=not text)


def _refused(reason: Any) -> ParsedQuery:
    return ParsedQuery(phrases=[], needles=[], notes=[reason], blank=False, refused=reason)


@dataclass
class Hit:
    number: str
    title: str
    revision: str
    status: str
    status_label: str
    kind: str
    kind_label: str
    department: str
    department_name: str
    effective_date: date | None
    score: float
    snippet: Markup
    document_id: int
    revision_id: int
    marked: bool  # not today's effective revision: shown with a warning

    def as_json(self) -> dict[str, Any]:
        # every field is a plain value: no deep copy (asdict's cost a page of hits dearly)
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["snippet"] = str(self.snippet)
        data["status_label"] = str(self.status_label)
        data["kind_label"] = str(self.kind_label)
        data["effective_date"] = self.effective_date.isoformat() if self.effective_date else None
        return data


@dataclass
class SearchResult(PageNumbers):
    query: str
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, list[tuple[str, str, int]]]
    notes: list[Any]
    did_you_mean: list[str]
    approximate: bool
    all_revisions: bool
    blank: bool
    refused: Any = None  # the query was over the limits: nothing searched, this says why

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "items": [h.as_json() for h in self.hits],
            "meta": self.as_meta(),
            "facets": {name: [{"value": v, "label": str(lbl), "count": c} for v, lbl, c in rows]
                       for name, rows in self.facets.items()},
            "notes": [str(n) for n in self.notes],
            "did_you_mean": self.did_you_mean,
            "approximate": self.approximate,
            "all_revisions": self.all_revisions,
        }


def _block_history() -> bool:
    return current_app.config.get("OBSOLETE_REVISIONS", "banner") == "block"


def search(session: Session, user: User, q: str | None, *, kind: str | None = None,
           department: str | None = None, status: str | None = None, page: int = 1,
           per_page: int = 20, all_revisions: bool = False) -> SearchResult:
    """Answer a query for one user. Current (effective) revisions by default; every
    revision the user may see with all_revisions or a status other than effective."""
    parsed = parse_query(q)
    notes = list(parsed.notes)
    page = min(max(page, 1), MAX_PAGE)
    per_page = min(max(per_page, 1), 100)
    kind, department, status = (v.strip() if isinstance(v, str) else None
                                for v in (kind, department, status))
    if kind and kind not in {k.value for k in DocKind}:
        notes.append(_l("There is no kind %(kind)s; all kinds are shown.", kind=kind))
        kind = None
    if status and status not in {s.value for s in RevState}:
        notes.append(_l("There is no status %(status)s; all are shown.", status=status))
        status = None
    all_revisions = all_revisions or bool(status and status != RevState.EFFECTIVE)
    which = "history" if all_revisions else "current"
    result = SearchResult(query=(q or "")[:MAX_QUERY_CHARS], hits=[], total=0, page=page,
                          per_page=per_page, facets={}, notes=notes, did_you_mean=[],
                          approximate=False, all_revisions=all_revisions, blank=parsed.blank,
                          refused=parsed.refused)
    if parsed.empty:
        return result
    base: dict[str, list[str]] = {}
    # state and confidentiality filter in the index, so totals, pages and facets are right
    viewers = visibility.reader_viewer_terms(visibility.reader_for(session, user))
    if which == "history":
        if not user.can(Permission.ISSUE_DOCUMENTS):
            base["viewers"] = viewers or ["*", str(user.id)]
        elif viewers is not None:
            base["viewers"] = viewers
        if _block_history() and not user.can(Permission.VIEW_HISTORY):
            base["state"] = [s.value for s in RevState if s not in HISTORY_STATES]
    selected = {"kind": [kind] if kind else [], "department": [department] if department else [],
                "state": [status] if status else []}
    filters = {**base, **{k: v for k, v in selected.items() if v}}
    if "state" in base and status:
        filters["state"] = [status] if status in base["state"] else ["-none-"]
    if which == "current" and viewers is not None:
        base["viewers"] = filters["viewers"] = viewers

    engine = get_engine()
    phrases = parsed.phrases
    needles = parsed.needles
    found = _run(engine, which, phrases, filters, base, page, per_page)
    if found.total == 0:
        phrases, needles, corrected = _fuzzy(engine, which, parsed)
        if corrected:
            found = _run(engine, which, phrases, filters, base, page, per_page)
            if found.total:
                result.approximate = True
                result.did_you_mean = [corrected]
        if found.total == 0:
            split = _words_of_phrases(parsed.phrases)
            if split is not None:
                found = _run(engine, which, split.phrases, filters, base, page, per_page)
                if found.total:
                    needles = split.needles
                    result.notes.append(_l(
                        "No document holds “%(phrase)s” as written; showing documents "
                        "that hold all of its words: %(words)s.",
                        phrase=" ".join(split.split), words="、".join(split.words)))
        if found.total == 0:
            result.did_you_mean = result.did_you_mean or _close_numbers(engine, which, parsed)
    result.total = found.total
    result.facets = _facet_rows(session, found.facets)
    result.hits = _visible_hits(session, user, found.hits, needles, which)
    return result


def _run(engine: WhooshEngine, which: str, phrases: list[Phrase],
         filters: dict[str, list[str]], base: dict[str, list[str]], page: int,
         per_page: int) -> Any:
    """The page, the total, and facet counts under the base filters only (a facet still
    shows the other choices once one is selected)."""
    try:
        return engine.query(which, phrases, filters=filters, page=page, per_page=per_page,
                            facets=FACETS, facet_filters=base)
    except IndexUnavailable:
        log.warning("search index unavailable; rebuilding it", exc_info=True)
        with engine.writer_lock():
            pass  # wait for a writer in progress before deciding to rebuild
        rebuild()
        return engine.query(which, phrases, filters=filters, page=page, per_page=per_page,
                            facets=FACETS, facet_filters=base)


def _fuzzy(engine: WhooshEngine, which: str,
           parsed: ParsedQuery) -> tuple[list[Phrase], list[str], str]:
    """Latin words corrected from the index's vocabulary (typo tolerance)."""
    corrected_any = False
    phrases: list[Phrase] = []
    needles = list(parsed.needles)
    shown: list[str] = []
    for phrase in parsed.phrases:
        tokens = list(phrase.tokens)
        for i, tok in enumerate(tokens):
            if analysis.is_cjk(tok) or tok.isdigit() or len(tok) < 3:
                continue
            suggestions = engine.suggest_words(which, tok)
            if suggestions and suggestions[0] != tok:
                tokens[i] = suggestions[0]
                needles.append(suggestions[0])
                corrected_any = True
        phrases.append(Phrase(tokens=tokens, numberlike=phrase.numberlike))
        shown.append(" ".join(tokens) if not any(analysis.is_cjk(t) for t in tokens)
                     else "".join(t[0] for t in tokens[:-1]) + tokens[-1])
    return phrases, needles, " ".join(shown) if corrected_any else ""


@dataclass
class WordSplit:
    phrases: list[Phrase]
    needles: list[str]
    split: list[str]  # the phrases as typed that were split
    words: list[str]  # every word they were split into


MIN_SPLIT_CHARS = 3  # shorter Chinese runs are one word already


def _words_of_phrases(phrases: list[Phrase]) -> WordSplit | None:
    """The fallback for an unspaced multi-word Chinese query (退还时限) that no document
    holds as written: each such phrase becomes its words (jieba's dictionary), every word
    still required. None when no phrase splits (quoted phrases are never split)."""
    out: list[Phrase] = []
    needles: list[str] = []
    split: list[str] = []
    words: list[str] = []
    for phrase in phrases:
        long_run = any(m.lastgroup == "cjk" and len(m.group()) >= MIN_SPLIT_CHARS
                       for m in analysis.TOKEN_RE.finditer(phrase.text))
        parts = analysis.split_words(phrase.text) if long_run and not phrase.quoted else []
        if len(parts) < 2:
            out.append(phrase)
            needles.extend(m.group() for m in analysis.TOKEN_RE.finditer(phrase.text))
            continue
        split.append(phrase.text)
        for part in parts:
            tokens = analysis.phrase_tokens(part)
            if tokens:
                out.append(Phrase(tokens=tokens, text=part))
                needles.append(part)
                words.append(part)
    if not split or len(out) > MAX_PHRASES:
        return None
    return WordSplit(phrases=out, needles=needles, split=split, words=words)


def _close_numbers(engine: WhooshEngine, which: str, parsed: ParsedQuery) -> list[str]:
    wanted = [n for n in parsed.needles if len(n) <= MAX_NUMBER_CHARS
              and ((NUMBER_RE.match(n) and "-" in n) or n.isdigit())][:MAX_NUMBER_GUESSES]
    if not wanted:
        return []
    numbers = engine.numbers(which)
    by_folded = {n.lower(): n for n in numbers}
    out: list[str] = []
    for w in wanted:
        candidates = [n for f, n in by_folded.items() if w in f] if w.isdigit() else []
        candidates += [by_folded[m] for m in difflib.get_close_matches(w, list(by_folded), n=3,
                                                                       cutoff=0.6)]
        for c in candidates:
            if c not in out:
                out.append(c)
    return out[:5]


def _facet_rows(session: Session,
                counts: dict[str, dict[str, int]]) -> dict[str, list[tuple[str, str, int]]]:
    from flask_babel import get_locale

    from qms.auth.models import Department

    try:
        locale = str(get_locale() or "zh_CN")
    except RuntimeError:  # outside a request (the CLI)
        locale = "zh_CN"
    names = {d.code: d.label(locale) for d in session.scalars(sa.select(Department))}
    labels: dict[str, Callable[[str], Any]] = {
        "kind": lambda v: KIND_LABELS.get(DocKind(v), v) if v in _KINDS else v,
        "department": lambda v: names.get(v, v),
        "state": lambda v: STATE_LABELS.get(RevState(v), v) if v in _STATES else v,
    }
    return {name: sorted(((v, labels[name](v), c) for v, c in values.items()),
                         key=lambda row: (-row[2], row[0]))
            for name, values in counts.items()}


def _visible_hits(session: Session, user: User, hits: list[Any], needles: list[str],
                  which: str) -> list[Hit]:
    """Only what the database says this user may see, as the database has it now."""
    if not hits:
        return []
    revisions = {r.id: r for r in session.scalars(
        sa.select(Revision).where(Revision.id.in_([h.revision_id for h in hits]))
        .options(joinedload(Revision.document), selectinload(Revision.reviews)))}
    out: list[Hit] = []
    block = _block_history()
    for h in hits:
        revision = revisions.get(h.revision_id)
        if revision is None or not can_view(session, user, revision, block_history=block):
            continue
        document = revision.document
        if which == "current" and (revision.state != RevState.EFFECTIVE
                                   or document.current_revision_id != revision.id):
            continue  # the index lags behind the database: never show a stale current hit
        out.append(Hit(
            number=document.number, title=revision.title, revision=revision.label,
            status=str(revision.state), status_label=STATE_LABELS[revision.state],
            kind=str(document.kind), kind_label=KIND_LABELS[document.kind],
            department=document.department.code, department_name=document.department.name,
            effective_date=revision.effective_date, score=round(h.score, 3),
            snippet=snippet(revision.body, needles), document_id=document.id,
            revision_id=revision.id, marked=revision.state != RevState.EFFECTIVE,
        ))
    return out


# -- snippets ----------------------------------------------------------------------------

_MARKDOWN_RE = re.compile(
    r"^\s{0,3}(?:#{1,6}\s*|[-*+]\s+|\d+\.\s+|>\s*)|[*_`|]+|!?\[([^\]]*)\]\([^)]*\)", re.MULTILINE)
_KINDS = {k.value for k in DocKind}
_STATES = {s.value for s in RevState}


# a table's delimiter row (| --- | :---: |) or a rule (---, ***): no words, only noise
_RULE_RE = re.compile(r"^[ \t]*\|?(?:[ \t]*:?[-*_=]{3,}:?[ \t]*\|?)+[ \t]*$", re.MULTILINE)


def plain(markdown_text: str) -> str:
    """Markdown without its markup characters, cheaply (snippets only)."""
    text = _MARKDOWN_RE.sub(lambda m: m.group(1) if m.group(1) is not None else " ",
                            _RULE_RE.sub(" ", markdown_text))
    return re.sub(r"\s+", " ", text).strip()


_SNIPPETS: OrderedDict[tuple[bytes, frozenset[str], int], Markup] = OrderedDict()
_SNIPPETS_KEPT = 4096
_SNIPPETS_LOCK = threading.Lock()


def snippet(body: str, needles: list[str], width: int = 140) -> Markup:
    """A window of the original text with every match marked (offsets found in the folded
    text and mapped back, so traditional text is highlighted as written). The same text
    and words give the same snippet: the last few thousand are kept, by the text's hash."""
    wanted = frozenset(n for n in needles if n)
    key = (hashlib.sha256(body.encode("utf-8", "surrogatepass")).digest(), wanted, width)
    with _SNIPPETS_LOCK:
        found = _SNIPPETS.get(key)
        if found is not None:
            _SNIPPETS.move_to_end(key)
            return found
    made = _snippet(body, wanted, width)
    with _SNIPPETS_LOCK:
        _SNIPPETS[key] = made
        while len(_SNIPPETS) > _SNIPPETS_KEPT:
            _SNIPPETS.popitem(last=False)
    return made


def _snippet(body: str, needles: frozenset[str], width: int) -> Markup:
    text = plain(body)
    if not text:
        return Markup("")
    folded, offsets = analysis.fold_with_offsets(text)
    spans: list[tuple[int, int, str]] = []
    for needle in needles:
        start = folded.find(needle)
        while start != -1 and len(spans) < 400:
            spans.append((start, start + len(needle), needle))
            start = folded.find(needle, start + len(needle))
    spans.sort()
    if not spans:
        cut = text[:width]
        return escape(cut) + ("…" if len(text) > width else "")
    best = _densest_window(spans, width)
    lo = offsets[max(0, best - 30)]
    hi = min(len(text), lo + width)
    pieces: list[str] = ["…" if lo > 0 else ""]
    cursor = lo
    for s, e, _n in spans:
        os_, oe = offsets[s], offsets[e - 1] + 1
        if os_ < cursor or os_ >= hi:
            continue
        pieces.append(str(escape(text[cursor:os_])))
        pieces.append(f"<mark>{escape(text[os_:min(oe, hi)])}</mark>")
        cursor = min(oe, hi)
    pieces.append(str(escape(text[cursor:hi])))
    if hi < len(text):
        pieces.append("…")
    # every piece was escaped above; only <mark> is ours
    return Markup("".join(pieces))  # noqa: S704


def _densest_window(spans: list[tuple[int, int, str]], width: int) -> int:
    """The start of the first span whose window of `width` characters holds the most
    different needles (spans sorted by start): one pass, two pointers."""
    best, best_count = spans[0][0], 0
    inside: Counter[str] = Counter()
    end = 0
    for start, _e, needle in spans:
        while end < len(spans) and spans[end][0] < start + width:
            inside[spans[end][2]] += 1
            end += 1
        if len(inside) > best_count:
            best, best_count = start, len(inside)
        inside[needle] -= 1
        if not inside[needle]:
            del inside[needle]
    return best


def plain_snippet(html: str) -> str:
    """A snippet for the terminal: matches in [brackets], no markup."""
    import html as html_module

    text = html.replace("<mark>", "[").replace("</mark>", "]")
    return html_module.unescape(text)
