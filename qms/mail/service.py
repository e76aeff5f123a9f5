"""Notifications by mail. A message is written to the outbox table inside the caller's
transaction; it is handed to SMTP only after that transaction commits (qms.db.after_commit),
so a rolled-back change never mails anyone; with QMS_WORKER=1, `qms worker` sends it instead,
with retries. Without QMS_SMTP_HOST the outbox page is the mailbox."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import force_locale
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import User
from qms.db import after_commit
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


def worker_sends() -> bool:
    """Whether `qms worker` sends the mail (QMS_WORKER=1) rather than the web process."""
    return has_app_context() and bool(current_app.config.get("WORKER"))


def _schedule(session: Session, smtp: SmtpSettings, message_id: int) -> None:
    if worker_sends():
        return  # the worker finds it queued in the table
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


@dataclass(frozen=True)
class RetryPolicy:
    """How often the worker tries a message: the first retry after first_delay, each
    next one after twice the wait before it; after max_attempts the message has failed."""

    max_attempts: int = 8
    first_delay: timedelta = timedelta(minutes=1)

    @classmethod
    def from_config(cls, config: Any) -> RetryPolicy:
        return cls(max_attempts=int(config.get("MAIL_MAX_ATTEMPTS", 8)),
                   first_delay=timedelta(seconds=int(config.get("MAIL_RETRY_SECONDS", 60))))

    def delay(self, attempts: int) -> timedelta:
        return self.first_delay * 2 ** max(attempts - 1, 0)


@dataclass
class Delivery:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.failed)


def send_messages(engine: Engine, smtp: SmtpSettings, message_ids: list[int]) -> int:
    """Hand committed messages to the SMTP server after the commit that wrote them (the
    web process, when no worker runs): one attempt; a failure is final until resent."""
    return _deliver(engine, smtp, MailMessage.id.in_(message_ids), None, clock.now()).sent


def send_due(engine: Engine, smtp: SmtpSettings, retry: RetryPolicy,
             limit: int = 50) -> Delivery:
    """The worker's round: queued messages whose next attempt has come, oldest first."""
    now = clock.now()
    due = sa.or_(MailMessage.next_attempt_at.is_(None), MailMessage.next_attempt_at <= now)
    return _deliver(engine, smtp, due, retry, now, limit)


def _deliver(engine: Engine, smtp: SmtpSettings, which: Any, retry: RetryPolicy | None,
             now: datetime, limit: int | None = None) -> Delivery:
    """Claim queued messages, send them and record the outcome. On PostgreSQL the rows stay
    locked until the outcome is written and other workers skip them, so each message leaves
    once. SQLite has one writer at a time and no row locks: one worker, and the rows are
    read and written in two short transactions (a write lock held while SMTP talks would
    stop every request)."""
    claim = (
        sa.select(MailMessage.id, MailMessage.to_address, MailMessage.subject,
                  MailMessage.body, MailMessage.attempts)
        .where(MailMessage.status == MailStatus.QUEUED, which)
        .order_by(MailMessage.id).limit(limit)
    )
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            rows = conn.execute(claim).all()
        if not rows:
            return Delivery()
        sent, failed = _hand_over(smtp, rows)
        with engine.begin() as conn:
            return _record(conn, rows, sent, failed, retry, now)
    with engine.begin() as conn:
        rows = conn.execute(claim.with_for_update(skip_locked=True)).all()
        if not rows:
            return Delivery()
        sent, failed = _hand_over(smtp, rows)
        return _record(conn, rows, sent, failed, retry, now)


def _record(conn: Connection, rows: Sequence[Any], sent: list[int], failed: dict[int, str],
            retry: RetryPolicy | None, now: datetime) -> Delivery:
    outcome = Delivery(sent=len(sent))
    if sent:
        conn.execute(sa.update(MailMessage).where(MailMessage.id.in_(sent)).values(
            status=MailStatus.SENT, sent_at=now, error="", next_attempt_at=None,
            attempts=MailMessage.attempts + 1))
    for row in rows:
        if row.id not in failed:
            continue
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "error": failed[row.id][:2000]}
        if retry is not None and attempts < retry.max_attempts:
            values.update(next_attempt_at=now + retry.delay(attempts))
            outcome.retrying += 1
        else:
            values.update(status=MailStatus.FAILED, next_attempt_at=None)
            outcome.failed += 1
        conn.execute(sa.update(MailMessage).where(MailMessage.id == row.id).values(**values))
    return outcome


def _hand_over(smtp: SmtpSettings, rows: Sequence[Any]) -> tuple[list[int], dict[int, str]]:
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
                failed[row.id] = str(err) or type(err).__name__
    return sent, failed


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
    message.attempts = 0
    message.next_attempt_at = None
    session.flush()
    _schedule(session, smtp, message.id)
