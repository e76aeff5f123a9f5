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
from datetime import date, datetime
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


# -- entry points ---------------------------------------------------------------------------

def export_revision(session: Session, revision: Revision, copy_number: str | None = None, *,
                    attachment_dir: Path | None = None, tz: str | None = None) -> bytes:
    """The .docx of one revision: header with number, title, revision, effective date and
    page X of Y on every page; 受控文件 with the copy number, or a 非受控/作废 watermark; an
    approval page; the body. The caller checks who may have it."""
    from qms.auth.signatures import signatures_for

    zone = ZoneInfo(tz or _configured_zone())
    document = revision.document
    lines = [
        SignatureLine(
            printed_name=s.printed_name,
            meaning=MEANING_ZH.get(s.meaning, str(s.meaning)),
            signed_at=_local(s, zone),
            voided=s.voided_at is not None,
            comment=s.comment,
        )
        for s in signatures_for(session, "revision", [revision.id])
    ]
    data = CopyData(
        number=document.number, title=revision.title, label=revision.label,
        state=revision.state, kind=KIND_ZH.get(str(document.kind), str(document.kind)),
        department=document.department.name, effective_date=revision.effective_date,
        change_summary=revision.change_summary, body=revision.body, signatures=lines,
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

def _configured_zone() -> str:
    try:
        from flask import current_app

        return str(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai")
    except RuntimeError:  # outside an app (benchmarks, scripts)
        return "Asia/Shanghai"


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


VML_NS = ('xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
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
    for i, label in enumerate(("签署含义", "签署人", "签署时间", "备注")):
        _cell_text(sigs.cell(0, i), label, bold=True)
    if not data.signatures:
        _cell_text(sigs.cell(1, 0), "—")
        _cell_text(sigs.cell(1, 1), "尚无签署")
    for row, line in enumerate(data.signatures, start=1):
        meaning = f"{line.meaning}（已撤销）" if line.voided else line.meaning
        _cell_text(sigs.cell(row, 0), meaning, strike=line.voided)
        _cell_text(sigs.cell(row, 1), line.printed_name, strike=line.voided)
        _cell_text(sigs.cell(row, 2), line.signed_at, strike=line.voided)
        _cell_text(sigs.cell(row, 3), line.comment)
    end = doc.add_paragraph(style=COVER_STYLE)
    end.add_run().add_break(WD_BREAK.PAGE)


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
    """Walks the HTML of a Markdown body and writes Word paragraphs, lists and tables."""

    def __init__(self, doc: Any, attachment_dir: Path | None = None) -> None:
        self.doc = doc
        self.attachment_dir = attachment_dir
        self.numbering = doc.part.numbering_part.element
        self.next_num_id = 1 + max((int(n.get(qn("w:numId"))) for n in
                                    self.numbering.findall(qn("w:num"))), default=0)

    def write_markdown(self, body: str) -> None:
        html = markup.render(body)
        if not html.strip():
            return
        root = lxml.html.fragment_fromstring(html, create_parent="div")
        self._blocks(root, self.doc)

    # blocks
    def _blocks(self, parent: Any, container: Any) -> None:
        if parent.text and parent.text.strip():
            self._paragraph_with(container, parent.text)
        for child in parent:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag.lower()
            if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
                para = container.add_paragraph(style=f"Heading {tag[1]}")
                self._inline(para, child, RunStyle())
            elif tag == "p":
                para = container.add_paragraph()
                self._inline(para, child, RunStyle())
            elif tag in {"ul", "ol"}:
                self._list(container, child, 0)
            elif tag == "table":
                self._table(container, child)
            elif tag == "blockquote":
                for inner in child:
                    if isinstance(inner.tag, str) and inner.tag.lower() == "p":
                        self._inline(container.add_paragraph(style="Quote"), inner, RunStyle())
                    elif isinstance(inner.tag, str):
                        self._blocks(inner, container)
            elif tag == "pre":
                para = container.add_paragraph()
                self._text_runs(para, child.text_content(), RunStyle(mono=True))
            elif tag == "hr":
                self._rule(container.add_paragraph())
            elif tag in INLINE_TAGS:
                para = container.add_paragraph()
                self._inline_element(para, child, RunStyle())
            else:
                self._blocks(child, container)
            if child.tail and child.tail.strip():
                self._paragraph_with(container, child.tail)

    def _paragraph_with(self, container: Any, text: str) -> None:
        self._text_runs(container.add_paragraph(), text.strip(), RunStyle())

    def _rule(self, para: Paragraph) -> None:
        p_pr = para._p.get_or_add_pPr()
        p_pr.append(parse_xml(f'<w:pBdr {nsdecls("w")}><w:bottom w:val="single" w:sz="6" '
                              'w:space="1" w:color="auto"/></w:pBdr>'))

    def _new_num(self, ordered: bool, level: int, start: int) -> int:
        num_id = self.next_num_id
        self.next_num_id += 1
        abstract = ORDERED_ABSTRACT_ID if ordered else BULLET_ABSTRACT_ID
        self.numbering.append(parse_xml(
            f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{abstract}"/>'
            f'<w:lvlOverride w:ilvl="{level}"><w:startOverride w:val="{start}"/></w:lvlOverride>'
            '</w:num>'))
        return num_id

    def _list(self, container: Any, element: Any, level: int) -> None:
        ordered = element.tag.lower() == "ol"
        start = int(element.get("start") or 1) if ordered else 1
        num_id = self._new_num(ordered, min(level, 8), start)
        for item in element:
            if not isinstance(item.tag, str) or item.tag.lower() != "li":
                continue
            para = container.add_paragraph(style="List Paragraph")
            p_pr = para._p.get_or_add_pPr()
            p_pr.append(parse_xml(
                f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{min(level, 8)}"/>'
                f'<w:numId w:val="{num_id}"/></w:numPr>'))
            self._list_item(container, para, item, level)

    def _list_item(self, container: Any, para: Paragraph, item: Any, level: int) -> None:
        """The item's inline text goes into its numbered paragraph; nested lists follow;
        further paragraphs of a loose item are indented under it."""
        style = RunStyle()
        if item.text:
            self._text_runs(para, item.text, style)
        first_block = True
        for child in item:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag.lower()
            if tag in {"ul", "ol"}:
                self._list(container, child, level + 1)
            elif tag == "p":
                if first_block and not para.runs:
                    self._inline(para, child, style)
                else:
                    extra = container.add_paragraph(style="List Paragraph")
                    self._inline(extra, child, style)
                first_block = False
            elif tag in INLINE_TAGS:
                self._inline_element(para, child, style)
            else:
                self._blocks(child, container)
            if child.tail and child.tail.strip():
                self._text_runs(para, child.tail, style)

    def _table(self, container: Any, element: Any) -> None:
        rows = [tr for tr in element.iter("tr")]
        if not rows:
            return
        width = max(len([c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")])
                    for tr in rows)
        table = container.add_table(rows=len(rows), cols=max(width, 1))
        table.style = self.doc.styles["Table Grid"]
        if rows[0].getparent() is not None and rows[0].getparent().tag == "thead":
            _repeat_header(table)
        for r, tr in enumerate(rows):
            cells = [c for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
            row_cells = table.rows[r].cells
            for c, td in enumerate(cells):
                para = row_cells[c].paragraphs[0]
                align = td.get("align") or _style_align(td.get("style"))
                if align == "center":
                    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
                elif align == "right":
                    para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
                self._inline(para, td, RunStyle(bold=td.tag == "th"))

    # inline
    def _inline(self, para: Paragraph, element: Any, style: RunStyle) -> None:
        if element.text:
            self._text_runs(para, element.text, style)
        for child in element:
            if isinstance(child.tag, str):
                self._inline_element(para, child, style)
            if child.tail:
                self._text_runs(para, child.tail, style)

    def _inline_element(self, para: Paragraph, child: Any, style: RunStyle) -> None:
        tag = child.tag.lower()
        if tag == "br":
            para.add_run().add_break()
            return
        if tag == "img":
            self._image(para, child)
            return
        if tag == "a":
            self._hyperlink(para, child, style)
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
        self._inline(para, child, inner)

    def _text_runs(self, para: Paragraph, text: str, style: RunStyle) -> None:
        text = text.replace("\n", " ")
        if not text:
            return
        run = para.add_run(text)
        if style.bold:
            run.bold = True
        if style.italic:
            run.italic = True
        if style.strike:
            run.font.strike = True
        if style.superscript:
            run.font.superscript = True
        if style.subscript:
            run.font.subscript = True
        if style.mono:
            run.font.name = MONO_FONT

    def _hyperlink(self, para: Paragraph, element: Any, style: RunStyle) -> None:
        href = element.get("href") or ""
        text = element.text_content()
        if not href.startswith(("http://", "https://", "mailto:")):
            self._text_runs(para, text, style)
            return
        rel_id = para.part.relate_to(href, RT.HYPERLINK, is_external=True)
        link = OxmlElement("w:hyperlink")
        link.set(qn("r:id"), rel_id)
        run = OxmlElement("w:r")
        r_pr = OxmlElement("w:rPr")
        r_pr.append(parse_xml(f'<w:color {nsdecls("w")} w:val="0563C1"/>'))
        r_pr.append(parse_xml(f'<w:u {nsdecls("w")} w:val="single"/>'))
        if style.bold:
            r_pr.append(OxmlElement("w:b"))
        if style.italic:
            r_pr.append(OxmlElement("w:i"))
        run.append(r_pr)
        t = OxmlElement("w:t")
        t.set(qn("xml:space"), "preserve")
        t.text = text
        run.append(t)
        link.append(run)
        para._p.append(link)

    def _image(self, para: Paragraph, element: Any) -> None:
        src = element.get("src") or ""
        alt = element.get("alt") or ""
        match = ATTACHMENT_SRC.match(src)
        path = self.attachment_dir / match.group(1) if match and self.attachment_dir else None
        if path is not None and path.is_file():
            try:
                run = para.add_run()
                shape = run.add_picture(str(path))
                max_width = Cm(16)
                if shape.width > max_width:
                    ratio = max_width / shape.width
                    shape.width = max_width
                    shape.height = int(shape.height * ratio)
                doc_pr = run._r.find(".//" + qn("wp:docPr"))
                if doc_pr is not None and alt:
                    doc_pr.set("descr", alt)
                return
            except Exception:  # noqa: S110 - an unreadable image falls back to its text
                pass
        self._text_runs(para, f"[图片：{alt or src}]", RunStyle(italic=True))


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
