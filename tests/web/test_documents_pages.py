"""The clerk's register, the document page, the editor and the redline."""

import contextlib

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from qms.auth.models import User
from qms.documents import service
from tests.factories import TEST_PASSWORD, make_document


@contextlib.contextmanager
def count_queries(app, *, kept_answers=False):
    """Statements sent while in the block; the page cache (qms/pagecache.py) is emptied
    first, so that a page is counted as rendered, unless kept_answers."""
    engine = app.extensions["qms.engine"]
    counter = {"n": 0}
    cache = app.extensions.get("qms.page_cache")
    if cache is not None and not kept_answers:
        cache.clear()

    def before(*_args, **_kw):
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _people(db):
    names = ["clerk", "reviewer", "approver", "staff"]
    return {n: db.scalar(sa.select(User).where(User.username == n)) for n in names}


@pytest.fixture
def effective_doc(app, users):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        p = _people(db)
        doc = make_document(
            db,
            state="effective",
            author=p["clerk"],
            reviewer=p["reviewer"],
            approver=p["approver"],
            clerk=p["clerk"],
            body="## 总则\n\n投诉应在3个工作日内答复。\n",
        )
        db.commit()
        return doc.number


def _revise_and_issue(app, number, body):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        p = _people(db)
        doc = service.get_document(db, number)
        rev = service.revise(db, p["clerk"], doc, major_change=True, change_summary="改期限")
        service.save_draft(
            db, p["clerk"], rev, body=body, change_summary="改期限", base_hash=rev.content_sha256
        )
        service.submit_for_review(
            db,
            p["clerk"],
            rev,
            reviewers=[p["reviewer"]],
            approver=p["approver"],
            password=TEST_PASSWORD,
            content_sha256=rev.content_sha256,
        )
        service.review(db, p["reviewer"], rev, password=TEST_PASSWORD,
                       content_sha256=rev.content_sha256)
        service.approve(db, p["approver"], rev, password=TEST_PASSWORD,
                        content_sha256=rev.content_sha256)
        service.issue(db, p["clerk"], rev, password=TEST_PASSWORD,
                      content_sha256=rev.content_sha256)
        db.commit()


def test_document_page_shows_header_history_and_signatures(client_as, effective_doc):
    page = client_as("staff").get(f"/documents/{effective_doc}").get_data(as_text=True)
    assert 'id="docheader"' in page
    assert "A/0" in page
    assert "投诉应在3个工作日内答复" in page
    assert ("批准" in page and "Approver" in page) or "孙丽" in page
    assert "status-banner" not in page


def test_superseded_revision_carries_a_banner_and_a_link(app, client_as, effective_doc):
    _revise_and_issue(app, effective_doc, "## 总则\n\n投诉应在2个工作日内答复。\n")
    staff = client_as("staff")
    current = staff.get(f"/documents/{effective_doc}").get_data(as_text=True)
    assert "B/0" in current and "2个工作日" in current
    old = staff.get(f"/documents/{effective_doc}?revision=A/0").get_data(as_text=True)
    assert 'id="status-banner"' in old
    assert "已替代" in old
    assert f'href="/documents/{effective_doc}"' in old


def test_history_can_be_blocked_for_staff(app, database_url, tmp_path, client_as, effective_doc):
    _revise_and_issue(app, effective_doc, "新正文")
    app.config["OBSOLETE_REVISIONS"] = "block"
    assert client_as("staff").get(f"/documents/{effective_doc}?revision=A/0").status_code == 404
    assert client_as("clerk").get(f"/documents/{effective_doc}?revision=A/0").status_code == 200


def test_redline_is_word_level_for_chinese(app, client_as, effective_doc):
    _revise_and_issue(app, effective_doc, "## 总则\n\n投诉应在2个工作日内答复。\n")
    page = client_as("staff").get(f"/documents/{effective_doc}/diff?from=A/0&to=B/0")
    text = page.get_data(as_text=True)
    assert "<del>3</del><ins>2</ins>" in text


def test_drafts_are_hidden_from_staff(app, client_as, users):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        doc = make_document(db, state="draft", author=_people(db)["clerk"])
        db.commit()
        number = doc.number
    assert client_as("staff").get(f"/documents/{number}").status_code == 404
    assert client_as("clerk").get(f"/documents/{number}").status_code == 200
    register = client_as("staff").get("/documents/").get_data(as_text=True)
    assert number not in register


def test_register_filters_sorts_and_exports(app, client_as, effective_doc):
    clerk = client_as("clerk")
    page = clerk.get("/documents/?kind=regulation&status=effective&sort=title&dir=desc")
    assert page.status_code == 200
    assert effective_doc in page.get_data(as_text=True)
    assert effective_doc not in clerk.get("/documents/?kind=form").get_data(as_text=True)
    csv = clerk.get("/documents/register.csv").get_data(as_text=True)
    assert csv.splitlines()[0].lstrip("\ufeff").startswith("number,title,kind")
    assert effective_doc in csv


def test_register_query_count_does_not_grow_with_page_size(app, client_as, users):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        clerk = _people(db)["clerk"]
        for i in range(30):
            make_document(db, state="draft", author=clerk, title=f"制度{i}")
        db.commit()
    client = client_as("clerk")
    client.get("/documents/?per_page=5")  # warm up the day's activation check
    with count_queries(app) as small:
        assert client.get("/documents/?per_page=5").status_code == 200
    with count_queries(app) as large:
        assert client.get("/documents/?per_page=30").status_code == 200
    assert small["n"] == large["n"]
    with count_queries(app) as api_small:
        client.get("/api/v1/documents?per_page=5")
    with count_queries(app) as api_large:
        client.get("/api/v1/documents?per_page=30")
    assert api_small["n"] == api_large["n"]


