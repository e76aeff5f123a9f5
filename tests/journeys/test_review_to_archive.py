"""Job 2: a review meeting from plan to archived report (handbook 5.2). The leader plans
it, the general manager approves the plan, the team confirms, the reviewer — who is also
the recorder — logs preparation time and a defect, runs the meeting record, the author
fixes, the leader verifies and reports, the general manager approves the report, the
leader archives. Wrong step: the leader names the document's author as a reviewer."""

import re
from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.factories import TEST_PASSWORD
from tests.journeys import world
from tests.journeys.conftest import flash, in_db, no_flash

LEADER = "陈涛（评审组长）"
REVIEWER = "刘洋（评审员）"  # reviewer and recorder of this review
AUTHOR = "李静（品质文员）"
GM = "吴刚（总经理）"
TITLE = "服务投诉处理制度评审"


def _reviews(session):
    from qms.reviews.models import Review

    return session.scalar(sa.select(sa.func.count(Review.id)))


def _move(page, action):
    """The form of one step of the review (the hidden action names it)."""
    return page.locator("form", has=page.locator(f'input[name=action][value="{action}"]'))


def _defect_form(page, number, op):
    return page.locator(f"#defect-{number} form", has=page.locator(f'input[name=op][value="{op}"]'))


def _choose_main_document(page, number, label, title):
    """The revision under review: typed as number and label, or (as the plan form is being
    changed to offer it) chosen from the revisions under review."""
    if page.locator("select[name=revision]").count():
        page.select_option("select[name=revision]", label=f"{number} {label} {title}")
    else:
        page.fill("input[name=document_number]", number)
        page.fill("input[name=revision_label]", label)


def _main_document_kept(page, number, label):
    if page.locator("select[name=revision]").count():
        chosen = page.locator("select[name=revision] option:checked").inner_text()
        return chosen.startswith(f"{number} {label} ")
    return (
        page.input_value("input[name=document_number]") == number
        and page.input_value("input[name=revision_label]") == label
    )


def _state(page):
    return page.locator("#review-state")


def _team_row(page, name, role):
    """The row of one person in one role (a person with two roles has two rows)."""
    exact = re.compile(f"^{re.escape(role)}$")
    return page.locator(
        "#team tbody tr", has=page.locator("td:nth-child(1)", has_text=name)
    ).filter(has=page.locator("td:nth-child(2)", has_text=exact))


