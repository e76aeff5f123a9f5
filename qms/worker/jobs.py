"""What the worker does: each round it sends the mail that is due and drains the search
outbox; once a day it runs each daily job (revisions effective today, periodic-review
reminders, overdue-task reminders, expired idempotency keys).

A daily job runs at most once per calendar day, whatever the number of workers: its row
in daily_job_run is claimed with SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL; another
worker passes over it) and marked with the day by a conditional UPDATE in the same
transaction as the job's own changes, so a crash leaves neither half. SQLite has no row
locks: run one worker there (a second one waits for the database lock and then finds the
job done, but nothing more is promised)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.db import get_engine, new_session
from qms.worker.models import DailyJobRun

log = logging.getLogger("qms.worker")


@dataclass(frozen=True)
class DailyJob:
    kind: str
    run: Callable[[Session, date], str]  # does the day's work; answers one line for the log


class _Lines:
    """A mail body of lines, rendered when queue_mail renders it (the recipient's language)."""

    def __init__(self, lines: Iterable[Any]) -> None:
        self.lines = list(lines)

    def __str__(self) -> str:
        return "\n".join(str(line) for line in self.lines)


def _readers(session: Session) -> list[User]:
    return list(
        session.scalars(
            sa.select(User).where(User.active.is_(True), User.email != "").order_by(User.id)
        ).unique()
    )


# -- the daily jobs ---------------------------------------------------------------------------


def activate_effective_revisions(session: Session, today: date) -> str:
    """Revisions issued for a date that has come become effective (as `qms activate-due`)."""
    from qms.documents import service

    done = service.activate_due(session, today)
    names = ", ".join(f"{r.document.number} {r.label}" for r in done)
    return f"{len(done)} revision(s) made effective" + (f": {names}" if names else "")


def periodic_review_reminders(session: Session, today: date) -> str:
    """Document control hears of every document due or overdue for its periodic review
    (within the 30 days of qms.documents.periodic), authors of their own."""
    from qms.distribution import periodic
    from qms.mail.service import queue_mail

    due = list(session.scalars(periodic.due_documents(today)))
    if not due:
        return "no periodic review due"
    mails = 0
    for user in _readers(session):
        mine = [
            d for d in due if user.can(Permission.ISSUE_DOCUMENTS) or d.author_id == user.id
        ]
        if not mine:
            continue
        lines = [
            (_l("%(number)s %(title)s: overdue since %(date)s", number=d.number, title=d.title,
                date=d.next_review_date.isoformat())
             if periodic.review_status(d, today) == "overdue"
             else _l("%(number)s %(title)s: due on %(date)s", number=d.number, title=d.title,
                     date=d.next_review_date.isoformat()))
            for d in mine
            if d.next_review_date is not None
        ]
        queue_mail(
            session,
            user,
            _l("Periodic review due for %(count)d document(s)", count=len(lines)),
            _Lines([_l("These documents are due for their periodic review:"), "", *lines]),
        )
        mails += 1
    return f"{len(due)} document(s) due for periodic review, {mails} reminder(s) queued"


# kinds of task with a daily reminder of their own
OWN_REMINDERS = ("periodic_review", "nonconformity")


def overdue_task_reminders(session: Session, today: date) -> str:
    """Everybody with overdue tasks (reviews, approvals, reading …) gets one mail listing
    them; periodic reviews have their own reminder."""
    from qms.mail.service import queue_mail
    from qms.tasks.registry import tasks_for

    mails = tasks = 0
    for user in _readers(session):
        overdue = [
            t for t in tasks_for(session, user) if t.overdue and t.kind not in OWN_REMINDERS
        ]
        if not overdue:
            continue
        lines = [
            _l("%(task)s (due %(date)s)", task=t.title, date=t.due.isoformat())
            if t.due
            else t.title
            for t in overdue
        ]
        queue_mail(
            session,
            user,
            _l("You have %(count)d overdue task(s)", count=len(overdue)),
            _Lines([_l("These tasks are overdue:"), "", *lines]),
        )
        mails += 1
        tasks += len(overdue)
    return f"{tasks} overdue task(s), {mails} reminder(s) queued"


def nonconformity_overdue(session: Session, today: date) -> str:
    """Owners and the quality manager hear of overdue causes, actions and corrections."""
    from qms.nonconformity.tasks import overdue_reminders

    return overdue_reminders(session, today)


def purge_idempotency_keys(session: Session, today: date) -> str:
    from qms.api.idempotency import purge_expired

    return f"{purge_expired(session)} expired idempotency key(s) deleted"


def certification_reminders(session: Session, today: date) -> str:
    from qms.certification.reminders import send_reminders

    return send_reminders(session, today)


def writing_chases(session: Session, today: date) -> str:
    from qms.writing.reminders import chase_late_items

    return chase_late_items(session, today)


DAILY_JOBS = [
    DailyJob("activate_revisions", activate_effective_revisions),
    DailyJob("periodic_review_reminders", periodic_review_reminders),
    DailyJob("overdue_task_reminders", overdue_task_reminders),
    DailyJob("purge_idempotency_keys", purge_idempotency_keys),
    DailyJob("certification_reminders", certification_reminders),
    DailyJob("nonconformity_overdue", nonconformity_overdue),
    DailyJob("writing_chases", writing_chases),
]


def _ensure_rows(jobs: list[DailyJob]) -> None:
    session = new_session()
    try:
        known = set(session.scalars(sa.select(DailyJobRun.kind)))
        missing = [job.kind for job in jobs if job.kind not in known]
        if not missing:
            return
        session.add_all(DailyJobRun(kind=kind) for kind in missing)
        session.commit()
    except IntegrityError:
        session.rollback()  # another worker wrote them first
    finally:
        session.close()


def run_daily_jobs(today: date | None = None, jobs: list[DailyJob] | None = None) -> list[str]:
    """Run each daily job not yet run today; answers a line per job done."""
    today = today or clock.today()
    jobs = DAILY_JOBS if jobs is None else jobs
    _ensure_rows(jobs)
    done = []
    for job in jobs:
        line = _run_claimed(job, today)
        if line is not None:
            done.append(line)
    return done


def _run_claimed(job: DailyJob, today: date) -> str | None:
    not_yet_today = sa.and_(
        DailyJobRun.kind == job.kind,
        sa.or_(DailyJobRun.last_run_on.is_(None), DailyJobRun.last_run_on < today),
    )
    session = new_session()
    try:
        if get_engine().dialect.name != "sqlite":
            claimed = session.scalar(
                sa.select(DailyJobRun.kind).where(not_yet_today).with_for_update(skip_locked=True)
            )
            if claimed is None:
                return None  # done today, or another worker is doing it now
        marked = session.execute(
            sa.update(DailyJobRun)
            .where(not_yet_today)
            .values(last_run_on=today, last_run_at=clock.now())
        )
        if getattr(marked, "rowcount", 0) != 1:
            session.rollback()
            return None
        result = job.run(session, today)
        session.execute(
            sa.update(DailyJobRun)
            .where(DailyJobRun.kind == job.kind)
            .values(last_result=result[:500])
        )
        session.commit()
        return f"{job.kind}: {result}"
    except Exception:
        session.rollback()
        log.exception("daily job %s failed; it runs again next round", job.kind)
        return None
    finally:
        session.close()


# -- every round ------------------------------------------------------------------------------


def send_mail() -> str | None:
    from qms.mail.service import RetryPolicy, SmtpSettings, send_due

    smtp = SmtpSettings.from_config(current_app.config)
    if not smtp.host:
        return None  # no mail server: mail stays on the outbox page
    outcome = send_due(get_engine(), smtp, RetryPolicy.from_config(current_app.config))
    if not outcome:
        return None
    return (
        f"mail: {outcome.sent} sent, {outcome.retrying} to be tried again, "
        f"{outcome.failed} failed"
    )


def drain_search_outbox(app: Flask) -> str | None:
    from qms.search import service

    done = service.drain(app)
    return f"search: {done} change(s) indexed" if done else None


def run_round(app: Flask) -> list[str]:
    """One round of the worker, inside an app context: the daily jobs that are due, then
    the mail, then the search index (both fed by what the jobs just did)."""
    # The task providers build links to pages: give them a request context of their own.
    with app.test_request_context("/"):
        lines = run_daily_jobs()
    for step in (send_mail, lambda: drain_search_outbox(app)):
        try:
            line = step()
        except Exception:
            log.exception("worker step failed; it runs again next round")
            continue
        if line:
            lines.append(line)
    return lines
