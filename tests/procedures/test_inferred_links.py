"""The links from processes to their controlling regulations are our reading of the
handbook (it links none): marked inferred in the sources, shown as such on the procedure,
document and traceability pages and in the API, until the quality clerk confirms each."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa

from qms.config import PROJECT_ROOT
from qms.procedures.models import DocumentLink, LinkKind
from qms.trail.models import TrailEntry
from tests.procedures.conftest import write_doc

BADGE = "推断，待确认"


@pytest.fixture
def imported_docs(app, users, tmp_path, monkeypatch):
    monkeypatch.setattr("qms.search.service.drain", lambda *_a, **_k: 0)
    from qms.procedures.importer import import_directory

    with app.app_context():
        from qms.db import get_session

        target = tmp_path / "docs"
        shutil.copytree(PROJECT_ROOT / "documents", target)
        report = import_directory(get_session(), target)
        assert report.errors == []


def _inferred(app, number: str, target: str) -> bool:
    with app.app_context():
        from qms.db import get_session

        session = get_session()
        return bool(session.scalar(
            sa.select(DocumentLink.inferred)
            .join(DocumentLink.revision)
            .where(DocumentLink.target_number == target,
                   DocumentLink.kind == LinkKind.CONTROLLED_BY,
                   DocumentLink.revision.has(document_id=sa.select(
                       sa.text("id")).select_from(sa.text("document"))
                       .where(sa.text("number = :n")).params(n=number).scalar_subquery()))))


def _confirm_entries(app) -> list[TrailEntry]:
    with app.app_context():
        from qms.db import get_session

        return list(get_session().scalars(
            sa.select(TrailEntry).where(TrailEntry.action == "confirm",
                                        TrailEntry.object_type == "document_link")))


def test_every_shipped_process_link_is_marked_inferred(app, imported_docs):
    with app.app_context():
        from qms.db import get_session

        session = get_session()
        rows = session.execute(
            sa.select(DocumentLink.target_number, DocumentLink.inferred)
            .where(DocumentLink.kind == LinkKind.CONTROLLED_BY)
            .join(DocumentLink.revision)).all()
        process_links = [r for r in rows if r.target_number.startswith("ZD-")]
        assert process_links and any(r.inferred for r in rows)
    assert _inferred(app, "LC-KF-004", "ZD-KF-007")


def test_staff_see_the_link_marked_but_cannot_confirm(client_as, imported_docs):
    page = client_as("staff").get("/procedures/LC-KF-004").get_data(as_text=True)
    controlled = page[page.index('id="controlled-by"'):page.index('id="chart"')]
    assert "ZD-KF-007" in controlled and BADGE in controlled
    assert "确认链接" not in page
    document = client_as("staff").get("/documents/LC-KF-004").get_data(as_text=True)
    assert BADGE in document
    regulation = client_as("staff").get("/documents/ZD-KF-007").get_data(as_text=True)
    processes = regulation[regulation.index('id="controls-processes"'):]
    assert "LC-KF-004" in processes and BADGE in processes[:2000]


def test_traceability_counts_and_marks_the_inferred_links(client_as, imported_docs):
    page = client_as("staff").get("/procedures/traceability").get_data(as_text=True)
    assert "共有 23 条流程与其控制制度之间的链接是根据手册推断的" in page
    assert page.count('data-inferred') >= 23


def test_the_api_says_which_links_are_inferred(client_as, imported_docs):
    client = client_as("staff")
    body = client.get("/api/v1/procedures/LC-KF-004").get_json()
    assert [(c["number"], c["inferred"]) for c in body["controlled_by"]] == [
        ("ZD-KF-007", True)]
    links = client.get("/api/v1/documents/ZD-KF-007/links").get_json()
    assert {c["number"]: c["inferred"] for c in links["controls"]}["LC-KF-004"] is True


def test_the_clerk_confirms_a_link_with_a_reason(app, client_as, imported_docs):
    client = client_as("clerk")
    page = client.get("/procedures/LC-KF-004").get_data(as_text=True)
    assert "确认链接" in page
    # the wrong step: no reason — refused on the same page, nothing stored
    refused = client.post("/procedures/LC-KF-004/links/ZD-KF-007/confirm",
                          data={"reason": "   "})
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "请填写确认依据" in text and "施工证件收发流程" in text
    assert _inferred(app, "LC-KF-004", "ZD-KF-007") and _confirm_entries(app) == []

    done = client.post("/procedures/LC-KF-004/links/ZD-KF-007/confirm",
                       data={"reason": "手册第5.4节，客户服务中心经理确认"},
                       follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "已确认 LC-KF-004 与 ZD-KF-007 之间的链接" in text
    controlled = text[text.index('id="controlled-by"'):text.index('id="chart"')]
    assert BADGE not in controlled
    assert not _inferred(app, "LC-KF-004", "ZD-KF-007")
    (entry,) = _confirm_entries(app)
    assert entry.reason == "手册第5.4节，客户服务中心经理确认"
    assert entry.object_id.startswith("LC-KF-004 A/0") and entry.new_value == "confirmed"
    trace = client.get("/procedures/traceability").get_data(as_text=True)
    assert "共有 22 条" in trace
    # confirming again: nothing left to confirm
    again = client.post("/procedures/LC-KF-004/links/ZD-KF-007/confirm",
                        data={"reason": "再次确认"})
    assert again.status_code == 404


def test_staff_may_not_confirm(app, client_as, imported_docs):
    response = client_as("staff").post("/procedures/LC-KF-004/links/ZD-KF-007/confirm",
                                       data={"reason": "我确认"})
    assert response.status_code == 403
    assert _inferred(app, "LC-KF-004", "ZD-KF-007")


def test_an_inferred_link_must_be_one_of_the_documents_links(db, documents_dir):
    from qms.procedures.importer import import_directory

    write_doc(documents_dir, "ZD-KF-901", extra="references: [ZD-KF-001]\n"
                                                  "inferred_links: [ZD-KF-002]\n")
    report = import_directory(db, documents_dir)
    assert any("inferred_links names ZD-KF-002" in r.describe() for r in report.errors)
