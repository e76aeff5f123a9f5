"""The audit plan and the audit report (ISO 19011 6.3.2, 6.5) as .docx."""

from __future__ import annotations

import io
from typing import Any
from zoneinfo import ZoneInfo

from docx import Document as DocxDocument
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from qms.audits import service
from qms.audits.models import GRADE_LABELS, MEETING_LABELS, Audit
from qms.auth.signatures import signatures_for
from qms.word.export_docx import record_zone, zone_name


def _d(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else "—"


def _table(doc: Any, rows: list[tuple[str, str]]) -> None:
    table = doc.add_table(rows=len(rows), cols=2)
    table.style = "Table Grid"
    for i, (label, value) in enumerate(rows):
        table.cell(i, 0).text = label
        table.cell(i, 1).text = value or "—"


def _grid(doc: Any, header: list[str], rows: list[list[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for i, text in enumerate(header):
        table.rows[0].cells[i].text = text
    for row in rows:
        cells = table.add_row().cells
        for i, value in enumerate(row):
            cells[i].text = value


def _team(audit: Audit) -> str:
    return "、".join(m.user.display_name for m in audit.team) or "—"


def _criteria(doc: Any, audit: Audit) -> None:
    _grid(
        doc,
        [_("Criterion"), _("Revision"), _("Effective date")],
        [
            [
                f"{c.document.number} {c.document.title}" if c.document else f"ISO 9001 {c.clause}",
                c.revision.label if c.revision else "—",
                _d(c.revision.effective_date) if c.revision else "—",
            ]
            for c in audit.criteria
        ],
    )


def _plan_rows(audit: Audit) -> list[tuple[str, str]]:
    return [
        (_("Audit"), f"{audit.ref} {audit.title}"),
        (_("Audited department"), audit.department.name),
        (_("Objectives"), audit.objectives),
        (_("Scope"), audit.scope),
        (_("Date"), _d(audit.audit_date)),
        (_("Place"), audit.place),
        (_("Lead auditor"), audit.lead_auditor.display_name if audit.lead_auditor else "—"),
        (_("Audit team"), _team(audit)),
        (_("Notice sent"), _d(audit.notice_date)),
    ]


def _save(doc: Any) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def plan_docx(session: Session, audit: Audit) -> bytes:
    doc = DocxDocument()
    doc.add_heading(_("Internal audit plan %(ref)s", ref=audit.ref), level=0)
    _table(doc, _plan_rows(audit))
    doc.add_heading(_("Audit criteria"), level=1)
    _criteria(doc, audit)
    doc.add_heading(_("Checklist"), level=1)
    _grid(
        doc,
        [_("No."), _("Source"), _("Clause"), _("Question")],
        [[str(i.position), i.source, i.clause, i.question] for i in audit.checklist],
    )
    if not audit.checklist:
        doc.add_paragraph(_("The checklist is not generated yet."))
    return _save(doc)


def report_docx(session: Session, audit: Audit) -> bytes:
    doc = DocxDocument()
    doc.add_heading(_("Internal audit report %(ref)s", ref=audit.ref), level=0)
    doc.add_heading(_("1. Audit"), level=1)
    _table(
        doc,
        [
            *_plan_rows(audit),
            (_("Closing meeting"), _d(audit.closing_date)),
            (_("Report due"), _d(audit.report_due)),
            (
                _("Report submitted"),
                _d(audit.report_submitted_on)
                + (" " + _("(late)") if service.report_late(audit) else ""),
            ),
        ],
    )
    doc.add_heading(_("2. Audit criteria"), level=1)
    _criteria(doc, audit)
    doc.add_heading(_("3. Meetings"), level=1)
    by_meeting: dict[str, list[str]] = {}
    for a in audit.attendance:
        key = f"{MEETING_LABELS[a.meeting]} {_d(a.held_on)}"
        by_meeting.setdefault(key, []).append(a.user.display_name)
    _table(doc, [(k, "、".join(v)) for k, v in by_meeting.items()] or [(_("Meetings"), "—")])
    doc.add_heading(_("4. Findings"), level=1)
    _grid(
        doc,
        [_("No."), _("Grade"), _("Criterion"), _("Description"), _("Evidence"), _("Acknowledged")],
        [
            [
                str(f.number),
                str(GRADE_LABELS[f.grade]),
                " ".join(x for x in (f.clause, f.criterion) if x),
                f.description,
                f.evidence,
                f"{f.acknowledged_by.display_name} {_d(f.acknowledged_at)}"
                if f.acknowledged_by
                else "—",
            ]
            for f in audit.findings
        ],
    )
    if not audit.findings:
        doc.add_paragraph(_("No findings."))
    doc.add_heading(_("5. Conclusions"), level=1)
    _table(
        doc,
        [
            (_("Conclusions"), audit.conclusions),
            (_("Degree of conformity"), audit.conformity_degree),
            (_("Unresolved diverging opinions"), audit.diverging_opinions),
            (_("Distribution"), audit.distribution),
        ],
    )
    doc.add_heading(_("Signatures"), level=1)
    zone = ZoneInfo(record_zone())
    sigs = signatures_for(session, service.REPORT, [audit.id])
    for s in sigs:
        signed = s.signed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        doc.add_paragraph(
            f"{_('Report approved')}: {s.printed_name} {signed} "
            f"{zone_name(zone, s.signed_at)}, SHA-256 {s.content_sha256[:16]}…"
        )
    if not sigs:
        doc.add_paragraph(_("Not yet signed."))
    return _save(doc)
