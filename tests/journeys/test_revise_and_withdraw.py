"""Job 7: the clerk revises an effective regulation (A/1 through review, approval and issue;
A/0 superseded) and withdraws another one. Wrong step: the withdrawal signed with a
mistyped password."""

import sqlalchemy as sa

from tests.factories import TEST_PASSWORD
from tests.journeys import world
from tests.journeys.conftest import WRONG_PASSWORD, done_message, flash, in_db

ADDED = "## 回访\n\n投诉处理完毕后三日内回访业主。\n"


def _state_of(number):
    def read(session):
        from qms.documents.models import Document, Revision

        return session.scalar(
            sa.select(Revision.state)
            .join(Document, Document.current_revision_id == Revision.id)
            .where(Document.number == number)
        )

    return read


def test_clerk_revises_one_regulation_and_withdraws_another(people, live_app, zh, last_page):
    from qms import clock
    from qms.documents.lifecycle import RevState
    from qms.documents.models import STATE_LABELS

    labels = {s: zh(STATE_LABELS[s]) for s in RevState}
    revised = world.document(
        live_app,
        "effective",
        title="服务投诉处理制度",
        body="## 总则\n\n投诉在 24 小时内答复业主。\n",
    )
    withdrawn = world.document(
        live_app,
        "effective",
        title="业主会所管理制度",
        body="## 总则\n\n会所开放时间为每日 9:00—21:00。\n",
    )
    base = people.base
    clerk = people.sign_in("clerk")

    # A minor revision: started from the document page, edited, submitted.
    clerk.goto(f"{base}/documents/{revised}")
    revise = clerk.locator("#revise-form")
    assert revise.locator("input[name=major][value=false]").is_checked()
    revise.locator("input[name=comment]").fill("增加回访时限")
    revise.locator("button[type=submit]").click()
    clerk.wait_for_url(f"{base}/documents/{revised}/edit/*")
    assert "A/1" in clerk.locator("h1").inner_text()
    assert labels[RevState.DRAFT] in clerk.locator("h1").inner_text()
    body = clerk.locator("textarea[name=body]")
    assert "投诉在 24 小时内答复业主。" in body.input_value()
    body.fill(body.input_value() + "\n" + ADDED)
    clerk.click("form button[type=submit].primary")
    clerk.wait_for_url(f"{base}/documents/{revised}/edit/*")
    assert flash(clerk) == zh("Draft saved.")
    clerk.click(f'a[href="/documents/{revised}?revision=A/1"]')
    clerk.wait_for_url(f"{base}/documents/{revised}?revision=A/1")
    assert "三日内回访业主" in clerk.locator("#doc-body").inner_text()
    submit = clerk.locator("#submit-form")
    submit.locator("select[name=reviewers]").select_option(["reviewer"], force=True)
    submit.locator("select[name=approver]").select_option("approver", force=True)
    submit.locator("input[name=password]").fill(TEST_PASSWORD)
    submit.locator("button[type=submit]").click()
    clerk.wait_for_url(f"{base}/documents/{revised}?revision=A/1")
    assert clerk.locator("#revision-label + .badge").inner_text() == labels[RevState.IN_REVIEW]

    # The reviewer agrees, the approver signs.
    for who, kind, form, button in (
        ("reviewer", "review", "#review-form", "review"),
        ("approver", "approve", "#approve-form", "approve"),
    ):
        person = people.sign_in(who)
        person.goto(f"{base}/tasks/")
        person.locator(f'tr[data-kind="{kind}"][data-subject="{revised}"] a').click()
        person.wait_for_url(f"{base}/documents/{revised}?revision=A/1")
        assert "三日内回访业主" in person.locator("#doc-body").inner_text()
        person.locator(f"{form} input[name=password]").fill(TEST_PASSWORD)
        person.locator(f"{form} button[value={button}]").click()
        person.wait_for_url(f"{base}/documents/{revised}?revision=A/1")
        flash(person)

    # The clerk issues A/1: it is in force, A/0 superseded.
    clerk.goto(f"{base}/documents/{revised}?revision=A/1")
    assert clerk.locator("#revision-label + .badge").inner_text() == labels[RevState.APPROVED]
    clerk.locator("#issue-form input[name=password]").fill(TEST_PASSWORD)
    clerk.locator("#issue-form button[type=submit]").click()
    clerk.wait_for_url(f"{base}/documents/{revised}?revision=A/1")
    assert flash(clerk) == done_message(zh, revised, "A/1", RevState.EFFECTIVE)
    clerk.goto(f"{base}/documents/{revised}")
    assert clerk.locator("#revision-label").inner_text() == "A/1"
    rows = clerk.locator("#history tbody tr")
    assert labels[RevState.EFFECTIVE] in rows.filter(has_text="A/1").inner_text()
    assert "增加回访时限" in rows.filter(has_text="A/1").inner_text()
    old = rows.filter(has_text="A/0")
    assert labels[RevState.SUPERSEDED] in old.inner_text()
    old.locator("a", has_text="A/0").click()
    clerk.wait_for_url(f"{base}/documents/{revised}?revision=A/0")
    assert (
        zh("已替代 Superseded: this revision is no longer valid.")
        in clerk.locator("#status-banner").inner_text()
    )

    # Withdrawal. Wrong step: the password mistyped; refused, the reason kept, still in force.
    clerk.goto(f"{base}/documents/{withdrawn}")
    withdraw = clerk.locator("#withdraw-form")
    reason = "会所停止对外开放，制度不再适用"
    withdraw.locator("input[name=comment]").fill(reason)
    withdraw.locator("input[name=password]").fill("not-my-password-1")
    withdraw.locator("button[type=submit]").click()
    clerk.wait_for_load_state()
    assert clerk.locator("#refusal").inner_text().strip() == zh(WRONG_PASSWORD)
    assert withdrawn in clerk.locator("h1").inner_text()
    assert clerk.locator("#withdraw-form input[name=comment]").input_value() == reason
    assert clerk.locator("#status-banner").count() == 0
    assert clerk.locator("#revision-label + .badge").inner_text() == labels[RevState.EFFECTIVE]
    assert in_db(live_app, _state_of(withdrawn)) == RevState.EFFECTIVE

    clerk.locator("#withdraw-form input[name=password]").fill(TEST_PASSWORD)
    clerk.locator("#withdraw-form button[type=submit]").click()
    clerk.wait_for_url(f"{base}/documents/{withdrawn}?revision=A/0")
    assert flash(clerk) == done_message(zh, withdrawn, "A/0", RevState.OBSOLETE)
    banner = clerk.locator("#status-banner").inner_text()
    obsolete = zh("作废 Obsolete: this document was withdrawn on %(date)s and must not be used.")
    assert obsolete % {"date": clock.today().isoformat()} in banner
    assert zh("Reason: %(reason)s") % {"reason": reason} in banner
    assert clerk.locator("#withdraw-form").count() == 0
    clerk.goto(f"{base}/documents/")
    row = clerk.locator("table.register tbody tr", has_text=withdrawn)
    assert labels[RevState.OBSOLETE] in row.inner_text()
    assert (
        labels[RevState.EFFECTIVE]
        in clerk.locator("table.register tbody tr", has_text=revised).inner_text()
    )
    last_page(clerk, "7-revise-and-withdraw")
