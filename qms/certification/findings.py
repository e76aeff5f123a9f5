"""Findings of the certification body (document review, pre-audit, audits) go into the
nonconformity engine (qms.nonconformity) with source "certification" and the project's id;
an open major one ("serious" in the engine's words, ISO 17021 "major") blocks the steps
that mark the next stage ready. The engine is imported lazily: without it, findings are
refused with a clear message and nothing blocks."""

from __future__ import annotations

import importlib.util
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.certification.models import CertificateAudit, CertificationProject
from qms.certification.rules import ProjectAction
from qms.errors import Conflict, Forbidden, Invalid
from qms.trail import service as trail

SOURCE = "certification"
AUDIT_SOURCE = "certificate_audit"
# the steps that say a stage is ready: documents accepted, audit or inspection planned, the
# decision; correcting is never blocked
BLOCKED_BY_MAJOR = frozenset(
    {
        ProjectAction.ACCEPT_DOCUMENTS,
        ProjectAction.PLAN_AUDIT,
        ProjectAction.PLAN_INSPECTION,
        ProjectAction.CERTIFY,
    }
)
GRADES = {"major": "serious", "minor": "general", "serious": "serious", "general": "general"}


def engine_available() -> bool:
    return importlib.util.find_spec("qms.nonconformity.service") is not None


def _raise(
    session: Session,
    actor: User,
    *,
    source: str,
    source_id: int,
    source_label: str,
    department: Any,
    clause: str,
    grade: str,
    description: str,
    evidence: str,
    process_number: str | None,
    raised_on: date | None,
) -> Any:
    if not actor.can(Permission.MANAGE_CERTIFICATION):
        raise Forbidden(_l("Only the quality manager and the quality clerk manage certification."))
    if not engine_available():
        raise Conflict(
            _l("Nonconformities cannot be recorded: the nonconformity register is not installed."),
            code="no_nonconformity_engine",
        )
    from qms.nonconformity.service import raise_nonconformity

    return raise_nonconformity(
        session,
        actor=actor,
        source=source,
        source_id=source_id,
        source_label=source_label,
        department=department,
        clause=clause,
        process_number=process_number or None,
        grade=GRADES.get(grade, grade),
        description=description,
        evidence=evidence,
        raised_on=raised_on,
    )


def raise_finding(
    session: Session,
    actor: User,
    project: CertificationProject,
    *,
    department: Any,
    clause: str,
    grade: str,
    description: str,
    evidence: str,
    process_number: str | None = None,
    raised_on: date | None = None,
) -> Any:
    """A nonconformity the body found while certifying (document review, pre-audit, audit)."""
    from qms.certification.labels import STATE_LABELS

    nc = _raise(
        session,
        actor,
        source=SOURCE,
        source_id=project.id,
        source_label=f"{project.ref} {project.body.name} · {STATE_LABELS[project.state]}",
        department=department,
        clause=clause,
        grade=grade,
        description=description,
        evidence=evidence,
        process_number=process_number,
        raised_on=raised_on,
    )
    trail.record(
        session, actor, "raise_finding", "cert_project", project.id, new=f"{nc.number}; {nc.grade}"
    )
    return nc


