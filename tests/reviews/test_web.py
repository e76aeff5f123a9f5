"""The review pages, meeting mode (plain forms and the script's JSON), exports and the API."""

import io

import pytest
import sqlalchemy as sa
from docx import Document as DocxDocument

from qms.auth.models import User
from qms.reviews import service
from qms.reviews.lifecycle import ReviewState
from qms.reviews.models import Review
from tests.factories import TEST_PASSWORD, grant_all_approval, make_document


def _user(db, name):
    return db.scalar(sa.select(User).where(User.username == name))


@pytest.fixture
def doc_number(app, users):
    with app.app_context():
        from qms.db import get_session

        db = get_session()
        grant_all_approval(db, _user(db, "approver"))
        document = make_document(db, state="reviewed", author=_user(db, "clerk"),
                                 reviewer=_user(db, "reviewer"), approver=_user(db, "approver"))
        db.commit()
        return document.number


@pytest.fixture
def review_id(app, submitted_plan):
    """The submitted plan approved, published and in its meeting."""
    with app.app_context():
        from qms.db import get_session

        db = get_session()
        review = db.get(Review, submitted_plan)
        service.approve_plan(db, _user(db, "gm"), review, password=TEST_PASSWORD,
                             content_sha256=service.plan_hash(review))
        for name in ("reviewer", "clerk"):
            service.confirm_participation(db, _user(db, name), review)
        service.publish(db, _user(db, "leader"), review)
        service.start_meeting(db, _user(db, "leader"), review)
        db.commit()
        return review.id


def test_list_detail_and_visibility(client_as, review_id):
    leader = client_as("leader")
    page = leader.get("/reviews/").get_data(as_text=True)
    assert "RV-0001" in page
    assert leader.get(f"/reviews/{review_id}").status_code == 200
    assert client_as("reviewer").get(f"/reviews/{review_id}").status_code == 200
    staff = client_as("staff")
    assert "RV-0001" not in staff.get("/reviews/").get_data(as_text=True)
    assert staff.get(f"/reviews/{review_id}").status_code == 404
    assert client_as("reviewer").get("/reviews/metrics").status_code == 403
    assert client_as("reviewer").get("/reviews/new").status_code == 403


