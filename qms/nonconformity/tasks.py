"""Nonconformity work on people's task lists, and the daily mail about what is overdue:
to the owner and to the quality manager (the worker's daily job `nonconformity_overdue`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.nonconformity import rules
from qms.nonconformity.models import CorrectiveAction, Nonconformity
from qms.nonconformity.queries import overdue_clause
from qms.nonconformity.rules import ActionStatus, NcState
from qms.tasks.registry import Task, task_provider

KIND = "nonconformity"


def _url(nc: Nonconformity) -> str:
    return url_for("nonconformity.detail", nc_id=nc.id)


def overdue_items(nc: Nonconformity, today: date) -> list[Any]:
    """What is late on one nonconformity, each as a line a person reads."""
    lines: list[Any] = []
    if rules.is_cause_overdue(nc.state, nc.cause_due, today):
        lines.append(
            _l(
                "%(number)s: root cause and plan were due on %(date)s",
                number=nc.number,
                date=nc.cause_due.isoformat(),
            )
        )
    if rules.is_correction_overdue(nc.state, nc.correction_due, today):
        lines.append(
            _l(
                "%(number)s: correction was due on %(date)s",
                number=nc.number,
                date=nc.correction_due.isoformat(),
            )
        )
    for action in nc.round_actions():
        if rules.is_action_overdue(action.status, action.due_on, today):
            lines.append(
                _l(
                    "%(number)s: action “%(action)s” (%(owner)s) was due on %(date)s",
                    number=nc.number,
                    action=action.description[:80],
                    owner=action.owner.display_name,
                    date=action.due_on.isoformat(),
                )
            )
    return lines


def _owner_task(nc: Nonconformity, today: date) -> Task | None:
    if nc.state in rules.CAUSE_RUNNING:
        title = _l("Root cause and plan for %(number)s", number=nc.number)
        due = nc.cause_due
    elif nc.state == NcState.ACTIONS_IN_PROGRESS:
        title = _l("Corrective actions of %(number)s", number=nc.number)
        due = nc.correction_due
    else:
        return None
    late = rules.is_cause_overdue(nc.state, nc.cause_due, today) or rules.is_correction_overdue(
        nc.state, nc.correction_due, today
    )
    return Task(KIND, title, _url(nc), nc.number, due, late, nc.description[:120])


@task_provider
def nonconformity_tasks(session: Session, user: User) -> list[Task]:
    today = clock.today()
    tasks: list[Task] = []
    owned = session.scalars(
        sa.select(Nonconformity)
        .where(Nonconformity.owner_id == user.id, Nonconformity.state != NcState.CLOSED)
        .order_by(Nonconformity.id)
    ).unique()
    for nc in owned:
        task = _owner_task(nc, today)
        if task is not None:
            tasks.append(task)
    actions = session.scalars(
        sa.select(CorrectiveAction)
        .join(Nonconformity, Nonconformity.id == CorrectiveAction.nonconformity_id)
        .where(
            CorrectiveAction.owner_id == user.id,
            CorrectiveAction.status == ActionStatus.OPEN,
            CorrectiveAction.round == Nonconformity.round,
            CorrectiveAction.revision_id.is_(None),
            Nonconformity.state == NcState.ACTIONS_IN_PROGRESS,
        )
        .order_by(CorrectiveAction.due_on)
    ).unique()
    for action in actions:
        nc = action.nonconformity
        tasks.append(
            Task(
                KIND,
                _l(
                    "Action of %(number)s: %(action)s",
                    number=nc.number,
                    action=action.description[:80],
                ),
                _url(nc),
                nc.number,
                action.due_on,
                rules.is_action_overdue(action.status, action.due_on, today),
            )
        )
    if user.can(Permission.MANAGE_NONCONFORMITIES):
        late = session.scalars(
            sa.select(Nonconformity)
            .where(
                overdue_clause(today),
                sa.or_(Nonconformity.owner_id.is_(None), Nonconformity.owner_id != user.id),
            )
            .order_by(Nonconformity.raised_on)
            .limit(100)
        ).unique()
        for nc in late:
            tasks.append(
                Task(
                    KIND,
                    _l(
                        "Overdue: %(number)s (%(department)s)",
                        number=nc.number,
                        department=nc.department.name,
                    ),
                    _url(nc),
                    nc.number,
                    nc.correction_due,
                    True,
                    nc.description[:120],
                )
            )
    if user.can(Permission.VERIFY_NONCONFORMITIES):
        waiting = session.scalars(
            sa.select(Nonconformity)
            .where(Nonconformity.state == NcState.AWAITING_VERIFICATION)
            .order_by(Nonconformity.actions_completed_on)
            .limit(100)
        ).unique()
        for nc in waiting:
            from qms.nonconformity.service import _verifier_refusal, earliest_verification

            earliest = earliest_verification(nc)
            if _verifier_refusal(user, nc) is None and (earliest is None or earliest <= today):
                tasks.append(
                    Task(
                        KIND,
                        _l("Verify the effectiveness of %(number)s", number=nc.number),
                        _url(nc),
                        nc.number,
                        earliest,
                        False,
                    )
                )
    return tasks


class _Lines:
    """A mail body, rendered in the recipient's language when queued."""

    def __init__(self, lines: Iterable[Any]) -> None:
        self.lines = list(lines)

    def __str__(self) -> str:
        return "\n".join(str(line) for line in self.lines)


def overdue_reminders(session: Session, today: date) -> str:
    """One mail to each owner and each quality manager listing what is overdue."""
    from qms.mail.service import queue_mail
    from qms.nonconformity.service import quality_managers

    late = list(
        session.scalars(
            sa.select(Nonconformity).where(overdue_clause(today)).order_by(Nonconformity.number)
        ).unique()
    )
    if not late:
        return "no nonconformity overdue"
    by_person: dict[int, tuple[User, list[Any]]] = {}
    managers = quality_managers(session)
    for nc in late:
        items = overdue_items(nc, today)
        people = [*([nc.owner] if nc.owner is not None and nc.owner.active else []), *managers]
        for person in people:
            by_person.setdefault(person.id, (person, []))[1].extend(items)
    mails = 0
    for person, items in by_person.values():
        sent = queue_mail(
            session,
            person,
            _l("%(count)d overdue item(s) of nonconformities", count=len(items)),
            _Lines([_l("These corrective-action deadlines have passed:"), "", *items]),
        )
        mails += sent is not None
    return f"{len(late)} nonconformity(ies) overdue, {mails} reminder(s) queued"
