"""Submitting a draft: reviewers are found by typing and chosen from the keyboard alone,
shown as chips, and sent as the plain form sends them. A refused submission and a
revision sent back keep the people chosen; cancelling sits apart and asks first."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.e2e.conftest import sign_in
from tests.factories import TEST_PASSWORD, make_document, make_user


def _draft(live_app: Any) -> str:
    from qms.auth.models import User
    from qms.auth.permissions import Role
    from qms.db import get_session

    with live_app.app_context():
        s = get_session()
        clerk = s.scalar(sa.select(User).where(User.username == "clerk"))
        # enough people that a four-row list would hide some
        for i in range(12):
            make_user(s, f"member{i:02d}", Role.REVIEWER, display_name=f"评审员{i:02d}")
        document = make_document(s, state="draft", author=clerk, title="车辆管理制度")
        s.commit()
        return str(document.number)


def test_reviewers_chosen_by_typing_and_keyboard(
    page: Any, live_server: str, live_app: Any
) -> None:
    number = _draft(live_app)
    base = live_server
    sign_in(page, base, "clerk")
    page.goto(f"{base}/documents/{number}")
    combo = page.locator("#submit-form .picker-filter")
    assert combo.is_visible()
    # the native list is out of sight, still in the form
    assert page.locator("#submit-reviewers").count() == 1

    combo.focus()
    page.keyboard.type("评审员07")
    page.keyboard.press("Enter")  # chooses the only match; does not submit
    assert page.url.endswith(f"/documents/{number}")
    page.keyboard.type("评审员1")
    page.keyboard.press("ArrowDown")  # 评审员10 → 评审员11
    page.keyboard.press(" ")
    chips = page.locator("#submit-form .chip")
    assert chips.count() == 2
    assert "评审员07" in chips.nth(0).inner_text() and "评审员11" in chips.nth(1).inner_text()
    # Backspace on an empty filter takes the last one off again, Space puts it back
    page.keyboard.press("Escape")
    page.keyboard.press("Backspace")
    assert chips.count() == 1
    page.keyboard.type("评审员11")
    page.keyboard.press(" ")
    assert chips.count() == 2

    page.select_option("#submit-approver", "approver")
    # one wrong step on purpose: a wrong password; the page keeps the people chosen
    page.fill("#submit-form input[name=password]", "not-the-password")
    page.click("#submit-form button[type=submit]")
    page.wait_for_load_state()
    assert "密码" in page.inner_text("#refusal")
    chips = page.locator("#submit-form .chip")
    assert sorted(c.inner_text().split()[0] for c in chips.all()) == ["评审员07", "评审员11"]
    assert page.locator("#submit-approver").input_value() == "approver"

    page.fill("#submit-form input[name=password]", TEST_PASSWORD)
    page.click("#submit-form button[type=submit]")
    page.wait_for_load_state()
    assert "审核中" in page.inner_text("#revision-label + .badge")
    actions = page.inner_text("#actions")
    assert "评审员07" in actions and "评审员11" in actions


def test_cancel_sits_apart_and_asks_first(page: Any, live_server: str, live_app: Any) -> None:
    number = _draft(live_app)
    base = live_server
    sign_in(page, base, "clerk")
    page.goto(f"{base}/documents/{number}")
    assert page.locator("#submit-form #cancel-form").count() == 0
    page.click("#cancel-revision summary")
    page.fill("#cancel-form input[name=comment]", "不再需要")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("#cancel-form button.danger")
    assert asked and "取消" in asked[0]
    assert "草稿" in page.inner_text("#status-banner")  # nothing was sent
