"""Job 1: the quality clerk drafts a new document and submits it for review, naming its
reviewer and its approver. Wrong step: the title is left out."""

import sqlalchemy as sa

from tests.factories import TEST_PASSWORD
from tests.journeys.conftest import done_message, flash, in_db, signed


def test_clerk_drafts_a_document_and_submits_it_for_review(people, live_app, zh, last_page):
    from qms.auth.models import Meaning
    from qms.documents.lifecycle import RevState
    from qms.documents.models import STATE_LABELS, Document

    base = people.base
    clerk = people.sign_in("clerk")
    clerk.goto(f"{base}/documents/")
    clerk.click('a[href="/documents/new"]')
    clerk.wait_for_url(f"{base}/documents/new")
    assert clerk.locator("h1").inner_text() == zh("New document")

    # Wrong step: everything but the title.
    clerk.select_option("select[name=kind]", "regulation")
    clerk.select_option("select[name=department]", "KF")
    clerk.fill("textarea[name=body]", "## 总则\n\n会所开放时间为每日 9:00—21:00。\n")
    clerk.fill("input[name=change_summary]", "首次发布")
    clerk.click("form button[type=submit].primary")
    title_field = clerk.locator(".field", has=clerk.locator("input[name=title]"))
    assert title_field.locator(".error").inner_text() == "该字段是必填字段。"
    assert clerk.url == f"{base}/documents/new"
    # what was typed is still there
    assert "会所开放时间为每日" in clerk.input_value("textarea[name=body]")
    assert clerk.input_value("input[name=change_summary]") == "首次发布"
    assert clerk.input_value("select[name=department]") == "KF"
    assert clerk.input_value("select[name=kind]") == "regulation"
    # and nothing was stored, no number taken
    assert in_db(live_app, lambda s: s.scalar(sa.select(sa.func.count(Document.id)))) == 0

    clerk.fill("input[name=title]", "业主会所管理制度")
    clerk.click("form button[type=submit].primary")
    clerk.wait_for_url(f"{base}/documents/ZD-KF-001")
    assert flash(clerk) == zh("Document %(number)s created as a draft.") % {"number": "ZD-KF-001"}
    assert "ZD-KF-001" in clerk.locator("h1").inner_text()
    assert "业主会所管理制度" in clerk.locator("h1").inner_text()
    assert zh(STATE_LABELS[RevState.DRAFT]) in clerk.locator("#status-banner").inner_text()
    assert clerk.locator("#revision-label").inner_text() == "A/0"
    assert "会所开放时间为每日 9:00—21:00。" in clerk.locator("#doc-body").inner_text()

    # Submit for review: one reviewer, the approver of Customer Service, a signature.
    submit = clerk.locator("#submit-form")
    # force: the native select may sit under a searchable picker (progressive enhancement)
    submit.locator("select[name=reviewers]").select_option(["reviewer"], force=True)
    submit.locator("select[name=approver]").select_option("approver", force=True)
    submit.locator("input[name=password]").fill(TEST_PASSWORD)
    submit.locator("button[type=submit]").click()
    clerk.wait_for_url(f"{base}/documents/ZD-KF-001?revision=A/0")
    in_review = zh(STATE_LABELS[RevState.IN_REVIEW])
    assert flash(clerk) == done_message(zh, "ZD-KF-001", "A/0", RevState.IN_REVIEW)
    assert clerk.locator("#revision-label + .badge").inner_text() == in_review
    actions = clerk.locator("#actions").inner_text()
    assert f"刘洋（评审员）: {zh('waiting')}" in actions
    assert "孙丽（客户服务中心经理）" in clerk.locator("#named-approver").inner_text()
    assert clerk.locator("#submit-form").count() == 0
    assert (
        signed(zh, Meaning.AUTHORED, "李静（品质文员）") in clerk.locator("#history").inner_text()
    )

    # The reviewer finds it waiting on the task list.
    reviewer = people.sign_in("reviewer")
    reviewer.goto(f"{base}/tasks/")
    task = reviewer.locator('tr[data-kind="review"][data-subject="ZD-KF-001"]')
    assert "业主会所管理制度" in task.inner_text()
    task.locator("a").click()
    reviewer.wait_for_url(f"{base}/documents/ZD-KF-001?revision=A/0")
    assert reviewer.locator("#review-form").is_visible()
    assert "会所开放时间" in reviewer.locator("#doc-body").inner_text()
    last_page(clerk, "1-draft-and-submit")
