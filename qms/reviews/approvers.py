"""Who approves review plans and reports (handbook 5.2): the general manager, or a delegate
he names in the approval matrix. Naming, delegating and removing are quality records: each
goes into the trail with who did it, to whom, when and why."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.db import utcnow
from qms.errors import Forbidden, Invalid, NotFound
from qms.reviews.models import ApproverCapacity, PlanApprover
from qms.trail import service as trail

OBJECT_TYPE = "review_approver"
GM = ApproverCapacity.GENERAL_MANAGER


def entries(session: Session) -> list[PlanApprover]:
    """The general manager first, then his delegates in the order they were named."""
    rows = session.scalars(sa.select(PlanApprover).order_by(PlanApprover.id)).all()
    return sorted(rows, key=lambda e: e.capacity != GM)


def general_manager(session: Session) -> User | None:
    entry = session.scalar(sa.select(PlanApprover).where(PlanApprover.capacity == GM))
    return entry.user if entry is not None else None


def _able(user: User) -> bool:
    return user.active and user.can(Permission.APPROVE_DOCUMENTS)


def plan_approvers(session: Session) -> list[User]:
    """Everyone who may sign a review plan now."""
    return [e.user for e in entries(session) if _able(e.user)]


def may_approve_plans(session: Session, user: User) -> bool:
    return _able(user) and any(u.id == user.id for u in plan_approvers(session))


def _names(session: Session) -> list[str]:
    out = []
    for entry in entries(session):
        if not _able(entry.user):
            continue
        if entry.capacity == GM:
            out.append(str(_l("%(name)s (general manager)", name=entry.user.display_name)))
        else:
            out.append(str(_l("%(name)s (delegate)", name=entry.user.display_name)))
    return out


def refusal_details(session: Session) -> dict[str, Any]:
    return {"approvers": _names(session)}


def who_may_approve(session: Session) -> str:
    names = _names(session)
    if not names:
        return str(_l("Nobody is named yet: the approval matrix of reviews names no general "
                      "manager."))
    return str(_l("Review plans and reports are approved by: %(names)s.",
                  names=", ".join(names)))


def refuse_unless_plan_approver(session: Session, user: User, *, code: str) -> None:
    """A refusal that names who may approve, for anyone else."""
    if may_approve_plans(session, user):
        return
    raise Forbidden(
        _l("Only the general manager or a delegate he named in the approval matrix approves "
           "review plans and reports. %(who)s", who=who_may_approve(session)),
        code=code, details=refusal_details(session))


def _check_manager(actor: User | None) -> None:
    if actor is not None and not actor.can(Permission.MANAGE_APPROVAL_MATRIX):
        raise Forbidden(_l("Only an administrator of the approval matrix names the general "
                           "manager and his delegates."))


def _check_person(user: User) -> None:
    if not _able(user):
        raise Invalid(_l("%(name)s holds no right to approve and cannot sign review plans.",
                         name=user.display_name), code="not_an_approver")


def name_general_manager(session: Session, actor: User | None, user: User,
                         reason: str = "") -> PlanApprover:
    """Name the general manager; the one named before is no longer."""
    _check_manager(actor)
    _check_person(user)
    old = session.scalar(sa.select(PlanApprover).where(PlanApprover.capacity == GM))
    if old is not None and old.user_id == user.id:
        raise Invalid(_l("%(name)s is already named as the general manager.",
                         name=user.display_name))
    if old is not None:
        session.delete(old)
        session.flush()
    entry = session.scalar(sa.select(PlanApprover).where(PlanApprover.user_id == user.id))
    if entry is None:
        entry = PlanApprover(user=user, user_id=user.id)
        session.add(entry)
    entry.capacity = GM
    entry.delegated_by_id = actor.id if actor else None
    entry.reason = reason.strip()
    entry.granted_at = utcnow()
    session.flush()
    trail.record(session, actor, "name", OBJECT_TYPE, user.username, field="capacity",
                 old=old.user.username if old is not None else None, new=str(GM),
                 reason=reason.strip())
    return entry


def delegate(session: Session, actor: User | None, user: User, reason: str) -> PlanApprover:
    """Name a delegate of the general manager; the reason is required."""
    _check_manager(actor)
    gm = general_manager(session)
    if gm is None:
        raise Invalid(_l("Name the general manager first; a delegate approves in his place."),
                      code="no_general_manager")
    if not reason.strip():
        raise Invalid(_l("Say why the general manager delegates (kept in the trail)."),
                      code="reason_required")
    _check_person(user)
    if session.scalar(sa.select(PlanApprover).where(PlanApprover.user_id == user.id)):
        raise Invalid(_l("%(name)s already approves review plans.", name=user.display_name))
    entry = PlanApprover(user=user, user_id=user.id, capacity=ApproverCapacity.DELEGATE,
                         delegated_by_id=actor.id if actor else None, reason=reason.strip(),
                         granted_at=utcnow())
    session.add(entry)
    session.flush()
    trail.record(session, actor, "delegate", OBJECT_TYPE, user.username, field="capacity",
                 new=f"{ApproverCapacity.DELEGATE} of {gm.username}", reason=reason.strip())
    return entry


def remove(session: Session, actor: User | None, entry_id: int, reason: str) -> None:
    _check_manager(actor)
    entry = session.get(PlanApprover, entry_id)
    if entry is None:
        raise NotFound(_l("There is no such entry in the approval matrix of reviews."))
    if not reason.strip():
        raise Invalid(_l("Say why this approver is removed (kept in the trail)."),
                      code="reason_required")
    trail.record(session, actor, "revoke", OBJECT_TYPE, entry.user.username, field="capacity",
                 old=str(entry.capacity), reason=reason.strip())
    session.delete(entry)
    session.flush()
