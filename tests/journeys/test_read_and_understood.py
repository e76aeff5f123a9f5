"""Job 5: the clerk sets who must read Customer Service's regulations, issues one, and a
member of staff reads it and signs it as read and understood (阅知). Wrong step: the rule
is saved without naming anyone who must read."""

import sqlalchemy as sa

from tests.factories import TEST_PASSWORD
from tests.journeys import world
from tests.journeys.conftest import flash, in_db


def _rules(session):
    from qms.distribution.models import ReadRule

    return session.scalar(sa.select(sa.func.count(ReadRule.id)))


def test_reading_assigned_and_signed_by_staff(people, live_app, zh, last_page):
    from qms.auth.permissions import ROLE_LABELS, Role
    from qms.documents.lifecycle import RevState
    from qms.documents.models import STATE_LABELS

    number = world.document(
        live_app,
        "approved",
        title="服务投诉处理制度",
        body="## 受理\n\n客服专员当场登记《业主意见受理表》，24 小时内答复。\n",
    )
    base = people.base
    clerk = people.sign_in("clerk")
    clerk.goto(f"{base}/distribution/reading")
    clerk.click('a[href="/distribution/reading/rules"]')
    clerk.wait_for_url(f"{base}/distribution/reading/rules")
    assert clerk.locator("#rules tbody").inner_text().strip() == zh(
        "No rules yet: nobody is asked to read new revisions."
    )

    # Wrong step: which documents and how long, but nobody to read them.
    clerk.select_option("select[name=kind]", "regulation")
    clerk.select_option("select[name=department]", "KF")
    clerk.fill("input[name=due_days]", "7")
    clerk.click("form button[type=submit].primary")
    clerk.wait_for_load_state()
    roles_field = clerk.locator(".field", has=clerk.locator("input[name=roles]"))
    assert roles_field.locator(".error").inner_text() == zh(
        "Name at least one role, department or person who must read."
    )
    assert clerk.url == f"{base}/distribution/reading/rules"
    assert clerk.input_value("select[name=kind]") == "regulation"
    assert clerk.input_value("select[name=department]") == "KF"
    assert clerk.input_value("input[name=due_days]") == "7"
    assert (
        zh("No rules yet: nobody is asked to read new revisions.")
        in clerk.locator("#rules").inner_text()
    )
    assert in_db(live_app, _rules) == 0

    clerk.check("input[name=roles][value=staff]")
    clerk.click("form button[type=submit].primary")
    clerk.wait_for_url(f"{base}/distribution/reading/rules")
    assert flash(clerk) == zh("Reading rule saved.")
    rule = clerk.locator("#rules tbody tr").first
    assert zh(ROLE_LABELS[Role.STAFF]) in rule.inner_text()
    assert "\t7\t" in rule.inner_text()

    # The clerk issues the approved regulation: staff are now asked to read it.
    clerk.goto(f"{base}/tasks/")
    clerk.locator(f'tr[data-kind="issue"][data-subject="{number}"] a').click()
    clerk.wait_for_url(f"{base}/documents/{number}")
    clerk.locator("#issue-form input[name=password]").fill(TEST_PASSWORD)
    clerk.locator("#issue-form button[type=submit]").click()
    clerk.wait_for_load_state()
    effective = zh(STATE_LABELS[RevState.EFFECTIVE])
    assert clerk.locator("#revision-label + .badge").inner_text() == effective
    clerk.click(f'a[href="/distribution/reading/document/{number}"]')
    clerk.wait_for_url(f"{base}/distribution/reading/document/{number}")
    assert (
        zh("%(done)d of %(all)d have acknowledged.") % {"done": 0, "all": 1}
        in clerk.locator("main").inner_text()
    )
    assert clerk.locator('#acks tr[data-user="staff"]').get_attribute("data-state") == "pending"

    # The member of staff reads it from the task list and signs.
    staff = people.sign_in("staff")
    staff.goto(f"{base}/tasks/")
    task = staff.locator(f'tr[data-kind="acknowledge"][data-subject="{number}"]')
    assert "服务投诉处理制度" in task.inner_text()
    task.locator("a").click()
    staff.wait_for_url(f"{base}/distribution/read/*")
    assert number in staff.locator("h1").inner_text()
    assert "24 小时内答复" in staff.locator("article.doc-body").inner_text()
    staff.fill("#acknowledge input[name=password]", TEST_PASSWORD)
    staff.click("#sign-read")
    staff.wait_for_url(f"{base}/tasks/")
    assert flash(staff) == zh(
        "You have acknowledged %(number)s %(label)s as read and understood."
    ) % {"number": number, "label": "A/0"}
    assert staff.locator("#no-tasks").inner_text() == zh("Nothing is waiting for you.")

    # Document control sees the signature.
    clerk.reload()
    assert (
        zh("%(done)d of %(all)d have acknowledged.") % {"done": 1, "all": 1}
        in clerk.locator("main").inner_text()
    )
    row = clerk.locator('#acks tr[data-user="staff"]')
    assert row.get_attribute("data-state") == "acknowledged"
    assert "✓" in row.inner_text() and "郑晓（客服专员）" in row.inner_text()
    last_page(clerk, "5-read-and-understood")
