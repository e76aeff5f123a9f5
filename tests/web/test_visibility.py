"""Every view of a document answers to one rule (qms/documents/visibility.py): a draft's
text never reaches a reader who may not see the draft (item 2), and a confidential
document never reaches a reader outside its circle (item 18). Refusal is 404, as for a
document or revision that does not exist."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

from qms.auth.models import User
from qms.auth.permissions import Role
from qms.documents import service
from qms.documents.models import Confidentiality
from tests.factories import TEST_PASSWORD, make_document, make_user

DRAFT_TEXT = "草稿机密条款甲乙丙"
EFFECTIVE_TEXT = "投诉应在3个工作日内答复。"
SECRET_TEXT = "保密薪酬标准丁戊己"


def _people(db):
    names = ["clerk", "reviewer", "approver", "staff", "auditor", "admin", "manager"]
    return {n: db.scalar(sa.select(User).where(User.username == n)) for n in names}


def _in_context(app, build):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        result = build(db, _people(db))
        db.commit()
        return result


@pytest.fixture
def engineer(app, users):
    """A staff member of Engineering Service (not Customer Service, which owns the
    documents below)."""
    return _in_context(
        app, lambda db, _p: make_user(db, "engineer", Role.STAFF, department="GC").id
    )


@pytest.fixture
def with_draft(app, users):
    """An effective Customer Service regulation (A/0) with revision B/0 in draft."""

    def build(db, p):
        doc = make_document(
            db,
            state="effective",
            author=p["clerk"],
            reviewer=p["reviewer"],
            approver=p["approver"],
            clerk=p["clerk"],
            body=f"## 总则\n\n{EFFECTIVE_TEXT}\n",
        )
        rev = service.revise(db, p["clerk"], doc, major_change=True, change_summary="改期限")
        service.save_draft(
            db,
            p["clerk"],
            rev,
            body=f"## 总则\n\n{DRAFT_TEXT}\n",
            change_summary="改期限",
            base_hash=rev.content_sha256,
        )
        return doc.number

    return _in_context(app, build)


@pytest.fixture
def confidential(app, users):
    """An effective confidential Customer Service regulation."""

    def build(db, p):
        doc = make_document(
            db,
            state="draft",
            author=p["clerk"],
            title="客服人员薪酬制度",
            body=f"## 标准\n\n{SECRET_TEXT}\n",
        )
        doc.confidentiality = Confidentiality.CONFIDENTIAL
        db.flush()
        rev = doc.working_revision
        service.submit_for_review(
            db,
            p["clerk"],
            rev,
            reviewers=[p["reviewer"]],
            approver=p["approver"],
            password=TEST_PASSWORD,
            content_sha256=rev.content_sha256,
        )
        seen = rev.content_sha256
        service.review(db, p["reviewer"], rev, password=TEST_PASSWORD, content_sha256=seen)
        service.approve(db, p["approver"], rev, password=TEST_PASSWORD, content_sha256=seen)
        service.issue(db, p["clerk"], rev, password=TEST_PASSWORD, content_sha256=seen)
        return doc.number

    return _in_context(app, build)


def text(response):
    """What the reader receives, JSON decoded (it escapes Chinese as \\uXXXX)."""
    if response.is_json:
        return json.dumps(response.get_json(), ensure_ascii=False)
    return response.get_data(as_text=True)


# -- item 2: a draft's text through every view -------------------------------------------------


def test_document_trail_hides_draft_entries_from_staff(client_as, with_draft):
    staff = text(client_as("staff").get(f"/documents/{with_draft}/trail"))
    assert DRAFT_TEXT not in staff
    # not even that a draft exists (the trail names a revision "文件 <number> 版本 <label>")
    assert f"{with_draft} B/0" not in staff and f"{with_draft} 版本 B/0" not in staff
    assert f"文件 {with_draft} 版本 A/0" in staff
    clerk = text(client_as("clerk").get(f"/documents/{with_draft}/trail"))
    assert DRAFT_TEXT in clerk


def test_document_trail_api_hides_draft_entries_from_staff(client_as, with_draft):
    staff = client_as("staff").get(f"/api/v1/documents/{with_draft}/trail?per_page=100")
    assert staff.status_code == 200
    body = staff.get_json()
    assert DRAFT_TEXT not in text(staff)
    assert all(not (e["object_id"] or "").endswith("B/0") for e in body["items"])
    # the count is of what the reader sees, so pages add up
    assert body["meta"]["total"] == len(body["items"])
    clerk = client_as("clerk").get(f"/api/v1/documents/{with_draft}/trail?per_page=100")
    assert DRAFT_TEXT in text(clerk)
    assert clerk.get_json()["meta"]["total"] > body["meta"]["total"]


def test_auditor_sees_every_trail_entry_with_draft_content_withheld(client_as, with_draft):
    response = client_as("auditor").get(f"/api/v1/documents/{with_draft}/trail?per_page=100")
    items = response.get_json()["items"]
    draft_entries = [e for e in items if e["object_id"] == f"{with_draft} B/0"]
    assert draft_entries, "the audit trail keeps every entry"
    assert all(e["withheld"] and not e["new_value"] and not e["old_value"] for e in draft_entries)
    assert DRAFT_TEXT not in text(response)
    page = text(client_as("auditor").get(f"/documents/{with_draft}/trail"))
    assert "Content withheld" in page or "内容不予显示" in page
    assert DRAFT_TEXT not in page


def test_global_trail_withholds_draft_content_from_admin_not_clerk(client_as, with_draft):
    admin = client_as("admin")
    assert DRAFT_TEXT not in text(admin.get("/trail/?per_page=200"))
    export = text(admin.get("/trail/export.csv"))
    rows = list(csv.DictReader(io.StringIO(export.lstrip("\ufeff"))))
    assert any(r["object_id"] == f"{with_draft} B/0" for r in rows)
    assert DRAFT_TEXT not in export
    clerk = client_as("clerk")
    assert DRAFT_TEXT in text(clerk.get("/trail/?per_page=200"))
    assert DRAFT_TEXT in text(clerk.get("/trail/export.csv"))


def test_redline_of_a_draft_is_404_for_staff(client_as, with_draft):
    url = f"/documents/{with_draft}/diff?from=A/0&to=B/0"
    response = client_as("staff").get(url)
    assert response.status_code == 404
    assert DRAFT_TEXT not in text(response)
    assert DRAFT_TEXT in text(client_as("clerk").get(url))


def test_draft_page_api_and_word_export_are_404_for_staff(client_as, with_draft):
    staff = client_as("staff")
    for url in (
        f"/documents/{with_draft}?revision=B/0",
        f"/api/v1/documents/{with_draft}?revision=B/0",
        f"/documents/{with_draft}/export.docx?revision=B/0",
    ):
        response = staff.get(url)
        assert response.status_code == 404, url
        assert DRAFT_TEXT not in text(response)
    clerk = client_as("clerk")
    assert clerk.get(f"/documents/{with_draft}?revision=B/0").status_code == 200
    assert clerk.get(f"/documents/{with_draft}/export.docx?revision=B/0").status_code == 200


def test_register_api_does_not_say_a_revision_is_in_work_to_staff(client_as, with_draft):
    staff = client_as("staff").get("/api/v1/documents").get_json()["items"]
    assert [i["revision_in_work"] for i in staff if i["number"] == with_draft] == [None]
    clerk = client_as("clerk").get("/api/v1/documents").get_json()["items"]
    assert [i["revision_in_work"] for i in clerk if i["number"] == with_draft] == ["B/0"]


def test_search_finds_draft_text_for_the_clerk_only(client_as, with_draft):
    staff = client_as("staff").get(f"/api/v1/search?q={DRAFT_TEXT}&all=1").get_json()
    assert staff["meta"]["total"] == 0
    assert DRAFT_TEXT not in str(staff["items"])
    clerk = client_as("clerk").get(f"/api/v1/search?q={DRAFT_TEXT}&all=1").get_json()
    assert [h["revision"] for h in clerk["items"]] == ["B/0"]


# -- item 18: confidentiality -------------------------------------------------------------------


def test_confidential_document_is_404_on_every_view_for_an_outsider(
    client_as, confidential, engineer
):
    outsider = client_as("engineer")
    for url in (
        f"/documents/{confidential}",
        f"/documents/{confidential}/trail",
        f"/documents/{confidential}/diff",
        f"/documents/{confidential}/export.docx",
        f"/api/v1/documents/{confidential}",
        f"/api/v1/documents/{confidential}/revisions",
        f"/api/v1/documents/{confidential}/trail",
        f"/api/v1/documents/{confidential}/export.docx",
    ):
        response = outsider.get(url)
        assert response.status_code == 404, url
        assert SECRET_TEXT not in text(response)
        assert "薪酬" not in text(response)
    # the same answer as a number that does not exist
    missing = outsider.get("/api/v1/documents/ZD-NO-999").get_json()["error"]
    hidden = outsider.get(f"/api/v1/documents/{confidential}").get_json()["error"]
    assert hidden["code"] == missing["code"] == "not_found"


@pytest.mark.parametrize("username", ["staff", "clerk", "manager", "auditor", "approver"])
def test_confidential_document_is_read_by_its_circle(client_as, confidential, username):
    # staff and approver: Customer Service, the owning department (the approver also
    # approves for it); clerk, manager, auditor: the quality center and internal audit
    response = client_as(username).get(f"/documents/{confidential}")
    assert response.status_code == 200
    assert SECRET_TEXT in text(response)


def test_administrator_does_not_read_confidential_documents(client_as, confidential):
    assert client_as("admin").get(f"/documents/{confidential}").status_code == 404
    assert SECRET_TEXT not in text(client_as("admin").get("/trail/?per_page=200"))


def test_register_counts_and_pages_without_confidential_documents(
    app, client_as, confidential, engineer
):
    def build(db, p):
        for title in ("客户回访制度", "业主档案管理制度"):
            make_document(db, state="effective", title=title, author=p["clerk"])

    _in_context(app, build)
    outsider = client_as("engineer")
    listing = outsider.get("/api/v1/documents?per_page=1").get_json()
    assert listing["meta"]["total"] == 2
    second = outsider.get("/api/v1/documents?per_page=1&page=2").get_json()["items"]
    assert second and second[0]["number"] != confidential
    assert confidential not in text(outsider.get("/documents/"))
    assert confidential not in text(outsider.get("/documents/register.csv"))
    assert confidential not in text(outsider.get("/"))
    insider = client_as("staff").get("/api/v1/documents?per_page=1").get_json()
    assert insider["meta"]["total"] == 3
    assert confidential in text(client_as("staff").get("/documents/"))


def test_search_leaves_confidential_documents_out_of_hits_and_counts(
    client_as, confidential, engineer
):
    outsider = client_as("engineer").get(f"/api/v1/search?q={SECRET_TEXT}").get_json()
    assert outsider["meta"]["total"] == 0
    assert outsider["items"] == []
    assert all(c["count"] == 0 for rows in outsider["facets"].values() for c in rows)
    history = client_as("engineer").get(f"/api/v1/search?q={SECRET_TEXT}&all=1")
    assert history.get_json()["meta"]["total"] == 0
    insider = client_as("staff").get(f"/api/v1/search?q={SECRET_TEXT}").get_json()
    assert [h["number"] for h in insider["items"]] == [confidential]
    assert insider["meta"]["total"] == 1


def test_controlled_copy_of_a_confidential_document_only_to_its_circle(
    app, client_as, confidential, engineer
):
    clerk = client_as("clerk")
    refused = clerk.post(
        f"/distribution/copies/{confidential}/issue",
        data={"revision": "A/0", "holder_department": "GC", "medium": "paper"},
        follow_redirects=True,
    )
    assert "工程服务部" in text(refused)  # the refusal names the holder
    allowed = clerk.post(
        f"/distribution/copies/{confidential}/issue",
        data={"revision": "A/0", "holder_department": "KF", "medium": "paper"},
        follow_redirects=True,
    )
    assert allowed.status_code == 200

    def copies(db, _p):
        from qms.distribution.models import ControlledCopy

        return [c.holder_department.code for c in db.scalars(sa.select(ControlledCopy)).all()]

    assert _in_context(app, copies) == ["KF"]


def test_copy_to_an_uncleared_person_is_refused_in_the_service(app, confidential, engineer):
    from qms.distribution import copies
    from qms.errors import Invalid

    def attempt(db, p):
        revision = service.get_document(db, confidential).current_revision
        person = db.get(User, engineer)
        with pytest.raises(Invalid) as err:
            copies.issue_copy(db, p["clerk"], revision, holder_user=person)
        return err.value.code

    assert _in_context(app, attempt) == "holder_not_cleared"


def test_copy_register_is_404_for_the_administrator(client_as, confidential):
    assert client_as("admin").get(f"/distribution/copies/{confidential}").status_code == 404
    assert client_as("auditor").get(f"/distribution/copies/{confidential}").status_code == 200


def test_document_page_does_not_tell_staff_a_draft_is_in_work(client_as, with_draft):
    staff = text(client_as("staff").get(f"/documents/{with_draft}"))
    assert EFFECTIVE_TEXT in staff
    assert "B/0" not in staff
    clerk = text(client_as("clerk").get(f"/documents/{with_draft}"))
    assert "B/0" in clerk


def test_a_document_only_in_draft_does_not_exist_for_staff(app, client_as, users):
    def build(db, p):
        return make_document(db, state="draft", author=p["clerk"], title="新草稿制度").number

    number = _in_context(app, build)
    staff = client_as("staff")
    for url in (
        f"/documents/{number}",
        f"/documents/{number}/trail",
        f"/api/v1/documents/{number}",
        f"/api/v1/documents/{number}/trail",
        f"/api/v1/documents/{number}/revisions",
    ):
        response = staff.get(url)
        assert response.status_code == 404, url
        assert "新草稿制度" not in text(response)
    assert client_as("clerk").get(f"/documents/{number}/trail").status_code == 200
    assert client_as("auditor").get(f"/api/v1/documents/{number}/trail").status_code == 200