def test_planning_through_the_form(client_as, users, doc_number, app):
    leader = client_as("leader")
    assert leader.get("/reviews/new").status_code == 200
    response = leader.post("/reviews/new", data={
        "title": "客服体系", "department": "KF", "level": "center", "review_type": "first",
        "revision": str(_revision_id(app, doc_number)), "pages": "6",
        "reviewers": [str(users["reviewer"])], "recorder": "0", "approver": str(users["gm"]),
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        from qms.db import get_session

        review = get_session().scalar(sa.select(Review))
        assert review.main_object.pages == 6
        assert review.state == ReviewState.PLANNING
    # the author as leader is refused with a message, not a crash
    refused = client_as("manager").post("/reviews/new", data={
        "title": "x", "department": "KF", "level": "center", "review_type": "first",
        "revision": str(_revision_id(app, doc_number)), "pages": "1",
        "reviewers": [], "recorder": "0", "approver": str(users["gm"])})
    assert refused.status_code == 422


def test_meeting_mode_plain_forms_and_script(client_as, review_id):
    leader = client_as("leader")
    page = leader.get(f"/reviews/{review_id}/meeting").get_data(as_text=True)
    assert 'id="defect-form"' in page and "reviews.js" in page
    plain = leader.post(f"/reviews/{review_id}/defects", data={
        "raised_by": "", "revision_id": "", "chapter": "2", "severity": "serious",
        "category": "missing", "description": "缺少投诉时限",
        "next": f"/reviews/{review_id}/meeting"})
    assert plain.status_code in (302, 422)
    form = {"chapter": "3", "section": "3.1", "page": "4", "severity": "general",
            "category": "wrong", "description": "流程顺序错误"}
    with leader.application.app_context():
        from qms.db import get_session

        review = get_session().get(Review, review_id)
        form["raised_by"] = str(review.leader_id)
        form["revision_id"] = str(review.main_object.revision_id)
    response = leader.post(f"/reviews/{review_id}/defects", data=form,
                           headers={"Accept": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["counts"]["defects"] == 1 and body["counts"]["severity"]["general"] == 1
    assert 'id="defect-1"' in body["row"]
    no = body["number"]
    refused = leader.post(f"/reviews/{review_id}/defects/{no}", data={
        "op": "dispose", "disposition": "rejected", "reason": ""},
        headers={"Accept": "application/json"})
    assert refused.status_code == 422
    ok = leader.post(f"/reviews/{review_id}/defects/{no}", data={
        "op": "dispose", "disposition": "accepted"}, headers={"Accept": "application/json"})
    assert ok.get_json()["counts"]["disposition"]["accepted"] == 1
    plain_ok = leader.post(f"/reviews/{review_id}/defects/{no}", data={
        "op": "dispose", "disposition": "accepted", "next": f"/reviews/{review_id}/meeting"})
    assert plain_ok.status_code == 302 and plain_ok.headers["Location"].endswith(
        f"/reviews/{review_id}/meeting#defect-{no}")


def test_exports(client_as, review_id):
    leader = client_as("leader")
    docx = leader.get(f"/reviews/{review_id}/record.docx")
    assert docx.status_code == 200
    assert DocxDocument(io.BytesIO(docx.data)).tables
    csv = leader.get(f"/reviews/{review_id}/defects.csv").get_data(as_text=True)
    assert csv.lstrip("\ufeff").startswith("number,document,revision")
    assert leader.get("/reviews/metrics").status_code == 200


class ApiClient:
    """Token-authenticated JSON calls (cookie sessions must send a CSRF token)."""

    def __init__(self, app, username):
        with app.app_context():
            from qms.auth import service as auth
            from qms.db import get_session

            db = get_session()
            user = auth.user_by_username(db, username)
            self.token = auth.create_token(db, user, user, "test")
            db.commit()
        self.client = app.test_client()

    def __getattr__(self, method):
        def call(path, **kw):
            headers = {"Authorization": f"Bearer {self.token}"}
            return getattr(self.client, method)(path, headers=headers, **kw)

        return call


def test_api_round_trip(app, users, doc_number):
    def client_as(name):
        return ApiClient(app, name)

    leader = client_as("leader")
    created = leader.post("/api/v1/reviews", json={
        "title": "客服体系", "department": "KF",
        "main": {"document": doc_number, "revision": "A/0", "pages": 5},
        "reviewers": ["reviewer"], "approver": "gm"})
    assert created.status_code == 201, created.get_json()
    rid = created.get_json()["id"]
    bad = leader.post("/api/v1/reviews", json={
        "title": "x", "department": "KF", "main": {"document": doc_number, "revision": "A/0"},
        "reviewers": ["reviewer", "clerk"], "approver": "gm"})
    assert bad.status_code == 422  # the author (clerk) may not also review
    assert leader.post(f"/api/v1/reviews/{rid}/transitions",
                       json={"action": "submit_plan"}).status_code == 200
    gm = client_as("gm")
    plan_sha256 = gm.get(f"/api/v1/reviews/{rid}").get_json()["plan_sha256"]
    wrong = gm.post(f"/api/v1/reviews/{rid}/transitions",
                    json={"action": "approve_plan", "password": "nope",
                          "content_sha256": plan_sha256})
    assert wrong.status_code == 403
    unread = gm.post(f"/api/v1/reviews/{rid}/transitions",
                     json={"action": "approve_plan", "password": TEST_PASSWORD})
    assert unread.status_code == 422
    assert unread.get_json()["error"]["code"] == "content_sha256_required"
    ok = gm.post(f"/api/v1/reviews/{rid}/transitions",
                 json={"action": "approve_plan", "password": TEST_PASSWORD,
                       "content_sha256": plan_sha256})
    assert ok.get_json()["state"] == "plan_approved"
    for name in ("reviewer", "clerk"):
        assert client_as(name).post(f"/api/v1/reviews/{rid}/transitions",
                                    json={"action": "confirm"}).status_code == 200
    assert leader.post(f"/api/v1/reviews/{rid}/transitions",
                       json={"action": "publish"}).status_code == 200
    defect = client_as("reviewer").post(f"/api/v1/reviews/{rid}/defects", json={
        "description": "缺少时限", "severity": "serious", "category": "missing", "page": "2"})
    assert defect.status_code == 201
    assert leader.post(f"/api/v1/reviews/{rid}/transitions",
                       json={"action": "start_meeting"}).status_code == 200
    patched = leader.patch(f"/api/v1/reviews/{rid}/defects/1",
                           json={"disposition": "accepted", "owner": "clerk"})
    assert patched.status_code == 200 and patched.get_json()["owner"] == "clerk"
    past = leader.patch(f"/api/v1/reviews/{rid}/defects/1", json={"fix_due": "2000-01-01"})
    assert past.status_code == 422
    pages = {name: ApiClient(app, name) for name in ("leader", "gm", "clerk", "reviewer")}
    for name, c in pages.items():  # the review page renders for every role on the team
        assert c.get(f"/reviews/{rid}").status_code == 200, name
        assert c.get(f"/reviews/{rid}/meeting").status_code == 200, name
    full = leader.get(f"/api/v1/reviews/{rid}").get_json()
    assert full["counts"]["open"] == 1 and full["defects"][0]["severity"] == "serious"
    listed = client_as("staff").get("/api/v1/reviews").get_json()
    assert listed["items"] == []


def test_tasks_and_home_panel(client_as, review_id, app):
    with app.test_request_context():
        from qms.db import get_session
        from qms.home import home_panels
        from qms.tasks.registry import tasks_for

        db = get_session()
        leader = _user(db, "leader")
        kinds = {t.subject for t in tasks_for(db, _user(db, "reviewer"))}
        assert "RV-0001" in kinds  # pre-review / attend
        assert any(str(p.title) for p in home_panels(db, leader)["panels"])


def test_review_page_in_reporting_and_follow_up(client_as, review_id, app):
    leader = client_as("leader")
    leader.post(f"/reviews/{review_id}/defects", data={
        "raised_by": str(_leader_id(app)), "revision_id": str(_main_revision(app, review_id)),
        "severity": "serious", "category": "missing", "description": "缺少时限"})
    assert leader.post(f"/reviews/{review_id}/move", data={
        "action": "close_meeting", "minutes": "45"}).status_code == 302
    page = leader.get(f"/reviews/{review_id}").get_data(as_text=True)
    assert "Record the conclusion" in page or "conclusion" in page
    assert "<svg" in page  # review data charts, rendered on the server
    refused = leader.post(f"/reviews/{review_id}/move", data={"action": "submit_report"})
    assert refused.status_code == 409  # the review page again, with the reason
    shown = refused.get_data(as_text=True)
    assert 'id="refusal"' in shown and "RV-0001" in shown and "检查表" in shown


def _revision_id(app, number):
    with app.app_context():
        from qms.db import get_session
        from qms.documents import service as documents

        return documents.get_document(get_session(), number).working_revision_id


def _leader_id(app):
    with app.app_context():
        from qms.db import get_session

        return _user(get_session(), "leader").id


def _main_revision(app, review_id):
    with app.app_context():
        from qms.db import get_session

        return get_session().get(Review, review_id).main_object.revision_id


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\t/evil.example", "https://evil.example", "/\\evil", "/\n"]
)
def test_review_forms_never_redirect_off_the_site(client_as, review_id, target, app):
    """Issue 11, item 10: the forms' hidden "next" goes through the one safe-redirect helper."""
    leader = client_as("leader")
    detail = f"/reviews/{review_id}"
    refused = leader.post(f"{detail}/defects", data={"description": "", "next": target})
    assert refused.status_code == 422  # the review page again, never a redirect off the site
    assert "Location" not in refused.headers
    logged = leader.post(f"{detail}/defects", data={
        "raised_by": str(_leader_id(app)), "revision_id": str(_main_revision(app, review_id)),
        "chapter": "3", "severity": "general", "category": "wrong",
        "description": "流程顺序错误", "next": target})
    assert logged.status_code == 302
    assert logged.headers["Location"].split("#")[0] == detail
    refused_move = leader.post(f"{detail}/defects/99", data={"op": "verify", "next": target})
    assert refused_move.status_code == 404
    assert "Location" not in refused_move.headers


@pytest.fixture
def submitted_plan(app, users, doc_number):
    """A review plan submitted for the general manager's approval."""
    with app.app_context():
        from qms.db import get_session
        from qms.documents import service as documents

        db = get_session()
        revision = documents.get_document(db, doc_number).working_revision
        review = service.create_review(
            db, _user(db, "leader"), title="客服体系", department=revision.document.department,
            objects=[service.ObjectSpec(revision, 8)], reviewers=[_user(db, "reviewer")],
            approver=_user(db, "gm"), planned_pages_per_hour=4)
        service.submit_plan(db, _user(db, "leader"), review)
        db.commit()
        return review.id


def test_the_plan_is_approved_as_the_page_showed_it(app, client_as, submitted_plan):
    """The approve form carries the plan's fingerprint; a plan changed after the page was
    opened is refused with both hashes and nothing is signed."""
    from tests.forms import submit_form

    gm = client_as("gm")
    page = gm.get(f"/reviews/{submitted_plan}")
    with app.app_context():
        from qms.db import get_session

        db = get_session()
        review = db.get(Review, submitted_plan)
        shown = service.plan_hash(review)
        assert shown in page.get_data(as_text=True)  # shown to the signer
        # the leader changes the plan meanwhile (returned and edited in real life)
        db.execute(sa.update(Review).where(Review.id == submitted_plan).values(title="另一个"))
        db.commit()
        now = service.plan_hash(db.get(Review, submitted_plan))
    action = f"/reviews/{submitted_plan}/move"
    stale = submit_form(gm, page, action, where={"action": "approve_plan"},
                        password=TEST_PASSWORD, reason="同意")
    assert stale.status_code == 409
    after = stale.get_data(as_text=True)
    assert "重新打开" in after or "reload" in after
    assert shown in after and now in after  # both fingerprints, on the same page
    assert 'value="同意"' in after  # the comment kept
    with app.app_context():
        from qms.auth.models import Signature
        from qms.db import get_session

        db = get_session()
        assert db.get(Review, submitted_plan).state == ReviewState.PLAN_SUBMITTED
        assert db.scalar(sa.select(sa.func.count(Signature.id)).where(
            Signature.object_type == "review_plan")) == 0
    fresh = gm.get(f"/reviews/{submitted_plan}")
    assert now in fresh.get_data(as_text=True)
    ok = submit_form(gm, fresh, action, where={"action": "approve_plan"}, password=TEST_PASSWORD)
    assert ok.status_code == 302
    with app.app_context():
        from qms.db import get_session

        assert get_session().get(Review, submitted_plan).state == ReviewState.PLAN_APPROVED


def test_a_plan_approval_through_the_api_needs_the_hash_it_read(app, client_as, submitted_plan):
    gm = client_as("gm")
    path = f"/api/v1/reviews/{submitted_plan}/transitions"
    body = {"action": "approve_plan", "password": TEST_PASSWORD}
    assert gm.post(path, json=body).status_code == 422
    stale = gm.post(path, json={**body, "content_sha256": "0" * 64})
    assert stale.status_code == 409
    details = stale.get_json()["error"]["details"]
    assert details["sent_content_sha256"] == "0" * 64
    current = gm.get(f"/api/v1/reviews/{submitted_plan}").get_json()["plan_sha256"]
    assert details["current_content_sha256"] == current
    ok = gm.post(path, json={**body, "content_sha256": current})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["state"] == "plan_approved"
