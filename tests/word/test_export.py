"""Word copies: header, marks, watermark, approval page and body, read back with python-docx."""

from __future__ import annotations

import io
from datetime import date
from zoneinfo import ZoneInfo

import docx
import pytest
from lxml import etree

from qms.auth.signatures import signatures_for
from qms.documents.lifecycle import RevState
from qms.errors import Conflict, Forbidden
from qms.word import service
from qms.word.export_docx import export_register, export_revision
from tests.word.conftest import supersede, user

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
V = "urn:schemas-microsoft-com:vml"


def read(data: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(data))


def header_cells(copy: docx.document.Document) -> list[str]:
    table = copy.sections[0].header.tables[0]
    return [cell.text for row in table.rows for cell in row.cells]


def watermarks(copy: docx.document.Document) -> list[str]:
    header = copy.sections[0].header._element
    return etree.XPath(".//v:textpath/@string", namespaces={"v": V})(header)


def test_controlled_copy_header_has_number_title_revision_date_and_page_fields(db, effective_doc):
    revision = effective_doc.current_revision
    copy = read(export_revision(db, revision, "007"))
    cells = header_cells(copy)
    assert f"文件编号：{effective_doc.number}" in cells
    assert "投诉处理程序" in cells
    assert f"版本：{revision.label}" in cells
    assert f"生效日期：{revision.effective_date.isoformat()}" in cells
    assert any("受控文件" in c and "分发号：007" in c for c in cells)
    fields = copy.sections[0].header._element.xpath(".//w:instrText/text()")
    assert [f.strip() for f in fields] == ["PAGE", "NUMPAGES"]
    assert "第 1 页 共 1 页" in cells  # cached results around the real fields
    assert watermarks(copy) == []


def test_uncontrolled_print_carries_a_watermark(db, effective_doc):
    copy = read(export_revision(db, effective_doc.current_revision, None))
    assert watermarks(copy) == ["非受控"]
    assert not any("受控文件" in c for c in header_cells(copy))


def test_superseded_revision_is_marked_obsolete_even_when_a_copy_number_is_given(
        db, effective_doc):
    first = effective_doc.current_revision
    supersede(db, effective_doc)
    assert first.state == RevState.SUPERSEDED
    copy = read(export_revision(db, first, "001"))
    assert watermarks(copy) == ["作废"]
    assert "作废" in header_cells(copy)


def approval_rows(copy: docx.document.Document) -> list[list[str]]:
    table = next(t for t in copy.tables
                 if t._tbl.xpath("./w:tblPr/w:tblCaption/@w:val") == ["qms-approval"])
    return [[c.text for c in row.cells] for row in table.rows]


def test_approval_page_lists_valid_signatures_in_local_time_with_the_zone_named(
        db, effective_doc):
    revision = effective_doc.current_revision
    signatures = signatures_for(db, "revision", [revision.id])
    approval = next(s for s in signatures if s.meaning == "approved")
    rows = approval_rows(read(export_revision(db, revision, None)))
    assert rows[0][:3] == ["签署含义", "签署人", "签署时间（Asia/Shanghai (UTC+08:00)）"]
    local = approval.signed_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert ["批准", approval.printed_name, local] in [r[:3] for r in rows]
    assert len(rows) == 1 + len(signatures)


def test_approval_page_leaves_out_voided_and_invalidated_signatures(db, effective_doc):
    revision = effective_doc.current_revision
    signatures = signatures_for(db, "revision", [revision.id])
    review = next(s for s in signatures if s.meaning == "reviewed")
    approval = next(s for s in signatures if s.meaning == "approved")
    review.voided_at = review.signed_at  # voided by a later edit
    approval.printed_name = "冒名"  # the record altered after signing: no longer valid
    db.flush()
    copy = read(export_revision(db, revision, None))
    rows = approval_rows(copy)
    meanings = [r[0] for r in rows[1:]]
    assert "审核" not in meanings and "批准" not in meanings
    assert "冒名" not in [r[1] for r in rows]
    assert len(rows) == 1 + len(signatures) - 2
    assert not any("已撤销" in r[0] for r in rows)
    note = [p.text for p in copy.paragraphs if "未列入本页" in p.text]
    assert note == [
        "另有 1 个签署无效（签署后内容或签名记录被改动），未列入本页；请向品质管理中心核实。",
        "另有 1 个签署已撤销，未列入本页。",
    ]


