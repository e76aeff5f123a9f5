"""Meeting mode in Chromium: three defects logged, one disposed and a checklist item ticked,
from the keyboard alone, with the counts updating live."""

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in  # also skips the module without Chromium
from tests.factories import TEST_PASSWORD, grant_all_approval, make_document


def _meeting(app):
    from qms.auth.models import User
    from qms.db import get_session
    from qms.reviews import service

    with app.app_context():
        db = get_session()

        def user(name):
            return db.scalar(sa.select(User).where(User.username == name))

        grant_all_approval(db, user("approver"))
        document = make_document(db, state="reviewed", author=user("clerk"),
                                 reviewer=user("reviewer"), approver=user("approver"))
        review = service.create_review(
            db, user("leader"), title="客服体系", department=document.department,
            objects=[service.ObjectSpec(document.working_revision, 6)],
            reviewers=[user("reviewer")], approver=user("gm"))
        service.submit_plan(db, user("leader"), review)
        service.approve_plan(
            db, user("gm"), review, password=TEST_PASSWORD, content_sha256=service.plan_hash(review)
        )
        for name in ("reviewer", "clerk"):
            service.confirm_participation(db, user(name), review)
        service.publish(db, user("leader"), review)
        service.start_meeting(db, user("leader"), review, place="三楼会议室")
        db.commit()
        return review.id


def test_three_defects_from_the_keyboard(page, live_server, live_app):
    review_id = _meeting(live_app)
    sign_in(page, live_server, "leader")
    page.goto(f"{live_server}/reviews/{review_id}/meeting")
    kb = page.keyboard
    entries = [("2", "2.1", "3", "ArrowUp", "缺少投诉受理时限"),  # serious
               ("3", "3.4", "5", None, "回访流程顺序错误"),  # general (the default)
               ("4", "", "7", "ArrowDown", "可增加受理表示例")]  # suggestion
    for number, (chapter, section, pg, severity_key, text) in enumerate(entries, start=1):
        assert page.evaluate("document.activeElement.name") == "chapter"
        kb.type(chapter)
        kb.press("Tab")
        kb.type(section)
        kb.press("Tab")
        kb.type(pg)
        kb.press("Tab")
        if severity_key:
            kb.press(severity_key)
        kb.press("Tab")  # category: keep the default
        kb.press("Tab")
        kb.type(text)
        kb.press("Control+Enter")
        page.wait_for_selector(f"#defect-{number}")
        assert page.locator("[data-count=defects]").inner_text() == str(number)
    assert page.locator("[data-count='severity.serious']").inner_text() == "1"
    assert page.locator("[data-count='severity.general']").inner_text() == "1"
    assert page.locator("[data-count='severity.suggestion']").inner_text() == "1"
    assert "缺少投诉受理时限" in page.locator("#defect-1").inner_text()

    # Leave the form, jump to the first disposition, accept it, all from the keyboard.
    kb.press("Escape")
    kb.press("l")
    assert page.evaluate("document.activeElement.name") == "disposition"
    kb.press("ArrowDown")  # not yet decided → accepted
    kb.press("Tab")
    kb.press("Tab")
    kb.press("Enter")
    # a locator, not wait_for_function: the CSP forbids the eval that a string predicate needs
    expect(page.locator("[data-count='disposition.accepted']")).to_have_text("1")
    assert page.locator("#defect-1").get_attribute("data-disposition") == "accepted"

    # Tick the first checklist item.
    kb.press("c")
    kb.press("Space")
    expect(page.locator("[data-count=checklist_ticked]")).to_have_text("1")

    # Everything is in the database, not only on the screen.
    page.goto(f"{live_server}/api/v1/reviews/{review_id}")
    assert '"accepted"' in page.content()