def raise_audit_finding(
    session: Session,
    actor: User,
    audit: CertificateAudit,
    *,
    department: Any,
    clause: str,
    grade: str,
    description: str,
    evidence: str,
    process_number: str | None = None,
    raised_on: date | None = None,
) -> Any:
    """A nonconformity the body found at a surveillance or recertification audit of a
    certificate held. It goes into the register with source certificate_audit; a major one
    must be corrected and verified within 6 months of the audit (ISO/IEC 17021-1), and the
    audit's count of majors never says fewer than are recorded."""
    from qms.certification.labels import AUDIT_KIND_LABELS
    from qms.certification.models import CertificateStatus

    certificate = audit.certificate
    if certificate.status not in (CertificateStatus.VALID, CertificateStatus.SUSPENDED):
        raise Conflict(
            _l("Findings are recorded on the audits of a valid or suspended certificate."),
            code="certificate_not_current",
        )
    if raised_on is not None and raised_on < audit.held_on:
        raise Invalid(
            _l(
                "A finding of the audit held on %(held)s cannot be dated before it.",
                held=audit.held_on.isoformat(),
            ),
            code="before_audit",
        )
    nc = _raise(
        session,
        actor,
        source=AUDIT_SOURCE,
        source_id=audit.id,
        source_label=(
            f"{certificate.number} · {AUDIT_KIND_LABELS[audit.kind]} {audit.held_on.isoformat()}"
        ),
        department=department,
        clause=clause,
        grade=grade,
        description=description,
        evidence=evidence,
        process_number=process_number,
        raised_on=raised_on or audit.held_on,
    )
    session.flush()
    recorded = major_counts(session, [audit.id]).get(audit.id, (0, 0))
    majors = recorded[0] + recorded[1]
    if majors > audit.major_nonconformities:
        trail.record(
            session,
            actor,
            "update_audit_majors",
            "cert_certificate",
            certificate.id,
            old=str(audit.major_nonconformities),
            new=str(majors),
            reason=nc.number,
        )
        audit.major_nonconformities = majors
    trail.record(
        session,
        actor,
        "raise_finding",
        "cert_certificate",
        certificate.id,
        new=f"{nc.number}; {nc.grade}; {audit.kind} {audit.held_on.isoformat()}",
    )
    return nc


def audit_findings(session: Session, audit_ids: list[int]) -> dict[int, list[Any]]:
    """The nonconformities recorded from each certificate audit, oldest first."""
    if not engine_available() or not audit_ids:
        return {}
    from qms.nonconformity.models import Nonconformity

    out: dict[int, list[Any]] = {}
    for nc in session.scalars(
        sa.select(Nonconformity)
        .where(Nonconformity.source == AUDIT_SOURCE, Nonconformity.source_id.in_(audit_ids))
        .order_by(Nonconformity.id)
    ):
        out.setdefault(nc.source_id or 0, []).append(nc)
    return out


def major_counts(session: Session, audit_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(open, closed) major nonconformities recorded from each certificate audit."""
    if not engine_available() or not audit_ids:
        return {}
    from qms.nonconformity.models import Nonconformity
    from qms.nonconformity.rules import Grade, NcState

    closed = sa.case((Nonconformity.state == NcState.CLOSED, 1), else_=0)
    rows = session.execute(
        sa.select(
            Nonconformity.source_id,
            sa.func.count(),
            sa.func.sum(closed),
        )
        .where(
            Nonconformity.source == AUDIT_SOURCE,
            Nonconformity.source_id.in_(audit_ids),
            Nonconformity.grade == Grade.SERIOUS,
        )
        .group_by(Nonconformity.source_id)
    )
    return {sid: (int(n) - int(c or 0), int(c or 0)) for sid, n, c in rows}


def majors_outstanding(declared: int, recorded: tuple[int, int]) -> int:
    """Majors still to be corrected and verified: the ones the body reported that are not
    yet recorded, and the recorded ones still open. Pure."""
    open_, closed = recorded
    return max(declared - open_ - closed, 0) + open_


def project_findings(session: Session, project: CertificationProject) -> list[Any]:
    if not engine_available():
        return []
    from qms.nonconformity.models import Nonconformity

    return list(
        session.scalars(
            sa.select(Nonconformity)
            .where(Nonconformity.source == SOURCE, Nonconformity.source_id == project.id)
            .order_by(Nonconformity.id)
        )
    )


def open_major(session: Session, project: CertificationProject) -> list[Any]:
    if not engine_available():
        return []
    from qms.nonconformity.models import Nonconformity
    from qms.nonconformity.rules import Grade, NcState

    return list(
        session.scalars(
            sa.select(Nonconformity)
            .where(
                Nonconformity.source == SOURCE,
                Nonconformity.source_id == project.id,
                Nonconformity.grade == Grade.SERIOUS,
                Nonconformity.state != NcState.CLOSED,
            )
            .order_by(Nonconformity.id)
        )
    )


def check_no_open_major(
    session: Session, project: CertificationProject, action: ProjectAction
) -> None:
    if action not in BLOCKED_BY_MAJOR:
        return
    blocking = open_major(session, project)
    if blocking:
        raise Conflict(
            _l(
                "A major nonconformity from the body is still open (%(numbers)s): "
                "it must be corrected and verified before this step.",
                numbers=", ".join(nc.number for nc in blocking),
            ),
            code="open_major_finding",
        )
