"""On a phone (375 × 740): the menu folds away, the page never scrolls sideways (wide
tables scroll inside their own box), the content starts on the first screen, and
document numbers stay on one line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import sign_in

WIDTH, HEIGHT = 375, 740


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": WIDTH, "height": HEIGHT}, is_mobile=True
    )
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def _world(live_app: Any) -> dict[str, Any]:
    from tests.web.test_route_matrix import build_world

    return build_world(live_app)


def _check(page: Any, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, url
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{url}: the page is {width}px wide"
    top = page.evaluate("document.querySelector('main h1').getBoundingClientRect().top")
    assert top < HEIGHT / 2, f"{url}: the content starts at {top}px"
    wrapped = page.evaluate(
        """() => Array.from(document.querySelectorAll('.docno, table.grid td > a > code'))
             .filter(e => e.getClientRects().length > 1).map(e => e.textContent)"""
    )
    assert wrapped == [], f"{url}: numbers broken over lines: {wrapped}"


def test_phone_pages_fit_the_screen(phone: Any, live_server: str, live_app: Any) -> None:
    world = _world(live_app)
    base = live_server
    sign_in(phone, base, "manager")
    menu = phone.locator("#menu-toggle")
    assert menu.is_visible()
    assert not phone.locator("#mainnav").is_visible()
    menu.click()
    assert phone.locator("#mainnav").is_visible()
    for path in (
        "/documents/",
        f"/distribution/copies/{world['number']}",
        f"/reviews/{world['review_id']}",
        f"/documents/{world['number']}",
    ):
        _check(phone, base + path)
    phone.click("#sign-out")
    sign_in(phone, base, "leader")  # the meeting page is the review team's
    _check(phone, f"{base}/reviews/{world['review_id']}/meeting")
