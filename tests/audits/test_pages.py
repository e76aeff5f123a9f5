"""The audit pages as a browser uses them (their own forms, CSRF on): plan, steps, checklist,
findings, acknowledgement, report, approval; each refusal shown on the page with the input
kept and nothing stored; the .docx plan and report read back; the results page."""

from __future__ import annotations

import io
from typing import Any

import pytest
from docx import Document as DocxDocument

from tests.audits.conftest import AUDIT_DAY
from tests.factories import TEST_PASSWORD
from tests.forms import submit_form


@pytest.fixture
def w(served_world: Any) -> Any:
    return served_world


def _audit(app: Any, audit_id: int) -> Any:
    from qms.audits.models import Audit
    from qms.db import get_session

    with app.app_context():
        audit = get_session().get(Audit, audit_id)
        return {
            "state": str(audit.state),
            "findings": len(audit.findings),
            "items": len(audit.checklist),
        }


def test_the_plan_form_refuses_an_auditor_of_the_audited_department(
    app: Any, client_as: Any, w: Any
) -> None:
    manager = client_as("manager")
    url = f"/audits/programmes/{w.programme.id}"
    page = manager.get(url)
    assert page.status_code == 200
    r = submit_form(
        manager,
        page,
        f"{url}/audits",
        title="客服复审",
        department_id=str(w.depts["KF"].id),
        audit_date="2027-09-01",
        lead_auditor_id=str(w.u["auditor2"].id),
        objectives="复查整改",
    )
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert "钱多（内审员） 属于客户服务中心，不能审核本部门" in text
    assert "客服复审" in text and "复查整改" in text  # the input is kept
    from qms.audits.models import Audit
    from qms.db import get_session

    with app.app_context():
        assert get_session().query(Audit).count() == len(w.audits)


def test_a_whole_audit_on_the_pages(app: Any, client_as: Any, w: Any) -> None:
    auditor, head, gm = client_as("auditor"), client_as("approver"), client_as("gm")
    url = f"/audits/{w.audit.id}"
    page = auditor.get(url)
    assert "内部审核" in page.get_data(as_text=True)
    # one wrong step: a notice less than 5 working days ahead
    r = submit_form(auditor, page, f"{url}/move", {"action": "notify"}, notice_date="2027-03-12")
    assert r.status_code == 422
    assert "最迟应于 2027-03-09 发出" in r.get_data(as_text=True)
    assert 'value="2027-03-12"' in r.get_data(as_text=True)
    assert _audit(app, w.audit.id)["state"] == "planned"
    r = submit_form(auditor, page, f"{url}/move", {"action": "notify"}, notice_date="2027-03-05")
    assert r.status_code == 302
    page = auditor.get(url)
    r = submit_form(
        auditor,
        page,
        f"{url}/move",
        {"action": "open_meeting"},
        held_on=AUDIT_DAY.isoformat(),
        present=str(w.u["auditor"].id),
    )
    assert r.status_code == 302
    checklist = auditor.get(f"{url}/checklist")
    r = submit_form(auditor, checklist, f"{url}/checklist/generate")
    assert r.status_code == 302
    checklist = auditor.get(f"{url}/checklist")
    html = checklist.get_data(as_text=True)
    assert "核验购房资料" in html and "第三条" in html
    from qms.audits.models import Audit
    from qms.db import get_session

    with app.app_context():
        ids = [i.id for i in get_session().get(Audit, w.audit.id).checklist]
    for item_id in ids:
        r = submit_form(
            auditor,
            checklist,
            f"{url}/checklist/items/{item_id}",
            result="conforms",
            evidence="抽查档案 5 份",
        )
        assert r.status_code == 302
    # a nonconformity without evidence: refused, the description kept
    checklist = auditor.get(f"{url}/checklist")
    r = submit_form(
        auditor,
        checklist,
        f"{url}/findings",
        grade="general",
        clause="8.5",
        description="档案缺身份证复印件",
        evidence="",
    )
    assert r.status_code == 422
    assert "不符合项必须有客观证据" in r.get_data(as_text=True)
    assert "档案缺身份证复印件" in r.get_data(as_text=True)
    assert _audit(app, w.audit.id)["findings"] == 0
    r = submit_form(
        auditor,
        checklist,
        f"{url}/findings",
        grade="general",
        clause="8.5",
        description="档案缺身份证复印件",
        evidence="抽查 5 份，2 份缺",
        process_number=w.process.number,
    )
    assert r.status_code == 302
    page = auditor.get(url)
    r = submit_form(
        auditor,
        page,
        f"{url}/move",
        {"action": "close_meeting"},
        held_on="2027-03-17",
        present=str(w.u["auditor"].id),
    )
    assert r.status_code == 302
    page = auditor.get(url)
    r = submit_form(
        auditor,
        page,
        f"{url}/report",
        conclusions="基本有效",
        conformity_degree="基本符合",
        distribution="总经理、客户服务中心",
    )
    assert r.status_code == 302
    r = submit_form(auditor, auditor.get(url), f"{url}/move", {"action": "submit_report"})
    assert r.status_code == 302
    # the general manager cannot approve while the finding is not acknowledged
    page = gm.get(url)
    r = submit_form(gm, page, f"{url}/move", {"action": "approve_report"}, password=TEST_PASSWORD)
    assert r.status_code == 409
    assert "尚未经受审核部门确认：#1" in r.get_data(as_text=True)
    # the head acknowledges; a wrong password first
    page = head.get(url)
    r = submit_form(head, page, f"{url}/findings/1/acknowledge", password="wrong")
    assert r.status_code == 403
    r = submit_form(head, page, f"{url}/findings/1/acknowledge", password=TEST_PASSWORD)
    assert r.status_code == 302
    page = gm.get(url)
    r = submit_form(gm, page, f"{url}/move", {"action": "approve_report"}, password=TEST_PASSWORD)
    assert r.status_code == 302
    assert _audit(app, w.audit.id)["state"] == "closed"

    report = DocxDocument(io.BytesIO(auditor.get(f"{url}/report.docx").data))
    text = "\n".join(p.text for p in report.paragraphs) + "\n".join(
        c.text for t in report.tables for row in t.rows for c in row.cells
    )
    for expected in (
        "内部质量审核报告",
        "检查服务过程是否按文件执行",
        w.process.number,
        "A/0",
        "档案缺身份证复印件",
        "抽查 5 份，2 份缺",
        "基本符合",
        "总经理、客户服务中心",
        "批准审核报告"[:2],
        "吴刚（总经理）",
    ):
        assert expected in text, expected
    plan = DocxDocument(io.BytesIO(auditor.get(f"{url}/plan.docx").data))
    plan_text = "\n".join(c.text for t in plan.tables for row in t.rows for c in row.cells)
    assert "赵云（内审员）" in plan_text and "核验购房资料" in plan_text

    results = client_as("staff").get("/audits/results").get_data(as_text=True)
    assert "客户服务中心" in results and "财务部" not in results  # staff: their department
    everyone = client_as("manager").get("/audits/results").get_data(as_text=True)
    assert "<svg" in everyone and "财务部" in everyone


