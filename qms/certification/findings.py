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
from qms.certification.models import CertificationProject
from qms.certification.rules import ProjectAction
from qms.errors import Conflict, Forbidden
from qms.trail import service as trail

SOURCE = "certification"
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
    if not actor.can(Permission.MANAGE_CERTIFICATION):
        raise Forbidden(_l("Only the quality manager and the quality clerk manage certification."))
    if not engine_available():
        raise Conflict(
            _l("Nonconformities cannot be recorded: the nonconformity register is not installed."),
            code="no_nonconformity_engine",
        )
    from qms.certification.labels import STATE_LABELS
    from qms.nonconformity.service import raise_nonconformity

    nc = raise_nonconformity(
        session,
        actor=actor,
        source=SOURCE,
        source_id=project.id,
        source_label=f"{project.ref} {project.body.name} · {STATE_LABELS[project.state]}",
        department=department,
        clause=clause,
        process_number=process_number or None,
        grade=GRADES.get(grade, grade),
        description=description,
        evidence=evidence,
        raised_on=raised_on,
    )
    trail.record(
        session, actor, "raise_finding", "cert_project", project.id, new=f"{nc.number}; {nc.grade}"
    )
    return nc


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
