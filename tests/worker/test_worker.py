"""`qms worker` (issue 13): sends queued mail with retries and back-off, drains the search
outbox and runs each daily job once a day, also with several workers at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from qms import clock as qms_clock
from qms.auth.models import User
from qms.mail.models import MailMessage, MailStatus
from qms.mail.service import queue_mail
from qms.worker.models import DailyJobRun
from tests.conftest import PG_URL, login
from tests.forms import submit_form

ZH = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""}


def _queue(app, username="staff", subject="请阅读 ZD-KF-001", count=1):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        user = db.scalar(sa.select(User).where(User.username == username))
        ids = [queue_mail(db, user, f"{subject} #{i}" if count > 1 else subject, "正文").id
               for i in range(count)]
        db.commit()
        return ids


def _message(app, message_id):
    with app.app_context():
        from qms.db import get_session

        return get_session().get(MailMessage, message_id)


def _round(app):
    from qms.worker.jobs import run_round

    with app.app_context():
        return run_round(app)


def _worker_once(app):
    from qms.worker.cli import worker

    with app.app_context():
        result = CliRunner().invoke(worker, ["--once"], env=ZH)
    assert result.exit_code == 0, result.output
    return result.output


def test_in_worker_mode_the_web_process_leaves_the_mail_queued(worker_app, smtp_server):
    inbox, _port = smtp_server
    (message_id,) = _queue(worker_app)
    assert inbox.messages == []
    assert _message(worker_app, message_id).status == MailStatus.QUEUED


def test_worker_once_sends_the_queued_mail(worker_app, smtp_server):
    inbox, _port = smtp_server
    (message_id,) = _queue(worker_app)
    output = _worker_once(worker_app)
    assert [e.rcpt_tos for e in inbox.messages] == [["staff@example.com"]]
    assert "mail: 1 sent, 0 to be tried again, 0 failed" in output
    assert "worker stopped" in output
    message = _message(worker_app, message_id)
    assert message.status == MailStatus.SENT and message.attempts == 1
    _worker_once(worker_app)
    assert len(inbox.messages) == 1  # sent once, not again


def test_smtp_down_retries_with_back_off_shown_on_the_outbox_page(
    worker_app, smtp_server, clock
):
    inbox, port = smtp_server
    worker_app.config.update(SMTP_PORT=1, MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_SECONDS=60)
    (message_id,) = _queue(worker_app, subject="复审通知")
    assert "mail: 0 sent, 1 to be tried again, 0 failed" in _round(worker_app)
    first = _message(worker_app, message_id)
    assert (first.status, first.attempts) == (MailStatus.QUEUED, 1)
    assert first.error
    assert first.next_attempt_at == clock.now + timedelta(seconds=60)

    admin = worker_app.test_client()
    login(admin, "admin")
    page = admin.get("/mail/").get_data(as_text=True)
    assert "发送次数" in page and "下次发送" in page and first.error[:20] in page
    assert "后台程序" in page

    assert _round(worker_app) == []  # not before its time
    assert _message(worker_app, message_id).attempts == 1
    clock.advance(seconds=61)
    _round(worker_app)
    second = _message(worker_app, message_id)
    assert second.attempts == 2
    assert second.next_attempt_at == clock.now + timedelta(seconds=120)  # twice the wait
    clock.advance(seconds=121)
    assert "mail: 0 sent, 0 to be tried again, 1 failed" in _round(worker_app)
    failed = _message(worker_app, message_id)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == (
        MailStatus.FAILED, 3, None)

    page = admin.get(f"/mail/{message_id}")
    text = page.get_data(as_text=True)
    assert "失败" in text and "发送次数" in text and failed.error[:20] in text
    worker_app.config["SMTP_PORT"] = port  # the server is back
    resent = submit_form(admin, page, f"/mail/{message_id}/resend")
    assert resent.status_code == 302
    assert "已重新排队" in admin.get(resent.location).get_data(as_text=True)
    assert inbox.messages == []  # the worker sends it, not the web process
    assert "mail: 1 sent" in _round(worker_app)[0]
    assert [e.rcpt_tos for e in inbox.messages] == [["staff@example.com"]]
    sent = _message(worker_app, message_id)
    assert (sent.status, sent.attempts, sent.error) == (MailStatus.SENT, 1, "")


def test_the_worker_drains_the_search_outbox(worker_app):
    from qms.search import service

    with worker_app.test_request_context():
        from qms.db import get_session
        from tests.factories import make_document

        service.rebuild()
        db = get_session()
        document = make_document(db, state="effective", title="工作人员检索测试制度")
        db.commit()
        assert service.pending(db) > 0  # the web process left it to the worker
    lines = _round(worker_app)
    assert any(line.startswith("search: ") for line in lines), lines
    with worker_app.test_request_context():
        db = get_session()
        assert service.pending(db) == 0
        staff = db.scalar(sa.select(User).where(User.username == "staff"))
        found = service.search(db, staff, "检索测试")
        assert [hit.number for hit in found.hits] == [document.number]


def _issue_for(app, day_offset):
    from qms.documents import service

    with app.test_request_context():
        from qms.db import get_session
        from tests.factories import TEST_PASSWORD, make_document

        db = get_session()
        document = make_document(db, state="approved")
        revision = document.working_revision
        clerk = db.scalar(sa.select(User).where(User.username == "clerk"))
        today = qms_clock.today()
        service.issue(db, clerk, revision, password=TEST_PASSWORD,
                      effective_date=today + timedelta(days=day_offset), today=today,
                      content_sha256=revision.content_sha256)
        db.commit()
        return document.number, today + timedelta(days=day_offset)


def test_the_daily_job_makes_revisions_issued_for_today_effective_once(worker_app):
    from qms.documents.models import Document
    from qms.worker.jobs import run_daily_jobs

    number, day = _issue_for(worker_app, 2)
    with worker_app.test_request_context():
        from qms.db import get_session

        assert not any(line.startswith("activate_revisions: 1")
                       for line in run_daily_jobs(day - timedelta(days=1)))
        lines = run_daily_jobs(day)
        assert f"activate_revisions: 1 revision(s) made effective: {number} A/0" in lines
        assert run_daily_jobs(day) == []  # once a day
        db = get_session()
        assert db.scalar(sa.select(Document).where(Document.number == number)).status == "effective"
        row = db.get(DailyJobRun, "activate_revisions")
        assert row.last_run_on == day and "made effective" in row.last_result


def test_periodic_review_and_overdue_task_reminders(worker_app):
    from qms.documents.models import Document
    from qms.worker.jobs import run_daily_jobs

    with worker_app.test_request_context():
        from qms.db import get_session
        from tests.factories import make_document

        db = get_session()
        document = make_document(db, state="effective", title="到期复审制度")
        document.next_review_date = qms_clock.today() - timedelta(days=3)
        waiting = make_document(db, state="in_review", title="久候评审制度")
        waiting.working_revision.submitted_at = qms_clock.now() - timedelta(days=30)
        db.commit()
        lines = run_daily_jobs(qms_clock.today())
        assert any(line.startswith("periodic_review_reminders: 1 document(s)") for line in lines)
        assert any(line.startswith("overdue_task_reminders: 1 overdue task(s)") for line in lines)
        mails = db.scalars(sa.select(MailMessage).order_by(MailMessage.id)).all()
        by_address = {m.to_address: m for m in mails if "定期评审" in m.subject}
        clerk_mail = by_address["clerk@example.com"]
        assert document.number in clerk_mail.body and "逾期" in clerk_mail.body
        overdue = [m for m in mails if "逾期" in m.subject]
        assert [m.to_address for m in overdue] == ["reviewer1@example.com"]
        assert "久候评审制度" in overdue[0].body
        assert db.scalar(sa.select(Document.id).where(Document.id == document.id))


def test_a_daily_job_runs_once_with_two_workers_at_once(worker_app):
    from qms.worker.jobs import DailyJob, run_daily_jobs

    runs = []

    def slow_job(session, today):
        runs.append(today)
        time.sleep(0.5)
        return "done"

    jobs = [DailyJob("slow_test_job", slow_job)]
    results = []

    def worker():
        with worker_app.app_context():
            results.append(run_daily_jobs(qms_clock.today(), jobs))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(runs) == 1
    assert sorted(results) == [[], ["slow_test_job: done"]]


@pytest.mark.skipif(not PG_URL, reason="row locks (SKIP LOCKED) are PostgreSQL's; SQLite "
                    "runs one worker")
def test_two_workers_send_each_message_exactly_once(worker_app, smtp_server):
    from qms.db import get_engine
    from qms.mail.service import RetryPolicy, SmtpSettings, send_due

    inbox, _port = smtp_server
    ids = _queue(worker_app, count=30)
    smtp = SmtpSettings.from_config(worker_app.config)
    totals = []

    def worker():
        with worker_app.app_context():
            engine = get_engine()
            sent = 0
            while True:
                outcome = send_due(engine, smtp, RetryPolicy(), limit=3)
                if not outcome:
                    break
                sent += outcome.sent
            totals.append(sent)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    subjects = sorted(e.content.split(b"Subject: ")[1].split(b"\n")[0] for e in inbox.messages)
    assert len(inbox.messages) == 30, subjects
    assert len(set(subjects)) == 30
    assert sum(totals) == 30 and all(totals), totals  # both worked, nobody sent twice
    with worker_app.app_context():
        from qms.db import get_session

        statuses = get_session().scalars(
            sa.select(MailMessage.attempts).where(MailMessage.id.in_(ids))).all()
    assert statuses == [1] * 30


def test_qms_worker_keeps_sending_and_stops_cleanly_on_sigterm(
    worker_app, smtp_server, database_url, tmp_path
):
    """The real command, as a long-running process: it sends what is queued before and
    while it runs, and a SIGTERM ends it after the round, with exit status 0."""
    import queue

    inbox, port = smtp_server
    _queue(worker_app, subject="启动前排队")
    env = dict(os.environ, QMS_DATABASE_URL=database_url, QMS_DATA_DIR=str(tmp_path),
               QMS_ENV="testing", QMS_SMTP_HOST="127.0.0.1", QMS_SMTP_PORT=str(port),
               QMS_WORKER="1", PYTHONUNBUFFERED="1")
    qms = Path(sys.executable).parent / "qms"
    proc = subprocess.Popen([str(qms), "worker", "--interval", "0.2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw.decode())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen: list[str] = []

    def wait_for(text: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
            if text in seen[-1]:
                return
        raise AssertionError(f"no {text!r} in {seen}")

    try:
        wait_for("mail: 1 sent")
        _queue(worker_app, subject="运行中排队")
        wait_for("mail: 1 sent")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, seen
        reader.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    while not lines.empty():
        seen.append(lines.get())
    assert "worker started" in seen[0]
    assert any("activate_revisions: 0 revision(s) made effective" in line for line in seen)
    assert "SIGTERM: stopping after this round" in seen[-2]
    assert seen[-1].rstrip().endswith("worker stopped")
    assert len(inbox.messages) == 2
