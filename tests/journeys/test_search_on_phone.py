"""Job 6: a member of Customer Service looks up the complaint procedure on a phone, in
Chinese, and reads it there. Wrong step: a whole pasted paragraph as the search."""

import re
from urllib.parse import quote

from tests.journeys.conftest import PHONE

LONG = "业主来电投诉楼上装修噪音影响休息，" * 12  # 204 characters, pasted from a complaint


def _company_documents(live_app):
    from qms.config import PROJECT_ROOT
    from qms.db import get_session
    from qms.procedures.importer import import_directory

    with live_app.test_request_context():
        assert import_directory(get_session(), PROJECT_ROOT / "documents").errors == []


def _fits_the_screen(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


def test_staff_find_the_complaint_procedure_on_a_phone(people, live_app, zh, last_page):
    _company_documents(live_app)
    base = people.base
    phone = people.sign_in("staff", viewport=PHONE)
    phone.goto(f"{base}/search")
    assert phone.locator("h1").inner_text() == zh("Search documents")
    box = phone.locator("input[name=q]")

    # Wrong step: a paragraph pasted instead of a few words. The reason, and the text kept.
    box.fill(LONG)
    box.press("Enter")
    phone.wait_for_url(f"{base}/search?q=*")
    note = zh(
        "Your search is %(length)d characters long; at most %(limit)d are searched. "
        "Search for a shorter phrase."
    ) % {"length": len(LONG), "limit": 200}
    assert phone.locator(".search-note").inner_text() == note
    assert phone.locator("input[name=q]").input_value() == LONG
    assert phone.locator("ol.hits li").count() == 0
    _fits_the_screen(phone)

    phone.locator("input[name=q]").fill("投诉处理")
    phone.locator("input[name=q]").press("Enter")
    phone.wait_for_url(f"{base}/search?q={quote('投诉处理')}")
    hits = phone.locator("ol.hits li.hit")
    numbers = hits.locator(".hit-number").all_inner_texts()
    assert "LC-KF-003" in numbers and "ZD-KF-004" in numbers
    procedure = hits.filter(has=phone.locator(".hit-number", has_text=re.compile("^LC-KF-003$")))
    assert "业主投诉处理流程" in procedure.inner_text()
    assert zh("not in force") not in procedure.inner_text()
    _fits_the_screen(phone)

    procedure.get_by_role("link").first.click()
    phone.wait_for_url(f"{base}/documents/LC-KF-003")
    assert "业主投诉处理流程" in phone.locator("h1").inner_text()
    assert phone.locator("#status-banner").count() == 0  # today's revision, in force
    body = phone.locator("#doc-body")
    assert "统一受理和登记投诉" in body.inner_text()
    assert body.bounding_box()["width"] <= PHONE["width"]
    _fits_the_screen(phone)
    last_page(phone, "6-search-on-phone")
