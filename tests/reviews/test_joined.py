"""Issue 12, parts 3 to 5 and the general manager's approval: refusals on the review pages
shown on the page the user was on, in their language, input kept, nothing stored; every
defect action says what happened; documents and reviews joined; review plans approved by
the general manager or his delegate."""

from __future__ import annotations

import sqlalchemy as sa

from qms.auth.models import Signature, User
from qms.reviews import service
from qms.reviews.lifecycle import ReviewState
from qms.reviews.models import Defect, PlanApprover, Review, Severity
from qms.trail.models import TrailEntry
from tests.factories import TEST_PASSWORD, grant_all_approval, make_document
from tests.forms import find_form, submit_form
from tests.reviews import test_web

doc_number = test_web.doc_number
submitted_plan = test_web.submitted_plan
review_id = test_web.review_id


def _user(db, name):
    return db.scalar(sa.select(User).where(User.username == name))


def _db(app):
    from qms.db import get_session

    return get_session()


def _english(client):
    with client.session_transaction() as s:
        s["lang"] = "en"
    return client


def _count(app, *what):
    with app.app_context():
        return _db(app).scalar(sa.select(sa.func.count()).select_from(*what))


def _signatures(app, object_type):
    with app.app_context():
        return _db(app).scalar(
            sa.select(sa.func.count(Signature.id)).where(Signature.object_type == object_type)
        )


# -- 12.3: refusals on the review pages ------------------------------------------------


def test_a_wrong_password_on_the_plan_approval_stays_on_the_review_page(
    app, client_as, submitted_plan
):
    gm = client_as("gm")
    action = f"/reviews/{submitted_plan}/move"
    page = gm.get(f"/reviews/{submitted_plan}")
    refused = submit_form(
        gm, page, action, where={"action": "approve_plan"}, password="wrong", reason="同意实施"
    )
    assert refused.status_code == 403
    html = refused.get_data(as_text=True)
    assert 'id="refusal"' in html and "密码" in html  # why, in Chinese
    assert "。。" not in html
    assert 'value="同意实施"' in html  # the comment kept
    assert 'name="password"' in html  # the form is still there, to try again
    assert _signatures(app, "review_plan") == 0
    with app.app_context():
        assert _db(app).get(Review, submitted_plan).state == ReviewState.PLAN_SUBMITTED


def test_someone_else_than_the_general_manager_is_told_who_approves(
    app, client_as, submitted_plan
):
    """The quality manager holds the approval right but is not the general manager."""
    manager = _english(client_as("manager"))
    refused = manager.post(
        f"/reviews/{submitted_plan}/move",
        data={"action": "approve_plan", "password": TEST_PASSWORD, "reason": "ok"},
    )
    assert refused.status_code == 403
    html = refused.get_data(as_text=True)
    assert "Only the general manager or a delegate" in html
    assert "(general manager)" in html  # who may, by name
    with app.app_context():
        gm = _user(_db(app), "gm")
        assert gm.display_name in html
    assert _signatures(app, "review_plan") == 0
    chinese = client_as("manager").post(
        f"/reviews/{submitted_plan}/move",
        data={"action": "approve_plan", "password": TEST_PASSWORD},
    )
    assert "评审计划和评审报告只能由总经理" in chinese.get_data(as_text=True)


def test_a_refused_report_approval_shows_both_fingerprints_on_the_page(
    app, client_as, review_id
):
    with app.app_context():
        db = _db(app)
        review = db.get(Review, review_id)
        leader = _user(db, "leader")
        service.close_meeting(db, leader, review, minutes=30)
        for item in review.checklist:
            service.tick(db, leader, review, item.id, True)
        service.conclude(db, leader, review, "minor")
        service.submit_report(db, leader, review)
        db.commit()
    gm = client_as("gm")
    page = gm.get(f"/reviews/{review_id}")
    with app.app_context():
        db = _db(app)
        db.get(Review, review_id).conclusion_notes = "改了"
        db.commit()
    stale = submit_form(
        gm, page, f"/reviews/{review_id}/move", where={"action": "approve_report"},
        password=TEST_PASSWORD, reason="报告可以",
    )
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert 'id="sent-hash"' in html and 'id="current-hash"' in html
    assert 'value="报告可以"' in html
    assert _signatures(app, "review_report") == 0


def test_a_refused_defect_in_meeting_mode_keeps_what_was_typed(app, client_as, review_id):
    leader = client_as("leader")
    html = leader.get(f"/reviews/{review_id}/meeting").get_data(as_text=True)
    form = find_form(html, f"/reviews/{review_id}/defects")
    refused = leader.post(f"/reviews/{review_id}/defects", data={
        **form.fields, "chapter": "4.2", "page": "7", "description": ""})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="refusal"' in html and 'id="defect-form"' in html  # still meeting mode
    assert 'value="4.2"' in html and 'value="7"' in html
    assert _count(app, Defect) == 0


