"""Job 4: the clerk issues a controlled copy to a member of staff, kept at the service
desk; the holder confirms receipt; when a new revision takes effect the copy is recalled
and recorded returned. Wrong step: the copy is issued without naming its holder."""

import sqlalchemy as sa

from tests.journeys import world
from tests.journeys.conftest import flash, in_db, no_flash

HOLDER = "郑晓（客服专员）"
PLACE = "客服前台资料柜"


def _copies(session):
    from qms.distribution.models import ControlledCopy

    return session.scalar(sa.select(sa.func.count(ControlledCopy.id)))


def test_copy_issued_received_and_recalled(people, live_app, zh, last_page):
    from qms.distribution.models import MEDIUM_LABELS, OUTCOME_LABELS, Medium, RecallOutcome

    number = world.document(live_app, "effective", title="服务投诉处理制度")
    base = people.base
    clerk = people.sign_in("clerk")
    clerk.goto(f"{base}/documents/{number}")
    clerk.click(f'a[href^="/distribution/copies/{number}"]')
    clerk.wait_for_url(f"{base}/distribution/copies/{number}?revision=A/0")
    assert number in clerk.locator("h1").inner_text()
    assert clerk.locator("#copies tbody").inner_text().strip() == zh(
        "No copies of this revision have been issued."
    )

    # Wrong step: where it is kept, but not who holds it.
    clerk.select_option("select[name=medium]", Medium.PAPER.value)
    clerk.fill("input[name=location]", PLACE)
    clerk.click("form button[type=submit].primary")
    clerk.wait_for_load_state()
    assert flash(clerk, "error") == zh("Name who holds the copy: a department or a person.")
    assert clerk.url == f"{base}/distribution/copies/{number}/issue"
    assert number in clerk.locator("h1").inner_text()
    assert clerk.input_value("input[name=location]") == PLACE
    assert clerk.input_value("select[name=medium]") == Medium.PAPER.value
    assert (
        zh("No copies of this revision have been issued.") in clerk.locator("#copies").inner_text()
    )
    assert in_db(live_app, _copies) == 0

    clerk.select_option("select[name=holder_user]", label=HOLDER)
    clerk.click("form button[type=submit].primary")
    clerk.wait_for_url(f"{base}/distribution/copies/{number}?revision=A/0")
    assert flash(clerk) == zh("Copy No. %(n)d issued to %(holder)s.") % {"n": 1, "holder": HOLDER}
    row = clerk.locator('#copies tr[data-copy="1"]')
    assert HOLDER in row.inner_text() and PLACE in row.inner_text()
    assert zh(MEDIUM_LABELS[Medium.PAPER]) in row.inner_text()

    # The holder confirms receipt from the task list.
    staff = people.sign_in("staff")
    staff.goto(f"{base}/tasks/")
    staff.locator(f'tr[data-kind="receive"][data-subject="{number}"] a').click()
    staff.wait_for_url(f"{base}/distribution/my-copies")
    mine = staff.locator("table.grid tbody tr", has_text=number)
    assert zh("Receipt not confirmed") in mine.inner_text()
    mine.locator("form button[type=submit]").click()
    staff.wait_for_url(f"{base}/distribution/my-copies")
    assert flash(staff) == zh("Receipt of copy %(ref)s confirmed.") % {"ref": f"{number} A/0 #1"}
    received = zh("Received %(t)s").replace("%(t)s", "").strip()
    assert received in staff.locator("table.grid tbody tr", has_text=number).inner_text()
    staff.goto(f"{base}/tasks/")
    assert staff.locator('tr[data-kind="receive"]').count() == 0

    # Meanwhile revision B/0 takes effect: copy No. 1 of A/0 must come back.
    assert (
        world.new_revision_in_force(
            live_app, number, addition="\n## 回访\n\n三日内回访。\n", summary="增加回访要求"
        )
        == "B/0"
    )
    clerk.goto(f"{base}/tasks/")
    clerk.locator(f'tr[data-kind="recall"][data-subject="{number}"] a').click()
    clerk.wait_for_url(f"{base}/distribution/recalls")
    row = clerk.locator(f'#recalls tr[data-ref="{number} A/0 #1"]')
    assert HOLDER in row.inner_text()
    row.locator("select[name=outcome]").select_option(RecallOutcome.RETURNED.value)
    row.locator("input[name=note]").fill("前台交回")
    row.locator("button[type=submit]").click()
    clerk.wait_for_url(f"{base}/distribution/recalls")
    returned = zh(OUTCOME_LABELS[RecallOutcome.RETURNED])
    assert flash(clerk) == zh("Copy %(ref)s recorded as %(outcome)s.") % {
        "ref": f"{number} A/0 #1",
        "outcome": returned,
    }
    no_flash(clerk)
    assert clerk.locator("#no-recalls").inner_text() == zh("No copies are waiting to be recalled.")

    # The register of A/0 keeps the copy's whole story; the holder holds nothing now.
    clerk.goto(f"{base}/distribution/copies/{number}?revision=A/0")
    row = clerk.locator('#copies tr[data-copy="1"]')
    assert returned in row.inner_text() and "李静（品质文员）" in row.inner_text()
    staff.goto(f"{base}/distribution/my-copies")
    assert staff.locator("table.grid tbody").inner_text().strip() == zh(
        "You hold no controlled copies."
    )
    last_page(clerk, "4-controlled-copy")
