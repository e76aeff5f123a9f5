"""Issue 12, parts 4 and 5 in Chromium: the approver of a revision opens its document page
and sees the review under way and its serious defect before signing; a verification the
defect's raiser tries is refused with its reason, shown in the defect's row."""

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in  # also skips the module without Chromium
from tests.factories import TEST_PASSWORD, grant_all_approval, make_document


def _review_with_a_serious_defect(app, *, fixed=False):
    from qms.auth.models import User
    from qms.db import get_session
    from qms.reviews import service
    from qms.reviews.models import Severity

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
        service.approve_plan(db, user("gm"), review, password=TEST_PASSWORD,
                             content_sha256=service.plan_hash(review))
        for name in ("reviewer", "clerk"):
            service.confirm_participation(db, user(name), review)
        service.publish(db, user("leader"), review)
        defect = service.add_defect(db, user("reviewer"), review, description="缺少投诉受理时限",
                                    severity=Severity.SERIOUS, category="missing")
        service.start_meeting(db, user("leader"), review)
        if fixed:
            service.dispose(db, user("leader"), defect, "accepted")
            service.track(db, user("leader"), defect, owner=user("clerk"), fix_due=None)
            service.close_meeting(db, user("leader"), review, minutes=30)
            service.mark_fixed(db, user("clerk"), defect)
        db.commit()
        return document.number, review.id, review.ref


def test_the_approver_sees_the_open_review_and_serious_defect_before_signing(
    page, live_server, live_app
):
    number, _review_id, ref = _review_with_a_serious_defect(live_app)
    sign_in(page, live_server, "approver")
    page.goto(f"{live_server}/documents/{number}")
    reviews = page.locator("#document-reviews")
    expect(reviews).to_contain_text(ref)
    expect(reviews).to_contain_text("评审会议进行中")
    expect(reviews.locator("[data-severity=serious]")).to_contain_text("1")
    # beside the sign button, before anything is signed
    note = page.locator("#approve-form #sign-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("缺少投诉受理时限")
    # signing anyway is refused on the same page, with the review named
    page.fill("#approve-form input[name=password]", TEST_PASSWORD)
    page.click("#approve-form button[value=approve]")
    expect(page.locator("#refusal")).to_contain_text(ref)
    expect(page.locator("#revision-label")).to_have_text("A/0")
    # the defect's link opens the review at the defect
    page.locator("#document-reviews a", has_text=f"{ref}#1").click()
    expect(page.locator("#defect-1")).to_contain_text("缺少投诉受理时限")


def test_a_refused_verification_says_why_in_the_defect_row(page, live_server, live_app):
    _number, review_id, _ref = _review_with_a_serious_defect(live_app, fixed=True)
    sign_in(page, live_server, "reviewer")  # raised the defect: someone else verifies
    page.goto(f"{live_server}/reviews/{review_id}")
    page.locator("#defect-1 form:has(input[value=verify]) button").click()
    note = page.locator("#defect-1 .row-note")
    expect(note).to_contain_text("须由他人验证")
    expect(note).to_have_attribute("role", "alert")
    expect(page.locator("#defect-1")).not_to_contain_text("已验证")
    # the leader verifies: the row says so
    page.context.clear_cookies()
    sign_in(page, live_server, "leader")
    page.goto(f"{live_server}/reviews/{review_id}")
    page.locator("#defect-1 form:has(input[value=verify]) button").click()
    expect(page.locator("#defect-1 .row-note")).to_have_text("已验证缺陷 1。")
