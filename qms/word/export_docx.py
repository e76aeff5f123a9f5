"""A revision as a Word (.docx) controlled copy, and the register as a .docx table.

The printed copy is a company form: its marks (受控文件, 非受控, 作废, 第 X 页 共 Y 页) and
field names are fixed Chinese whatever the reader's UI language, like the stamp on paper.
The body is the revision's Markdown rendered to sanitised HTML (qms.markup, the same HTML
the web page shows) and walked element by element into Word paragraphs, lists and tables.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
from docx import Document as new_docx
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree
from sqlalchemy.orm import Session

from qms import markup
from qms.auth.models import Meaning, Signature
from qms.documents.lifecycle import RevState
from qms.documents.models import Revision

BODY_FONT = "宋体"  # SimSun
HEADING_FONT = "黑体"  # SimHei
LATIN_FONT = "Times New Roman"
MONO_FONT = "Consolas"

CONTROLLED = "受控文件"
UNCONTROLLED = "非受控"
OBSOLETE = "作废"

# Markers the importer recognises, so a re-imported copy does not take its own cover and
# approval page for body text.
COVER_STYLE = "QMS Cover"
COVER_TABLE = "qms-cover"
APPROVAL_TABLE = "qms-approval"
HEADER_TABLE = "qms-header"
COVER_TITLE_STYLE = "QMS Cover Title"

MEANING_ZH = {
    Meaning.AUTHORED: "起草",
    Meaning.REVIEWED: "审核",
    Meaning.APPROVED: "批准",
    Meaning.ISSUED: "发布",
    Meaning.WITHDRAWN: "作废",
    Meaning.READ: "阅知",
    Meaning.ACKNOWLEDGED: "确认",
}
STATE_ZH = {
    RevState.DRAFT: "草稿",
    RevState.IN_REVIEW: "审核中",
    RevState.APPROVED: "已批准",
    RevState.EFFECTIVE: "生效",
    RevState.SUPERSEDED: "已替代",
    RevState.OBSOLETE: "作废",
    RevState.CANCELLED: "已取消",
}
KIND_ZH = {
    "quality_manual": "质量手册", "policy": "质量方针和目标", "procedure": "程序文件",
    "regulation": "制度", "process": "流程", "job_description": "岗位职责",
    "work_instruction": "作业指导书", "form": "表单/记录", "external": "外来文件",
}
ENDED = (RevState.SUPERSEDED, RevState.OBSOLETE, RevState.CANCELLED)
ATTACHMENT_SRC = re.compile(r"^/attachments/([0-9a-f]{64})$")

BULLET_ABSTRACT_ID = 9001
ORDERED_ABSTRACT_ID = 9002
BULLET_GLYPHS = ["●", "○", "■"]
ORDERED_TEXT = ["%1.", "(%2)", "%3)", "%4.", "(%5)", "%6)", "%7.", "(%8)", "%9)"]
INDENT_TWIPS = 420


@dataclass
class CopyMarks:
    """What the header says about this copy."""

    controlled: bool
    copy_number: str | None
    watermark: str | None


def marks_for(state: RevState, copy_number: str | None) -> CopyMarks:
    if state in ENDED:
        return CopyMarks(False, None, OBSOLETE)
    if copy_number:
        return CopyMarks(True, copy_number, None)
    return CopyMarks(False, None, UNCONTROLLED)


@dataclass
class SignatureLine:
    printed_name: str
    meaning: str
    signed_at: str
    voided: bool = False
    comment: str = ""
    invalid: str = ""  # why the signature no longer holds, printed on the approval page


@dataclass
class CopyData:
    """Everything printed on a copy, gathered from the database once."""

    number: str
    title: str
    label: str
    state: RevState
    kind: str
    department: str
    effective_date: date | None
    change_summary: str
    body: str
    signatures: list[SignatureLine] = field(default_factory=list)
    voided_signatures: int = 0  # voided by an edit or a rejection: not printed
    invalid_signatures: int = 0  # broken, or over content changed since: not printed
    zone: str = ""  # the time zone of the signing times, named on the approval page


# -- entry points ---------------------------------------------------------------------------

def export_revision(session: Session, revision: Revision, copy_number: str | None = None, *,
                    attachment_dir: Path | None = None, tz: str | None = None) -> bytes:
    """The .docx of one revision: header with number, title, revision, effective date and
    page X of Y on every page; 受控文件 with the copy number, or a 非受控/作废 watermark; an
    approval page; the body. The caller checks who may have it."""
    from qms.auth.signatures import SignatureStatus, signatures_for, status_of
    from qms.documents.integrity import current_content_hashes

    zone = ZoneInfo(tz or record_zone())
    document = revision.document
    current = current_content_hashes(session, [revision.id]).get(revision.id, "")
    # Only signatures that still hold: not voided by an edit or a rejection, not broken,
    # not over content that changed since. A read-and-understood signature is no approval.
    signed = [s for s in signatures_for(session, "revision", [revision.id])
              if s.meaning != Meaning.READ]
    statuses = [status_of(s, current) for s in signed]
    valid = [s for s, status in zip(signed, statuses, strict=True)
             if status == SignatureStatus.VALID]
    lines = [
        SignatureLine(
            printed_name=s.printed_name,
            meaning=MEANING_ZH.get(s.meaning, str(s.meaning)),
            signed_at=_local(s, zone),
            comment=s.comment,
        )
        for s in valid
    ]
    data = CopyData(
        number=document.number, title=revision.title, label=revision.label,
        state=revision.state, kind=KIND_ZH.get(str(document.kind), str(document.kind)),
        department=document.department.name, effective_date=revision.effective_date,
        change_summary=revision.change_summary, body=revision.body, signatures=lines,
        voided_signatures=statuses.count(SignatureStatus.VOIDED),
        invalid_signatures=len(signed) - len(valid) - statuses.count(SignatureStatus.VOIDED),
        zone=zone_name(zone),
    )
    return build_copy(data, copy_number, attachment_dir=attachment_dir)


def build_copy(data: CopyData, copy_number: str | None = None, *,
               attachment_dir: Path | None = None) -> bytes:
    marks = marks_for(data.state, copy_number)
    doc = new_docx()
    props = doc.core_properties
    props.title, props.identifier, props.version = data.title, data.number, data.label
    props.author = props.last_modified_by = "QMS"
    _setup_page_and_styles(doc)
    _write_header(doc, data, marks)
    _write_cover(doc, data, marks)
    writer = BodyWriter(doc, attachment_dir)
    writer.write_markdown(data.body)
    return _save(doc)


def export_register(rows: Iterable[Mapping[str, Any]], *, title: str = "受控文件清单",
                    printed_on: date | None = None) -> bytes:
    """The document register as a landscape .docx table. Each row is a mapping with
    number, title, kind, department, revision, status, effective_date, next_review_date."""
    columns = [("number", "文件编号", 3.2), ("title", "文件名称", 7.5), ("kind", "类别", 2.6),
               ("department", "部门", 3.0), ("revision", "版本", 1.6), ("status", "状态", 2.0),
               ("effective_date", "生效日期", 2.6), ("next_review_date", "下次评审", 2.6)]
    doc = new_docx()
    _setup_page_and_styles(doc, landscape=True)
    section = doc.sections[0]
    para = section.header.paragraphs[0]
    para.text = title
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_x_of_y(footer)
    heading = doc.add_paragraph(title, style="Title")
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(f"打印日期：{(printed_on or date.today()).isoformat()}")
    body_rows = list(rows)
    table = doc.add_table(rows=1 + len(body_rows), cols=len(columns))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _repeat_header(table)
    for i, (_key, label, _w) in enumerate(columns):
        _cell_text(table.cell(0, i), label, bold=True)
    for r, row in enumerate(body_rows, start=1):
        cells = table.rows[r].cells
        for i, (key, _label, _w) in enumerate(columns):
            _cell_text(cells[i], _display(row.get(key)))
    for i, (_key, _label, width) in enumerate(columns):
        for cell in table.columns[i].cells:
            cell.width = Cm(width)
    doc.add_paragraph(f"共 {len(body_rows)} 份文件")
    return _save(doc)


# -- page, styles, header ---------------------------------------------------------------

def record_zone() -> str:
    """The reader's zone, as the pages show times (Flask-Babel's zone), else the company's."""
    try:
        from flask import current_app
        from flask_babel import get_timezone

        try:
            return str(get_timezone())
        except (AttributeError, RuntimeError, KeyError):
            return str(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai")
    except RuntimeError:  # outside an app (benchmarks, scripts)
        return "Asia/Shanghai"


def zone_name(zone: ZoneInfo, when: datetime | None = None) -> str:
    """"Asia/Shanghai (UTC+08:00)": the zone a printed time is in, said on the record."""
    offset = (when or datetime.now(UTC)).astimezone(zone).strftime("%z")
    return f"{zone.key} (UTC{offset[:3]}:{offset[3:]})"


def _local(signature: Signature, zone: ZoneInfo) -> str:
    signed: datetime = signature.signed_at
    return signed.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _save(doc: Any) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _set_fonts(rpr_owner: Any, east_asia: str, latin: str = LATIN_FONT) -> None:
    rpr = rpr_owner.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)


