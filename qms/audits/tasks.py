"""What internal audits put on people's task lists: the audit notice for the auditee's head,
findings to acknowledge, the lead auditor's next step, programmes and reports to approve."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.audits import service
from qms.audits.lifecycle import AuditState, ProgrammeState
from qms.audits.models import Audit, AuditFinding, AuditProgramme
from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.tasks.registry import Task, task_provider


def _url(audit: Audit) -> str:
    return url_for("audits.detail", audit_id=audit.id)


@task_provider
def audit_tasks(session: Session, user: User) -> list[Task]:
    today = clock.today()
    tasks: list[Task] = []
    heads_of = (
        {user.department_id}
        if user.department_id and service.is_head_of(session, user, user.department_id)
        else set()
    )
    if heads_of:
        # the notice: prepare for the audit of one's department
        for audit in session.scalars(
            sa.select(Audit).where(
                Audit.department_id.in_(heads_of), Audit.state == AuditState.NOTIFIED
            )
        ):
            tasks.append(
                Task(
                    "audit",
                    _l("Prepare for the internal audit of your department"),
                    _url(audit),
                    audit.ref,
                    due=audit.audit_date,
                )
            )
        for finding, audit in session.execute(
            sa.select(AuditFinding, Audit)
            .join(Audit, Audit.id == AuditFinding.audit_id)
            .where(
                Audit.department_id.in_(heads_of),
                AuditFinding.acknowledged_at.is_(None),
                Audit.state.not_in([AuditState.CLOSED, AuditState.CANCELLED]),
            )
        ).all():
            tasks.append(
                Task(
                    "audit",
                    _l("Acknowledge finding %(no)s", no=finding.number),
                    _url(audit),
                    f"{audit.ref}#{finding.number}",
                )
            )
    steps = {
        AuditState.PLANNED: _l("Send the audit notice"),
        AuditState.NOTIFIED: _l("Hold the opening meeting"),
        AuditState.IN_PROGRESS: _l("Fill the checklist and hold the closing meeting"),
        AuditState.REPORTING: _l("Write and submit the audit report"),
    }
    leads: Any = (
        session.scalars(
            sa.select(Audit).where(Audit.lead_auditor_id == user.id, Audit.state.in_(list(steps)))
        )
        if user.can(Permission.RUN_AUDITS)
        else []
    )
    for audit in leads:
        due = audit.report_due if audit.state == AuditState.REPORTING else audit.audit_date
        tasks.append(
            Task(
                "audit",
                steps[audit.state],
                _url(audit),
                audit.ref,
                due=due,
                overdue=bool(due and due < today),
            )
        )
    if user.can(Permission.APPROVE_DOCUMENTS) and service.is_general_manager(session, user):
        for programme in session.scalars(
            sa.select(AuditProgramme).where(AuditProgramme.state == ProgrammeState.SUBMITTED)
        ):
            tasks.append(
                Task(
                    "approve",
                    _l("Approve the audit programme %(year)s", year=programme.year),
                    url_for("audits.programme", programme_id=programme.id),
                    str(programme.year),
                )
            )
        for audit in session.scalars(sa.select(Audit).where(Audit.state == AuditState.REPORTED)):
            tasks.append(Task("approve", _l("Approve the audit report"), _url(audit), audit.ref))
    return tasks
