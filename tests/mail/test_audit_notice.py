"""The audit notice reaches the head of the audited department through a real SMTP server,
once the notice is committed."""

from __future__ import annotations

import email
from datetime import date
from typing import Any

from tests.audits.conftest import build


def _text(envelope: Any) -> tuple[str, str]:
    message = email.message_from_bytes(envelope.content)
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    return subject, message.get_payload(decode=True).decode()


def test_the_audit_notice_is_mailed_after_the_commit(
    smtp_db: Any, smtp_server: Any, tmp_path: Any
) -> None:
    from qms.audits import service

    inbox, _port = smtp_server
    w = build(smtp_db, tmp_path)
    inbox.messages.clear()  # what building the world sent (document notices)
    service.notify(smtp_db, w.u["auditor"], w.audit, notice_date=date(2027, 3, 1))
    smtp_db.flush()
    assert inbox.messages == []
    smtp_db.commit()
    assert [e.rcpt_tos for e in inbox.messages] == [["approver@example.com"]]
    subject, body = _text(inbox.messages[0])
    assert subject == "内审通知：客户服务中心内审（2027-03-16）"
    assert "贵部门（客户服务中心）将于 2027-03-16" in body and "赵云（内审员）" in body


def test_a_refused_notice_sends_nothing(smtp_db: Any, smtp_server: Any, tmp_path: Any) -> None:
    import pytest

    from qms.audits import service
    from qms.errors import Invalid

    inbox, _port = smtp_server
    w = build(smtp_db, tmp_path)
    inbox.messages.clear()
    with pytest.raises(Invalid):
        service.notify(smtp_db, w.u["auditor"], w.audit, notice_date=date(2027, 3, 15))
    smtp_db.rollback()
    smtp_db.commit()
    assert inbox.messages == []
