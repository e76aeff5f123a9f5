"""The Chinese pages say things in words: no code of the system's own (a task kind, a
trail action, a recall reason, a state) shows through as English, and nothing reads None.

Every role opens the main pages and the pages they link to (the crawler's pages), in
Chinese, and the visible text of each is searched for the codes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask

from tests.web.route_matrix import SIGNED_IN
from tests.web.test_link_crawl import add_recalled_copy, links_on, start_pages
from tests.web.test_route_matrix import build_world

RAW = re.compile(r"\b(defect|transition|sign|superseded|approved|None)\b")


class _Text(HTMLParser):
    """The text a reader sees: no tags, attributes, scripts or styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def test_the_text_finder_sees_what_a_reader_sees() -> None:
    html = '<p title="approved">已批准</p><script>var sign = 1;</script><td>defect</td>'
    assert RAW.findall(visible_text(html)) == ["defect"]


@pytest.mark.parametrize("role", sorted(SIGNED_IN))
def test_no_raw_codes_in_chinese_pages(app: Flask, users: Any, client_as: Any, role: str) -> None:
    world = build_world(app)
    add_recalled_copy(app, world)
    client = client_as(role)
    pages = [
        *start_pages(world),
        "/trail/",
        f"/documents/{world['revised']}/trail",
        "/distribution/recalls",
        "/distribution/copies",
    ]
    seen: set[str] = set()
    problems = []
    frontier = pages
    for _depth in range(2):
        following = []
        for url in frontier:
            if url in seen:
                continue
            seen.add(url)
            response = client.get(url, headers={"Accept-Language": "zh-CN"})
            if response.status_code != 200 or response.mimetype != "text/html":
                response.close()
                continue
            html = response.get_data(as_text=True)
            found = sorted(set(RAW.findall(visible_text(html))))
            if found:
                problems.append(f"{url}: {', '.join(found)}")
            following += links_on(html, url)
        frontier = following
    assert len(seen) > 10
    assert not problems, "\n".join(problems)


def test_trail_names_records_and_shortens_fingerprints(
    app: Flask, users: Any, client_as: Any
) -> None:
    world = build_world(app)
    add_recalled_copy(app, world)
    page = client_as("clerk").get(f"/documents/{world['revised']}/trail").get_data(as_text=True)
    text = visible_text(page)
    assert f"文件 {world['revised']} 版本 A/1" in text
    assert "状态变更" in text and "agreed" not in text
    assert "签名" in visible_text(client_as("clerk").get("/trail/").get_data(as_text=True))
    assert "revision " not in text
    # a fingerprint: whole in the page (copying takes all of it), shortened by the style
    assert re.search(r'<code class="hash" title="([0-9a-f]{64})">\1</code>', page)
    mail = client_as("staff").get("/mail/").get_data(as_text=True)
    assert "收件人" in mail and "截止日期" not in mail
    diff = client_as("clerk").get(f"/documents/{world['revised']}/diff").get_data(as_text=True)
    assert "对比版本" in diff and "截止日期" not in diff


def test_recall_reasons_read_in_the_readers_language(app: Flask) -> None:
    from qms.distribution.copies import recall_reason_text, superseded_reason, withdrawn_reason

    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert recall_reason_text(superseded_reason("A/0", "A/1")) == "版本 A/0 已被 A/1 替代"
        # reasons stored before the code: read the same way
        assert recall_reason_text("A/0 superseded by A/1") == "版本 A/0 已被 A/1 替代"
        assert (
            recall_reason_text(withdrawn_reason("B/0", "不再适用")) == "版本 B/0 已作废：不再适用"
        )
        assert recall_reason_text("recalled by document control") == "由文件控制收回"
        assert recall_reason_text("前台遗失") == "前台遗失"  # a clerk's own note
