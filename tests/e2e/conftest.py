"""Browser tests: the real app served on a free port, driven in Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if os.environ.get("QMS_SKIP_E2E") or not shutil.which(CHROMIUM):
    pytest.skip("browser tests need /usr/bin/chromium", allow_module_level=True)


@pytest.fixture
def live_app(database_url, tmp_path):
    from tests.conftest import make_test_app
    from tests.factories import make_role_users, seed_departments

    application = make_test_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    with application.app_context():
        from qms.db import get_session

        seed_departments(get_session())
        get_session().commit()
        make_role_users()
    return application


@pytest.fixture
def live_server(live_app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


_RUNNING: dict[str, Any] = {}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the session. tests/journeys uses this fixture too, and Playwright
    refuses a second sync_playwright() in the same thread: the later user borrows it."""
    if "browser" in _RUNNING:
        yield _RUNNING["browser"]
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        _RUNNING["browser"] = b
        try:
            yield b
        finally:
            del _RUNNING["browser"]
            b.close()


@pytest.fixture
def page(browser, tmp_path) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def sign_in(page: Any, base: str, username: str) -> None:
    from tests.factories import TEST_PASSWORD

    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")
