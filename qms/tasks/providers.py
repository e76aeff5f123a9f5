"""The document work that lands on a person's task list."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.calendar.service import working_calendar
from qms.distribution import copies, periodic, reading
from qms.distribution.models import ControlledCopy, ExternalSource
from qms.documents.lifecycle import RevState
from qms.documents.models import Document, ReviewDecision, ReviewerAssignment, Revision
from qms.tasks.registry import Task, task_provider

# Work waiting longer than this is shown as overdue.
REVIEW_DAYS = 7
# ZD-PZ-002: the old copies are back at the latest 3 working days after the new revision
# (or the withdrawal) takes effect; counted on the working-day calendar.
RECALL_WORKING_DAYS = 3
CURRENCY_CHECK_MONTHS = 12


def document_url(number: str) -> str:
    return url_for("documents.show", number=number)


def revision_url(revision: Revision) -> str:
    """The page of the revision to sign, where its signing form sits beside its text."""
    return url_for("documents.show", number=revision.document.number, revision=revision.label)


@task_provider
def to_review(session: Session, user: User) -> list[Task]:
    rows = session.scalars(sa.select(Revision).join(ReviewerAssignment).where(
        ReviewerAssignment.reviewer_id == user.id,
        ReviewerAssignment.decision == ReviewDecision.PENDING,
        Revision.state == RevState.IN_REVIEW).order_by(Revision.submitted_at)).unique().all()
    return [_waiting(Task("review", _l("Review %(number)s %(label)s: %(title)s",
                                       number=r.document.number, label=r.label, title=r.title),
                          revision_url(r), r.document.number), r)
            for r in rows]


@task_provider
def to_approve(session: Session, user: User) -> list[Task]:
    if not user.can(Permission.APPROVE_DOCUMENTS):
        return []
    pending = sa.select(ReviewerAssignment.id).where(
        ReviewerAssignment.revision_id == Revision.id,
        ReviewerAssignment.decision != ReviewDecision.AGREED).exists()
    rows = session.scalars(sa.select(Revision).where(
        Revision.approver_id == user.id, Revision.state == RevState.IN_REVIEW, ~pending,
    ).order_by(Revision.submitted_at)).all()
    return [_waiting(Task("approve", _l("Approve %(number)s %(label)s: %(title)s",
                                        number=r.document.number, label=r.label, title=r.title),
                          revision_url(r), r.document.number), r)
            for r in rows]


def _waiting(task: Task, revision: Revision) -> Task:
    since = revision.submitted_at
    if since is not None:
        task.due = (since + timedelta(days=REVIEW_DAYS)).date()
        task.overdue = task.due < clock.today()
    return task


@task_provider
def to_issue(session: Session, user: User) -> list[Task]:
    if not user.can(Permission.ISSUE_DOCUMENTS):
        return []
    rows = session.scalars(sa.select(Revision).where(
        Revision.state == RevState.APPROVED, Revision.issued_at.is_(None),
    ).order_by(Revision.approved_at)).all()
    return [Task("issue", _l("Issue %(number)s %(label)s: %(title)s", number=r.document.number,
                             label=r.label, title=r.title),
                 document_url(r.document.number), r.document.number) for r in rows]


@task_provider
def to_acknowledge(session: Session, user: User) -> list[Task]:
    today = clock.today()
    return [Task("acknowledge", _l("Read and acknowledge %(number)s %(label)s: %(title)s",
                                   number=a.revision.document.number, label=a.revision.label,
                                   title=a.revision.title),
                 url_for("distribution.read", revision_id=a.revision_id),
                 a.revision.document.number, a.due_date, a.is_overdue(today),
                 _what_changed(a.revision.change_summary))
            for a in reading.pending_for(session, user)]


def _what_changed(summary: str) -> str:
    return str(_l("What changed: %(summary)s", summary=summary)) if summary.strip() else ""


@task_provider
def to_receive(session: Session, user: User) -> list[Task]:
    return [Task("receive",
                 _l("Confirm receipt of controlled copy %(ref)s", ref=copies.copy_ref(c)),
                 url_for("distribution.my_copies"), c.revision.document.number)
            for c in copies.unreceived_for(session, user)]


@task_provider
def to_recall(session: Session, user: User) -> list[Task]:
    if not user.can(Permission.ISSUE_DOCUMENTS):
        return []
    rows = session.execute(
        sa.select(Revision, sa.func.count(ControlledCopy.id), sa.func.min(
            ControlledCopy.recall_requested_at))
        .join(ControlledCopy, ControlledCopy.revision_id == Revision.id)
        .where(ControlledCopy.recall_requested_at.is_not(None),
               ControlledCopy.recall_outcome.is_(None))
        .group_by(Revision.id).order_by(Revision.id)).all()
    calendar = working_calendar(session) if rows else None
    today = clock.today()
    tasks = []
    for r, count, since in rows:
        due = calendar.add_working_days(_local_date(since), RECALL_WORKING_DAYS) if (
            calendar and since) else None
        tasks.append(Task("recall", _l("Recall %(count)d copies of %(number)s %(label)s",
                                       count=count, number=r.document.number, label=r.label),
                          url_for("distribution.recalls"), r.document.number,
                          due, due is not None and due < today))
    return tasks


def _local_date(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(clock.local_zone()).date()


@task_provider
def periodic_reviews_due(session: Session, user: User) -> list[Task]:
    today = clock.today()
    stmt = periodic.due_documents(today)
    if not user.can(Permission.ISSUE_DOCUMENTS):
        stmt = stmt.where(Document.author_id == user.id)
    tasks = []
    for d in session.scalars(stmt):
        status = periodic.review_status(d, today)
        url = (url_for("distribution.periodic_review", number=d.number)
               if user.can(Permission.ISSUE_DOCUMENTS) else document_url(d.number))
        tasks.append(Task("periodic_review", _l("Periodic review of %(number)s: %(title)s",
                                                number=d.number, title=d.title),
                          url, d.number, d.next_review_date, status == "overdue"))
    return tasks


@task_provider
def currency_checks_due(session: Session, user: User) -> list[Task]:
    """External documents whose owner has not checked they are current for a year."""
    from qms import clock as c

    limit = c.add_months(c.today(), -CURRENCY_CHECK_MONTHS)
    rows = session.scalars(sa.select(ExternalSource).join(ExternalSource.document).where(
        ExternalSource.owner_id == user.id, Document.status == RevState.EFFECTIVE,
        sa.or_(ExternalSource.currency_checked_on.is_(None),
               ExternalSource.currency_checked_on <= limit),
    )).all()
    return [Task("currency_check", _l("Check that %(number)s %(title)s is still current",
                                      number=e.document.number, title=e.document.title),
                 url_for("distribution.external_detail", number=e.document.number),
                 e.document.number,
                 c.add_months(e.currency_checked_on, CURRENCY_CHECK_MONTHS)
                 if e.currency_checked_on else None, True)
            for e in rows]
