"""The home page: each role sees the panels that matter to it. Features add providers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import User
from qms.auth.permissions import ROLE_LABELS, Permission, Role


@dataclass
class Panel:
    title: Any
    order: int = 50
    links: list[tuple[Any, str]] = field(default_factory=list)  # (label, endpoint)
    rows: list[tuple[Any, Any]] = field(default_factory=list)  # (label, value)
    template: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


PanelProvider = Callable[[Session, User], list[Panel]]
PANEL_PROVIDERS: list[PanelProvider] = []


def panel_provider(fn: PanelProvider) -> PanelProvider:
    PANEL_PROVIDERS.append(fn)
    return fn


def primary_role(user: User) -> Role:
    """The role the home page is written for: the most specific one the user holds."""
    for role in (
        Role.ADMIN,
        Role.QUALITY_CLERK,
        Role.QUALITY_MANAGER,
        Role.REVIEW_LEADER,
        Role.APPROVER,
        Role.AUDITOR,
        Role.REVIEWER,
        Role.STAFF,
    ):
        if role in user.roles:
            return role
    return Role.STAFF


def home_panels(session: Session, user: User) -> dict[str, Any]:
    panels: list[Panel] = []
    for provider in PANEL_PROVIDERS:
        panels.extend(provider(session, user))
    panels.sort(key=lambda p: p.order)
    role = primary_role(user)
    return {"role": role, "role_label": ROLE_LABELS[role], "panels": panels}


@panel_provider
def _admin_panel(session: Session, user: User) -> list[Panel]:
    if not user.can(Permission.MANAGE_USERS):
        return []
    from qms.auth.models import User as U
    from qms.db import utcnow

    total = session.scalar(sa.select(sa.func.count()).select_from(U)) or 0
    locked = session.scalars(
        sa.select(U).where(U.locked_until > utcnow()).order_by(U.username)
    ).all()
    panel = Panel(
        title=_l("People and access"),
        order=10,
        links=[
            (_l("Users"), "admin.users"),
            (_l("Departments"), "admin.departments"),
            (_l("Audit trail"), "trail.entries"),
        ],
        rows=[
            (_l("Users"), total),
            (_l("Locked accounts"), ", ".join(u.username for u in locked) or "—"),
        ],
    )
    return [panel]
