"""Hostile text in every field, every GET page of the URL map, every role: nothing runs.

The routes come from ``app.url_map``, so a new page is covered the day it is added. A
route whose arguments the hostile data cannot fill fails this test: add a filler to
``tests/web/hostile_data.py`` (``Hostile.fillers`` by argument name, or
``Hostile.endpoint_fillers`` when the arguments must agree with each other).
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from flask import Flask

from qms.config import PROJECT_ROOT
from tests.conftest import login
from tests.web.hostile_data import Hostile, build, hostile, problems

# Static files are ours, not built from user data.
NOT_PAGES = {"static"}

CHECKED_TYPES = (
    "text/html",
    "image/svg+xml",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
)


def query_parameters() -> list[str]:
    """Every query parameter a view or template reads, found in the source."""
    names: set[str] = set()
    pattern = re.compile(r"""args\.get(?:list)?\(\s*["'](\w+)["']""")
    for path in [
        *(PROJECT_ROOT / "qms").rglob("*.py"),
        *(PROJECT_ROOT / "templates").rglob("*.html"),
    ]:
        names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return sorted(names)


def _urls(app: Flask, data: Hostile) -> tuple[list[tuple[str, str]], list[str]]:
    """(endpoint, url) of every GET page, and messages for routes nobody can fill."""
    urls: list[tuple[str, str]] = []
    unfillable: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES:
            continue
        if rule.endpoint in data.endpoint_fillers:
            argument_sets = data.endpoint_fillers[rule.endpoint]
        else:
            missing = [a for a in sorted(rule.arguments) if not data.fillers.get(a)]
            if missing:
                unfillable.append(
                    f"{rule.rule} ({rule.endpoint}): the hostile-text fixture cannot fill "
                    f"{', '.join(missing)}. Add a filler to Hostile.fillers (or "
                    f"Hostile.endpoint_fillers) in tests/web/hostile_data.py."
                )
                continue
            names = sorted(rule.arguments)
            argument_sets = [
                dict(zip(names, values, strict=True))
                for values in itertools.product(*(data.fillers[a] for a in names))
            ]
        with app.test_request_context():
            from flask import url_for

            for arguments in argument_sets:
                urls.append((rule.endpoint, url_for(rule.endpoint, **arguments)))
    return urls, unfillable


def _scan(response: Any, url: str) -> list[str]:
    content_type = response.headers.get("Content-Type", "")
    if not content_type.startswith(CHECKED_TYPES):
        # JSON, CSV, .docx: never served as a page the browser would run
        assert "html" not in content_type, (url, content_type)
        return []
    text = response.get_data(as_text=True)
    found = problems(text)
    if "svg" in content_type:
        # well-formed: no text broke out of an element or attribute
        ET.fromstring(text.split("?>", 1)[-1])  # noqa: S314 - our own output
    return found


@pytest.fixture
def hostile_data(app: Flask) -> Hostile:
    return build(app)


def test_no_page_runs_hostile_text_for_any_role(app: Flask, hostile_data: Hostile) -> None:
    urls, unfillable = _urls(app, hostile_data)
    assert unfillable == [], "\n".join(unfillable)
    evil = hostile("query", 120)
    query = dict.fromkeys(query_parameters(), evil)
    found: list[str] = []
    opened: dict[str, int] = {endpoint: 0 for endpoint, _url in urls}
    # signed out (public pages), every role in Chinese, and one in English (English names)
    visitors = [(None, "zh_CN"), *((u, "zh_CN") for u in hostile_data.usernames), ("clerk", "en")]
    for username, language in visitors:
        client = app.test_client()
        if username is not None:
            assert login(client, username).status_code == 302
        if language != "zh_CN":
            assert client.post(f"/lang/{language}", data={"next": "/"}).status_code == 302
        seen_with_query: set[str] = set()
        for endpoint, url in urls:
            with client.get(url) as response:
                if response.status_code == 200:
                    opened[endpoint] += 1
                found += [f"{username} GET {url}: {p}" for p in _scan(response, url)]
            if endpoint not in seen_with_query:  # hostile filters and search words, once
                seen_with_query.add(endpoint)
                path, _sep, own = url.partition("?")  # a URL may carry its own (a token)
                own_args = dict(pair.split("=", 1) for pair in own.split("&") if pair)
                with client.get(path, query_string={**query, **own_args}) as response:
                    found += [f"{username} GET {url}?<hostile>: {p}" for p in _scan(response, url)]
    assert found == [], "\n".join(found[:40])
    never = sorted(e for e, n in opened.items() if n == 0)
    assert never == [], (
        f"No role could open {never} with the hostile data: make its filler name something "
        "that exists, so the page is rendered with hostile text."
    )


def test_the_scanner_finds_what_a_browser_would_run() -> None:
    assert problems("<p>&lt;script&gt;alert(1)&lt;/script&gt; Q{{7*7}}Q</p>") == []
    for bad in (
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href=" javascript:alert(1)">x</a>',
        "<iframe src=/x></iframe>",
        '<img src="https://tracker.example/p.png">',
        "<p>Q49Q</p>",
        "<svg><g onload=alert(1)></g></svg>",
    ):
        assert problems(bad), bad


def test_a_route_the_fixture_cannot_fill_fails_with_advice(app: Flask) -> None:
    _urls_made, unfillable = _urls(app, Hostile(fillers={}))
    assert any("Add a filler" in m and "<int:review_id>" in m for m in unfillable)
