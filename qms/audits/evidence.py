"""The audits' part of the certification evidence pack: approved programmes and the reports
of closed audits (read by qms/certification/evidence.py)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.audits.export import report_docx
from qms.audits.lifecycle import AuditState, ProgrammeState
from qms.audits.models import Audit, AuditProgramme


def evidence_files(session: Session) -> list[tuple[str, bytes]]:
    from qms.audits.api import programme_json

    files: list[tuple[str, bytes]] = []
    programmes = session.scalars(
        sa.select(AuditProgramme)
        .where(AuditProgramme.state == ProgrammeState.APPROVED)
        .order_by(AuditProgramme.year)
    )
    for programme in programmes:
        body = json.dumps(programme_json(programme), ensure_ascii=False, indent=2, default=str)
        files.append((f"programme-{programme.year}.json", body.encode()))
    audits = session.scalars(
        sa.select(Audit).where(Audit.state == AuditState.CLOSED).order_by(Audit.id)
    )
    for audit in audits:  # closed: the report is approved by the general manager
        files.append((f"report-{audit.ref}.docx", report_docx(session, audit)))
    return files