def test_the_calendar_shows_each_audit_with_its_status(client_as: Any, w: Any) -> None:
    page = client_as("manager").get(f"/audits/programmes/{w.programme.id}/calendar?month=3")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "客户服务中心 · 已计划" in html or "客户服务中心 · 逾期" in html
    assert (
        client_as("staff").get(f"/audits/programmes/{w.programme.id}/calendar").status_code == 403
    )


def test_a_later_revision_is_shown_and_the_lead_moves_the_pin(
    app: Any, client_as: Any, w: Any
) -> None:
    from datetime import date

    from qms.db import get_session
    from qms.documents import service as documents
    from tests.audits.conftest import publish

    with app.test_request_context():
        s = get_session()
        from qms.auth.models import User
        from qms.documents.models import Document

        u = {x.username: x for x in s.query(User)}
        process = s.get(Document, w.process.id)
        documents.revise(s, u["clerk"], process, major_change=True, change_summary="改")
        publish(s, u, process, effective_date=date(2027, 3, 1))
        s.commit()
    auditor = client_as("auditor")
    page = auditor.get(f"/audits/{w.audit.id}")
    assert "审核日现行有效的是版本 B/0" in page.get_data(as_text=True)
    with app.app_context():
        from qms.audits.models import AuditCriterion

        criterion_id = (
            get_session()
            .query(AuditCriterion.id)
            .filter(AuditCriterion.audit_id == w.audit.id, AuditCriterion.document_id.is_not(None))
            .scalar()
        )
    r = submit_form(
        auditor,
        page,
        f"/audits/{w.audit.id}/criteria/{criterion_id}/move",
        reason="新版本 3 月 1 日生效",
    )
    assert r.status_code == 302
    assert "审核日现行有效的是版本" not in auditor.get(f"/audits/{w.audit.id}").get_data(
        as_text=True
    )