def test_approval_page_of_a_draft_says_there_is_no_valid_signature(db, draft_doc):
    rows = approval_rows(read(export_revision(db, draft_doc.working_revision, None)))
    assert rows[1][:2] == ["—", "尚无有效签署"]


def test_downloaded_copy_shows_times_in_the_zone_of_the_pages(database_url, tmp_path):
    """A reader whose site runs in another zone sees the same time in the page and in
    the Word copy, and the copy names the zone."""
    from tests.conftest import login, make_test_app
    from tests.factories import make_role_users, seed_departments
    from tests.word.conftest import PROCEDURE_BODY

    app = make_test_app(database_url, tmp_path, BABEL_DEFAULT_TIMEZONE="America/New_York")
    with app.test_request_context():
        from qms.db import get_session
        from tests.factories import make_document

        db = get_session()
        seed_departments(db)
        db.commit()
        make_role_users()
        doc = make_document(db, state="effective", author=user(db, "manager"),
                            reviewer=user(db, "reviewer"), approver=user(db, "approver"),
                            clerk=user(db, "clerk"), kind="procedure", title="投诉处理程序",
                            body=PROCEDURE_BODY)
        db.commit()
        number = doc.number
        approval = next(s for s in signatures_for(db, "revision", [doc.current_revision_id])
                        if s.meaning == "approved")
        signed_at = approval.signed_at
    client = app.test_client()
    login(client, "clerk")
    local = signed_at.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M")
    page = client.get(f"/documents/{number}").get_data(as_text=True)
    assert local in page
    rows = approval_rows(read(client.get(f"/documents/{number}/export.docx").data))
    assert rows[0][2].startswith("签署时间（America/New_York (UTC-0")
    assert local in [r[2] for r in rows]


def test_body_headings_lists_tables_and_emphasis(db, effective_doc):
    copy = read(export_revision(db, effective_doc.current_revision, None))
    paragraphs = copy.paragraphs
    headings = [(p.style.name, p.text) for p in paragraphs if p.style.name.startswith("Heading")]
    assert headings == [("Heading 2", "目的"), ("Heading 2", "职责"), ("Heading 3", "处理时限")]
    items = [(p.text, p._p.pPr.numPr.ilvl.val) for p in paragraphs if p._p.pPr is not None
             and p._p.pPr.numPr is not None]
    assert ("客户服务中心负责受理投诉", 0) in items
    assert ("工程服务部：维修类投诉", 1) in items
    assert ("夜间值班", 2) in items
    assert ("每月汇总一次", 0) in items
    bold = [r.text for p in paragraphs for r in p.runs if r.bold]
    italic = [r.text for p in paragraphs for r in p.runs if r.italic]
    assert "投诉" in bold and "回访" in bold
    assert "明确" in italic
    body_table = copy.tables[-1]
    assert [c.text for c in body_table.rows[1].cells] == ["一般投诉", "3 个工作日", "客户服务中心"]


def test_cjk_fonts_are_set_for_body_and_headings(db, effective_doc):
    copy = read(export_revision(db, effective_doc.current_revision, None))
    def east_asia(style_name):
        fonts = copy.styles[style_name].element.rPr.rFonts
        return fonts.get(f"{{{W}}}eastAsia")
    assert east_asia("Normal") == "宋体"
    assert east_asia("Heading 2") == "黑体"