def test_document_page_query_count_does_not_grow_with_history(app, client_as, effective_doc):
    client = client_as("staff")
    client.get(f"/documents/{effective_doc}")
    with count_queries(app) as one:
        client.get(f"/documents/{effective_doc}")
    _revise_and_issue(app, effective_doc, "第二版")
    _revise_and_issue(app, effective_doc, "第三版")
    with count_queries(app) as three:
        client.get(f"/documents/{effective_doc}")
    assert three["n"] <= one["n"] + 2


def test_stale_save_in_the_editor_shows_both_texts(app, client_as, users):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        doc = make_document(db, state="draft", author=_people(db)["clerk"])
        db.commit()
        number, rev_id, base = (
            doc.number,
            doc.working_revision.id,
            doc.working_revision.content_sha256,
        )
    clerk = client_as("clerk")
    url = f"/documents/{number}/edit/{rev_id}"
    ok = clerk.post(
        url,
        data={
            "title": "服务投诉处理制度",
            "body": "先保存的文本",
            "change_summary": "",
            "base_hash": base,
        },
    )
    assert ok.status_code == 302
    stale = clerk.post(
        url,
        data={
            "title": "服务投诉处理制度",
            "body": "后保存的文本",
            "change_summary": "",
            "base_hash": base,
        },
    )
    assert stale.status_code == 409
    text = stale.get_data(as_text=True)
    assert "先保存的文本" in text and "后保存的文本" in text
    assert 'id="stale"' in text


def test_editing_lock_and_break(app, client_as, users):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        doc = make_document(db, state="draft", author=_people(db)["clerk"])
        db.commit()
        number, rev_id = doc.number, doc.working_revision.id
    manager = client_as("manager")
    assert (
        manager.post(f"/documents/{number}/edit/{rev_id}", data={"action": "lock"}).status_code
        == 302
    )
    clerk = client_as("clerk")
    page = clerk.get(f"/documents/{number}/edit/{rev_id}").get_data(as_text=True)
    assert 'id="lock-banner"' in page
    refused = clerk.post(
        f"/documents/{number}/edit/{rev_id}", data={"action": "break", "reason": ""}
    )
    assert refused.status_code == 422
    assert (
        clerk.post(
            f"/documents/{number}/edit/{rev_id}", data={"action": "break", "reason": "经理出差"}
        ).status_code
        == 302
    )


def test_approval_matrix_is_edited_by_the_administrator(client_as, users):
    admin = client_as("admin")
    page = admin.get("/documents/approval-matrix")
    assert page.status_code == 200
    response = admin.post(
        "/documents/approval-matrix",
        data={"action": "grant", "user": "gm", "kind": "form", "department": "GC"},
    )
    assert response.status_code == 302
    assert client_as("clerk").get("/documents/approval-matrix").status_code == 403


def test_new_document_form(client_as, users):
    clerk = client_as("clerk")
    response = clerk.post(
        "/documents/new",
        data={
            "title": "车辆管理制度",
            "kind": "regulation",
            "department": "BA",
            "family": "special",
            "confidentiality": "internal",
            "body": "## 总则",
            "change_summary": "首次",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/documents/ZD-BA-001")
    assert client_as("staff").get("/documents/new").status_code == 403


def test_numbering_scheme_is_configurable(app, client_as, users):
    admin = client_as("admin")
    bad = admin.post("/documents/numbering", data={"kind": "regulation", "pattern": "ZD-{dept}"})
    assert bad.status_code == 422
    assert admin.post(
        "/documents/numbering", data={"kind": "regulation", "pattern": "ZD/{dept}/{seq}"}
    ).status_code == 422
    ok = admin.post(
        "/documents/numbering", data={"kind": "regulation", "pattern": "ZD.{dept}.{seq:04d}"}
    )
    assert ok.status_code == 302
    created = client_as("clerk").post(
        "/documents/new",
        data={"title": "消防管理制度", "kind": "regulation", "department": "BA",
              "family": "special", "confidentiality": "internal"},
    )
    assert created.headers["Location"].endswith("/documents/ZD.BA.0001")



def test_register_shows_periodic_reviews_due_and_overdue(app, client_as, effective_doc):
    from datetime import timedelta

    from qms import clock
    from qms.documents.models import Document

    with app.app_context():
        from qms.db import get_session

        db = get_session()
        doc = db.scalar(sa.select(Document).where(Document.number == effective_doc))
        doc.next_review_date = clock.today() - timedelta(days=1)
        db.commit()
    clerk = client_as("clerk")
    overdue = clerk.get("/documents/?review=overdue").get_data(as_text=True)
    assert effective_doc in overdue
    assert "已逾期" in overdue or "逾期" in overdue
    assert effective_doc not in clerk.get("/documents/?review=due").get_data(as_text=True)
    with app.app_context():
        from qms.db import get_session

        db = get_session()
        doc = db.scalar(sa.select(Document).where(Document.number == effective_doc))
        doc.next_review_date = clock.today() + timedelta(days=10)
        db.commit()
    due = clerk.get("/documents/?review=due").get_data(as_text=True)
    assert effective_doc in due
