"""Overdue causes, actions and corrections: on the owner's and the quality manager's task
lists, and mailed by the worker's daily job through a real SMTP server once committed."""

from __future__ import annotations

import time
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from typing import Any

from qms import clock
from tests.mail.conftest import smtp_app, smtp_server  # noqa: F401  (fixtures)
from tests.nonconformity.helpers import raise_nc, user


def _wait_for(inbox: Any, count: int) -> list[Any]:
    for _ in range(100):
        if len(inbox.messages) >= count:
            break
        time.sleep(0.05)
    return inbox.messages


def test_overdue_items_become_tasks_and_mail(smtp_app: Any, smtp_server: Any) -> None:  # noqa: F811
    from qms.nonconformity import service
    from qms.tasks.registry import tasks_for
    from qms.worker.jobs import run_daily_jobs
    from tests.factories import make_role_users

    inbox, _port = smtp_server
    today = clock.today()
    with smtp_app.test_request_context():
        from qms.db import get_session

        make_role_users()
        db = get_session()
        late = raise_nc(db, raised_on=today - timedelta(days=20), grade="serious")
        on_time = raise_nc(db, raised_on=today, description="新近发现的问题")
        owner = late.owner
        assert owner is not None
        # an action overdue too, on a second nonconformity whose plan is done
        planned = raise_nc(db, raised_on=today - timedelta(days=5), clause="7.1.5")
        service.record_cause_and_plan(db, owner, planned, whys=["量具未校准"], root_cause="无计划")
        service.add_action(
            db,
            owner,
            planned,
            description="制定校准计划",
            owner=user(db, "staff"),
            due_on=today - timedelta(days=1),
        )
        service.start_actions(db, owner, planned)
        db.commit()

        titles = [str(t.title) for t in tasks_for(db, owner) if t.kind == "nonconformity"]
        assert any(late.number in t for t in titles)
        overdue = {t.subject for t in tasks_for(db, owner) if t.overdue}
        assert late.number in overdue and on_time.number not in overdue
        staff_tasks = [t for t in tasks_for(db, user(db, "staff")) if t.kind == "nonconformity"]
        assert [t.overdue for t in staff_tasks] == [True]
        manager_tasks = {t.subject for t in tasks_for(db, user(db, "manager")) if t.overdue}
        assert {late.number, planned.number} <= manager_tasks
        assert on_time.number not in manager_tasks

        lines = run_daily_jobs(today)
        assert any(line.startswith("nonconformity_overdue: 2 nonconformity") for line in lines)
        assert run_daily_jobs(today) == []  # once a day

    messages = _wait_for(inbox, 2)
    mails = {m.rcpt_tos[0]: message_from_bytes(m.content, policy=default) for m in messages}
    assert set(mails) == {"approver@example.com", "manager@example.com"}
    for mail in mails.values():
        body = mail.get_body().get_content()
        assert "逾期" in str(mail["Subject"])
        assert f"{late.number}：原因分析和措施计划应于" in body
        assert f"{late.number}：纠正应于" in body
        assert f"{planned.number}：措施“制定校准计划”" in body
        assert on_time.number not in body