def test_register_exports_as_a_table():
    rows = [{"number": "CX-KF-001", "title": "投诉处理程序", "kind": "程序文件",
             "department": "客户服务", "revision": "A/0", "status": "生效",
             "effective_date": date(2024, 5, 1), "next_review_date": date(2026, 5, 1)}]
    copy = read(export_register(rows))
    table = copy.tables[0]
    assert [c.text for c in table.rows[0].cells][:2] == ["文件编号", "文件名称"]
    assert [c.text for c in table.rows[1].cells] == [
        "CX-KF-001", "投诉处理程序", "程序文件", "客户服务", "A/0", "生效", "2024-05-01",
        "2026-05-01"]


# -- who may have which copy -------------------------------------------------------------

def test_only_document_control_prints_controlled_copies(db, effective_doc):
    revision = effective_doc.current_revision
    with pytest.raises(Forbidden):
        service.controlled_copy(db, user(db, "staff"), revision, "3", None)
    data, name = service.controlled_copy(db, user(db, "clerk"), revision, "3", None)
    assert name == f"{effective_doc.number}_A-0_copy-3.docx"
    assert data.startswith(b"PK")


def test_no_controlled_copy_of_a_draft_or_superseded_revision(db, effective_doc, draft_doc):
    clerk = user(db, "clerk")
    with pytest.raises(Conflict):
        service.controlled_copy(db, clerk, draft_doc.working_revision, "1", None)
    first = effective_doc.current_revision
    supersede(db, effective_doc)
    with pytest.raises(Conflict):
        service.controlled_copy(db, clerk, first, "1", None)


def test_staff_download_the_effective_revision(client_as, effective_doc):
    response = client_as("staff").get(f"/documents/{effective_doc.number}/export.docx")
    assert response.status_code == 200
    assert response.mimetype.endswith("wordprocessingml.document")
    assert "attachment" in response.headers["Content-Disposition"]
    assert watermarks(read(response.data)) == ["非受控"]


def test_staff_cannot_download_a_draft_or_a_controlled_copy(client_as, draft_doc, effective_doc):
    staff = client_as("staff")
    # a draft the reader may not see is answered as if it did not exist
    assert staff.get(f"/documents/{draft_doc.number}/export.docx").status_code == 404
    response = staff.get(f"/documents/{effective_doc.number}/export.docx?copy=2")
    assert response.status_code == 403


def test_clerk_downloads_a_controlled_copy_and_a_named_revision(client_as, effective_doc):
    clerk = client_as("clerk")
    response = clerk.get(f"/documents/{effective_doc.number}/export.docx?revision=A/0&copy=12")
    assert response.status_code == 200
    assert any("分发号：12" in c for c in header_cells(read(response.data)))
    assert clerk.get(f"/documents/{effective_doc.number}/export.docx?revision=Z/9").status_code \
        == 404
    assert clerk.get("/documents/NO-SUCH/export.docx").status_code == 404
    assert clerk.get(f"/documents/{effective_doc.number}/export.docx?copy=a%20b").status_code \
        == 422


def test_author_downloads_own_draft(client_as, draft_doc):
    response = client_as("manager").get(f"/documents/{draft_doc.number}/export.docx")
    assert response.status_code == 200
    assert watermarks(read(response.data)) == ["非受控"]


def _token(app, username):
    with app.app_context():
        from qms.auth import service as auth
        from qms.db import get_session

        s = get_session()
        person = auth.user_by_username(s, username)
        token = auth.create_token(s, person, person, "test")
        s.commit()
        return token


def test_api_export(app, client, effective_doc):
    token = _token(app, "clerk")
    url = f"/api/v1/documents/{effective_doc.number}/export.docx?copy=5"
    response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert any("分发号：5" in c for c in header_cells(read(response.data)))
    # each request in an app context of its own: the db fixture's context would share g
    with app.app_context():
        assert client.get(url).status_code == 401
    staff = _token(app, "staff")
    with app.app_context():
        response = client.get(url, headers={"Authorization": f"Bearer {staff}"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
