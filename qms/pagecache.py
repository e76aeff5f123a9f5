"""Whole answers of the busiest GET pages and JSON endpoints, kept in each worker process.

A document page costs 10–30 ms of CPU to build (history, signatures, links, the sections
of other features, the base template); the same answer, served again, costs what signing
in costs. An answer is kept under everything it depends on:

- who asks: the user, the browser session (or the API token) and the language;
- what is asked: the endpoint, the path and the query string;
- the data: the data generation (qms/db.py), which every committed write replaces, in the
  same transaction; the search index's generation for the search endpoints;
- the day (due and overdue dates), and the running code (the process).

So any write, by anyone, through any process, makes every kept answer a miss; and one
person's answer is never served to another session. Signing in is checked on every
request as before (the session must still be open on the server, the token still valid)
before anything is looked up. Only endpoints named in CACHED below are kept, and only
answers 200 to a GET without a flashed message, without a cookie of their own, without
``no-store``. The CSRF token in a kept form is stored
as a placeholder and a fresh one is signed for each answer. Entries live at most
PAGE_CACHE_SECONDS, and all of them together at most PAGE_CACHE_MB (0 turns it off).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request, session
from flask.globals import request_ctx
from flask_babel import get_locale
from flask_login import current_user

from qms import clock
from qms.db import get_session, read_generation

# endpoint → whether the search index's generation is part of the answer
CACHED: dict[str, bool] = {
    "documents.register": False,
    "documents.show": False,
    "search.search_page": True,
    "api.documents_api.list_documents": False,
    "api.documents_api.get_document": False,
    "api.search_api.search": True,
}

# response headers a kept answer does not replay (set again for each answer)
_NOT_KEPT = frozenset({"set-cookie", "content-length", "content-security-policy", "date", "vary"})


@dataclass(frozen=True)
class Entry:
    body: bytes
    headers: tuple[tuple[str, str], ...]
    csrf: bool  # the body holds the CSRF placeholder
    born: float

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 200


class PageCache:
    """A least-recently-used map bounded by the bytes of its answers."""

    def __init__(self, max_bytes: int, max_seconds: float) -> None:
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[Any, ...], Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[Any, ...]) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            if time.monotonic() - entry.born > self.max_seconds:
                self._drop(key)
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: tuple[Any, ...], entry: Entry) -> bool:
        size = entry.size
        if size > self.max_bytes // 4:  # one answer may not push out everything else
            return False
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self.bytes += size
            while self.bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def _drop(self, key: tuple[Any, ...]) -> None:
        entry = self._entries.pop(key)
        self.bytes -= entry.size


def cache_of(app: Flask) -> PageCache | None:
    cache: PageCache | None = app.extensions.get("qms.page_cache")
    return cache


def _key(search: bool) -> tuple[Any, ...] | None:
    """The key of this request's answer, or None when it may not be kept or served."""
    if not current_user.is_authenticated:
        return None
    if "_flashes" in session:  # a message waits to be shown on this page
        return None
    header = request.headers.get("Authorization", "")
    who: tuple[Any, ...] = (
        ("token", header) if header.startswith("Bearer ") else ("session", session.get("sid"))
    )
    index = ""
    if search:
        from qms.search.service import get_engine

        index = get_engine().active_generation() or ""
    return (
        read_generation(get_session()),
        index,
        clock.now().astimezone(clock.local_zone()).date(),
        current_user.id,
        who,
        str(get_locale()),
        request.endpoint,
        request.path,
        request.query_string,
    )


def _serve() -> Response | None:
    cache = cache_of(current_app)
    if cache is None or request.method != "GET":
        return None
    search = CACHED.get(request.endpoint or "")
    if search is None:
        return None
    key = _key(search)
    if key is None:
        return None
    entry = cache.get(key)
    if entry is None:
        g.page_cache_key = key
        return None
    body = entry.body
    if entry.csrf:
        from flask_wtf.csrf import generate_csrf

        body = body.replace(_placeholder(), generate_csrf().encode())
    g.page_cache_hit = True
    return Response(body, status=200, headers=list(entry.headers))


def _placeholder() -> bytes:
    marker: bytes = current_app.extensions["qms.page_cache_marker"]
    return marker


def _keep(response: Response) -> Response:
    key = g.pop("page_cache_key", None)
    if key is None or g.get("page_cache_hit"):
        return response
    cache = cache_of(current_app)
    if (
        cache is None
        or response.status_code != 200
        or response.direct_passthrough
        or response.is_streamed
        or "Set-Cookie" in response.headers
        or "no-store" in (response.headers.get("Cache-Control") or "")
        or "_flashes" in session
        or request_ctx.flashes  # the page showed a message
    ):
        return response
    body = response.get_data()
    token = g.get("csrf_token")
    csrf = False
    if token and token.encode() in body:
        body = body.replace(token.encode(), _placeholder())
        csrf = True
    headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in _NOT_KEPT)
    cache.put(key, Entry(body, headers, csrf, time.monotonic()))
    return response


def init_app(app: Flask) -> None:
    """After every other before-request hook (sign-in checks, the day's activations)."""
    mb = float(app.config.get("PAGE_CACHE_MB", 0) or 0)
    if mb <= 0 or app.debug:  # the debug server reloads templates: nothing is kept
        return
    app.extensions["qms.page_cache"] = PageCache(
        int(mb * 1024 * 1024), float(app.config.get("PAGE_CACHE_SECONDS", 300))
    )
    app.extensions["qms.page_cache_marker"] = f"qms-fresh-{secrets.token_hex(12)}".encode()
    app.before_request(_serve)
    # registered first, run last among after-request hooks: it sees the view's answer as
    # the others leave it (the security headers are set again for each answer anyway)
    app.after_request_funcs.setdefault(None, []).insert(0, _keep)
