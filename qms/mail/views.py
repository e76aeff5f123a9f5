"""The outbox: every notification the system wrote, and what became of it. Everyone sees
their own mail; administrators see all of it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms.auth.permissions import Permission
from qms.db import get_session
from qms.mail import service
from qms.mail.models import MailMessage, MailStatus
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.pagination import clamp, paginate
from qms.trail import service as trail
from qms.web import permission_required

bp = Blueprint("mail", __name__, url_prefix="/mail")

STATUS_LABELS = {
    MailStatus.QUEUED: _l("Queued"),
    MailStatus.OUTBOX: _l("In the outbox"),
    MailStatus.SENT: _l("Sent"),
    MailStatus.FAILED: _l("Failed"),
}

register_nav(NavEntry(_l("Outbox"), "mail.outbox", Permission.MANAGE_USERS, 88, "admin"))


def _sees_all() -> bool:
    return bool(current_user.can(Permission.MANAGE_USERS))


@bp.route("/")
@permission_required(Permission.VIEW_OWN_TASKS)
def outbox() -> str:
    db = get_session()
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    stmt = sa.select(MailMessage).order_by(MailMessage.id.desc())
    if not _sees_all():
        stmt = stmt.where(MailMessage.recipient_id == current_user.id)
    status = request.args.get("status", "")
    if status in {s.value for s in MailStatus}:
        stmt = stmt.where(MailMessage.status == MailStatus(status))
    result = paginate(db, stmt, page, per_page)
    return render_template(
        "mail/outbox.html",
        page=result,
        args=request.args,
        status_labels=STATUS_LABELS,
        sees_all=_sees_all(),
        smtp_host=current_app.config.get("SMTP_HOST", ""),
        worker=service.worker_sends(),
    )


@bp.route("/<int:message_id>")
@permission_required(Permission.VIEW_OWN_TASKS)
def message(message_id: int) -> str:
    msg = _load(message_id)
    return render_template(
        "mail/message.html",
        message=msg,
        status_labels=STATUS_LABELS,
        sees_all=_sees_all(),
        smtp_host=current_app.config.get("SMTP_HOST", ""),
    )


@bp.route("/<int:message_id>/resend", methods=["POST"])
@permission_required(Permission.MANAGE_USERS)
def resend(message_id: int) -> Any:
    db = get_session()
    msg = _load(message_id)
    service.resend(db, msg)
    trail.record(db, current_user, "resend", "mail", msg.id, new=msg.to_address)
    db.commit()
    flash(_("The message was queued again."), "success")
    return redirect(url_for("mail.message", message_id=msg.id))


def _load(message_id: int) -> MailMessage:
    msg = get_session().get(MailMessage, message_id)
    if msg is None:
        abort(404)
    if msg.recipient_id != current_user.id and not _sees_all():
        abort(403)
    return msg
