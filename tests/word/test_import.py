"""Word files in: round trip, what cannot be converted is listed, bad files are refused
and nothing is stored."""

from __future__ import annotations

import io
import re

import markdown
import pytest
import sqlalchemy as sa

from qms.documents.lifecycle import RevState
from qms.documents.models import Document, Revision
from qms.word.export_docx import export_revision
from qms.word.import_docx import check_package, convert
from qms.word.models import Attachment, WordImport
from tests.conftest import make_test_app
from tests.word.conftest import (
    PROCEDURE_BODY,
    broken_zip,
    encrypted_docx,
    old_doc,
    plain_docx,
    renamed_xlsx,
    rich_docx,
    zip_bomb,
)


def structure(body: str) -> dict[str, list[str]]:
    """Headings, list items and table cells of a Markdown body, as HTML renders them."""
    html = markdown.markdown(body, extensions=["tables", "sane_lists"])
    def texts(pattern):
        return [re.sub(r"<[^>]+>", "", m).split("\n")[0].strip()
                for m in re.findall(pattern, html, re.S)]
    return {
        "headings": re.findall(r"<(h\d)>(.*?)</h\d>", html),
        "items": texts(r"<li>(.*?)(?:</li>|<[uo]l>)"),
        "cells": texts(r"<t[dh]>(.*?)</t[dh]>"),
        "lists": re.findall(r"<(ul|ol)>", html),
        "strong": re.findall(r"<strong>(.*?)</strong>", html),
        "em": re.findall(r"<em>(.*?)</em>", html),
    }


def test_round_trip_keeps_the_structure(db, effective_doc):
    data = export_revision(db, effective_doc.current_revision, "001")
    check_package(data, "copy.docx")
    result = convert(data)
    assert structure(result.markdown) == structure(PROCEDURE_BODY)
    assert result.title == "投诉处理程序"
    assert [item["kind"] for item in result.unconverted] == ["qms_cover"]


def post_new(client, data: bytes, filename: str = "规范.docx", **fields):
    form = {"file": (io.BytesIO(data), filename), "title": "", "kind": "procedure",
            "department": "KF", "family": "standard", **fields}
    return client.post("/documents/import-docx", data=form, content_type="multipart/form-data")


def stored(app) -> tuple[int, int, int, list[str]]:
    with app.app_context():
        from qms.db import new_session

        with new_session() as s:
            counts = tuple(s.scalar(sa.select(sa.func.count()).select_from(m))
                           for m in (Document, Attachment, WordImport))
    folder = app.config["DATA_DIR"] / "attachments"
    files = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    return (*counts, files)  # type: ignore[return-value]


def test_import_as_new_document_lists_what_could_not_be_converted(app, client_as, users):
    clerk = client_as("clerk")
    response = post_new(clerk, rich_docx())
    assert response.status_code == 302, response.data.decode()
    page = clerk.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    for kind in ("text_box", "footnote", "comment", "equation", "smartart", "tracked_change"):
        assert f'data-kind="{kind}"' in html, kind
    assert "文本框里的话" in html and "请核实" in html
    with app.app_context():
        from qms.db import get_session

        s = get_session()
        document = s.scalar(sa.select(Document))
        body = document.working_revision.body
        record = s.scalar(sa.select(WordImport))
        attachment = s.scalar(sa.select(Attachment))
        assert document.title == "服务规范"
        assert document.status == RevState.DRAFT
        assert body.startswith("# 服务规范")
        assert "**加粗**" in body and "*斜体*" in body
        assert "1. 第一条\n2. 第二条" in body and "- 要点" in body
        assert "新增的字" in body and "删掉的字" not in body
        assert f"(/attachments/{attachment.sha256})" in body
        assert record.image_count == 1
        assert {i["kind"] for i in record.unconverted} >= {"text_box", "equation", "comment"}
    assert (app.config["DATA_DIR"] / "attachments" / attachment.sha256).is_file()
    image = clerk.get(f"/attachments/{attachment.sha256}")
    image.close()
    assert image.status_code == 200 and image.mimetype == "image/png"


