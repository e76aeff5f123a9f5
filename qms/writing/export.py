"""The writing plan as its forms in Word: BD-PZ-006 (文件编写计划表) and BD-PZ-007
(文件传阅意见汇总表), landscape tables with the form's own Chinese headings."""

from __future__ import annotations

import io
from collections.abc import Sequence

from docx import Document as new_docx
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from qms.writing.labels import DECISION_LABELS
from qms.writing.models import WritingPlan
from qms.writing.rules import Progress

FONT = "宋体"


def _document(title: str, number: str) -> object:
    doc = new_docx()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for margin in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, margin, Cm(1.8))
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(10.5)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    section.header.paragraphs[0].text = number
    heading = doc.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run(title)
    run.bold = True
    run.font.size = Pt(16)
    return doc


def _table(doc: object, rows: Sequence[Sequence[str]], header: bool = True) -> None:
    width = max(len(r) for r in rows)
    table = doc.add_table(rows=len(rows), cols=width)  # type: ignore[attr-defined]
    table.style = doc.styles["Table Grid"]  # type: ignore[attr-defined]
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            cell = table.cell(r, c)
            cell.text = text
            if header and r == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True


def _save(doc: object) -> bytes:
    out = io.BytesIO()
    doc.save(out)  # type: ignore[attr-defined]
    return out.getvalue()


def plan_docx(plan: WritingPlan, standings: Sequence[object]) -> bytes:
    """BD-PZ-006 filled in from the plan."""
    doc = _document("文件编写计划表", "BD-PZ-006")
    _table(
        doc,
        [
            ["编写项目", plan.title, "编制部门", "品质管理中心"],
            [
                "编制人",
                plan.created_by.display_name,
                "编制日期",
                plan.created_at.date().isoformat(),
            ],
        ],
        header=False,
    )
    doc.add_paragraph()  # type: ignore[attr-defined]
    rows = [
        [
            "序号",
            "文件编号",
            "文件名称 / 手册章节",
            "责任部门",
            "编写人",
            "开始日期",
            "初稿完成日期",
            "定稿日期",
            "实际完成情况",
        ],
    ]
    for standing in standings:
        item = standing.item  # type: ignore[attr-defined]
        actual = item.actual_on.isoformat() if item.actual_on else ""
        if item.delay_reason:
            actual = f"{actual} 延误：{item.delay_reason}".strip()
        elif not actual and standing.progress == Progress.LATE:  # type: ignore[attr-defined]
            actual = "逾期"
        rows.append(
            [
                str(item.position),
                item.number,
                item.title,
                item.department.name,
                item.writer.display_name,
                item.start_on.isoformat(),
                item.draft_due.isoformat(),
                item.final_due.isoformat(),
                actual,
            ]
        )
    _table(doc, rows)
    confirmed = plan.confirmed_by.display_name if plan.confirmed_by else "__________"
    doc.add_paragraph(f"品质管理中心经理审核：{confirmed}　　相关部门确认：__________")  # type: ignore[attr-defined]
    return _save(doc)


def comments_docx(plan: WritingPlan) -> bytes:
    """BD-PZ-007 filled in from the circulation comments."""
    manual = plan.manual_revision
    doc = _document("文件传阅意见汇总表", "BD-PZ-007")
    _table(
        doc,
        [
            [
                "文件编号",
                manual.document.number if manual else "QM-01",
                "文件名称",
                manual.title if manual else plan.title,
            ],
            [
                "传阅稿版本",
                manual.label if manual else "",
                "传阅期限",
                plan.circulation_deadline.isoformat() if plan.circulation_deadline else "",
            ],
        ],
        header=False,
    )
    doc.add_paragraph()  # type: ignore[attr-defined]
    rows = [["序号", "提出部门", "提出人", "章节/条款", "修改意见", "处理结论", "理由", "确认人"]]
    for n, c in enumerate(plan.comments, start=1):
        rows.append(
            [
                str(n),
                c.department.name,
                c.person,
                c.clause,
                c.text,
                str(DECISION_LABELS[c.decision]) if c.decision else "",
                c.reason,
                c.confirmed_by,
            ]
        )
    _table(doc, rows)
    doc.add_paragraph("汇总人：__________　　顾问确认：__________　　日期：__________")  # type: ignore[attr-defined]
    return _save(doc)
