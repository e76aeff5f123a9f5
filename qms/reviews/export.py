"""The review record (overall record, defect record, verification record) as .docx, and the
defect log as CSV rows."""

from __future__ import annotations

import io
from typing import Any
from zoneinfo import ZoneInfo

from docx import Document as DocxDocument
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from qms.auth.signatures import signatures_for
from qms.reviews.models import (
    CATEGORY_LABELS,
    CONCLUSION_LABELS,
    DISPOSITION_LABELS,
    LEVEL_LABELS,
    PHASE_LABELS,
    ROLE_LABELS,
    SEVERITY_LABELS,
    STATE_LABELS,
    TYPE_LABELS,
    Defect,
    Review,
)
from qms.word.export_docx import record_zone, zone_name


def _d(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d"))
    return str(value)


def conclusion_text(review: Review) -> str:
    if review.conclusion is None:
        return ""
    text = str(CONCLUSION_LABELS[review.conclusion])
    if review.conclusion_count:
        text += f": {review.conclusion_count}"
    return text


def overall_rows(review: Review) -> list[tuple[str, str]]:
    main = review.main_object
    by_role: dict[str, list[str]] = {}
    for p in review.participants:
        by_role.setdefault(str(ROLE_LABELS[p.role]), []).append(p.user.display_name)
    return [
        (_("Review"), review.ref),
        (_("Project or system"), review.title),
        (_("System version"), review.system_version),
        (_("Department under review"), review.department.name),
        (_("Review type"), str(TYPE_LABELS[review.review_type])),
        (_("Review level"), str(LEVEL_LABELS[review.level])),
        (_("Date"), _d(review.held_on)),
        (_("Place"), review.place),
        (_("Main document"), f"{main.revision.document.number} {main.revision.title}"
         if main else ""),
        (_("Document revision"), f"{main.revision.label} (SHA-256 {main.content_sha256[:16]}…)"
         if main else ""),
        (_("Attached documents"), "; ".join(
            f"{o.revision.document.number} {o.revision.label}" for o in review.objects
            if not o.is_main) or "—"),
        *[(role, ", ".join(names)) for role, names in by_role.items()],
        (_("Meeting time (minutes)"), _d(review.meeting_minutes)),
        (_("Conclusion"), conclusion_text(review)),
        (_("Notes"), review.conclusion_notes),
        (_("State"), str(STATE_LABELS[review.state])),
    ]


CSV_HEADER = ["number", "document", "revision", "raised_by", "phase", "chapter", "section",
              "page", "description", "type", "category", "author_response", "disposition",
              "reason", "owner", "fix_due", "fixed_in", "verified_by", "verified_at",
              "raised_at"]


def csv_row(d: Defect) -> list[Any]:
    return [
        d.number, d.revision.document.number, d.revision.label, d.raised_by.display_name,
        str(d.phase), d.chapter, d.section, d.page, d.description, str(d.severity),
        str(d.category), d.author_response, str(d.disposition), d.disposition_reason,
        d.owner.display_name if d.owner else "", _d(d.fix_due),
        d.fixed_in_revision.label if d.fixed_in_revision else "",
        d.verified_by.display_name if d.verified_by else "",
        d.verified_at.isoformat() if d.verified_at else "", d.raised_at.isoformat(),
    ]


def record_docx(session: Session, review: Review) -> bytes:
    doc = DocxDocument()
    doc.add_heading(_("Review record %(ref)s", ref=review.ref), level=0)

    doc.add_heading(_("1. Overall record"), level=1)
    rows = overall_rows(review)
    table = doc.add_table(rows=len(rows), cols=2)
    table.style = "Table Grid"
    for i, (label, value) in enumerate(rows):
        table.cell(i, 0).text = label
        table.cell(i, 1).text = value or ""

    doc.add_heading(_("2. Defect record"), level=1)
    header = [_("No."), _("Raised by"), _("Location"), _("Description"), _("Type"),
              _("Category"), _("Phase"), _("Disposition"), _("Promised fix date"),
              _("Verified")]
    defects = doc.add_table(rows=1, cols=len(header))
    defects.style = "Table Grid"
    for i, text in enumerate(header):
        defects.rows[0].cells[i].text = text
    for d in review.defects:
        cells = defects.add_row().cells
        values = [str(d.number), d.raised_by.display_name, d.location, d.description,
                  str(SEVERITY_LABELS[d.severity]), str(CATEGORY_LABELS[d.category]),
                  str(PHASE_LABELS[d.phase]),
                  str(DISPOSITION_LABELS[d.disposition])
                  + (f" — {d.disposition_reason}" if d.disposition_reason else ""),
                  _d(d.fix_due),
                  f"{d.verified_by.display_name} {_d(d.verified_at)}" if d.verified_by else ""]
        for i, value in enumerate(values):
            cells[i].text = value
    if not review.defects:
        doc.add_paragraph(_("No defects were logged."))

    doc.add_heading(_("3. Verification record"), level=1)
    checks = doc.add_table(rows=1, cols=3)
    checks.style = "Table Grid"
    for i, text in enumerate([_("No."), _("Checklist item"), _("Ticked")]):
        checks.rows[0].cells[i].text = text
    for item in review.checklist:
        cells = checks.add_row().cells
        cells[0].text = str(item.position)
        cells[1].text = item.text + (f" ({item.note})" if item.note else "")
        cells[2].text = "☑" if item.checked else "☐"

    doc.add_heading(_("Signatures"), level=1)
    sigs = signatures_for(session, "review_plan", [review.id]) + signatures_for(
        session, "review_report", [review.id])
    zone = ZoneInfo(record_zone())
    for s in sigs:
        what = _("Plan approved") if s.object_type == "review_plan" else _("Report approved")
        signed = s.signed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        doc.add_paragraph(f"{what}: {s.printed_name} {signed} {zone_name(zone, s.signed_at)}, "
                          f"SHA-256 {s.content_sha256[:16]}…")
    if not sigs:
        doc.add_paragraph(_("Not yet signed."))
    if review.regression_needed is not None:
        doc.add_paragraph(_("Regression review needed: %(answer)s", answer=_("yes")
                            if review.regression_needed else _("no"))
                          + (f" — {review.regression_reason}" if review.regression_reason else ""))
    if review.lessons_learned:
        doc.add_paragraph(_("Lessons learned: %(text)s", text=review.lessons_learned))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
