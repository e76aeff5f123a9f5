"""The distribution pages as the clerk, staff and an auditor use them."""

import re

import pytest
import sqlalchemy as sa

from qms.auth.models import Meaning, Signature, User
from qms.auth.permissions import Role
from qms.distribution import copies, reading
from qms.distribution.models import Acknowledgement, AckState, ControlledCopy, ExternalSource
from qms.documents import service
from tests.distribution.conftest import make_next_effective
from tests.factories import TEST_PASSWORD, make_document
from tests.forms import submit_form


def _user(session, username):
    return session.scalar(sa.select(User).where(User.username == username))


@pytest.fixture
def doc(app, users):
    """An effective KF regulation that all staff must read, with one copy out."""
    from qms.db import get_session

    with app.test_request_context():
        db = get_session()
        who = {n: _user(db, n) for n in ("clerk", "reviewer", "approver", "staff")}
        reading.save_rule(db, who["clerk"], kind=None, department=None, roles=[Role.STAFF],
                          departments=[], people=[])
        document = make_document(db, state="effective", author=who["clerk"],
                                 reviewer=who["reviewer"], approver=who["approver"],
                                 clerk=who["clerk"])
        copies.issue_copy(db, who["clerk"], document.current_revision, holder_user=who["staff"])
        db.commit()
        return {"number": document.number, "revision_id": document.current_revision_id}


def _supersede(app, number):
    from qms.db import get_session

    with app.test_request_context():
        db = get_session()
        who = {"clerk": _user(db, "clerk"), "reviewer": _user(db, "reviewer"),
               "approver": _user(db, "approver")}
        revision = make_next_effective(db, who, service.get_document(db, number))
        db.commit()
        return revision.id


