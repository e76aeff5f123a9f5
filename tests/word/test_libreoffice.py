"""Word copies re-saved by LibreOffice import as they were exported (issue 13, item 6):
the cover and approval tables stay out of the body although LibreOffice drops their
captions, and numbered lists keep counting although it gives each item its own numId."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from qms.word.export_docx import export_revision
from qms.word.import_docx import check_package, convert
from tests.word import hostile
from tests.word.conftest import PROCEDURE_BODY
from tests.word.test_import import structure

SOFFICE = shutil.which("soffice")


def resaved_by_libreoffice(data: bytes, tmp_path) -> bytes:
    source = tmp_path / "copy.docx"
    source.write_bytes(data)
    out = tmp_path / "out"
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "docx",
            "--outdir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return (out / "copy.docx").read_bytes()


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_controlled_copy_resaved_by_libreoffice_imports_as_exported(db, effective_doc, tmp_path):
    exported = export_revision(db, effective_doc.current_revision, "001")
    resaved = resaved_by_libreoffice(exported, tmp_path)
    assert b"qms-cover" not in resaved  # LibreOffice dropped the table captions
    check_package(resaved, "copy.docx")
    result = convert(resaved)
    assert structure(result.markdown) == structure(PROCEDURE_BODY)
    for cover_text in ("文件编号", "签署含义", "分发号", "审批记录"):
        assert cover_text not in result.markdown
    assert "1. 客户服务中心负责受理投诉\n2. 相关部门负责处理" in result.markdown
    assert "3. 品质管理中心" in result.markdown
    # the report tells the truth: the cover was left out, the header is the system's own
    assert [item["kind"] for item in result.unconverted] == ["qms_cover"]


NUMBERING = b"""<?xml version="1.0" encoding="UTF-8"?>
<w:numbering xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:abstractNum w:abstractNumId="7"><w:lvl w:ilvl="0"><w:numFmt w:val="decimal"/></w:lvl>
</w:abstractNum>
<w:num w:numId="12"><w:abstractNumId w:val="7"/><w:lvlOverride w:ilvl="0">
<w:startOverride w:val="1"/></w:lvlOverride></w:num>
<w:num w:numId="7"><w:abstractNumId w:val="7"/></w:num>
<w:num w:numId="20"><w:abstractNumId w:val="7"/><w:lvlOverride w:ilvl="0">
<w:startOverride w:val="1"/></w:lvlOverride></w:num>
</w:numbering>"""
DOCUMENT_RELS = b"""<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Target="numbering.xml"
 Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/numbering"/>
</Relationships>"""


def numbered(num_id: int, text: str) -> bytes:
    return (
        f'<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="{num_id}"/>'
        f"</w:numPr></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>"
    ).encode()


def test_items_of_one_list_under_different_num_ids_keep_counting(app):
    """As LibreOffice writes a list: the first item restarts (numId 12), the others
    continue the same abstract list (numId 7); numId 20 restarts it."""
    data = hostile.docx(
        b"".join(
            hostile.body(
                [
                    numbered(12, "一"),
                    numbered(7, "二"),
                    numbered(7, "三"),
                    hostile.paragraph("正文"),
                    numbered(20, "甲"),
                    numbered(7, "乙"),
                ]
            )
        ),
        {"word/numbering.xml": NUMBERING, "word/_rels/document.xml.rels": DOCUMENT_RELS},
    )
    with app.test_request_context():
        markdown = convert(data).markdown
    assert markdown == "1. 一\n2. 二\n3. 三\n\n正文\n\n1. 甲\n2. 乙\n"
