"""Every link a page offers opens for the person it is offered to.

For each demo role: open the main pages and the pages of the matrix's sample records,
then follow every internal link (and every GET form's action) found on them, two steps
deep. None may answer 403, 404 or 409: a link or button is shown only when the check of
the page it leads to would let that person through.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from flask import Flask

from tests.factories import TEST_PASSWORD
from tests.web.route_matrix import SIGNED_IN
from tests.web.test_route_matrix import build_world

BAD = {403, 404, 409}
# Where a link only starts something (signing out, switching language) or leaves the app.
SKIP_PREFIXES = ("/logout", "/lang/", "/static/", "/api/")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"] or "")
        elif tag == "form" and (attrs.get("method") or "get").lower() == "get":
            self.links.append(attrs.get("action") or "")


def links_on(html: str, base: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    found = []
    for href in parser.links:
        url = urldefrag(urljoin(base, href)).url
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or parts.scheme not in ("", "http"):
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path.startswith(SKIP_PREFIXES) and path != "/login":
            found.append(path)
    return found


def add_recalled_copy(app: Flask, world: dict[str, Any]) -> None:
    """A document revised (A/0 superseded by A/1) whose copy of A/0 came back: its copy
    register lists a recalled copy, which no longer has a Word file."""
    import sqlalchemy as sa

    from qms.auth.models import User
    from qms.db import get_session
    from qms.distribution import copies
    from qms.distribution.models import RecallOutcome
    from qms.documents import service
    from tests.factories import make_document

    with app.test_request_context():
        s = get_session()
        u = {user.username: user for user in s.scalars(sa.select(User))}
        people = {"author": u["clerk"], "reviewer": u["reviewer"], "approver": u["approver"]}
        document = make_document(
            s, state="effective", clerk=u["clerk"], title="保洁管理制度", **people
        )
        first = document.current_revision
        copy = copies.issue_copy(s, u["clerk"], first, holder_user=u["staff"], location="门岗")
        revision = service.revise(
            s, u["clerk"], document, major_change=False, change_summary="修订"
        )
        for step, person in (
            ("submit", "clerk"),
            ("review", "reviewer"),
            ("approve", "approver"),
            ("issue", "clerk"),
        ):
            sha = revision.content_sha256
            if step == "submit":
                service.submit_for_review(
                    s,
                    u[person],
                    revision,
                    reviewers=[u["reviewer"]],
                    approver=u["approver"],
                    password=TEST_PASSWORD,
                    content_sha256=sha,
                )
            else:
                getattr(service, step)(
                    s, u[person], revision, password=TEST_PASSWORD, content_sha256=sha
                )
        copies.record_recall(s, u["clerk"], copy, RecallOutcome.RETURNED)
        s.commit()
        world["revised"] = document.number


def start_pages(world: dict[str, Any]) -> list[str]:
    pages = [
        "/",
        "/documents/",
        "/reviews/",
        "/procedures/",
        "/tasks/",
        "/search?q=制度",
        "/distribution/my-copies",
        "/distribution/external",
        "/mail/",
    ]
    for number in (world["number"], world["draft"], world["procedure"], world["revised"]):
        pages.append(f"/documents/{number}")
    pages += [f"/reviews/{world['review_id']}", f"/distribution/copies/{world['revised']}"]
    return pages


def crawl(client: Any, pages: list[str], depth: int = 2) -> list[str]:
    seen: set[str] = set()
    problems: list[str] = []
    frontier = [(page, "(start)") for page in pages]
    for _level in range(depth + 1):
        following: list[tuple[str, str]] = []
        for url, source in frontier:
            if url in seen:
                continue
            seen.add(url)
            response = client.get(url)
            status = response.status_code
            if status in BAD and source != "(start)":
                problems.append(f"{url} answered {status} (linked from {source})")
            elif status == 200 and response.mimetype == "text/html":
                html = response.get_data(as_text=True)
                following += [(link, url) for link in links_on(html, url) if link not in seen]
            response.close()
        frontier = following
    return problems


@pytest.mark.parametrize("role", sorted(SIGNED_IN))
def test_every_link_a_page_offers_opens(app: Flask, users: Any, role: str) -> None:
    from tests.conftest import login

    world = build_world(app)
    add_recalled_copy(app, world)
    client = app.test_client()
    assert login(client, role).status_code == 302
    problems = crawl(client, start_pages(world))
    assert not problems, "\n".join(problems)


def test_menus_and_boxes_only_for_those_with_a_part(app: Flask, users: Any, client_as: Any) -> None:
    """Staff not named on any review get no Reviews menu; a reader with nothing to do on a
    document sees no Actions box (nor the state of a draft they may not see)."""
    world = build_world(app)
    staff = client_as("staff")
    page = staff.get(f"/documents/{world['number']}").get_data(as_text=True)
    assert 'href="/reviews/"' not in page
    assert 'id="actions"' not in page
    assert "动作" not in page and "操作" not in page
    reviewer = client_as("reviewer").get("/").get_data(as_text=True)
    assert 'href="/reviews/"' in reviewer  # named on the sample review
    clerk = client_as("clerk").get(f"/documents/{world['number']}").get_data(as_text=True)
    assert 'id="actions"' in clerk


def test_the_register_asks_the_same_rule_as_the_page(app: Flask, users: Any) -> None:
    """The register's batch answer agrees with the document page's own check, for every
    role and every sample document (a differential test of the two forms of the rule)."""
    import sqlalchemy as sa
    from flask_login import login_user

    from qms.auth.models import User
    from qms.db import get_session
    from qms.documents.links import document_page_opens, document_pages_open
    from qms.documents.models import Document

    world = build_world(app)
    add_recalled_copy(app, world)
    with app.test_request_context():
        s = get_session()
        numbers = list(s.scalars(sa.select(Document.number).order_by(Document.number)))
        opened = 0
        for user in s.scalars(sa.select(User)).all():
            login_user(user)
            links = [{"number": n} for n in numbers]
            batch = document_pages_open(user, links)
            single = [document_page_opens(user, n) for n in numbers]
            assert batch == single, user.username
            opened += sum(single)
        assert 0 < opened < len(numbers) * len(users)
