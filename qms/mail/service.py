"""Notifications by mail. A message is written to the outbox table inside the caller's
transaction; it is handed to SMTP only after that transaction commits (qms.db.after_commit),
so a rolled-back change never mails anyone. Without QMS_SMTP_HOST the outbox page is the
mailbox."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import force_locale
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from qms.auth.models import User
from qms.db import after_commit, utcnow
from qms.mail.models import MailMessage, MailStatus

log = logging.getLogger("qms.mail")

_PENDING = "qms.mail.pending"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    sender: str

    @classmethod
    def from_config(cls, config: Any) -> SmtpSettings:
        return cls(host=config.get("SMTP_HOST", "") or "", port=int(config.get("SMTP_PORT", 25)),
                   user=config.get("SMTP_USER", "") or "",
                   password=config.get("SMTP_PASSWORD", "") or "",
                   sender=config.get("SMTP_SENDER", "") or "qms@localhost")


def _settings() -> SmtpSettings | None:
    if not has_app_context():
        return None
    settings = SmtpSettings.from_config(current_app.config)
    return settings if settings.host else None


def _locale_for(user: User | None) -> str:
    if user is not None and user.locale:
        return user.locale
    if has_app_context():
        return str(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN"))
    return "zh_CN"


def queue_mail(session: Session, recipient: User | None, subject: Any, body: Any,
               *, to_address: str = "") -> MailMessage | None:
    """Write a message to the outbox in the current transaction. Lazy strings are rendered
    in the recipient's language. A recipient without an address gets nothing."""
    address = to_address or (recipient.email if recipient is not None else "")
    if not address:
        return None
    with force_locale(_locale_for(recipient)):
        subject_text, body_text = str(subject), str(body)
    smtp = _settings()
    message = MailMessage(
        recipient_id=recipient.id if recipient is not None else None, to_address=address,
        subject=subject_text[:300], body=body_text,
        status=MailStatus.QUEUED if smtp else MailStatus.OUTBOX,
    )
    session.add(message)
    session.flush()
    if smtp is not None:
        _schedule(session, smtp, message.id)
    return message


def _schedule(session: Session, smtp: SmtpSettings, message_id: int) -> None:
    pending: list[int] | None = session.info.get(_PENDING)
    if pending is not None:
        pending.append(message_id)
        return
    pending = [message_id]
    session.info[_PENDING] = pending
    engine = session.get_bind()
    if not isinstance(engine, Engine):  # bound to a connection (tests): use its engine
        engine = engine.engine

    def deliver() -> None:
        session.info.pop(_PENDING, None)
        send_messages(engine, smtp, pending)

    after_commit(session, deliver)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def send_messages(engine: Engine, smtp: SmtpSettings, message_ids: list[int]) -> int:
    """Hand committed messages to the SMTP server and record the outcome. Runs after the
    commit, on a connection of its own."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(MailMessage.id, MailMessage.to_address,
                                      MailMessage.subject, MailMessage.body)
                            .where(MailMessage.id.in_(message_ids))).all()
    sent: list[int] = []
    failed: dict[int, str] = {}
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=15) as client:
            client.ehlo()
            if smtp.user:
                if client.has_extn("starttls"):
                    client.starttls()
                    client.ehlo()
                client.login(smtp.user, smtp.password)
            for row in rows:
                try:
                    client.send_message(_email(smtp, row.to_address, row.subject, row.body))
                    sent.append(row.id)
                except smtplib.SMTPException as err:
                    failed[row.id] = str(err)
    except (OSError, smtplib.SMTPException) as err:
        log.warning("SMTP server %s:%s unavailable: %s", smtp.host, smtp.port, err)
        for row in rows:
            if row.id not in sent:
                failed[row.id] = str(err)
    with engine.begin() as conn:
        if sent:
            conn.execute(sa.update(MailMessage).where(MailMessage.id.in_(sent))
                         .values(status=MailStatus.SENT, sent_at=utcnow(), error=""))
        for message_id, error in failed.items():
            conn.execute(sa.update(MailMessage).where(MailMessage.id == message_id)
                         .values(status=MailStatus.FAILED, error=error[:2000]))
    return len(sent)


def _email(smtp: SmtpSettings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr(("QMS", smtp.sender))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or "localhost")
    message.set_content(body)
    return message


def resend(session: Session, message: MailMessage) -> None:
    """Queue a failed or outbox message again (sent after the commit)."""
    smtp = _settings()
    if smtp is None:
        return
    message.status = MailStatus.QUEUED
    message.error = ""
    session.flush()
    _schedule(session, smtp, message.id)