def test_a_disposition_without_its_reason_is_refused_in_its_row(app, client_as, review_id):
    with app.app_context():
        db = _db(app)
        review = db.get(Review, review_id)
        service.add_defect(db, _user(db, "reviewer"), review, description="时限缺失",
                           severity=Severity.GENERAL, category="missing")
        db.commit()
    leader = client_as("leader")
    page = leader.get(f"/reviews/{review_id}")
    refused = submit_form(
        leader, page, f"/reviews/{review_id}/defects/1", where={"op": "dispose"},
        disposition="rejected", reason="",
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    row = html[html.index('id="defect-1"'):]
    row = row[: row.index("</tr>")]
    assert 'class="error row-note"' in row and "原因" in row
    assert '<option value="rejected" selected' in row  # the choice kept
    with app.app_context():
        assert _db(app).scalar(sa.select(Defect.disposition)) == "open"


def test_naming_the_author_as_reviewer_is_refused_on_the_plan_form(
    app, client_as, users, doc_number
):
    leader = client_as("leader")
    page = leader.get("/reviews/new")
    form_html = page.get_data(as_text=True)
    assert 'name="document_number"' not in form_html  # chosen, never typed
    refused = leader.post("/reviews/new", data={
        "csrf_token": _csrf(form_html), "title": "客服体系复核", "department": "KF",
        "level": "center", "review_type": "first",
        "revision": str(test_web._revision_id(app, doc_number)), "pages": "3",
        "reviewers": [str(users["reviewer"]), str(users["clerk"])], "recorder": "0",
        "approver": str(users["gm"]),
    })
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="refusal"' in html and 'value="客服体系复核"' in html
    assert _count(app, Review) == 0


def _csrf(html):
    marker = 'name="csrf_token" type="hidden" value="'
    start = html.index(marker) + len(marker)
    return html[start: html.index('"', start)]


# -- 12.4: every defect action says what happened --------------------------------------


def _fixed_defect(app, review_id, raised_by="reviewer"):
    """A serious defect accepted, tracked to the author and marked fixed, in reporting."""
    with app.app_context():
        db = _db(app)
        review = db.get(Review, review_id)
        leader = _user(db, "leader")
        defect = service.add_defect(db, _user(db, raised_by), review, description="缺少时限",
                                    severity=Severity.SERIOUS, category="missing")
        service.dispose(db, leader, defect, "accepted")
        service.track(db, leader, defect, owner=_user(db, "clerk"), fix_due=None)
        service.close_meeting(db, leader, review, minutes=40)
        service.mark_fixed(db, _user(db, "clerk"), defect)
        db.commit()
        return defect.number


def test_verification_by_whoever_raised_the_defect_is_refused_with_its_reason(
    app, client_as, review_id
):
    number = _fixed_defect(app, review_id)
    reviewer = client_as("reviewer")
    path = f"/reviews/{review_id}/defects/{number}"
    script = reviewer.post(path, data={"op": "verify"}, headers={"Accept": "application/json"})
    assert script.status_code == 403
    assert "须由他人验证" in script.get_json()["error"]["message"]
    page = reviewer.get(f"/reviews/{review_id}")
    assert 'id="meeting-status"' in page.get_data(as_text=True)  # where the script says it
    plain = submit_form(reviewer, page, path, where={"op": "verify"})
    assert plain.status_code == 403
    assert 'id="refusal"' in plain.get_data(as_text=True)
    english = _english(client_as("reviewer")).post(path, data={"op": "verify"})
    assert "someone else must verify it" in english.get_data(as_text=True)
    with app.app_context():
        assert _db(app).scalar(sa.select(Defect.verified_at)) is None


def test_verify_fix_and_track_say_what_was_done(app, client_as, review_id):
    number = _fixed_defect(app, review_id)
    leader = client_as("leader")
    path = f"/reviews/{review_id}/defects/{number}"
    done = leader.post(path, data={"op": "verify"}, headers={"Accept": "application/json"})
    assert done.status_code == 200
    assert done.get_json()["message"] == f"已验证缺陷 {number}。"
    english = _english(client_as("leader"))
    again = english.post(path, data={"op": "verify"}, headers={"Accept": "application/json"})
    assert again.status_code == 409
    assert f"Defect {number} is already verified" in again.get_json()["error"]["message"]


def test_tracking_says_who_fixes_by_when(app, client_as, review_id):
    with app.app_context():
        db = _db(app)
        review = db.get(Review, review_id)
        defect = service.add_defect(db, _user(db, "reviewer"), review, description="顺序",
                                    severity=Severity.GENERAL, category="wrong")
        service.dispose(db, _user(db, "leader"), defect, "accepted")
        clerk_id = _user(db, "clerk").id
        db.commit()
    leader = client_as("leader")
    tracked = leader.post(
        f"/reviews/{review_id}/defects/1",
        data={"op": "track", "owner": str(clerk_id), "fix_due": "2099-01-31"},
        headers={"Accept": "application/json"},
    )
    assert tracked.status_code == 200
    assert "2099-01-31" in tracked.get_json()["message"] and "缺陷 1" in tracked.get_json()[
        "message"]
    plain = leader.post(
        f"/reviews/{review_id}/defects/1",
        data={"op": "track", "owner": str(clerk_id), "fix_due": "1999-01-01"},
    )
    assert plain.status_code == 422
    assert 'value="1999-01-01"' in plain.get_data(as_text=True)  # the date typed, kept


# -- 12.5: documents and reviews joined -----------------------------------------------------


def test_the_approver_sees_the_review_and_its_serious_defect_before_signing(
    app, client_as, review_id, doc_number
):
    with app.app_context():
        db = _db(app)
        review = db.get(Review, review_id)
        service.add_defect(db, _user(db, "reviewer"), review, description="缺少投诉受理时限",
                           severity=Severity.SERIOUS, category="missing")
        db.commit()
    approver = client_as("approver")  # named to approve the revision, not on the review
    html = approver.get(f"/documents/{doc_number}?revision=A/0").get_data(as_text=True)
    section = html[html.index('id="document-reviews"'):]
    assert f"RV-{review_id:04d}" in section and "评审会议进行中" in section
    assert 'data-severity="serious"' in section
    assert f"/reviews/{review_id}#defect-1" in section
    form = html[html.index('id="approve-form"'):]
    form = form[: form.index("</form>")]
    assert 'id="sign-note"' in form and "缺少投诉受理时限" in form
    assert approver.get(f"/reviews/{review_id}").status_code == 200  # the link opens
    english = _english(client_as("approver")).get(f"/documents/{doc_number}").get_data(
        as_text=True)
    assert "Before you sign:" in english and "Open defects against this revision:" in english


def test_a_reviewer_with_his_own_serious_defect_open_cannot_agree(app, client_as, users):
    with app.app_context():
        db = _db(app)
        grant_all_approval(db, _user(db, "approver"))
        document = make_document(db, state="in_review", author=_user(db, "clerk"),
                                 reviewer=_user(db, "leader"), approver=_user(db, "approver"))
        review = service.create_review(
            db, _user(db, "manager"), title="复核", department=document.department,
            objects=[service.ObjectSpec(document.working_revision, 4)],
            reviewers=[_user(db, "leader")], approver=_user(db, "gm"))
        _advance(db, review)
        defect = service.add_defect(db, _user(db, "leader"), review, description="流程缺步骤",
                                    severity=Severity.SERIOUS, category="missing")
        number, rid = document.number, review.id
        db.commit()
    leader = client_as("leader")
    page = leader.get(f"/documents/{number}").get_data(as_text=True)
    assert 'id="sign-note"' in page  # his own defect, beside the button he would press
    form = find_form(page, f"/documents/{number}/transition")
    assert "comment" in form.names and "password" in form.names
    refused = leader.post(f"/documents/{number}/transition", data={
        **form.fields, "action": "review", "password": TEST_PASSWORD, "comment": "同意"})
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "您对版本 A/0 提出的严重缺陷尚未处理完毕" in html
    assert f"/reviews/{rid}" in html
    assert _signatures(app, "revision") == 1  # the author's only
    with app.app_context():
        db = _db(app)
        manager = _user(db, "manager")
        service.start_meeting(db, manager, db.get(Review, rid))
        service.dispose(db, manager, db.get(Defect, defect.id), "withdrawn", "误解")
        db.commit()
    page = leader.get(f"/documents/{number}").get_data(as_text=True)
    form = find_form(page, f"/documents/{number}/transition")
    agreed = leader.post(f"/documents/{number}/transition", data={
        **form.fields, "action": "review", "password": TEST_PASSWORD})
    assert agreed.status_code == 302, agreed.get_data(as_text=True)[:3000]
    assert _signatures(app, "revision") == 2


def _advance(db, review):
    """Submit, approve and publish the plan with the real services."""
    manager = _user(db, "manager")
    service.submit_plan(db, manager, review)
    service.approve_plan(db, _user(db, "gm"), review, password=TEST_PASSWORD,
                         content_sha256=service.plan_hash(review))
    for person in review.people():
        if person.id != manager.id:
            service.confirm_participation(db, person, review)
    service.publish(db, manager, review)


def test_a_review_is_planned_from_the_document_page(app, client_as, users):
    with app.app_context():
        db = _db(app)
        grant_all_approval(db, _user(db, "approver"))
        document = make_document(db, state="in_review", author=_user(db, "clerk"),
                                 reviewer=_user(db, "reviewer"), approver=_user(db, "approver"))
        number, revision_id = document.number, document.working_revision_id
        db.commit()
    manager = client_as("manager")
    html = manager.get(f"/documents/{number}").get_data(as_text=True)
    assert 'id="start-review"' in html
    link = f"/reviews/new?revision_id={revision_id}"
    assert link in html
    assert 'id="start-review"' not in client_as("staff").get(f"/documents/{number}").get_data(
        as_text=True)
    form = manager.get(link).get_data(as_text=True)
    assert f'<option selected value="{revision_id}">' in form or (
        f'<option value="{revision_id}" selected' in form)
    # a revision not under review cannot be sent in its place
    bogus = manager.post("/reviews/new", data={
        "csrf_token": _csrf(form), "title": "x", "department": "KF", "level": "center",
        "review_type": "first", "revision": "999999", "pages": "1",
        "reviewers": [str(users["reviewer"])], "recorder": "0", "approver": str(users["gm"])})
    assert bogus.status_code == 422
    assert _count(app, Review) == 0
    fields = find_form(manager.get(link).get_data(as_text=True), "").fields
    planned = manager.post(link, data={**fields, "reviewers": [str(users["reviewer"])]})
    assert planned.status_code == 302, planned.get_data(as_text=True)[:2000]
    with app.app_context():
        review = _db(app).scalar(sa.select(Review))
        assert review.main_object.revision_id == revision_id
        assert review.approver.username == "gm"


# -- the general manager approves review plans (handbook 5.2) --------------------------


def test_only_the_general_manager_or_his_delegates_are_offered_as_approvers(
    app, client_as, doc_number, users
):
    leader = client_as("leader")
    form = leader.get("/reviews/new").get_data(as_text=True)
    approver_select = form[form.index('name="approver"'):]
    approver_select = approver_select[: approver_select.index("</select>")]
    assert f'value="{users["gm"]}"' in approver_select
    assert f'value="{users["manager"]}"' not in approver_select
    refused = leader.post("/reviews/new", data={
        "csrf_token": _csrf(form), "title": "x", "department": "KF", "level": "center",
        "review_type": "first", "revision": str(test_web._revision_id(app, doc_number)),
        "pages": "1", "reviewers": [str(users["reviewer"])], "recorder": "0",
        "approver": str(users["approver"])})
    assert refused.status_code == 422
    assert _count(app, Review) == 0


def test_a_delegation_is_kept_with_who_whom_when_and_why(app, client_as, submitted_plan):
    admin = client_as("admin")
    page = admin.get("/reviews/approvers")
    assert page.status_code == 200
    with app.app_context():
        manager_id = _user(_db(app), "manager").id
    missing = submit_form(admin, page, "/reviews/approvers", where={"action": "delegate"},
                          user=str(manager_id), reason="")
    assert missing.status_code == 422
    assert "请说明总经理授权的原因" in missing.get_data(as_text=True)
    assert _count(app, PlanApprover) == 1  # the general manager alone
    done = submit_form(admin, page, "/reviews/approvers", where={"action": "delegate"},
                       user=str(manager_id), reason="总经理出差两周")
    assert done.status_code == 302
    with app.app_context():
        db = _db(app)
        entry = db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "delegate"))
        assert entry.object_id == "manager" and entry.reason == "总经理出差两周"
        assert entry.actor_name and entry.at is not None and "gm" in entry.new_value
    listing = admin.get("/reviews/approvers").get_data(as_text=True)
    assert "总经理出差两周" in listing and "总经理授权人" in listing
    # the delegate now approves a plan that names him
    with app.app_context():
        db = _db(app)
        review = db.get(Review, submitted_plan)
        review.approver_id = manager_id
        db.commit()
    ok = client_as("manager").post(
        f"/reviews/{submitted_plan}/move",
        data={"action": "approve_plan", "password": TEST_PASSWORD,
              "content_sha256": _plan_hash(app, submitted_plan)})
    assert ok.status_code == 302
    with app.app_context():
        assert _db(app).get(Review, submitted_plan).state == ReviewState.PLAN_APPROVED


def _plan_hash(app, review_id):
    with app.app_context():
        return service.plan_hash(_db(app).get(Review, review_id))


def test_the_approvers_page_is_the_administrators(client_as, users):
    assert client_as("gm").get("/reviews/approvers").status_code == 403
    assert client_as("manager").get("/reviews/approvers").status_code == 403
