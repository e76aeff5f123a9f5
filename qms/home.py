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


# -- the auditor's home page ----------------------------------------------------------------


@dataclass
class Line:
    """One line of an auditor's list: what, where it leads (None: nowhere this reader may
    open), when, and a short note."""

    text: str
    url: str | None = None
    when: Any = None
    note: Any = ""


def _url(endpoint: str, **values: Any) -> str:
    from flask import url_for

    return url_for(endpoint, **values)


@panel_provider
def _auditor_panels(session: Session, user: User) -> list[Panel]:
    """What an internal auditor looks at first: what was issued and withdrawn, what is overdue
    for periodic review, open review defects, the latest trail entries and whether the trail
    was last verified intact."""
    if Role.AUDITOR not in user.roles:
        return []
    panels = [
        _list_panel(_l("Recently issued and withdrawn"), 11, _issued_and_withdrawn(session, user),
                    _l("Nothing issued or withdrawn yet."), "auditor-issued",
                    [(_l("Document register"), "documents.register")]),
        _list_panel(_l("Overdue for periodic review"), 12, _overdue_reviews(session, user),
                    _l("No document is overdue for periodic review."), "auditor-overdue",
                    [(_l("Periodic reviews"), "distribution.periodic_reviews")]
                    if user.can(Permission.VIEW_REGISTER) else []),
        _list_panel(_l("Open review defects"), 13, _open_defects(session, user),
                    _l("No review defect is open."), "auditor-defects",
                    [(_l("Reviews"), "reviews.index")]),
    ]
    if user.can(Permission.VIEW_TRAIL):
        panels.append(_list_panel(_l("Latest audit trail entries"), 14,
                                  _recent_trail(session, user), _l("The trail is empty."),
                                  "auditor-trail", [(_l("Audit trail"), "trail.entries")]))
        panels.append(Panel(title=_l("Audit trail verification"), order=15,
                            template="home/_trail_status.html",
                            context={"status": trail_status(session)}))
    return panels


def _list_panel(title: Any, order: int, lines: list[Line], empty: Any, anchor: str,
                links: list[tuple[Any, str]]) -> Panel:
    return Panel(title=title, order=order, links=links, template="home/_lines.html",
                 context={"lines": lines, "empty": empty, "id": anchor})


def _issued_and_withdrawn(session: Session, user: User, limit: int = 8) -> list[Line]:
    from qms.documents.lifecycle import RevState
    from qms.documents.models import Document, Revision
    from qms.documents.visibility import readable_documents_clause, reader_for

    readable = readable_documents_clause(reader_for(session, user))
    issued = session.execute(
        sa.select(Document.number, Revision.title, Revision.label, Revision.effective_at)
        .join(Revision, Revision.document_id == Document.id)
        .where(Revision.effective_at.is_not(None), readable)
        .order_by(Revision.effective_at.desc()).limit(limit)).all()
    withdrawn = session.execute(
        sa.select(Document.number, Revision.title, Revision.label, Revision.ended_at)
        .join(Revision, Revision.document_id == Document.id)
        .where(Revision.state == RevState.OBSOLETE, Revision.ended_at.is_not(None), readable)
        .order_by(Revision.ended_at.desc()).limit(limit)).all()
    events = [(at, number, title, label, _l("issued")) for number, title, label, at in issued]
    events += [(at, number, title, label, _l("withdrawn"))
               for number, title, label, at in withdrawn]
    events.sort(key=lambda e: e[0], reverse=True)
    return [Line(f"{number} {title} · {label}", _url("documents.show", number=number), at, what)
            for at, number, title, label, what in events[:limit]]


def _overdue_reviews(session: Session, user: User, limit: int = 8) -> list[Line]:
    from qms import clock
    from qms.documents.lifecycle import RevState
    from qms.documents.models import Document
    from qms.documents.visibility import readable_documents_clause, reader_for

    today = clock.today()
    rows = session.execute(
        sa.select(Document.number, Document.title, Document.next_review_date)
        .where(Document.status == RevState.EFFECTIVE, Document.next_review_date < today,
               readable_documents_clause(reader_for(session, user)))
        .order_by(Document.next_review_date, Document.number).limit(limit)).all()
    return [Line(f"{number} {title}", _url("documents.show", number=number), None,
                 _l("due %(date)s", date=due.isoformat()))
            for number, title, due in rows]


def _open_defects(session: Session, user: User, limit: int = 8) -> list[Line]:
    from qms.reviews import access
    from qms.reviews.models import SEVERITY_LABELS, Defect, Disposition, Review

    stmt = (sa.select(Defect).join(Review, Review.id == Defect.review_id)
            .where(sa.or_(Defect.disposition == Disposition.OPEN,
                          sa.and_(Defect.disposition == Disposition.ACCEPTED,
                                  Defect.verified_at.is_(None))),
                   Defect.carried_to_id.is_(None))
            .order_by(Defect.raised_at.desc(), Defect.id.desc()))
    lines: list[Line] = []
    for defect in session.scalars(access.readable_reviews(session, user, stmt).limit(limit * 3)):
        if not access.may_see_review(session, user, defect.review):
            continue  # only what this reader may open, not even its description
        description = defect.description if len(defect.description) <= 60 else (
            defect.description[:60] + "…")
        lines.append(Line(f"{defect.review.ref} #{defect.number} {description}",
                          _url("reviews.detail", review_id=defect.review_id), defect.raised_at,
                          SEVERITY_LABELS[defect.severity]))
        if len(lines) >= limit:
            break
    return lines


def _recent_trail(session: Session, user: User, limit: int = 8) -> list[Line]:
    from qms.trail import access, labels
    from qms.trail.models import TrailEntry

    entries = session.scalars(sa.select(TrailEntry).order_by(TrailEntry.seq.desc()).limit(limit))
    lines = access.lines(session, user, entries)
    names = labels.object_names(session, user, lines)
    # in the reader's words, as on the trail page: who, what was done, to which record
    return [Line(f"#{line.seq} {labels.actor_text(line)} · {labels.action_label(line.action)} · "
                 f"{labels.object_text(names, line.object_type, line.object_id)}",
                 None, line.at, "")
            for line in lines]


def trail_status(session: Session) -> dict[str, Any]:
    """The outcome of the last `qms verify-trail` and how many entries came after it."""
    from qms.trail import verification
    from qms.trail.models import TrailEntry
    from qms.trail.service import data_dir

    last = verification.load(data_dir())
    newest = session.scalar(sa.select(sa.func.max(TrailEntry.seq))) or 0
    return {"last": last, "entries_since": max(newest - (last.last_seq if last else 0), 0)}
