"""One entry point for the lifecycle actions, shared by the HTML views and the API:
parse what the user sent, call the one service operation, return the revision."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import User
from qms.auth.signatures import seen_hash
from qms.documents import service
from qms.documents.models import Document, Revision
from qms.errors import Conflict, Invalid

ACTIONS = ("submit", "review", "approve", "reject", "issue", "revise", "withdraw", "cancel")


def _users(session: Session, names: Any) -> list[User]:
    if isinstance(names, str):
        names = [n for n in names.replace(",", " ").split() if n]
    if not isinstance(names, list):
        raise Invalid(_l("Name the reviewers as a list of usernames."))
    found = {
        u.username: u
        for u in session.scalars(sa.select(User).where(User.username.in_([str(n) for n in names])))
    }
    missing = [str(n) for n in names if str(n) not in found]
    if missing:
        raise Invalid(_l("Unknown users: %(names)s.", names=", ".join(missing)))
    return [found[str(n)] for n in names]


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(_l("%(value)s is not a date (YYYY-MM-DD).", value=value)) from None


def _target(document: Document, revision_id: Any) -> Revision:
    working = document.working_revision
    if working is None:
        raise Conflict(
            _l("%(number)s has no revision in work.", number=document.number),
            code="transition_not_allowed",
        )
    if revision_id not in (None, "") and str(revision_id) != str(working.id):
        raise Conflict(
            _l(
                "This page was out of date: the revision in work has changed. Reload and try again."
            ),
            code="stale",
        )
    return working


def apply(session: Session, actor: User, document: Document, data: Mapping[str, Any]) -> Revision:
    action = str(data.get("action") or "")
    password = str(data.get("password") or "")
    comment = str(data.get("comment") or "")
    seen = seen_hash(data)
    if action not in ACTIONS:
        raise Invalid(_l("Unknown action %(action)s.", action=action or "—"))
    if action == "revise":
        return service.revise(
            session,
            actor,
            document,
            major_change=str(data.get("major", "true")).lower()
            in ("1", "true", "yes", "on", "major"),
            change_summary=comment,
        )
    if action == "withdraw":
        service.withdraw(
            session, actor, document, reason=comment, password=password, content_sha256=seen
        )
        latest = session.scalar(
            sa.select(Revision)
            .where(Revision.document_id == document.id)
            .order_by(Revision.major.desc(), Revision.minor.desc())
        )
        if latest is None:
            raise RuntimeError("withdrawn document without revisions")
        return latest
    revision = _target(document, data.get("revision_id"))
    if action == "submit":
        approver_name = str(data.get("approver") or "")
        if not approver_name:
            raise Invalid(_l("Name the approver."))
        approver = _users(session, [approver_name])[0]
        return service.submit_for_review(
            session,
            actor,
            revision,
            reviewers=_users(session, data.get("reviewers") or []),
            approver=approver,
            password=password,
            content_sha256=seen,
        )
    if action == "review":
        return service.review(
            session, actor, revision, password=password, content_sha256=seen, comment=comment
        )
    if action == "reject":
        return service.reject(session, actor, revision, comment=comment)
    if action == "approve":
        return service.approve(
            session, actor, revision, password=password, content_sha256=seen, comment=comment
        )
    if action == "issue":
        return service.issue(
            session,
            actor,
            revision,
            password=password,
            content_sha256=seen,
            effective_date=_date(data.get("effective_date")),
        )
    return service.cancel(session, actor, revision, reason=comment)


def reassign(
    session: Session, actor: User, document: Document, data: Mapping[str, Any]
) -> Revision:
    """The quality manager names another approver of the revision in review."""
    revision = _target(document, data.get("revision_id"))
    name = data.get("approver")
    if not isinstance(name, str) or not name.strip():
        raise Invalid(_l("Name the new approver."), code="approver_required")
    reason = data.get("reason")
    if not isinstance(reason, str):
        reason = ""
    approver = _users(session, [name.strip()])[0]
    return service.reassign_approver(session, actor, revision, approver=approver, reason=reason)