def _setup_page_and_styles(doc: Any, *, landscape: bool = False) -> None:
    section = doc.sections[0]
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    else:
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.top_margin = section.bottom_margin = Cm(2.5)
    section.left_margin = section.right_margin = Cm(2.2)
    section.header_distance = section.footer_distance = Cm(1.2)
    styles = doc.styles
    normal = styles["Normal"]
    normal.font.size = Pt(10.5)
    _set_fonts(normal.element, BODY_FONT)
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3", "Heading 4", "Heading 5",
                 "Heading 6"):
        style = styles[name]
        _set_fonts(style.element, HEADING_FONT, "Arial")
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.font.italic = False
    styles["Title"].font.size = Pt(18)
    for level, size in zip(range(1, 7), (16, 14, 12, 11, 10.5, 10.5), strict=True):
        styles[f"Heading {level}"].font.size = Pt(size)
    from docx.enum.style import WD_STYLE_TYPE

    cover = styles.add_style(COVER_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    cover.base_style = normal
    cover_title = styles.add_style(COVER_TITLE_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    cover_title.base_style = styles["Title"]
    _add_list_definitions(doc)


def _write_header(doc: Any, data: CopyData, marks: CopyMarks) -> None:
    header = doc.sections[0].header
    header.is_linked_to_previous = False
    width = doc.sections[0].page_width - doc.sections[0].left_margin - doc.sections[0].right_margin
    table = header.add_table(rows=2, cols=3, width=width)
    table.style = doc.styles["Table Grid"]
    _mark_table(table, HEADER_TABLE)
    _cell_text(table.cell(0, 0), f"文件编号：{data.number}")
    _cell_text(table.cell(0, 1), data.title, bold=True, center=True)
    mark_cell = table.cell(0, 2)
    if marks.controlled:
        _cell_text(mark_cell, CONTROLLED, bold=True, center=True, color=RGBColor(0xC0, 0, 0))
        para = mark_cell.add_paragraph()
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        para.add_run(f"分发号：{marks.copy_number}").font.color.rgb = RGBColor(0xC0, 0, 0)
    else:
        _cell_text(mark_cell, marks.watermark or UNCONTROLLED, bold=True, center=True)
    _cell_text(table.cell(1, 0), f"版本：{data.label}")
    effective = data.effective_date.isoformat() if data.effective_date else "—"
    _cell_text(table.cell(1, 1), f"生效日期：{effective}", center=True)
    pages = table.cell(1, 2).paragraphs[0]
    pages.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_x_of_y(pages)
    _in_cover_style(table, doc)
    # The header's own empty first paragraph carries the watermark (anchored to the page).
    first = header.paragraphs[0]
    if marks.watermark:
        first._p.append(_watermark_run(marks.watermark))


def _page_x_of_y(paragraph: Paragraph) -> None:
    paragraph.add_run("第 ")
    _add_field(paragraph, "PAGE", "1")
    paragraph.add_run(" 页 共 ")
    _add_field(paragraph, "NUMPAGES", "1")
    paragraph.add_run(" 页")


def _add_field(paragraph: Paragraph, instruction: str, shown: str) -> None:
    """A real Word field (begin / instruction / separate / cached result / end)."""
    def char(kind: str) -> Any:
        run = OxmlElement("w:r")
        fld = OxmlElement("w:fldChar")
        fld.set(qn("w:fldCharType"), kind)
        if kind == "begin":
            fld.set(qn("w:dirty"), "true")
        run.append(fld)
        return run

    p = paragraph._p
    p.append(char("begin"))
    instr_run = OxmlElement("w:r")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    instr_run.append(instr)
    p.append(instr_run)
    p.append(char("separate"))
    result = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = shown
    result.append(text)
    p.append(result)
    p.append(char("end"))


VML_NS = ('xmlns:v="urn:schemas-microsoft-com:vml" '
          'xmlns:o="urn:schemas-microsoft-com:office:office" '
          'xmlns:w10="urn:schemas-microsoft-com:office:word"')


def _watermark_run(text: str) -> Any:
    """Word's own text watermark: a VML WordArt shape in the header, behind the text."""
    return parse_xml(
        f'<w:r {nsdecls("w")} {VML_NS}><w:rPr><w:noProof/></w:rPr><w:pict>'
        '<v:shapetype id="_x0000_t136" coordsize="21600,21600" o:spt="136" adj="10800" '
        'path="m@7,l@8,m@5,21600l@6,21600e"><v:formulas>'
        '<v:f eqn="sum #0 0 10800"/><v:f eqn="prod #0 2 1"/><v:f eqn="sum 21600 0 @1"/>'
        '<v:f eqn="sum 0 0 @2"/><v:f eqn="sum 21600 0 @3"/><v:f eqn="if @0 @3 0"/>'
        '<v:f eqn="if @0 21600 @1"/><v:f eqn="if @0 0 @2"/><v:f eqn="if @0 @4 21600"/>'
        '<v:f eqn="mid @5 @6"/><v:f eqn="mid @8 @5"/><v:f eqn="mid @7 @8"/>'
        '<v:f eqn="mid @6 @7"/><v:f eqn="sum @6 0 @5"/></v:formulas>'
        '<v:path textpathok="t" o:connecttype="custom" '
        'o:connectlocs="@9,0;@10,10800;@11,21600;@12,10800" o:connectangles="270,180,90,0"/>'
        '<v:textpath on="t" fitshape="t"/><v:handles><v:h position="#0,bottomRight" '
        'xrange="6629,14971"/></v:handles><o:lock v:ext="edit" text="t" shapetype="t"/>'
        '</v:shapetype>'
        '<v:shape id="PowerPlusWaterMarkObject1" o:spid="_x0000_s2049" type="#_x0000_t136" '
        'style="position:absolute;margin-left:0;margin-top:0;width:420pt;height:210pt;'
        'rotation:315;z-index:-251657216;mso-position-horizontal:center;'
        'mso-position-horizontal-relative:margin;mso-position-vertical:center;'
        'mso-position-vertical-relative:margin" o:allowincell="f" fillcolor="#c0c0c0" '
        'stroked="f"><v:fill opacity=".5"/>'
        f'<v:textpath style="font-family:&quot;{BODY_FONT}&quot;;font-size:1pt" '
        f'string="{text}"/><w10:wrap anchorx="margin" anchory="margin"/></v:shape>'
        '</w:pict></w:r>'
    )


def _write_cover(doc: Any, data: CopyData, marks: CopyMarks) -> None:
    title = doc.add_paragraph(data.title, style=COVER_TITLE_STYLE)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.keep_with_next = True
    info = [
        ("文件编号", data.number), ("文件名称", data.title), ("版本", data.label),
        ("类别", data.kind), ("编制部门", data.department),
        ("生效日期", data.effective_date.isoformat() if data.effective_date else "—"),
        ("状态", STATE_ZH.get(data.state, str(data.state))),
        ("发放", f"{CONTROLLED}（分发号 {marks.copy_number}）" if marks.controlled
         else (marks.watermark or UNCONTROLLED)),
        ("修订说明", data.change_summary or "—"),
    ]
    table = doc.add_table(rows=len(info), cols=2)
    table.style = doc.styles["Table Grid"]
    _mark_table(table, COVER_TABLE)
    for i, (label, value) in enumerate(info):
        _cell_text(table.cell(i, 0), label, bold=True)
        _cell_text(table.cell(i, 1), value)
        table.cell(i, 0).width = Cm(3.5)
        table.cell(i, 1).width = Cm(13.1)
    doc.add_paragraph("审批记录", style=COVER_STYLE).runs[0].bold = True
    sigs = doc.add_table(rows=1 + max(len(data.signatures), 1), cols=4)
    sigs.style = doc.styles["Table Grid"]
    _mark_table(sigs, APPROVAL_TABLE)
    _repeat_header(sigs)
    when = f"签署时间（{data.zone}）" if data.zone else "签署时间"
    for i, label in enumerate(("签署含义", "签署人", when, "备注")):
        _cell_text(sigs.cell(0, i), label, bold=True)
    if not data.signatures:
        _cell_text(sigs.cell(1, 0), "—")
        _cell_text(sigs.cell(1, 1), "尚无有效签署")
    for row, line in enumerate(data.signatures, start=1):
        _cell_text(sigs.cell(row, 0), line.meaning)
        _cell_text(sigs.cell(row, 1), line.printed_name)
        _cell_text(sigs.cell(row, 2), line.signed_at)
        _cell_text(sigs.cell(row, 3), line.comment)
    if data.invalid_signatures:
        warning = doc.add_paragraph(style=COVER_STYLE).add_run(
            f"另有 {data.invalid_signatures} 个签署无效（签署后内容或签名记录被改动），"
            "未列入本页；请向品质管理中心核实。")
        warning.bold = True
        warning.font.color.rgb = RGBColor(0xC0, 0x00, 0x00)
    if data.voided_signatures:
        doc.add_paragraph(f"另有 {data.voided_signatures} 个签署已撤销，未列入本页。",
                          style=COVER_STYLE)
    _in_cover_style(table, doc)
    _in_cover_style(sigs, doc)
    end = doc.add_paragraph(style=COVER_STYLE)
    end.add_run().add_break(WD_BREAK.PAGE)


def _in_cover_style(table: Table, doc: Any) -> None:
    """Every paragraph of the table in the cover style: the table caption marks it for the
    import, but LibreOffice drops captions; paragraph styles survive it and Word."""
    style = doc.styles[COVER_STYLE]
    for row in table.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                paragraph.style = style


def _mark_table(table: Table, name: str) -> None:
    tbl_pr = table._tbl.tblPr
    caption = OxmlElement("w:tblCaption")
    caption.set(qn("w:val"), name)
    tbl_pr.append(caption)


def _repeat_header(table: Table) -> None:
    tr_pr = table.rows[0]._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    tr_pr.append(flag)


def _cell_text(cell: Any, text: str, *, bold: bool = False, center: bool = False,
               color: RGBColor | None = None, strike: bool = False) -> None:
    para = cell.paragraphs[0]
    if center:
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = para.add_run(text)
    if bold:
        run.bold = True
    if strike:
        run.font.strike = True
    if color is not None:
        run.font.color.rgb = color


# -- lists ---------------------------------------------------------------------------------

def _add_list_definitions(doc: Any) -> None:
    numbering = doc.part.numbering_part.element
    for abstract_id, ordered in ((BULLET_ABSTRACT_ID, False), (ORDERED_ABSTRACT_ID, True)):
        levels = []
        for lvl in range(9):
            fmt = "decimal" if ordered else "bullet"
            text = ORDERED_TEXT[lvl] if ordered else BULLET_GLYPHS[lvl % 3]
            left = INDENT_TWIPS * (lvl + 1)
            levels.append(
                f'<w:lvl w:ilvl="{lvl}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>'
                f'<w:lvlText w:val="{text}"/><w:lvlJc w:val="left"/>'
                f'<w:pPr><w:ind w:left="{left}" w:hanging="{INDENT_TWIPS}"/></w:pPr></w:lvl>')
        element = parse_xml(
            f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{abstract_id}">'
            f'<w:multiLevelType w:val="hybridMultilevel"/>{"".join(levels)}</w:abstractNum>')
        first_num = numbering.find(qn("w:num"))
        if first_num is not None:
            first_num.addprevious(element)
        else:
            numbering.append(element)


# -- body ------------------------------------------------------------------------------------

INLINE_TAGS = {"strong", "b", "em", "i", "code", "a", "br", "del", "s", "ins", "sup", "sub",
               "span", "img", "u"}


@dataclass
class RunStyle:
    bold: bool = False
    italic: bool = False
    mono: bool = False
    strike: bool = False
    superscript: bool = False
    subscript: bool = False


class BodyWriter:
    """Walks the HTML of a Markdown body and writes Word paragraphs, lists and tables.

    Elements are built with lxml directly: python-docx's proxies look styles up by name
    and recompute table grids on every access, which made a 50-page body take seconds."""

    def __init__(self, doc: Any, attachment_dir: Path | None = None) -> None:
        self.doc = doc
        self.attachment_dir = attachment_dir
        self.numbering = doc.part.numbering_part.element
        self.style_ids = {name: doc.styles[name].style_id for name in (
            "List Paragraph", "Quote", "Table Grid", *(f"Heading {n}" for n in range(1, 7)))}
        self.next_num_id = 1 + max((int(n.get(qn("w:numId"))) for n in
                                    self.numbering.findall(qn("w:num"))), default=0)
        self.body = doc.element.body
        self.sect_pr = self.body.find(qn("w:sectPr"))
        self.text_width = int(doc.sections[0].page_width - doc.sections[0].left_margin
                              - doc.sections[0].right_margin)

    def write_markdown(self, body: str) -> None:
        html = markup.render(body)
        if not html.strip():
            return
        root = lxml.html.fragment_fromstring(html, create_parent="div")
        self._blocks(root, None)

    # element helpers; parent None means the document body (before its sectPr)
    def _place(self, element: Any, parent: Any) -> Any:
        if parent is None:
            if self.sect_pr is not None:
                self.sect_pr.addprevious(element)
            else:
                self.body.append(element)
        else:
            parent.append(element)
        return element

    def _p(self, parent: Any, style: str | None = None) -> Any:
        p = etree.Element(_W_P)
        if style is not None:
            p_pr = etree.SubElement(p, _W_PPR)
            etree.SubElement(p_pr, _W_PSTYLE).set(_W_VAL, self.style_ids[style])
        return self._place(p, parent)

    @staticmethod
    def _p_pr(p: Any) -> Any:
        p_pr = p.find(_W_PPR)
        if p_pr is None:
            p_pr = etree.Element(_W_PPR)
            p.insert(0, p_pr)
        return p_pr

    # blocks
    def _blocks(self, parent_html: Any, parent: Any) -> None:
        if parent_html.text and parent_html.text.strip():
            self._text(self._p(parent), parent_html.text.strip(), RunStyle())
        for child in parent_html:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag.lower()
            if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
                self._inline(self._p(parent, f"Heading {tag[1]}"), child, RunStyle())
            elif tag == "p":
                self._inline(self._p(parent), child, RunStyle())
            elif tag in {"ul", "ol"}:
                self._list(parent, child, 0)
            elif tag == "table":
                self._table(parent, child)
            elif tag == "blockquote":
                for inner in child:
                    if isinstance(inner.tag, str) and inner.tag.lower() == "p":
                        self._inline(self._p(parent, "Quote"), inner, RunStyle())
                    elif isinstance(inner.tag, str):
                        self._blocks(inner, parent)
            elif tag == "pre":
                p = self._p(parent)
                for i, line in enumerate(child.text_content().rstrip("\n").split("\n")):
                    if i:
                        etree.SubElement(etree.SubElement(p, _W_R), _W_BR)
                    self._text(p, line, RunStyle(mono=True))
            elif tag == "hr":
                self._p_pr(self._p(parent)).append(parse_xml(
                    f'<w:pBdr {nsdecls("w")}><w:bottom w:val="single" w:sz="6" w:space="1" '
                    'w:color="auto"/></w:pBdr>'))
            elif tag in INLINE_TAGS:
                self._inline_element(self._p(parent), child, RunStyle())
            else:
                self._blocks(child, parent)
            if child.tail and child.tail.strip():
                self._text(self._p(parent), child.tail.strip(), RunStyle())

    def _new_num(self, ordered: bool, level: int, start: int) -> int:
        num_id = self.next_num_id
        self.next_num_id += 1
        abstract = ORDERED_ABSTRACT_ID if ordered else BULLET_ABSTRACT_ID
        self.numbering.append(parse_xml(
            f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{abstract}"/>'
            f'<w:lvlOverride w:ilvl="{level}"><w:startOverride w:val="{start}"/></w:lvlOverride>'
            '</w:num>'))
        return num_id

    def _list(self, parent: Any, element: Any, level: int) -> None:
        ordered = element.tag.lower() == "ol"
        start = int(element.get("start") or 1) if ordered else 1
        level = min(level, 8)
        num_id = self._new_num(ordered, level, start)
        for item in element:
            if not isinstance(item.tag, str) or item.tag.lower() != "li":
                continue
            p = self._p(parent, "List Paragraph")
            num_pr = etree.SubElement(self._p_pr(p), _W_NUMPR)
            etree.SubElement(num_pr, _W_ILVL).set(_W_VAL, str(level))
            etree.SubElement(num_pr, _W_NUMID).set(_W_VAL, str(num_id))
            self._list_item(parent, p, item, level)

    def _list_item(self, parent: Any, p: Any, item: Any, level: int) -> None:
        """The item's inline text goes into its numbered paragraph; nested lists follow;
        further paragraphs of a loose item are indented under it."""
        style = RunStyle()
        if item.text:
            self._text(p, item.text, style)
        first_block = True
        for child in item:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag.lower()
            if tag in {"ul", "ol"}:
                self._list(parent, child, level + 1)
            elif tag == "p":
                if first_block and p.find(_W_R) is None:
                    self._inline(p, child, style)
                else:
                    self._inline(self._p(parent, "List Paragraph"), child, style)
                first_block = False
            elif tag in INLINE_TAGS:
                self._inline_element(p, child, style)
            else:
                self._blocks(child, parent)
            if child.tail and child.tail.strip():
                self._text(p, child.tail, style)

    def _table(self, parent: Any, element: Any) -> None:
        rows = list(element.iter("tr"))
        if not rows:
            return
        grid = [[c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
                for tr in rows]
        width = max(max(len(r) for r in grid), 1)
        col = self.text_width // width // 635  # EMU → twips
        grid_cols = f'<w:gridCol w:w="{col}"/>' * width
        tbl = parse_xml(
            f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblStyle w:val="{self.style_ids["Table Grid"]}"/>'
            '<w:tblW w:w="0" w:type="auto"/><w:tblLook w:val="04A0" w:firstRow="1" '
            'w:lastRow="0" w:firstColumn="1" w:lastColumn="0" w:noHBand="0" w:noVBand="1"/>'
            f'</w:tblPr><w:tblGrid>{grid_cols}</w:tblGrid></w:tbl>')
        header = rows[0].getparent() is not None and rows[0].getparent().tag == "thead"
        for r, cells in enumerate(grid):
            tr = etree.SubElement(tbl, _W_TR)
            if r == 0 and header:
                etree.SubElement(etree.SubElement(tr, _W_TRPR), _W_TBLHEADER)
            for c in range(width):
                tc = etree.SubElement(tr, _W_TC)
                tc_w = etree.SubElement(etree.SubElement(tc, _W_TCPR), _W_TCW)
                tc_w.set(_W_W, str(col))
                tc_w.set(_W_TYPE, "dxa")
                p = etree.SubElement(tc, _W_P)
                if c >= len(cells):
                    continue
                td = cells[c]
                align = td.get("align") or _style_align(td.get("style"))
                if align in ("center", "right"):
                    etree.SubElement(etree.SubElement(p, _W_PPR), _W_JC).set(_W_VAL, align)
                self._inline(p, td, RunStyle(bold=td.tag == "th"))
        self._place(tbl, parent)
        if parent is not None:  # a cell must end with a paragraph
            self._p(parent)

    # inline
    def _inline(self, p: Any, element: Any, style: RunStyle) -> None:
        if element.text:
            self._text(p, element.text, style)
        for child in element:
            if isinstance(child.tag, str):
                self._inline_element(p, child, style)
            if child.tail:
                self._text(p, child.tail, style)

    def _inline_element(self, p: Any, child: Any, style: RunStyle) -> None:
        tag = child.tag.lower()
        if tag == "br":
            etree.SubElement(etree.SubElement(p, _W_R), _W_BR)
            return
        if tag == "img":
            self._image(p, child)
            return
        if tag == "a":
            self._hyperlink(p, child, style)
            return
        inner = RunStyle(**vars(style))
        if tag in ("strong", "b"):
            inner.bold = True
        elif tag in ("em", "i"):
            inner.italic = True
        elif tag == "code":
            inner.mono = True
        elif tag in ("del", "s"):
            inner.strike = True
        elif tag == "sup":
            inner.superscript = True
        elif tag == "sub":
            inner.subscript = True
        self._inline(p, child, inner)

    def _run(self, parent: Any, text: str, style: RunStyle, link: bool = False) -> Any:
        r = etree.SubElement(parent, _W_R)
        if style.bold or style.italic or style.strike or style.mono or link or \
                style.superscript or style.subscript:
            r_pr = etree.SubElement(r, _W_RPR)
            if style.mono:
                fonts = etree.SubElement(r_pr, _W_RFONTS)
                fonts.set(qn("w:ascii"), MONO_FONT)
                fonts.set(qn("w:hAnsi"), MONO_FONT)
            if style.bold:
                etree.SubElement(r_pr, _W_B)
            if style.italic:
                etree.SubElement(r_pr, _W_I)
            if style.strike:
                etree.SubElement(r_pr, _W_STRIKE)
            if link:
                etree.SubElement(r_pr, _W_COLOR).set(_W_VAL, "0563C1")
                etree.SubElement(r_pr, _W_U).set(_W_VAL, "single")
            if style.superscript or style.subscript:
                etree.SubElement(r_pr, _W_VERTALIGN).set(
                    _W_VAL, "superscript" if style.superscript else "subscript")
        t = etree.SubElement(r, _W_T)
        t.set(_XML_SPACE, "preserve")
        t.text = text
        return r

    def _text(self, p: Any, text: str, style: RunStyle) -> None:
        text = text.replace("\n", " ")
        if text:
            self._run(p, text, style)

    def _hyperlink(self, p: Any, element: Any, style: RunStyle) -> None:
        href = element.get("href") or ""
        text = element.text_content()
        if not href.startswith(("http://", "https://", "mailto:")):
            self._text(p, text, style)
            return
        link = etree.SubElement(p, _W_HYPERLINK)
        link.set(qn("r:id"), self.doc.part.relate_to(href, RT.HYPERLINK, is_external=True))
        self._run(link, text, style, link=True)

    def _image(self, p: Any, element: Any) -> None:
        src = element.get("src") or ""
        alt = element.get("alt") or ""
        match = ATTACHMENT_SRC.match(src)
        path = self.attachment_dir / match.group(1) if match and self.attachment_dir else None
        if path is not None and path.is_file():
            try:
                inline = self.doc.part.new_pic_inline(str(path), None, None)
            except Exception:  # an unreadable image falls back to its text
                inline = None
            if inline is not None:
                extent = inline.extent
                max_width = Cm(16)
                if extent.cx > max_width:
                    extent.cy = int(extent.cy * max_width / extent.cx)
                    extent.cx = max_width
                    inline.graphic.graphicData.pic.spPr.cx = extent.cx
                    inline.graphic.graphicData.pic.spPr.cy = extent.cy
                if alt:
                    inline.docPr.set("descr", alt)
                drawing = etree.SubElement(etree.SubElement(p, _W_R), _W_DRAWING)
                drawing.append(inline)
                return
        self._text(p, f"[图片：{alt or src}]", RunStyle(italic=True))


_W_P, _W_PPR, _W_PSTYLE, _W_VAL = qn("w:p"), qn("w:pPr"), qn("w:pStyle"), qn("w:val")
_W_R, _W_RPR, _W_T, _W_BR = qn("w:r"), qn("w:rPr"), qn("w:t"), qn("w:br")
_W_B, _W_I, _W_STRIKE, _W_U = qn("w:b"), qn("w:i"), qn("w:strike"), qn("w:u")
_W_COLOR, _W_RFONTS, _W_VERTALIGN = qn("w:color"), qn("w:rFonts"), qn("w:vertAlign")
_W_NUMPR, _W_ILVL, _W_NUMID = qn("w:numPr"), qn("w:ilvl"), qn("w:numId")
_W_TR, _W_TRPR, _W_TBLHEADER = qn("w:tr"), qn("w:trPr"), qn("w:tblHeader")
_W_TC, _W_TCPR, _W_TCW, _W_W, _W_TYPE = qn("w:tc"), qn("w:tcPr"), qn("w:tcW"), qn("w:w"), \
    qn("w:type")
_W_JC, _W_HYPERLINK, _W_DRAWING = qn("w:jc"), qn("w:hyperlink"), qn("w:drawing")
_XML_SPACE = qn("xml:space")


def _style_align(style: str | None) -> str | None:
    if not style:
        return None
    match = re.search(r"text-align:\s*(left|center|right)", style)
    return match.group(1) if match else None


def plain_paragraphs_docx(paragraphs: Sequence[str]) -> bytes:
    """Baseline for the benchmark: python-docx writing the same text with no formatting."""
    doc = new_docx()
    for text in paragraphs:
        doc.add_paragraph(text)
    return _save(doc)
