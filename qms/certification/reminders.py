"""The certification due dates where people look: a task for each date within 90 days (or
missed), a home panel for the quality manager and the clerk, and a daily mail at 90, 30 and
7 days before each date."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import User
from qms.auth.permissions import Permission, Role
from qms.certification import rules
from qms.certification.labels import DUE_LABELS, STATUS_LABELS
from qms.certification.models import ReminderSent
from qms.home import Panel, panel_provider
from qms.tasks.registry import Task, task_provider

TASK_HORIZON_DAYS = max(rules.REMINDER_DAYS)


@task_provider
def certification_due(session: Session, user: User) -> list[Task]:
    if not user.can(Permission.MANAGE_CERTIFICATION):
        return []
    from qms.certification.service import due_items

    today = clock.today()
    out = []
    for item in due_items(session, today):
        left = rules.days_left(item.due, today)
        if left > TASK_HORIZON_DAYS:
            continue
        out.append(
            Task(
                "certification",
                _l(
                    "%(what)s: certificate %(number)s (%(body)s)",
                    what=DUE_LABELS[item.kind],
                    number=item.certificate.number,
                    body=item.certificate.body.name,
                ),
                url_for("certification.certificate", certificate_id=item.certificate.id),
                item.certificate.number,
                item.due,
                left < 0,
            )
        )
    return out


@panel_provider
def certification_panel(session: Session, user: User) -> list[Panel]:
    """The quality manager's and the clerk's home: the certificate's status, next dates."""
    if not (Role.QUALITY_MANAGER in user.roles or Role.QUALITY_CLERK in user.roles):
        return []
    from qms.certification.service import current_certificates, due_items

    today = clock.today()
    certificates = current_certificates(session)
    items = due_items(session, today, certificates)[:5]
    return [
        Panel(
            title=_l("Certification"),
            order=20,
            links=[
                (_l("Certification"), "certification.index"),
                (_l("Certification calendar"), "certification.calendar_page"),
            ],
            template="certification/_panel.html",
            context={
                "certificates": certificates[:3],
                "dues": items,
                "today": today,
                "status_labels": STATUS_LABELS,
                "due_labels": DUE_LABELS,
            },
        )
    ]


def send_reminders(session: Session, today: date) -> str:
    """The daily job: expire what has expired, then mail each manager of certification the
    dates 90, 30 or 7 days away (once each, whatever the number of runs)."""
    from qms.certification.service import due_items, expire_certificates
    from qms.mail.service import queue_mail

    expired = expire_certificates(session, today)
    hits: list[tuple[Any, int]] = []
    for item in due_items(session, today):
        threshold = rules.reminder_threshold(item.due, today)
        if threshold is None:
            continue
        sent = session.scalar(
            sa.select(ReminderSent.id).where(
                ReminderSent.certificate_id == item.certificate.id,
                ReminderSent.kind == item.kind,
                ReminderSent.due == item.due,
                ReminderSent.threshold == threshold,
            )
        )
        if sent is None:
            hits.append((item, threshold))
    if not hits:
        return f"{len(expired)} certificate(s) expired, no certification reminder due"
    readers = [
        u
        for u in session.scalars(
            sa.select(User).where(User.active.is_(True), User.email != "").order_by(User.id)
        ).unique()
        if u.can(Permission.MANAGE_CERTIFICATION)
    ]
    for item, threshold in hits:
        session.add(
            ReminderSent(
                certificate_id=item.certificate.id,
                kind=item.kind,
                due=item.due,
                threshold=threshold,
            )
        )
        for user in readers:
            queue_mail(
                session,
                user,
                _l(
                    "%(what)s due in %(days)d days: certificate %(number)s",
                    what=DUE_LABELS[item.kind],
                    days=threshold,
                    number=item.certificate.number,
                ),
                _l(
                    "%(what)s for certificate %(number)s of %(body)s is due on "
                    "%(date)s (%(days)d days from today).",
                    what=DUE_LABELS[item.kind],
                    number=item.certificate.number,
                    body=item.certificate.body.name,
                    date=item.due.isoformat(),
                    days=threshold,
                ),
            )
    session.flush()
    return (
        f"{len(expired)} certificate(s) expired, {len(hits)} certification reminder(s) "
        f"to {len(readers)} person(s)"
    )
