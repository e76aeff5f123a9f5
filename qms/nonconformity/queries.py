"""Who sees which nonconformities, and the register's filters, in SQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.nonconformity.models import CorrectiveAction, Nonconformity
from qms.nonconformity.rules import CAUSE_RUNNING, CORRECTION_RUNNING, ActionStatus


def visible_clause(user: User) -> sa.ColumnElement[bool]:
    """Quality staff and auditors see every department's; others their department's, and
    the ones they own or hold an action of."""
    if user.can(Permission.VIEW_NONCONFORMITIES):
        return sa.true()
    holds_action = sa.select(CorrectiveAction.nonconformity_id).where(
        CorrectiveAction.owner_id == user.id
    )
    mine: list[sa.ColumnElement[bool]] = [
        Nonconformity.owner_id == user.id,
        Nonconformity.id.in_(holds_action),
    ]
    if user.department_id is not None:
        mine.append(Nonconformity.department_id == user.department_id)
    return sa.or_(*mine)


def overdue_clause(today: date) -> sa.ColumnElement[bool]:
    late_action = (
        sa.select(CorrectiveAction.id)
        .where(
            CorrectiveAction.nonconformity_id == Nonconformity.id,
            CorrectiveAction.round == Nonconformity.round,
            CorrectiveAction.status == ActionStatus.OPEN,
            CorrectiveAction.due_on < today,
        )
        .exists()
    )
    return sa.or_(
        sa.and_(Nonconformity.state.in_(list(CAUSE_RUNNING)), Nonconformity.cause_due < today),
        sa.and_(
            Nonconformity.state.in_(list(CORRECTION_RUNNING)),
            Nonconformity.correction_due < today,
        ),
        late_action,
    )


def register(user: User, filters: dict[str, Any], today: date) -> sa.Select[Any]:
    """Rows of (Nonconformity, overdue) for the register, newest first."""
    overdue = overdue_clause(today)
    stmt = sa.select(Nonconformity, overdue.label("overdue")).where(visible_clause(user))
    if filters.get("state"):
        stmt = stmt.where(Nonconformity.state == filters["state"])
    if filters.get("grade"):
        stmt = stmt.where(Nonconformity.grade == filters["grade"])
    if filters.get("source"):
        stmt = stmt.where(Nonconformity.source == filters["source"])
    if filters.get("department"):
        stmt = stmt.where(
            Nonconformity.department_id.in_(
                sa.select(Department.id).where(Department.code == filters["department"])
            )
        )
    if filters.get("clause"):
        stmt = stmt.where(Nonconformity.clause == filters["clause"])
    if filters.get("process"):
        stmt = stmt.where(Nonconformity.process_number == filters["process"])
    if filters.get("overdue"):
        stmt = stmt.where(overdue)
    return stmt.order_by(Nonconformity.raised_on.desc(), Nonconformity.id.desc())
