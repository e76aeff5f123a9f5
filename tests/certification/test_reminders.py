"""Reminders at 90, 30 and 7 days: mail through the real SMTP test server (after the
commit), a task on the task list, the home panel; the worker's daily job sends each once."""

from __future__ import annotations

import email
import email.header
from datetime import timedelta

import pytest
import sqlalchemy as sa

from qms import clock
from qms.certification import rules
from tests.mail.conftest import Inbox, smtp_server  # noqa: F401 - fixtures

__all__ = ["Inbox"]


@pytest.fixture
def smtp_app(database_url, tmp_path, smtp_server):  # noqa: F811
    from tests.conftest import make_test_app
    from tests.factories import make_role_users, seed_departments

    _inbox, port = smtp_server
    application = make_test_app(database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    with application.app_context():
        from qms.db import get_session

        seed_departments(get_session())
        get_session().commit()
        make_role_users()
    return application


def _decision_due_in(days: int):
    """A decision date whose first surveillance falls `days` from today."""
    target = clock.today() + timedelta(days=days)
    for back in range(200, 400):
        decision = clock.today() - timedelta(days=back)
        if rules.first_surveillance_due(decision) == target:
            return decision
    raise AssertionError("no such decision date")


def _issue(app, number: str, decision):
    with app.test_request_context():
        from qms.auth.models import User
        from qms.certification import service
        from qms.db import get_session

        s = get_session()
        manager = s.scalar(sa.select(User).where(User.username == "manager"))
        body = service.create_body(s, manager, name=f"认证机构 {number}")
        service.issue_certificate(
            s,
            manager,
            body,
            service.CertificateIn(
                number=number,
                standard="GB/T 19001-2016 / ISO 9001:2015",
                scope="物业管理服务",
                sites="",
                decision_date=decision,
                grant_date=decision,
            ),
        )
        s.commit()


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


def _run(day):
    from qms.worker.jobs import DailyJob, certification_reminders, run_daily_jobs

    return run_daily_jobs(day, jobs=[DailyJob("certification_reminders", certification_reminders)])


def test_reminders_at_30_days_through_smtp_once(smtp_app, smtp_server):  # noqa: F811
    inbox, _port = smtp_server
    _issue(smtp_app, "RZ-30", _decision_due_in(30))
    _issue(smtp_app, "RZ-45", _decision_due_in(45))  # no threshold today
    with smtp_app.app_context():
        lines = _run(clock.today())
    assert "1 certification reminder(s) to 2 person(s)" in lines[0]
    sent = _subjects(inbox)
    assert sorted(to for to, _ in sent) == ["clerk@example.com", "manager@example.com"]
    assert all("RZ-30" in subject and "30" in subject for _, subject in sent)
    with smtp_app.app_context():
        from qms.certification.models import ReminderSent
        from qms.db import get_session

        get_session().execute(
            sa.delete(__import__("qms.worker.models", fromlist=["DailyJobRun"]).DailyJobRun)
        )
        get_session().commit()
        assert get_session().scalar(sa.select(sa.func.count()).select_from(ReminderSent)) == 1
        _run(clock.today())  # a second run the same day sends nothing again
    assert len(inbox.messages) == 2


@pytest.mark.parametrize("days", [90, 7])
def test_each_threshold(smtp_app, smtp_server, days):  # noqa: F811
    inbox, _port = smtp_server
    _issue(smtp_app, f"RZ-{days}", _decision_due_in(days))
    with smtp_app.app_context():
        _run(clock.today())
    assert len(inbox.messages) == 2
    assert all(f"RZ-{days}" in subject for _, subject in _subjects(inbox))


def test_expired_certificates_expire_and_restoration_is_due(smtp_app, smtp_server):  # noqa: F811
    decision = rules.add_months(clock.today(), -37)
    with smtp_app.test_request_context():
        from qms.auth.models import User
        from qms.certification import service
        from qms.certification.models import Certificate, CertificateStatus
        from qms.db import get_session

        s = get_session()
        manager = s.scalar(sa.select(User).where(User.username == "manager"))
        body = service.create_body(s, manager, name="认证机构")
        # recorded as granted three years and a month ago (taken over from paper)
        service.issue_certificate(
            s,
            manager,
            body,
            service.CertificateIn(
                number="OLD-1",
                standard="GB/T 19001-2016",
                scope="物业",
                sites="",
                decision_date=decision,
                grant_date=decision,
            ),
        )
        s.commit()
        _run(clock.today())
        s = get_session()
        s.expire_all()
        cert = s.scalar(sa.select(Certificate))
        assert cert.status == CertificateStatus.EXPIRED
        kinds = [i.kind for i in service.due_items(s, clock.today())]
        assert kinds == ["restoration"]


def test_tasks_and_home_panel(smtp_app, smtp_server):  # noqa: F811
    from tests.conftest import login

    _issue(smtp_app, "RZ-TASK", _decision_due_in(20))
    client = smtp_app.test_client()
    assert login(client, "clerk").status_code == 302
    tasks = (
        client.get("/tasks/").get_data(as_text=True)
        if client.get("/tasks/").status_code == 200
        else client.get("/tasks").get_data(as_text=True)
    )
    assert "RZ-TASK" in tasks
    home = client.get("/").get_data(as_text=True)
    assert 'id="certification-panel"' in home
    assert "RZ-TASK" in home
    due = rules.first_surveillance_due(_decision_due_in(20)).isoformat()
    assert due in home
    staff = smtp_app.test_client()
    login(staff, "staff")
    assert "certification-panel" not in staff.get("/").get_data(as_text=True)
