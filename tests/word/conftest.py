"""Fixtures and builders for Word export and import tests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Any

import pytest
import sqlalchemy as sa
from docx import Document as new_docx
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from qms.auth.models import User
from qms.documents import service
from qms.documents.models import Document
from tests.factories import TEST_PASSWORD, make_document

PROCEDURE_BODY = """## 目的

为规范**投诉**处理，*明确*职责，制定本程序。

## 职责

1. 客户服务中心负责受理投诉
2. 相关部门负责处理
    - 工程服务部：维修类投诉
    - 安全管理部：治安类投诉
        1. 夜间值班
        2. 白天巡逻
3. 品质管理中心负责**回访**与统计

- 投诉记录保存两年
- 每月汇总一次

### 处理时限

| 类别 | 时限 | 责任部门 |
|---|---|---|
| 一般投诉 | 3 个工作日 | 客户服务中心 |
| 紧急投诉 | 24 小时 | 相关部门 |
"""


def user(db: Any, username: str) -> User:
    found = db.scalar(sa.select(User).where(User.username == username))
    assert found is not None
    return found


@pytest.fixture
def effective_doc(db: Any, users: dict[str, int]) -> Document:
    """An effective procedure of KF, approved by the demo approver, issued by the clerk."""
    doc = make_document(db, state="effective", author=user(db, "manager"),
                        reviewer=user(db, "reviewer"), approver=user(db, "approver"),
                        clerk=user(db, "clerk"), kind="procedure", title="投诉处理程序",
                        body=PROCEDURE_BODY)
    db.commit()
    return doc


@pytest.fixture
def draft_doc(db: Any, users: dict[str, int]) -> Document:
    doc = make_document(db, state="draft", author=user(db, "manager"), title="草稿制度")
    db.commit()
    return doc


def supersede(db: Any, doc: Document) -> None:
    """Drive a second revision to effective, so the first is superseded."""
    manager, clerk = user(db, "manager"), user(db, "clerk")
    revision = service.revise(db, manager, doc, major_change=True, change_summary="改版")
    service.submit_for_review(db, manager, revision, reviewers=[user(db, "reviewer")],
                              approver=user(db, "approver"), password=TEST_PASSWORD,
                              content_sha256=revision.content_sha256)
    service.review(db, user(db, "reviewer"), revision, password=TEST_PASSWORD,
                   content_sha256=revision.content_sha256)
    service.approve(db, user(db, "approver"), revision, password=TEST_PASSWORD,
                    content_sha256=revision.content_sha256)
    service.issue(db, clerk, revision, password=TEST_PASSWORD,
                  content_sha256=revision.content_sha256)
    db.commit()


def docx_bytes(doc: Any) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def plain_docx(text: str = "正文") -> bytes:
    doc = new_docx()
    doc.add_heading("标题", level=1)
    doc.add_paragraph(text)
    return docx_bytes(doc)


PNG_1PX = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR"
           + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
           + struct.pack(">I", zlib.crc32(b"IHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)))
           + struct.pack(">I", 12) + b"IDAT" + zlib.compress(b"\x00\xff\x00\x00")
           + struct.pack(">I", zlib.crc32(b"IDAT" + zlib.compress(b"\x00\xff\x00\x00")))
           + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def rich_docx() -> bytes:
    """Convertible content plus one of each kind that cannot be converted."""
    doc = new_docx()
    doc.add_heading("服务规范", level=1)
    para = doc.add_paragraph("普通文字，")
    para.add_run("加粗").bold = True
    para.add_run("与")
    para.add_run("斜体").italic = True
    doc.add_paragraph("第一条", style="List Number")
    doc.add_paragraph("第二条", style="List Number")
    doc.add_paragraph("要点", style="List Bullet")
    doc.add_picture(io.BytesIO(PNG_1PX))
    # a text box (VML, as older Word writes it)
    box = doc.add_paragraph()
    box._p.append(parse_xml(
        f'<w:r {nsdecls("w")} xmlns:v="urn:schemas-microsoft-com:vml"><w:pict><v:shape>'
        '<v:textbox><w:txbxContent><w:p><w:r><w:t>文本框里的话</w:t></w:r></w:p>'
        '</w:txbxContent></v:textbox></v:shape></w:pict></w:r>'))
    # an equation
    eq = doc.add_paragraph("公式：")
    eq._p.append(parse_xml(
        f'<m:oMath {nsdecls("m")}><m:r><m:t>E=mc2</m:t></m:r></m:oMath>'))
    # tracked changes
    tracked = doc.add_paragraph("修订：")
    tracked._p.append(parse_xml(
        f'<w:ins {nsdecls("w")} w:id="1" w:author="甲" w:date="2024-01-01T00:00:00Z">'
        '<w:r><w:t>新增的字</w:t></w:r></w:ins>'))
    tracked._p.append(parse_xml(
        f'<w:del {nsdecls("w")} w:id="2" w:author="甲" w:date="2024-01-01T00:00:00Z">'
        '<w:r><w:delText>删掉的字</w:delText></w:r></w:del>'))
    # a footnote reference
    note = doc.add_paragraph("见脚注")
    note._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:footnoteReference w:id="1"/></w:r>'))
    # SmartArt
    art = doc.add_paragraph()
    art._p.append(parse_xml(
        f'<w:r {nsdecls("w", "wp", "a")}><w:drawing><wp:inline><wp:extent cx="1" cy="1"/>'
        '<wp:docPr id="99" name="diagram"/><a:graphic><a:graphicData '
        'uri="http://schemas.openxmlformats.org/drawingml/2006/diagram"/></a:graphic>'
        '</wp:inline></w:drawing></w:r>'))
    # a comment
    commented = doc.add_paragraph("有批注的段落")
    doc.add_comment(commented.runs, text="请核实", author="审核员")
    return docx_bytes(doc)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def zip_bomb() -> bytes:
    """A real .docx with one part that inflates 1000×."""
    with zipfile.ZipFile(io.BytesIO(plain_docx())) as src:
        members = {m.filename: src.read(m) for m in src.infolist()}
    members["word/media/filler.bin"] = b"\0" * (16 * 1024 * 1024)
    return zip_bytes(members)


def encrypted_docx() -> bytes:
    """What Word writes for a password-protected .docx: an OLE compound file with an
    EncryptionInfo stream."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504
    directory = "EncryptionInfo".encode("utf-16-le") + b"\0" * 50
    return header + directory + b"\0" * 4096


def old_doc() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + "WordDocument".encode(
        "utf-16-le") + b"\0" * 4096


def renamed_xlsx() -> bytes:
    return zip_bytes({
        "[Content_Types].xml": (
            b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            b'2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>'),
        "xl/workbook.xml": b"<workbook/>",
    })


def broken_zip() -> bytes:
    data = plain_docx()
    return data[: len(data) // 2]
