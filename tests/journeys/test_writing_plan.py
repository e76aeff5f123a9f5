"""Writing the manual's next revision (handbook 5.3): the clerk draws up the plan (one item
with its draft due after its final due on purpose, kept on the page), the quality manager
confirms it, a writer starts her section from the template and submits it, writes the
regulation of her department on the plan (she may not draft controlled documents) and
submits it, asks a question the manager answers and another writer reads; the clerk
assembles the draft manual, the plan is circulated (finalising before the comment is
decided, and before the regulation is taken in, on purpose), the comment is decided, the
clerk takes the regulation into its controlled draft, the plan is finalised, and the drafts
of QM-01 and of the regulation are in the document lifecycle."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from qms import clock
from tests.journeys import world
from tests.journeys.conftest import flash, in_db


def _ids(live_app):
    def read(s):
        from qms.auth.models import Department, User

        users = {u.username: str(u.id) for u in s.scalars(sa.select(User)).unique()}
        depts = {d.code: str(d.id) for d in s.scalars(sa.select(Department))}
        return users, depts

    return in_db(live_app, read)


def _step(page, step, **extra):
    page.select_option("#step-step", step)
    for field, value in extra.items():
        page.fill(f"#step-{field}", value)
    page.click("#step-form button[type=submit]")


def test_the_manual_written_to_plan(people, live_app, zh, last_page):
    world.document(
        live_app,
        "effective",
        kind="quality_manual",
        department="PZ",
        title="质量手册",
        number="QM-01",
        body="## 第1章 质量方针\n\n旧版正文。\n",
    )
    users, depts = _ids(live_app)
    base = people.base
    today = clock.today()

    def day(n):
        return (today + timedelta(days=n)).isoformat()

    clerk = people.sign_in("clerk")
    clerk.goto(f"{base}/writing-plans/new")
    clerk.fill("#title", "质量手册 B/0 换版")
    clerk.fill("#scope", "QM-01 整体换版")
    clerk.fill("#trainer", "刘建华")
    clerk.fill("#training_on", day(-2))
    clerk.click("#plan-form button[type=submit]")
    assert flash(clerk)
    plan_url = clerk.url

    def add_item(title, dept, writer, draft_due, kind="manual_section"):
        if not clerk.locator("#item-form").is_visible():
            clerk.click("#add-item summary")
        clerk.select_option("#item-kind", kind)
        clerk.fill("#item-title", title)
        clerk.select_option("#item-department", depts[dept])
        clerk.select_option("#item-writer", users[writer])
        clerk.fill("#item-start_on", day(0))
        clerk.fill("#item-draft_due", draft_due)
        clerk.fill("#item-final_due", day(20))
        clerk.click("#item-form button[type=submit]")

    add_item("第1章 质量方针和质量目标", "KF", "staff", day(30))  # after the final due
    assert (
        zh("%(title)s: the draft due date is after the final due date.")
        % {"title": "第1章 质量方针和质量目标"}
        in clerk.locator(".error").first.inner_text()
    )
    assert clerk.input_value("#item-title") == "第1章 质量方针和质量目标"
    clerk.fill("#item-draft_due", day(10))
    clerk.click("#item-form button[type=submit]")
    assert flash(clerk)
    add_item("第2章 组织与职责", "PZ", "reviewer", day(12))
    assert "第2章 组织与职责" in clerk.locator("#items").inner_text()
    add_item("客户回访管理制度", "KF", "staff", day(12), kind="regulation")
    assert flash(clerk)
    regulation_number = clerk.locator("#items tr:has-text('客户回访管理制度') td").nth(1)
    number = regulation_number.inner_text().strip()
    assert number.startswith("ZD-KF-")

    manager = people.sign_in("manager")
    manager.goto(plan_url)
    _step(manager, "confirm")
    assert "已确认" in manager.locator("#plan-state").inner_text()

    staff = people.sign_in("staff")
    staff.goto(f"{base}/")
    staff.click("#writing-panel a:has-text('第1章 质量方针和质量目标')")
    staff.click("#start-form button[type=submit]")
    assert "1.1 目的" in staff.input_value("#section-body")
    staff.fill("#section-body", "## 一、质量方针\n\n业主至上，服务第一。\n")
    staff.click("#section-form button[type=submit]")
    assert flash(staff)
    staff.click("#submit-form button[type=submit]")
    assert today.isoformat() in staff.locator("#item-actual").inner_text()

    # her department's regulation: written on the plan, from the regulation template
    staff.goto(plan_url)
    staff.click("#items a:has-text('客户回访管理制度')")
    staff.click("#start-form button[type=submit]")
    assert "第一条 目的" in staff.input_value("#section-body")
    staff.fill("#section-body", "## 第一章 总则\n\n**第一条 目的** 规范业主回访。\n")
    staff.click("#section-form button[type=submit]")
    assert flash(staff)
    staff.click("#submit-form button[type=submit]")
    assert flash(staff)

    staff.goto(plan_url)
    staff.fill("#question-text", "质量目标是否要按部门分解？")
    staff.click("#question-form button[type=submit]")
    assert flash(staff)

    manager.goto(plan_url)
    answer = manager.locator(".answer-form").first
    answer.locator("textarea").fill("手册写公司级目标，部门目标在 MB-01 中分解。")
    answer.locator("button[type=submit]").click()
    assert flash(manager)

    reviewer = people.sign_in("reviewer")
    reviewer.goto(plan_url)
    assert "部门目标在 MB-01 中分解" in reviewer.locator("#question-log").inner_text()
    reviewer.click("#items a:has-text('第2章 组织与职责')")
    reviewer.click("#start-form button[type=submit]")
    assert flash(reviewer)

    clerk.goto(plan_url)
    _step(clerk, "start_writing")
    _step(clerk, "consolidate")
    clerk.goto(f"{plan_url}/consolidation")
    clerk.click("#assemble-form button[type=submit]")
    assert "QM-01" in flash(clerk)
    clerk.goto(plan_url)
    _step(clerk, "circulate", deadline=day(7))
    assert "传阅" in clerk.locator("#plan-state").inner_text()

    clerk.goto(f"{plan_url}/consolidation")
    clerk.select_option("#comment-department", depts["GC"])
    clerk.fill("#comment-person", "王工")
    clerk.fill("#comment-clause", "第2章")
    clerk.fill("#comment-text", "补充工程服务部与客户服务中心的接口")
    clerk.click("#comment-form button[type=submit]")
    assert flash(clerk)

    clerk.goto(plan_url)
    _step(clerk, "finalise")  # the comment has no decision yet
    assert "还有 1 条传阅意见没有处理结论" in clerk.locator(".error").first.inner_text()
    assert "传阅" in clerk.locator("#plan-state").inner_text()

    clerk.goto(f"{plan_url}/consolidation")
    decide = clerk.locator("form[id^=decide-]").first
    decide.locator("select").select_option("adopted")
    decide.locator("button[type=submit]").click()
    assert flash(clerk)
    clerk.goto(plan_url)
    _step(clerk, "finalise")  # the regulation's text is not taken in yet
    assert "还有 1 份" in clerk.locator(".error").first.inner_text()

    clerk.goto(f"{plan_url}/consolidation")
    assert "已提交，尚未纳入" in clerk.locator("#taken-in").inner_text()
    clerk.click("#taken-in a:has-text('客户回访管理制度')")
    clerk.click("#take-in-form button[type=submit]")
    assert number in flash(clerk)
    clerk.click(f"#item-draft a:has-text('{number}')")
    assert "规范业主回访。" in clerk.input_value("textarea[name=body]")
    assert "郑晓" in clerk.input_value("input[name=change_summary]")  # names the writer
    clerk.goto(plan_url)
    _step(clerk, "finalise")
    assert "已定稿" in clerk.locator("#plan-state").inner_text()
    clerk.click("#manual-draft a")
    page = clerk.locator("body").inner_text()
    assert "QM-01" in page and "B/0" in page and "草稿" in page
    last_page(clerk, "writing-plan")