def test_review_from_plan_to_archive(people, live_app, zh, last_page):
    from qms import clock
    from qms.reviews.lifecycle import ReviewState as S
    from qms.reviews.models import (
        CONCLUSION_LABELS,
        ROLE_LABELS,
        STATE_LABELS,
        Conclusion,
        ParticipantRole,
    )

    state = {s: zh(STATE_LABELS[s]) for s in S}
    number = world.document(
        live_app,
        "in_review",
        title="服务投诉处理制度",
        body="## 受理\n\n客服专员登记投诉。\n\n## 处理\n\n责任部门处理。\n",
    )
    base = people.base
    leader = people.sign_in("leader")
    leader.goto(f"{base}/reviews/")
    leader.click('a[href="/reviews/new"]')
    leader.wait_for_url(f"{base}/reviews/new")

    # The plan. Wrong step: the author of the document ticked as a reviewer too.
    leader.fill("input[name=title]", TITLE)
    leader.select_option("select[name=department]", "KF")
    _choose_main_document(leader, number, "A/0", "服务投诉处理制度")
    leader.fill("input[name=pages]", "6")
    reviewers = leader.locator(".field", has=leader.locator("input[name=reviewers]"))
    reviewers.get_by_label(REVIEWER, exact=True).check()
    reviewers.get_by_label(AUTHOR, exact=True).check()
    leader.select_option("select[name=recorder]", label=REVIEWER)
    leader.select_option("select[name=approver]", label=GM)
    leader.fill("input[name=meeting_place]", "三楼会议室")
    leader.click("form button[type=submit].primary")
    leader.wait_for_load_state()
    assert leader.url == f"{base}/reviews/new"
    refusal = zh("An author cannot also be a reviewer of the same document.")
    assert leader.get_by_role("alert").filter(has_text=refusal).count() == 1
    assert leader.input_value("input[name=title]") == TITLE
    assert _main_document_kept(leader, number, "A/0")
    assert leader.input_value("input[name=pages]") == "6"
    assert leader.input_value("input[name=meeting_place]") == "三楼会议室"
    assert reviewers.get_by_label(REVIEWER, exact=True).is_checked()
    assert reviewers.get_by_label(AUTHOR, exact=True).is_checked()
    assert in_db(live_app, _reviews) == 0

    reviewers.get_by_label(AUTHOR, exact=True).uncheck()
    leader.click("form button[type=submit].primary")
    leader.wait_for_url(f"{base}/reviews/1")
    assert flash(leader) == zh(
        "Review %(ref)s planned. Check the checklist, then submit the plan."
    ) % {"ref": "RV-0001"}
    assert TITLE in leader.locator("h1").inner_text()
    assert _state(leader).inner_text() == state[S.PLANNING]
    assert _team_row(leader, REVIEWER, zh(ROLE_LABELS[ParticipantRole.REVIEWER])).count() == 1
    assert _team_row(leader, REVIEWER, zh(ROLE_LABELS[ParticipantRole.RECORDER])).count() == 1
    assert _team_row(leader, AUTHOR, zh(ROLE_LABELS[ParticipantRole.AUTHOR])).count() == 1
    _move(leader, "submit_plan").locator("button").click()
    leader.wait_for_url(f"{base}/reviews/1")
    assert flash(leader) == zh("Review %(ref)s: %(state)s.") % {
        "ref": "RV-0001",
        "state": state[S.PLAN_SUBMITTED],
    }

    # The general manager approves the plan from the task list (a signature).
    gm = people.sign_in("gm")
    gm.goto(f"{base}/tasks/")
    gm.locator('tr[data-kind="approve"][data-subject="RV-0001"] a').click()
    gm.wait_for_url(f"{base}/reviews/1")
    approve = _move(gm, "approve_plan")
    approve.locator("input[name=password]").fill(TEST_PASSWORD)
    approve.locator("button").click()
    gm.wait_for_url(f"{base}/reviews/1")
    assert _state(gm).inner_text() == state[S.PLAN_APPROVED]
    no_flash(gm)

    # The team confirms: the reviewer-and-recorder once, the author; the leader publishes.
    reviewer = people.sign_in("reviewer")
    author = people.sign_in("clerk")
    for person in (reviewer, author):
        person.goto(f"{base}/tasks/")
        confirm = person.locator(
            'tr[data-subject="RV-0001"]', has_text=zh("Confirm the review plan")
        )
        assert confirm.count() == 1
        confirm.locator("a").click()
        person.wait_for_url(f"{base}/reviews/1")
        _move(person, "confirm").locator("button").click()
        person.wait_for_url(f"{base}/reviews/1")
        flash(person)
    assert (
        _team_row(reviewer, REVIEWER, zh(ROLE_LABELS[ParticipantRole.RECORDER]))
        .locator("td")
        .nth(2)
        .inner_text()
        == "✓"
    )
    leader.reload()
    _move(leader, "publish").locator("button").click()
    leader.wait_for_url(f"{base}/reviews/1")
    assert _state(leader).inner_text() == state[S.PRE_REVIEW]

    # Pre-review: the reviewer logs 45 minutes of preparation, once, and raises a defect.
    reviewer.goto(f"{base}/tasks/")
    prepare = reviewer.locator(
        'tr[data-subject="RV-0001"]', has_text=zh("Pre-review the documents and log your time")
    )
    assert prepare.count() == 1
    prepare.locator("a").click()
    reviewer.wait_for_url(f"{base}/reviews/1")
    minutes = reviewer.locator('form[action$="/preparation"]')
    minutes.locator("input[name=minutes]").fill("45")
    minutes.locator("button").click()
    reviewer.wait_for_url(f"{base}/reviews/1")
    assert flash(reviewer) == zh("Preparation time logged.")
    assert "45" in reviewer.locator("#team tbody tr", has_text=REVIEWER).all_inner_texts()[0]
    reviewer.goto(f"{base}/tasks/")
    assert (
        reviewer.locator(
            'tr[data-subject="RV-0001"]', has_text=zh("Pre-review the documents and log your time")
        ).count()
        == 0
    )
    reviewer.goto(f"{base}/reviews/1/meeting")
    form = reviewer.locator("#defect-form")
    form.locator("input[name=chapter]").fill("2")
    form.locator("textarea[name=description]").fill("未写明投诉受理后的答复时限")
    form.locator("button[type=submit]").click()
    expect(reviewer.locator("#defect-1")).to_contain_text("未写明投诉受理后的答复时限")
    assert REVIEWER in reviewer.locator("#defect-1").inner_text()

    # The meeting: the leader opens it; the recorder logs the leader's suggestion, records
    # the dispositions, names who fixes defect 1 by when, ticks the checklist, closes it.
    leader.reload()
    _move(leader, "start_meeting").locator("button").click()
    leader.wait_for_url(f"{base}/reviews/1")
    assert _state(leader).inner_text() == state[S.MEETING]
    reviewer.reload()
    form = reviewer.locator("#defect-form")
    form.locator("select[name=raised_by]").select_option(label=LEADER)
    form.locator("select[name=severity]").select_option("suggestion")
    form.locator("textarea[name=description]").fill("可附业主意见受理表样例")
    form.locator("button[type=submit]").click()
    expect(reviewer.locator("#defect-2")).to_contain_text("可附业主意见受理表样例")
    assert LEADER in reviewer.locator("#defect-2").inner_text()
    expect(reviewer.locator("[data-count=defects]").first).to_have_text("2")

    dispose = _defect_form(reviewer, 1, "dispose")
    dispose.locator("select[name=disposition]").select_option("accepted")
    dispose.locator("button").click()
    expect(reviewer.locator("#defect-1")).to_have_attribute("data-disposition", "accepted")
    dispose = _defect_form(reviewer, 2, "dispose")
    dispose.locator("select[name=disposition]").select_option("rejected")
    dispose.locator("input[name=reason]").fill("样例另行编制")
    dispose.locator("button").click()
    expect(reviewer.locator("#defect-2")).to_have_attribute("data-disposition", "rejected")
    fix_due = (clock.today() + timedelta(days=7)).isoformat()
    track = _defect_form(reviewer, 1, "track")
    track.locator("select[name=owner]").select_option(label=AUTHOR)
    track.locator("input[name=fix_due]").fill(fix_due)
    track.locator("button").click()
    expect(reviewer.locator("#defect-1")).to_contain_text(fix_due)
    ticks = reviewer.locator("#checklist input.tick")
    total = ticks.count()
    assert total >= 3
    for i in range(total):
        ticks.nth(i).check()
        expect(reviewer.locator("[data-count=checklist_ticked]").first).to_have_text(str(i + 1))
    reviewer.goto(f"{base}/reviews/1")
    close = _move(reviewer, "close_meeting")
    close.locator("input[name=minutes]").fill("40")
    close.locator("button").click()
    reviewer.wait_for_url(f"{base}/reviews/1")
    assert _state(reviewer).inner_text() == state[S.REPORTING]

    # The author fixes defect 1; the leader verifies it, concludes and submits the report.
    author.goto(f"{base}/tasks/")
    author.locator('tr[data-kind="defect"][data-subject="RV-0001#1"] a').click()
    author.wait_for_url(f"{base}/reviews/1")
    _defect_form(author, 1, "fix").locator("button").click()
    expect(_defect_form(author, 1, "fix")).to_have_count(0)
    assert "A/0" in author.locator("#defect-1").inner_text()

    leader.goto(f"{base}/tasks/")
    leader.locator('tr[data-kind="defect"][data-subject="RV-0001#1"] a').click()
    leader.wait_for_url(f"{base}/reviews/1")
    _defect_form(leader, 1, "verify").locator("button").click()
    expect(leader.locator("#defect-1")).to_contain_text(LEADER)
    expect(_defect_form(leader, 1, "verify")).to_have_count(0)
    leader.reload()
    conclusion = leader.locator('form[action$="/conclusion"]')
    conclusion.locator("select[name=conclusion]").select_option(Conclusion.MINOR.value)
    conclusion.locator("input[name=notes]").fill("补充答复时限后发布")
    conclusion.locator("button").click()
    leader.wait_for_url(f"{base}/reviews/1")
    assert flash(leader) == zh("Conclusion recorded.")
    assert zh(CONCLUSION_LABELS[Conclusion.MINOR]) in leader.locator("#conclusion").inner_text()
    _move(leader, "submit_report").locator("button").click()
    leader.wait_for_url(f"{base}/reviews/1")
    no_flash(leader)
    assert _state(leader).inner_text() == state[S.REPORT_SUBMITTED]

    # The general manager approves the report: the recorder's two roles sign as one team.
    gm.goto(f"{base}/tasks/")
    gm.locator('tr[data-kind="approve"][data-subject="RV-0001"] a').click()
    gm.wait_for_url(f"{base}/reviews/1")
    assert "45" in gm.locator("#team tbody tr", has_text=REVIEWER).all_inner_texts()[0]
    approve = _move(gm, "approve_report")
    approve.locator("input[name=password]").fill(TEST_PASSWORD)
    approve.locator("button").click()
    gm.wait_for_url(f"{base}/reviews/1")
    no_flash(gm)
    assert _state(gm).inner_text() == state[S.FOLLOW_UP]

    # The leader records that no regression review is needed, and archives.
    leader.reload()
    decide = leader.locator('form[action$="/regression"]')
    decide.locator("input[name=needed][value=no]").check()
    decide.locator("textarea[name=lessons]").fill("预审发现了主要缺陷，会议时间缩短")
    decide.locator("button").click()
    leader.wait_for_url(f"{base}/reviews/1")
    assert flash(leader) == zh("Decision on a regression review recorded.")
    _move(leader, "archive").locator("button").click()
    leader.wait_for_url(f"{base}/reviews/1")
    no_flash(leader)
    assert flash(leader) == zh("Review %(ref)s: %(state)s.") % {
        "ref": "RV-0001",
        "state": state[S.ARCHIVED],
    }
    assert _state(leader).inner_text() == state[S.ARCHIVED]
    assert leader.locator("#moves").count() == 0
    assert "预审发现了主要缺陷" in leader.locator("#overall").inner_text()
    assert "40" in leader.locator("#overall").inner_text()
    leader.goto(f"{base}/reviews/")
    assert state[S.ARCHIVED] in leader.locator("tr", has_text="RV-0001").inner_text()
    leader.goto(f"{base}/reviews/1")
    last_page(leader, "2-review-to-archive")