@pytest.mark.parametrize(("data", "filename", "status", "words"), [
    (plain_docx(), "规范.doc", 415, "Only Word .docx"),
    (b"%PDF-1.7\n" + b"x" * 500, "scan.docx", 415, "not a Word document"),
    (renamed_xlsx(), "table.docx", 415, "spreadsheet"),
    (broken_zip(), "broken.docx", 422, "damaged"),
    (encrypted_docx(), "secret.docx", 422, "password-protected"),
    (old_doc(), "old.docx", 415, "97"),
    (zip_bomb(), "bomb.docx", 422, "zip bomb"),
    (b"", "empty.docx", 422, "empty"),
], ids=["wrong-extension", "renamed-pdf", "renamed-xlsx", "broken-zip", "encrypted", "old-doc",
        "zip-bomb", "empty"])
def test_bad_files_are_refused_and_nothing_is_stored(app, client_as, users, data, filename,
                                                     status, words):
    before = stored(app)
    clerk = client_as("clerk")
    chinese = post_new(clerk, data, filename)
    assert chinese.status_code == status
    assert 'role="alert"' in chinese.get_data(as_text=True) or "error" in chinese.get_data(
        as_text=True)
    clerk.post("/lang/en", data={"next": "/"})  # the same refusal, read in English
    response = post_new(clerk, data, filename)
    assert response.status_code == status
    assert words in response.get_data(as_text=True)
    assert stored(app) == before


def test_corrupt_part_inside_a_valid_zip_is_refused(app, client_as, users):
    data = bytearray(plain_docx())
    start = data.index(b"word/document.xml") + len(b"word/document.xml")
    for i in range(start + 10, start + 60):
        data[i] ^= 0x55
    before = stored(app)
    response = post_new(client_as("clerk"), bytes(data), "corrupt.docx")
    assert response.status_code == 422
    assert stored(app) == before


def test_oversized_upload_is_413(database_url, tmp_path, users):
    small = make_test_app(database_url, tmp_path, MAX_UPLOAD_MB=1)
    client = small.test_client()
    client.post("/login", data={"username": "clerk", "password": "correct-horse-battery"})
    before = stored(small)
    # multipart encoded here: the test client would spool a large upload to an unclosed file
    boundary = "qmsboundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.docx"'
            '\r\nContent-Type: application/octet-stream\r\n\r\n').encode() + plain_docx() + (
        b"\0" * (1024 * 1024 + 10)) + f"\r\n--{boundary}--\r\n".encode()
    response = client.post("/documents/import-docx", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert "1 MB" in response.get_data(as_text=True)
    assert stored(small) == before


def test_zip_bomb_by_unpacked_total_is_413():
    from qms.errors import TooLarge
    from qms.word.package import ImportLimits

    with pytest.raises(TooLarge):
        check_package(zip_bomb(), "bomb.docx",
                      ImportLimits(max_unpacked_bytes=10 * 1024 * 1024, max_ratio=10_000))


def test_staff_may_not_import(client_as, users):
    assert post_new(client_as("staff"), plain_docx()).status_code == 403


def test_import_as_new_revision_of_an_effective_document(app, client_as, db, effective_doc):
    clerk = client_as("manager")
    form = {"file": (io.BytesIO(plain_docx("新的正文")), "新版.docx"),
            "change_summary": "按新流程修订", "major_change": "y"}
    response = clerk.post(f"/documents/{effective_doc.number}/import-docx", data=form,
                          content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    db.expire_all()
    working = effective_doc.working_revision
    assert working.label == "B/0" and working.state == RevState.DRAFT
    assert "新的正文" in working.body
    assert effective_doc.current_revision.state == RevState.EFFECTIVE


def test_import_into_the_draft_in_work_needs_the_current_hash(app, client_as, db, draft_doc):
    manager = client_as("manager")
    page = manager.get(f"/documents/{draft_doc.number}/import-docx")
    assert page.status_code == 200
    current = draft_doc.working_revision.content_sha256
    assert current in page.get_data(as_text=True)
    def post(base_hash):
        form = {"file": (io.BytesIO(plain_docx("替换正文")), "x.docx"),
                "change_summary": "整体替换", "base_hash": base_hash}
        return manager.post(f"/documents/{draft_doc.number}/import-docx", data=form,
                            content_type="multipart/form-data")
    assert post("0" * 64).status_code == 409
    assert post(current).status_code == 302
    db.expire_all()
    revision = db.get(Revision, draft_doc.working_revision_id)
    assert "替换正文" in revision.body and revision.label == "A/0"
