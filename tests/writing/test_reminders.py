"""Writers hear of their items: a mail when the plan is confirmed, a task and a home panel,
and a chase by mail through the real SMTP test server once per item for each missed
deadline (the worker's daily job), never daily."""

from __future__ import annotations

import email
import email.header
from datetime import timedelta

import sqlalchemy as sa

from qms import clock
from tests.certification.test_reminders import smtp_app  # noqa: F401 - fixture
from tests.mail.conftest import Inbox, smtp_server  # noqa: F401 - fixtures

__all__ = ["Inbox"]


def _subjects(inbox):
    out = []
    for envelope in inbox.messages:
        message = email.message_from_bytes(envelope.content)
        out.append(
            (
                envelope.rcpt_tos[0],
                str(email.header.make_header(email.header.decode_header(message["Subject"]))),
            )
        )
    return out


def _late_plan(app):
    """A confirmed plan: the staff member's section was due two days ago, final in five;
    the reviewer's is due in ten days."""
    with app.test_request_context():
        from qms.auth.models import User
        from qms.db import get_session
        from qms.writing import service
        from tests.writing.conftest import item_in

        s = get_session()
        u = {x.username: x for x in s.scalars(sa.select(User)).unique()}
        today = clock.today()
        plan = service.create_plan(
            s,
            u["clerk"],
            title="质量手册 B/0 换版",
            items=[
                item_in(
                    s,
                    u,
                    title="第4章 客户服务",
                    start_on=today - timedelta(days=10),
                    draft_due=today - timedelta(days=2),
                    final_due=today + timedelta(days=5),
                ),
                item_in(s, u, title="第5章 安全管理", writer=u["reviewer"]),
            ],
        )
        service.take_step(s, u["manager"], plan, "confirm")
        s.commit()
        return plan.id


def _run(day):
    from qms.worker.jobs import DailyJob, run_daily_jobs, writing_chases

    return run_daily_jobs(day, jobs=[DailyJob("writing_chases", writing_chases)])


def _forget_runs(app):
    with app.app_context():
        from qms.db import get_session
        from qms.worker.models import DailyJobRun

        get_session().execute(sa.delete(DailyJobRun))
        get_session().commit()


def test_writers_hear_when_the_plan_is_confirmed(smtp_app, smtp_server):  # noqa: F811
    inbox, _port = smtp_server
    _late_plan(smtp_app)
    sent = _subjects(inbox)
    assert sorted(to for to, _ in sent) == ["reviewer@example.com", "staff@example.com"]
    assert all("您的编写任务" in subject for _, subject in sent)


def test_a_late_item_is_chased_once_per_deadline(smtp_app, smtp_server):  # noqa: F811
    inbox, _port = smtp_server
    _late_plan(smtp_app)
    confirmed = len(inbox.messages)
    with smtp_app.app_context():
        lines = _run(clock.today())
    assert "1 late writing-plan item(s) chased" in lines[0]
    chased = _subjects(inbox)[confirmed:]
    assert len(chased) == 1
    assert chased[0][0] == "staff@example.com"
    assert chased[0][1].startswith("逾期：第4章 客户服务（编写计划 BX-")
    body = email.message_from_bytes(inbox.messages[-1].content).get_payload(decode=True)
    assert (clock.today() - timedelta(days=2)).isoformat() in body.decode()
    # the same day again, and the next day: nothing more for the missed draft
    _forget_runs(smtp_app)
    with smtp_app.app_context():
        _run(clock.today())
    _forget_runs(smtp_app)
    with smtp_app.app_context():
        _run(clock.today() + timedelta(days=1))
    assert len(inbox.messages) == confirmed + 1
    # once the final due date has passed too: one more chase, for the final text
    _forget_runs(smtp_app)
    with smtp_app.app_context():
        _run(clock.today() + timedelta(days=6))
    assert len(inbox.messages) == confirmed + 2
    body = email.message_from_bytes(inbox.messages[-1].content).get_payload(decode=True)
    assert "定稿" in body.decode()
    _forget_runs(smtp_app)
    with smtp_app.app_context():
        _run(clock.today() + timedelta(days=7))
    assert len(inbox.messages) == confirmed + 2


def test_a_submitted_item_is_not_chased(smtp_app, smtp_server):  # noqa: F811
    inbox, _port = smtp_server
    plan_id = _late_plan(smtp_app)
    with smtp_app.test_request_context():
        from qms.auth.models import User
        from qms.db import get_session
        from qms.writing import service

        s = get_session()
        staff = s.scalar(sa.select(User).where(User.username == "staff"))
        item = service.get_plan(s, plan_id).items[0]
        service.start_draft(s, staff, item)
        service.submit_draft(s, staff, item)
        s.commit()
    confirmed = len(inbox.messages)
    with smtp_app.app_context():
        lines = _run(clock.today())
    assert "0 late" in lines[0]
    assert len(inbox.messages) == confirmed


def test_tasks_and_the_home_panel_of_a_writer(smtp_app, smtp_server):  # noqa: F811
    from tests.conftest import login

    _late_plan(smtp_app)
    staff = smtp_app.test_client()
    assert login(staff, "staff").status_code == 302
    tasks = staff.get("/tasks/")
    if tasks.status_code != 200:
        tasks = staff.get("/tasks")
    html = tasks.get_data(as_text=True)
    assert "编写 第4章 客户服务" in html
    home = staff.get("/").get_data(as_text=True)
    assert 'id="writing-panel"' in home
    assert "第4章 客户服务" in home and "逾期" in home
    # someone who writes nothing has no such panel
    auditor = smtp_app.test_client()
    login(auditor, "auditor")
    assert "writing-panel" not in auditor.get("/").get_data(as_text=True)
