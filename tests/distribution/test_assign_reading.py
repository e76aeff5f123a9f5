"""Read and understood asked of chosen people for a revision already in force, "what
changed" in the task, and the acknowledgement bound to the text that was read."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from qms.auth.models import User
from qms.distribution.models import Acknowledgement, AckState
from qms.documents.models import Revision
from qms.trail.models import TrailEntry
from tests.distribution.conftest import make_next_effective
from tests.factories import TEST_PASSWORD, make_document
from tests.forms import submit_form


def _user(db, name):
    return db.scalar(sa.select(User).where(User.username == name))


@pytest.fixture
def doc(app, users):
    """A KF regulation in its second effective revision (no reading rule: nobody asked)."""
    from qms.db import get_session

    with app.test_request_context():
        db = get_session()
        who = {n: _user(db, n) for n in ("clerk", "reviewer", "approver")}
        document = make_document(db, state="effective", author=who["clerk"],
                                 reviewer=who["reviewer"], approver=who["approver"],
                                 clerk=who["clerk"])
        second = make_next_effective(db, who, document,
                                     body="## 总则\n\n投诉应在2个工作日内答复。\n")
        db.commit()
        return {"number": document.number, "revision_id": second.id, "label": second.label}


def _acks(app, revision_id):
    with app.app_context():
        from qms.db import get_session

        return sorted(
            (a.user.username, str(a.state))
            for a in get_session().scalars(
                sa.select(Acknowledgement).where(Acknowledgement.revision_id == revision_id))
        )


def _user_id(app, name):
    with app.app_context():
        from qms.db import get_session

        return str(_user(get_session(), name).id)


def test_clerk_asks_a_department_and_a_person_to_read_the_revision_in_force(
        app, client_as, doc):
    clerk = client_as("clerk")
    url = f"/distribution/reading/document/{doc['number']}"
    page = clerk.get(url)
    assert f"要求人员阅知 {doc['label']} 版" in page.get_data(as_text=True)
    done = submit_form(clerk, page, f"{url}/assign", departments="KF",
                       people=_user_id(app, "auditor"), due_days="7")
    assert done.status_code == 302
    html = clerk.get(done.headers["Location"]).get_data(as_text=True)
    # KF: reviewer, approver, staff; and the auditor by name
    assert f"已要求 4 人阅知 {doc['number']} {doc['label']} 版。" in html
    assert 'data-user="staff" data-state="pending"' in html
    assert _acks(app, doc["revision_id"]) == [
        ("approver", "pending"), ("auditor", "pending"), ("reviewer", "pending"),
        ("staff", "pending")]
    with app.app_context():
        from qms.db import get_session

        entry = get_session().scalars(sa.select(TrailEntry).where(
            TrailEntry.action == "assign_reading").order_by(TrailEntry.seq.desc())).first()
        assert entry.actor_name and "staff" in entry.new_value

    # the staff member's task says what changed; the read page links the redline
    staff = client_as("staff")
    tasks = staff.get("/tasks/").get_data(as_text=True)
    assert 'class="muted task-note">修改内容：修订</small>' in tasks
    read = staff.get(f"/distribution/read/{doc['revision_id']}").get_data(as_text=True)
    assert re.search(r'<section class="card what-changed" id="what-changed">\s*<h2>修改内容</h2>'
                     r'\s*<p>修订</p>', read)
    diff = re.search(r'href="([^"]+)" id="what-changed-diff">与 A/0 版对比', read)
    assert diff
    redline = staff.get(diff.group(1).replace("&amp;", "&"))
    assert redline.status_code == 200 and "2个工作日" in redline.get_data(as_text=True)


def test_asking_again_only_asks_the_new_people(app, client_as, doc):
    clerk = client_as("clerk")
    url = f"/distribution/reading/document/{doc['number']}"
    submit_form(clerk, clerk.get(url), f"{url}/assign", people=_user_id(app, "staff"))
    page = clerk.get(url)
    again = submit_form(clerk, page, f"{url}/assign", people=_user_id(app, "staff"))
    assert again.status_code == 422
    html = again.get_data(as_text=True)
    assert "所选人员均已被要求阅知此版本，或无权阅读此文件。" in html
    assert _acks(app, doc["revision_id"]) == [("staff", "pending")]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ({}, "请至少选择一位须阅知的人员或一个部门。"),
        ({"departments": "KF", "due_days": "0"}, ""),
        ({"departments": "KF", "due_days": "abc"}, ""),
    ],
)
def test_bad_requests_to_read_are_refused_on_the_page(app, client_as, doc, typed, message):
    clerk = client_as("clerk")
    url = f"/distribution/reading/document/{doc['number']}"
    refused = submit_form(clerk, clerk.get(url), f"{url}/assign", **typed)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'class="error" role="alert"' in html
    if message:
        assert message in html
    if "departments" in typed:  # the choice is kept
        assert re.search(r'<input[^>]*checked[^>]*value="KF"|<input[^>]*value="KF"[^>]*checked',
                         html)
    assert _acks(app, doc["revision_id"]) == []


def test_staff_cannot_ask_others_to_read(app, client_as, doc):
    staff = client_as("staff")
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      staff.get("/tasks/").get_data(as_text=True)).group(1)
    response = staff.post(f"/distribution/reading/document/{doc['number']}/assign",
                          data={"departments": "KF", "csrf_token": token})
    assert response.status_code == 403
    assert _acks(app, doc["revision_id"]) == []


def _ask_staff(app, doc):
    from qms.db import get_session
    from qms.distribution import reading

    with app.test_request_context():
        db = get_session()
        reading.assign_reading_to(db, _user(db, "clerk"), db.get(Revision, doc["revision_id"]),
                                  people=[_user(db, "staff")], departments=[])
        db.commit()


def test_acknowledgement_carries_the_fingerprint_of_the_text_read(app, client_as, doc):
    _ask_staff(app, doc)
    staff = client_as("staff")
    url = f"/distribution/read/{doc['revision_id']}"
    page = staff.get(url)
    html = page.get_data(as_text=True)
    with app.app_context():
        from qms.db import get_session

        sha = get_session().get(Revision, doc["revision_id"]).content_sha256
    assert f'name="content_sha256" type="hidden" value="{sha}"' in html
    assert f'<code class="hash">{sha}</code>' in html
    done = submit_form(staff, page, url, password=TEST_PASSWORD)
    assert done.status_code == 302
    assert _acks(app, doc["revision_id"]) == [("staff", "acknowledged")]


def test_a_stale_acknowledgement_is_refused_on_the_page(app, client_as, doc):
    _ask_staff(app, doc)
    staff = client_as("staff")
    url = f"/distribution/read/{doc['revision_id']}"
    page = staff.get(url)
    with app.app_context():  # the text changes after the page was opened
        from qms.db import get_session

        db = get_session()
        db.get(Revision, doc["revision_id"]).content_sha256 = "0" * 64
        db.commit()
    stale = submit_form(staff, page, url, password=TEST_PASSWORD)
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "您打开文件后，文本已被修改；请重新打开并再读一遍。本次未签名。" in html
    assert f'<code class="hash" id="current-hash">{"0" * 64}</code>' in html
    assert _acks(app, doc["revision_id"]) == [("staff", "pending")]
    # the page now carries the new fingerprint: signing again works
    again = submit_form(staff, stale, url, password=TEST_PASSWORD)
    assert again.status_code == 302
    assert _acks(app, doc["revision_id"]) == [("staff", "acknowledged")]


def test_an_acknowledgement_without_a_fingerprint_is_refused(app, client_as, doc):
    _ask_staff(app, doc)
    staff = client_as("staff")
    url = f"/distribution/read/{doc['revision_id']}"
    page = staff.get(url)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      page.get_data(as_text=True)).group(1)
    response = staff.post(url, data={"csrf_token": token, "password": TEST_PASSWORD})
    assert response.status_code == 422
    assert "content_sha256" in response.get_data(as_text=True)
    assert _acks(app, doc["revision_id"]) == [("staff", str(AckState.PENDING))]