def test_copy_register_links_the_word_export_of_each_copy(client_as, doc):
    page = client_as("clerk").get(f"/distribution/copies/{doc['number']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"/documents/{doc['number']}/export.docx?revision=A%2F0&amp;copy=1" in html
    assert "Issue a controlled copy" in html or "发放受控副本" in html or "copy" in html


def test_clerk_issues_a_copy_through_the_form(app, client_as, doc, users):
    """The form as the page renders it: the revision travels in the page's own field."""
    clerk = client_as("clerk")
    page = clerk.get(f"/distribution/copies/{doc['number']}")
    response = submit_form(clerk, page, f"/distribution/copies/{doc['number']}/issue",
                           holder_department="BA", medium="electronic", location="岗亭")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert "revision=A/0" in response.headers["Location"]
    with app.app_context():
        from qms.db import get_session

        rows = get_session().scalars(sa.select(ControlledCopy).order_by(
            ControlledCopy.copy_number)).all()
        assert [(c.copy_number, c.holder_name, c.medium) for c in rows][-1] == (
            2, "安全管理部", "electronic")


def test_a_refused_copy_keeps_what_was_typed_and_stores_nothing(app, client_as, doc):
    clerk = client_as("clerk")
    page = clerk.get(f"/distribution/copies/{doc['number']}")
    # a location longer than the register keeps: the page says why and keeps the input
    response = submit_form(clerk, page, f"/distribution/copies/{doc['number']}/issue",
                           holder_department="BA", location="岗亭" * 101)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请检查表单" in html or "Check the form" in html
    assert 'value="' + "岗亭" * 101 + '"' in html
    assert '<option selected value="BA">' in html or 'value="BA" selected' in html
    with app.app_context():
        from qms.db import get_session

        assert get_session().scalar(sa.select(sa.func.count(ControlledCopy.id))) == 1


def test_staff_may_not_issue_or_recall(client_as, doc):
    staff = client_as("staff")
    assert staff.post(f"/distribution/copies/{doc['number']}/issue",
                      data={"revision": "A/0", "holder_department": "BA"}).status_code == 403
    assert staff.get("/distribution/recalls").status_code == 403
    assert staff.get(f"/distribution/copies/{doc['number']}").status_code == 403


def test_supersede_fills_the_recall_page_and_recalling_twice_is_refused(app, client_as, doc):
    _supersede(app, doc["number"])
    clerk = client_as("clerk")
    html = clerk.get("/distribution/recalls").get_data(as_text=True)
    assert f'data-ref="{doc["number"]} A/0 #1"' in html
    with app.app_context():
        from qms.db import get_session

        copy_id = get_session().scalar(sa.select(ControlledCopy.id))
    first = clerk.post(f"/distribution/copy/{copy_id}/recall", data={"outcome": "returned"})
    assert first.status_code == 302
    html = clerk.get("/distribution/recalls").get_data(as_text=True)
    assert 'id="no-recalls"' in html
    again = clerk.post(f"/distribution/copy/{copy_id}/recall", data={"outcome": "destroyed"},
                       follow_redirects=True)
    assert "#1" in again.get_data(as_text=True)  # the refusal names the copy
    with app.app_context():
        from qms.db import get_session

        assert get_session().get(ControlledCopy, copy_id).recall_outcome == "returned"


def test_staff_acknowledge_from_the_read_page(app, client_as, doc):
    staff = client_as("staff")
    tasks = staff.get("/tasks/").get_data(as_text=True)
    assert f"/distribution/read/{doc['revision_id']}" in tasks
    page = staff.get(f"/distribution/read/{doc['revision_id']}")
    assert page.status_code == 200 and "为规范投诉处理" in page.get_data(as_text=True)
    url = f"/distribution/read/{doc['revision_id']}"
    wrong = submit_form(staff, page, url, password="x")
    assert wrong.status_code == 302
    done = submit_form(staff, page, url, password=TEST_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"].endswith("/tasks/")
    with app.app_context():
        from qms.db import get_session

        db = get_session()
        ack = db.scalar(sa.select(Acknowledgement).join(Acknowledgement.user)
                        .where(User.username == "staff"))
        assert ack.state == AckState.ACKNOWLEDGED
        assert db.scalar(sa.select(sa.func.count()).select_from(Signature).where(
            Signature.meaning == Meaning.READ)) == 1
    assert f"/distribution/read/{doc['revision_id']}" not in staff.get("/tasks/").get_data(
        as_text=True)


def test_acknowledging_a_superseded_revision_is_refused(app, client_as, doc):
    _supersede(app, doc["number"])
    staff = client_as("staff")
    response = staff.post(f"/distribution/read/{doc['revision_id']}",
                          data={"password": TEST_PASSWORD}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "A/0" in html and 'id="sign-read"' not in html
    with app.app_context():
        from qms.db import get_session

        assert get_session().scalar(sa.select(sa.func.count()).select_from(Signature).where(
            Signature.meaning == Meaning.READ)) == 0


def test_matrix_pages_per_document_and_per_person(app, client_as, doc, users):
    auditor = client_as("auditor")
    matrix = auditor.get("/distribution/reading").get_data(as_text=True)
    assert doc["number"] in matrix and "郑晓" in matrix
    per_doc = auditor.get(f"/distribution/reading/document/{doc['number']}")
    assert 'data-user="staff" data-state="pending"' in per_doc.get_data(as_text=True)
    per_person = auditor.get(f"/distribution/reading/person/{users['staff']}")
    assert doc["number"] in per_person.get_data(as_text=True)
    # staff see their own, not someone else's
    staff = client_as("staff")
    assert staff.get(f"/distribution/reading/person/{users['staff']}").status_code == 200
    assert staff.get(f"/distribution/reading/person/{users['clerk']}").status_code == 403


def test_clerk_sets_a_reading_rule(app, client_as, users):
    clerk = client_as("clerk")
    response = clerk.post("/distribution/reading/rules", data={
        "kind": "procedure", "department": "", "roles": ["reviewer"], "departments": ["BA"],
        "people": [str(users["gm"])], "due_days": "7", "minor_resets": ""})
    assert response.status_code == 302
    html = clerk.get("/distribution/reading/rules").get_data(as_text=True)
    assert "吴刚" in html and "安全管理部" in html
    empty = clerk.post("/distribution/reading/rules", data={"kind": "", "due_days": "7"})
    assert empty.status_code == 422


def test_periodic_review_page_records_a_review(app, client_as, doc):
    from qms import clock

    with app.app_context():
        from datetime import timedelta

        from qms.db import get_session

        db = get_session()
        document = service.get_document(db, doc["number"])
        document.next_review_date = clock.today() - timedelta(days=1)
        db.commit()
    clerk = client_as("clerk")
    listing = clerk.get("/distribution/periodic").get_data(as_text=True)
    assert f'data-number="{doc["number"]}" data-status="overdue"' in listing
    response = clerk.post(f"/distribution/periodic/{doc['number']}", data={
        "outcome": "no_change", "comment": "仍适用", "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert f'data-number="{doc["number"]}"' not in clerk.get("/distribution/periodic").get_data(
        as_text=True)


def test_external_document_register_and_form(app, client_as, users):
    clerk = client_as("clerk")
    response = clerk.post("/distribution/external/new", data={
        "title": "中华人民共和国民法典", "category": "law", "source": "全国人民代表大会",
        "reference": "", "edition": "2020", "department": "PZ", "owner": str(users["clerk"])})
    assert response.status_code == 302
    number = response.headers["Location"].rsplit("/", 1)[1]
    staff = client_as("staff")
    html = staff.get("/distribution/external?q=民法典").get_data(as_text=True)
    assert number in html and "全国人民代表大会" in html
    detail = staff.get(f"/distribution/external/{number}").get_data(as_text=True)
    assert "2020" in detail and "New edition" not in detail
    assert staff.post(f"/distribution/external/{number}/edition",
                      data={"edition-edition": "2030"}).status_code == 403
    clerk.post(f"/distribution/external/{number}/edition", data={"edition-edition": "2030"})
    with app.app_context():
        from qms.db import get_session

        ext = get_session().scalar(sa.select(ExternalSource))
        assert ext.edition == "2030" and ext.document.current_revision.label == "B/0"


def test_home_panels(client_as, doc):
    clerk_home = client_as("clerk").get("/").get_data(as_text=True)
    assert re.search(r"distribution/recalls", clerk_home)
    staff_home = client_as("staff").get("/").get_data(as_text=True)
    assert "/tasks/" in staff_home and "distribution/recalls" not in staff_home
