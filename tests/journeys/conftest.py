"""Whole jobs in the browser: one journey per job, each person signed in through the sign-in
page in a browser of their own, the app served as in tests/e2e (same fixtures).

Helpers here say what a user does (sign in, open a page, read a message) and what a
journey leaves for review (a full-page screenshot under test-artifacts/journeys/)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_CHROMIUM = "/usr/bin/chromium"

if os.environ.get("QMS_SKIP_E2E") or not shutil.which(_CHROMIUM):
    # tests/e2e/conftest.py skips its own modules the same way; importing it here would
    # skip this conftest at import, which pytest reports as an error.
    collect_ignore_glob = ["test_*.py"]
else:
    from tests.e2e.conftest import (  # noqa: F401 - the fixtures journeys share with e2e
        CHROMIUM_ARGS,
        browser,
        live_app,
        live_server,
    )

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "journeys"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
CJK = re.compile(r"[\u4e00-\u9fff]")


class People:
    """One browser context per person, each signed in once through the sign-in page —
    as the clerk, the reviewer and the approver work at their own desks."""

    def __init__(self, browser: Any, base: str) -> None:
        self.browser = browser
        self.base = base
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    def open(self, viewport: dict[str, int] | None = None) -> Any:
        context = self.browser.new_context(locale="zh-CN", viewport=viewport or DESKTOP)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)  # a shared 2-core machine under load
        page.on("pageerror", lambda err: self.errors.append(f"{page.url}: {err}"))
        return page

    def sign_in(self, username: str, viewport: dict[str, int] | None = None) -> Any:
        from tests.factories import TEST_PASSWORD

        page = self.open(viewport)
        page.goto(f"{self.base}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", TEST_PASSWORD)
        page.click("form button[type=submit].primary")
        page.wait_for_url(f"{self.base}/")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def people(browser: Any, live_server: str) -> Iterator[People]:
    crowd = People(browser, live_server)
    yield crowd
    crowd.close()
    assert crowd.errors == [], f"script errors in the pages: {crowd.errors}"


@pytest.fixture
def last_page() -> Callable[[Any, str], Path]:
    """Save the journey's last page, full length, for review."""

    def shoot(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


@pytest.fixture
def zh(live_app: Any) -> Callable[[Any], str]:
    """A message as a Chinese reader sees it, from the app's own catalogue. Outcomes are
    asserted with it where other work is changing the wording; it fails when the message
    has no Chinese translation, so English left on a Chinese page is caught."""
    from flask_babel import force_locale, gettext

    def translate(message: Any) -> str:
        with live_app.test_request_context(), force_locale("zh_CN"):
            text = gettext(message) if isinstance(message, str) else str(message)
        assert CJK.search(text), f"no Chinese for {text!r}"
        return text

    return translate


def done_message(zh: Callable[[Any], str], number: str, label: str, state: Any) -> str:
    """The flash after a lifecycle step of a document, as the user reads it."""
    from qms.documents.models import STATE_LABELS

    return zh("Done: %(number)s revision %(label)s is now %(state)s.") % {
        "number": number,
        "label": label,
        "state": zh(STATE_LABELS[state]),
    }


def signed(zh: Callable[[Any], str], meaning: Any, name: str) -> str:
    """How a signature reads in the revision history: meaning · printed name."""
    from qms.auth.signatures import MEANING_LABELS

    return f"{zh(MEANING_LABELS[meaning])} · {name}"


WRONG_PASSWORD = "The password is wrong, so the signature was not applied."


def flash(page: Any, category: str = "success") -> str:
    """The text of the flash message of this category on the page (there must be one)."""
    box = page.locator(f".flash-{category}")
    assert box.count() >= 1, f"no {category} message on {page.url}"
    return str(box.first.inner_text())


def no_flash(page: Any, category: str = "error") -> None:
    assert page.locator(f".flash-{category}").count() == 0, page.locator(
        f".flash-{category}"
    ).all_inner_texts()


def in_db(live_app: Any, fn: Callable[[Any], Any]) -> Any:
    """Run a read against the database the server uses (to check nothing was stored)."""
    with live_app.app_context():
        from qms.db import get_session

        session = get_session()
        try:
            return fn(session)
        finally:
            session.rollback()
