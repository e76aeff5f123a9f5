"""The clerk drafts, a reviewer reviews, the approver signs, the clerk issues; staff then
see only the effective revision."""

from tests.e2e.conftest import sign_in
from tests.factories import TEST_PASSWORD


def _sign_out(page):
    page.click("#sign-out")
    page.wait_for_url("**/login")


def test_draft_review_approve_issue(page, live_server, tmp_path):
    base = live_server
    sign_in(page, base, "clerk")
    page.goto(f"{base}/documents/new")
    page.fill("input[name=title]", "业主会所管理制度")
    page.select_option("select[name=kind]", "regulation")
    page.select_option("select[name=department]", "KF")
    page.fill("textarea[name=body]", "## 总则\n\n会所开放时间为每日 9:00—21:00。\n")
    page.fill("input[name=change_summary]", "首次发布")
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/documents/ZD-KF-001")
    assert "草稿" in page.inner_text("#status-banner")

    page.select_option("#submit-form select[name=reviewers]", ["reviewer"])
    page.select_option("#submit-form select[name=approver]", "approver")
    page.fill("#submit-form input[name=password]", TEST_PASSWORD)
    page.click("#submit-form button[type=submit]")
    page.wait_for_load_state()
    assert "审核中" in page.inner_text("#revision-label + .badge")
    _sign_out(page)

    sign_in(page, base, "reviewer")
    page.goto(f"{base}/documents/ZD-KF-001")
    page.fill("#review-form textarea[name=comment]", "内容完整")
    page.fill("#review-form input[name=password]", TEST_PASSWORD)
    page.click("#review-form button[value=review]")
    page.wait_for_load_state()
    _sign_out(page)

    sign_in(page, base, "approver")
    page.goto(f"{base}/documents/ZD-KF-001")
    page.fill("#approve-form input[name=password]", "wrong-password-1")
    page.click("#approve-form button[value=approve]")
    assert "密码错误" in page.content()
    page.goto(f"{base}/documents/ZD-KF-001")
    page.fill("#approve-form input[name=password]", TEST_PASSWORD)
    page.click("#approve-form button[value=approve]")
    page.wait_for_load_state()
    _sign_out(page)

    sign_in(page, base, "clerk")
    page.goto(f"{base}/documents/ZD-KF-001")
    page.fill("#issue-form input[name=password]", TEST_PASSWORD)
    page.click("#issue-form button[type=submit]")
    page.wait_for_load_state()
    _sign_out(page)

    sign_in(page, base, "staff")
    page.goto(f"{base}/documents/")
    assert "ZD-KF-001" in page.inner_text("table.register")
    page.click("text=ZD-KF-001")
    page.wait_for_url(f"{base}/documents/ZD-KF-001")
    assert page.locator("#status-banner").count() == 0
    assert page.inner_text("#revision-label") == "A/0"
    assert "会所开放时间" in page.inner_text("#doc-body")
    history = page.inner_text("#history")
    for meaning in ("起草", "审核", "批准", "发布"):
        assert meaning in history
    page.screenshot(path=str(tmp_path / "effective.png"), full_page=True)
