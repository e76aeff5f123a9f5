"""Mail leaves only after the commit: through a real SMTP server, or to the outbox page."""

import email

import sqlalchemy as sa

from qms.auth.permissions import Role
from qms.mail.models import MailMessage, MailStatus
from qms.mail.service import queue_mail
from tests.factories import TEST_PASSWORD, grant_all_approval, make_document, make_user


def _text(envelope):
    message = email.message_from_bytes(envelope.content)
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    return subject, message.get_payload(decode=True).decode()


def test_mail_goes_through_smtp_after_the_commit(smtp_db, smtp_server):
    inbox, _port = smtp_server
    staff = make_user(smtp_db, "staff1", Role.STAFF)
    message = queue_mail(smtp_db, staff, "请阅读 ZD-KF-001", "正文：请于五日内阅知。")
    assert message.status == MailStatus.QUEUED
    smtp_db.flush()
    assert inbox.messages == []  # nothing leaves before the commit
    smtp_db.commit()
    assert len(inbox.messages) == 1
    envelope = inbox.messages[0]
    assert envelope.rcpt_tos == ["staff1@example.com"]
    subject, body = _text(envelope)
    assert (subject, body.strip()) == ("请阅读 ZD-KF-001", "正文：请于五日内阅知。")
    smtp_db.expire_all()
    stored = smtp_db.get(MailMessage, message.id)
    assert stored.status == MailStatus.SENT and stored.sent_at is not None


def test_no_mail_when_the_transaction_rolls_back(smtp_db, smtp_server):
    inbox, _port = smtp_server
    staff = make_user(smtp_db, "staff1", Role.STAFF)
    smtp_db.commit()
    queue_mail(smtp_db, staff, "不会发出", "回滚")
    smtp_db.rollback()
    make_user(smtp_db, "staff2", Role.STAFF)
    smtp_db.commit()  # a later commit must not send what was rolled back
    assert inbox.messages == []
    assert smtp_db.scalar(sa.select(sa.func.count()).select_from(MailMessage)) == 0


def test_submitting_for_review_mails_the_reviewer_once_committed(smtp_db, smtp_server):
    inbox, _port = smtp_server
    clerk = make_user(smtp_db, "clerk1", Role.QUALITY_CLERK)
    reviewer = make_user(smtp_db, "reviewer1", Role.REVIEWER)
    approver = make_user(smtp_db, "approver1", Role.APPROVER)
    grant_all_approval(smtp_db, approver)
    document = make_document(smtp_db, state="in_review", author=clerk, reviewer=reviewer,
                             approver=approver)
    assert inbox.messages == []
    smtp_db.commit()
    assert [e.rcpt_tos for e in inbox.messages] == [["reviewer1@example.com"]]
    assert document.number in _text(inbox.messages[0])[0]
    from qms.documents import service

    service.review(smtp_db, reviewer, document.working_revision, password=TEST_PASSWORD,
                   content_sha256=document.working_revision.content_sha256)
    smtp_db.commit()
    assert inbox.messages[-1].rcpt_tos == ["approver1@example.com"]


def test_an_unreachable_server_keeps_the_message_as_failed(smtp_app, smtp_server):
    smtp_app.config["SMTP_PORT"] = 1  # nothing listens there
    with smtp_app.test_request_context():
        from qms.db import get_session

        db = get_session()
        staff = make_user(db, "staff1", Role.STAFF)
        message = queue_mail(db, staff, "subject", "body")
        db.commit()  # the record is kept although the mail could not leave
        db.expire_all()
        stored = db.get(MailMessage, message.id)
        assert stored.status == MailStatus.FAILED and stored.error


def test_without_smtp_mail_waits_in_the_outbox(app, client_as, users):
    from qms.auth.models import User
    from qms.db import get_session

    with app.test_request_context():  # closed before the clients run: they share no context
        db = get_session()
        message = queue_mail(db, db.get(User, users["staff"]), "请阅读", "正文")
        assert queue_mail(db, None, "nobody", "no address") is None
        db.commit()
        assert message.status == MailStatus.OUTBOX
    mine = client_as("staff").get("/mail/").get_data(as_text=True)
    assert "请阅读" in mine
    assert client_as("staff").get(f"/mail/{message.id}").status_code == 200
    assert client_as("clerk").get(f"/mail/{message.id}").status_code == 403
    assert "请阅读" not in client_as("clerk").get("/mail/").get_data(as_text=True)
    assert "请阅读" in client_as("admin").get("/mail/").get_data(as_text=True)


def test_mail_is_written_in_the_recipients_language(db, users):
    from flask_babel import lazy_gettext as _l

    from qms.auth.models import User

    staff = db.get(User, users["staff"])
    staff.locale = "en"
    chinese = db.get(User, users["clerk"])
    subject = _l("Read and understood")
    assert queue_mail(db, staff, subject, "").subject == "Read and understood"
    assert queue_mail(db, chinese, subject, "").subject == "阅知"
