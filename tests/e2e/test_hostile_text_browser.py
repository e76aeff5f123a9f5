"""The hostile data in a real browser: on the main pages, as the people who see them, no
script runs (no dialog), nothing breaks the Content-Security-Policy (no violation in the
console), and no request leaves for another site (remote images are not loaded)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from tests.e2e.conftest import sign_in
from tests.web.hostile_data import build, hostile


def _pages(named: dict[str, Any]) -> dict[str, list[str]]:
    doc, query = named["effective"], quote(hostile("query", 120))
    common = [
        "/",
        "/tasks/",
        "/documents/",
        f"/documents/{doc}",
        f"/documents/{doc}/trail",
        f"/procedures/{named['procedure']}",
        "/procedures/",
        f"/distribution/external/{named['external']}",
        "/distribution/external",
        "/reviews/",
        f"/search?q={query}&kind={query}&status={query}&department={query}",
        f"/documents/?q={query}&department={query}",
    ]
    return {
        "clerk": [
            *common,
            f"/documents/{doc}/diff",
            f"/documents/{doc}/edit/{named['draft_id']}",
            f"/word/imports/{named['import_id']}",
            f"/documents/{named['imported']}",
            f"/distribution/copies/{doc}",
            "/distribution/recalls",
            "/distribution/reading",
            f"/distribution/read/{named['in_force_id']}",
            "/trail/",
            "/mail/",
            f"/documents/{named['withdrawn']}",
        ],
        "leader": [
            f"/reviews/{named['review_id']}",
            f"/reviews/{named['review_id']}/meeting",
            "/reviews/metrics",
        ],
        "reviewer": ["/tasks/", f"/documents/{named['in_review']}"],
        "staff": [*common, "/distribution/my-copies", f"/distribution/read/{named['in_force_id']}"],
        "admin": ["/admin/departments", "/admin/users", "/account"],
    }


def test_hostile_text_runs_nothing_in_the_browser(browser, live_app, live_server):
    data = build(live_app)
    host = urlsplit(live_server).netloc
    trouble: list[str] = []
    visited = 0
    for username, paths in _pages(data.named).items():
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(15_000)
        where = {"url": ""}

        def on_dialog(dialog: Any, where: dict[str, str] = where) -> None:
            trouble.append(f"dialog {dialog.message!r} on {where['url']}")
            dialog.dismiss()

        def on_console(message: Any, where: dict[str, str] = where) -> None:
            text = message.text
            if "Content Security Policy" in text or "Refused to" in text:
                trouble.append(f"CSP on {where['url']}: {text}")

        def on_request(request: Any, where: dict[str, str] = where) -> None:
            if urlsplit(request.url).netloc not in (host, ""):
                trouble.append(f"request to {request.url} from {where['url']}")

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on(
            "pageerror",
            lambda err, where=where: trouble.append(f"script error {err} on {where['url']}"),
        )
        page.on("request", on_request)
        sign_in(page, live_server, username)
        for path in paths:
            where["url"] = path
            response = page.goto(live_server + path)
            assert response is not None and response.status == 200, (username, path)
            page.wait_for_load_state("load")
            visited += 1
        if username == "staff":  # live search swaps the results in with innerHTML
            where["url"] = "/search (typing)"
            page.goto(f"{live_server}/search")
            with page.expect_response(lambda r: "partial=1" in r.url):
                page.fill("#search-q", hostile("typed", 120))
            page.wait_for_timeout(300)  # let the swapped-in fragment parse
        context.close()
    assert trouble == [], "\n".join(trouble)
    assert visited >= 30
