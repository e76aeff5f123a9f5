"""Job: an internal audit from plan to approved report (ZD-PZ-003, ISO 19011). The quality
manager plans the audit of Customer Service in this year's programme and submits it; the
general manager approves the programme with his signature; the lead auditor sends the notice,
holds the opening meeting, generates the checklist from the pinned process and regulation,
fills it on a tablet, raises a nonconformity and holds the closing meeting; the head of
Customer Service acknowledges the finding; the auditor writes and submits the report; the
general manager approves it. Wrong step: the manager names an auditor from Customer Service
as lead auditor, and is told who and why."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.factories import TEST_PASSWORD
from tests.journeys.conftest import flash, in_db

TABLET = {"width": 820, "height": 1180}


def _world(live_app: Any) -> Any:
    from qms.auth.models import User
    from qms.db import get_session
    from tests.audits.conftest import make_audit_world

    with live_app.test_request_context():
        s = get_session()
        u = {x.username: x for x in s.scalars(sa.select(User))}
        w = make_audit_world(s, u, approve=False, unplanned=("KF",))
        return {
            "programme": w.programme.id,
            "process": w.process.number,
            "kf": w.depts["KF"].id,
            "auditor2": u["auditor2"].id,
            "auditor": u["auditor"].id,
        }


def _move(page: Any, action: str) -> Any:
    return page.locator("form", has=page.locator(f'input[name=action][value="{action}"]'))


def _audits(session: Any) -> int:
    from qms.audits.models import Audit

    return int(session.scalar(sa.select(sa.func.count(Audit.id))) or 0)


def test_an_internal_audit_from_plan_to_approved_report(
    people: Any, live_app: Any, live_server: str, last_page: Any
) -> None:
    w = _world(live_app)
    before = in_db(live_app, _audits)
    base = live_server

    # the quality manager plans the audit of Customer Service
    manager = people.sign_in("manager")
    manager.goto(f"{base}/audits/")
    manager.click(f'a[href="/audits/programmes/{w["programme"]}"]')
    expect(manager.locator("#missing")).to_contain_text("客户服务中心")
    form = manager.locator("#plan-audit form")
    form.locator("input[name=title]").fill("客户服务中心年度内审")
    form.locator("select[name=department_id]").select_option(str(w["kf"]))
    form.locator("input[name=audit_date]").fill("2027-03-16")
    form.locator("input[name=place]").fill("客服中心会议室")
    form.locator("textarea[name=objectives]").fill("检查入住服务是否按文件执行")
    form.locator("input[name=documents]").fill(w["process"])
    form.locator("input[name=clauses][value='8.5']").check()
    # wrong step: the lead auditor works in Customer Service
    form.locator("select[name=lead_auditor_id]").select_option(str(w["auditor2"]))
    form.locator("button[type=submit]").click()
    expect(manager.locator("#refusal")).to_contain_text("钱多（内审员） 属于客户服务中心")
    assert in_db(live_app, _audits) == before
    form = manager.locator("#plan-audit form")
    expect(form.locator("input[name=title]")).to_have_value("客户服务中心年度内审")
    form.locator("select[name=lead_auditor_id]").select_option(str(w["auditor"]))
    form.locator("button[type=submit]").click()
    assert "内审已策划" in flash(manager)
    audit_url = manager.url
    manager.goto(f"{base}/audits/programmes/{w['programme']}")
    _move(manager, "submit").locator("button").click()
    assert "已完成" in flash(manager)

    # the general manager approves the programme with his signature
    gm = people.sign_in("gm")
    gm.goto(f"{base}/audits/programmes/{w['programme']}")
    approve = _move(gm, "approve")
    approve.locator("input[name=password]").fill(TEST_PASSWORD)
    approve.locator("button").click()
    expect(gm.locator("#programme-state")).to_have_attribute("data-state", "approved")

    # the lead auditor: notice, opening meeting, checklist on a tablet
    auditor = people.sign_in("auditor", TABLET)
    auditor.goto(audit_url)
    _move(auditor, "notify").locator("button").click()
    assert "已保存" in flash(auditor)
    opening = _move(auditor, "open_meeting")
    opening.locator(f"input[name=present][value='{w['auditor']}']").check()
    opening.locator("button").click()
    expect(auditor.locator("#audit-status")).to_have_attribute("data-state", "in_progress")
    auditor.click("text=审核检查表")
    auditor.click("text=根据审核准则生成检查表")
    items = auditor.locator("ol.checklist li.item")
    expect(items.first).to_be_visible()
    count = items.count()
    assert count >= 3
    expect(auditor.locator("#checklist")).to_contain_text("核验购房资料")
    for i in range(count):
        item = auditor.locator("ol.checklist li.item").nth(i)
        item.locator("input[name=result][value=conforms]").check()
        item.locator("textarea[name=evidence]").fill("抽查业主档案 5 份")
        item.locator("form.answer button[type=submit]").click()
        assert "已保存" in flash(auditor)
    finding = auditor.locator("#finding-form")
    finding.locator("select[name=grade]").select_option("general")
    finding.locator("select[name=clause]").select_option("8.5")
    finding.locator("select[name=process_number]").select_option(w["process"])
    finding.locator("textarea[name=description]").fill("两份业主档案缺身份证复印件")
    finding.locator("textarea[name=evidence]").fill("抽查 2026 年入住档案 5 份，2 份缺")
    finding.locator("button[type=submit]").click()
    assert "已保存" in flash(auditor)
    expect(auditor.locator("#finding-1")).to_contain_text("BD-PZ-008")
    closing = _move(auditor, "close_meeting")
    closing.locator(f"input[name=present][value='{w['auditor']}']").check()
    closing.locator("button").click()
    report = auditor.locator("#report form")
    report.locator("textarea[name=conclusions]").fill("入住服务基本按文件执行")
    report.locator("textarea[name=conformity_degree]").fill("基本符合，1 项一般不符合")
    report.locator("input[name=distribution]").fill("总经理、客户服务中心")
    report.locator("button[type=submit]").click()
    _move(auditor, "submit_report").locator("button").click()
    expect(auditor.locator("#audit-status")).to_have_attribute("data-state", "reported")

    # the head of Customer Service acknowledges the finding with a signature
    head = people.sign_in("approver")
    head.goto(audit_url)
    ack = head.locator("#finding-1 form")
    ack.locator("input[name=password]").fill(TEST_PASSWORD)
    ack.locator("button").click()
    expect(head.locator("#finding-1")).to_contain_text("孙丽")

    # the general manager approves the report
    gm.goto(audit_url)
    approve = _move(gm, "approve_report")
    approve.locator("input[name=password]").fill(TEST_PASSWORD)
    approve.locator("button").click()
    expect(gm.locator("#audit-status")).to_have_attribute("data-state", "closed")
    last_page(gm, "internal-audit")
