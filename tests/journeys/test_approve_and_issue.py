"""Job 3: the approver signs the reviewed revision (password asked again), the clerk issues
it, and it is in force for staff. Wrong step: the approver mistypes the password."""

import sqlalchemy as sa

from tests.factories import TEST_PASSWORD
from tests.journeys.conftest import WRONG_PASSWORD, done_message, flash, in_db, signed

NUMBER = "ZD-KF-001"


def _reviewed_document(live_app):
    from qms.auth.models import User
    from qms.db import get_session
    from tests.factories import make_document

    with live_app.test_request_context():
        db = get_session()
        who = {u.username: u for u in db.scalars(sa.select(User))}
        document = make_document(
            db,
            state="reviewed",
            title="服务投诉处理制度",
            author=who["clerk"],
            reviewer=who["reviewer"],
            approver=who["approver"],
            body="## 总则\n\n投诉在 24 小时内答复业主。\n",
        )
        db.commit()
        assert document.number == NUMBER


def _approvals(session):
    from qms.auth.models import Meaning, Signature

    return session.scalar(
        sa.select(sa.func.count(Signature.id)).where(Signature.meaning == Meaning.APPROVED)
    )


def test_approver_signs_and_clerk_issues(people, live_app, zh, last_page):
    from qms.auth.models import Meaning
    from qms.documents.lifecycle import RevState
    from qms.documents.models import STATE_LABELS

    _reviewed_document(live_app)
    base = people.base
    approver = people.sign_in("approver")
    approver.goto(f"{base}/tasks/")
    task = approver.locator(f'tr[data-kind="approve"][data-subject="{NUMBER}"]')
    assert "服务投诉处理制度" in task.inner_text()
    task.locator("a").click()
    approver.wait_for_url(f"{base}/documents/{NUMBER}?revision=A/0")
    in_review = zh(STATE_LABELS[RevState.IN_REVIEW])
    assert approver.locator("#revision-label + .badge").inner_text() == in_review
    assert f"刘洋（评审员）: {zh('agreed')}" in approver.locator("#actions").inner_text()
    assert "投诉在 24 小时内答复业主。" in approver.locator("#doc-body").inner_text()

    # Wrong step: the password mistyped. Refused on the same page, in Chinese, nothing signed.
    form = approver.locator("#approve-form")
    form.locator("textarea[name=comment]").fill("同意发布，请文员安排培训。")
    form.locator("input[name=password]").fill("not-my-password-1")
    form.locator("button[value=approve]").click()
    approver.wait_for_load_state()
    assert approver.locator("#refusal").inner_text().strip() == zh(WRONG_PASSWORD)
    assert approver.locator("h1").inner_text().startswith(NUMBER)
    assert approver.locator("#revision-label + .badge").inner_text() == in_review
    form = approver.locator("#approve-form")
    assert form.locator("textarea[name=comment]").input_value() == "同意发布，请文员安排培训。"
    approval = signed(zh, Meaning.APPROVED, "孙丽（客户服务中心经理）")
    assert approval not in approver.locator("#history").inner_text()
    assert in_db(live_app, _approvals) == 0

    form.locator("input[name=password]").fill(TEST_PASSWORD)
    form.locator("button[value=approve]").click()
    approver.wait_for_url(f"{base}/documents/{NUMBER}?revision=A/0")
    approved = zh(STATE_LABELS[RevState.APPROVED])
    assert flash(approver) == done_message(zh, NUMBER, "A/0", RevState.APPROVED)
    assert approver.locator("#revision-label + .badge").inner_text() == approved
    history = approver.locator("#history").inner_text()
    assert approval in history
    assert "同意发布，请文员安排培训。" in history
    assert in_db(live_app, _approvals) == 1

    # The clerk issues it from the task list, effective today.
    clerk = people.sign_in("clerk")
    clerk.goto(f"{base}/tasks/")
    clerk.locator(f'tr[data-kind="issue"][data-subject="{NUMBER}"] a').click()
    clerk.wait_for_url(f"{base}/documents/{NUMBER}")
    issue = clerk.locator("#issue-form")
    today = issue.locator("input[name=effective_date]").input_value()
    issue.locator("input[name=password]").fill(TEST_PASSWORD)
    issue.locator("button[type=submit]").click()
    clerk.wait_for_url(f"{base}/documents/{NUMBER}?revision=A/0")
    effective = zh(STATE_LABELS[RevState.EFFECTIVE])
    assert flash(clerk) == done_message(zh, NUMBER, "A/0", RevState.EFFECTIVE)
    assert clerk.locator("#status-banner").count() == 0
    assert clerk.locator("#revision-label + .badge").inner_text() == effective
    assert today in clerk.locator("#docheader").inner_text()

    # Staff find it in force on the register.
    staff = people.sign_in("staff")
    staff.goto(f"{base}/documents/")
    row = staff.locator("table.register tbody tr", has_text=NUMBER)
    assert effective in row.inner_text() and "A/0" in row.inner_text()
    row.locator(f'a[href="/documents/{NUMBER}"]').click()
    staff.wait_for_url(f"{base}/documents/{NUMBER}")
    assert staff.locator("#status-banner").count() == 0
    assert "孙丽（客户服务中心经理）" in staff.locator("#docheader").inner_text()
    history = staff.locator("#history").inner_text()
    assert signed(zh, Meaning.AUTHORED, "李静（品质文员）") in history
    assert signed(zh, Meaning.REVIEWED, "刘洋（评审员）") in history
    assert approval in history
    assert signed(zh, Meaning.ISSUED, "李静（品质文员）") in history
    last_page(staff, "3-approve-and-issue")
