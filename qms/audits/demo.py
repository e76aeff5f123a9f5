"""Demo data for internal audits: this year's programme, approved, and one finished audit of
Customer Service with an open and a closed nonconformity, made through the real services."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from qms import clock
from qms.audits import service
from qms.audits.models import Meeting
from qms.auth.models import Department, User


def create_demo_audits(
    session: Session, users: dict[str, User], depts: dict[str, Department], password: str
) -> None:
    from qms.nonconformity import service as ncs

    today = clock.today()
    manager, auditor, gm, head = users["manager"], users["auditor"], users["gm"], users["approver"]
    add = service.working_days(session)
    # a working day about two months ago (the closed nonconformity's interval has passed)
    done_day = add(max(today - timedelta(days=61), date(today.year, 1, 4)), 1)
    programme = service.create_programme(
        session, manager, year=today.year, notes="依据 ZD-PZ-003 编制，每个部门全年至少审核一次。"
    )
    finished = None
    later = [today + timedelta(days=30 + 14 * i) for i in range(len(depts))]
    for i, (code, dept) in enumerate(sorted(depts.items())):
        day = done_day if code == "KF" else later[i]
        if day.year != today.year:
            day = date(today.year, 12, min(28, 1 + i))
        audit = service.plan_audit(
            session,
            manager,
            programme,
            department=dept,
            title=f"{today.year}年{dept.name}内审",
            audit_date=day,
            objectives="检查质量管理体系在本部门的实施和有效性",
            scope=f"{dept.name}的全部服务过程",
            place=f"{dept.name}办公室",
            lead_auditor=auditor if code != "PZ" else None,
            clauses=["8.5", "9.1"] if code == "KF" else ["7.5"],
        )
        if code == "KF":
            finished = audit
    service.submit_programme(session, manager, programme)
    service.approve_programme(
        session, gm, programme, password=password, content_sha256=service.programme_hash(programme)
    )
    if finished is None:
        return
    audit = finished
    service.notify(
        session,
        auditor,
        audit,
        notice_date=service.latest_notice(session, audit) - timedelta(days=2),
    )
    service.record_meeting(
        session,
        auditor,
        audit,
        Meeting.OPENING,
        present=[auditor.id, head.id, users["staff"].id],
        held_on=done_day,
    )
    for item in service.generate_checklist(session, auditor, audit):
        service.edit_item(
            session, auditor, audit, item.id, result="conforms", evidence="抽查记录 5 份，符合要求"
        )
    open_finding = service.raise_finding(
        session,
        auditor,
        audit,
        grade="general",
        clause="8.5",
        description="业主回访记录未按规定在 3 日内完成",
        evidence="抽查 10 月回访记录 20 份，其中 3 份回访日期超过 3 日",
    )
    closed_finding = service.raise_finding(
        session,
        auditor,
        audit,
        grade="general",
        clause="9.1",
        description="服务质量调查结果未做统计分析",
        evidence="第三季度调查表 40 份已收回，未见统计分析记录",
    )
    service.raise_finding(
        session,
        auditor,
        audit,
        grade="improvement",
        description="可将业主档案改为电子化管理",
        evidence="",
    )
    service.record_meeting(
        session,
        auditor,
        audit,
        Meeting.CLOSING,
        present=[auditor.id, head.id],
        held_on=add(done_day, 1),
    )
    for finding in audit.findings:
        service.acknowledge(
            session,
            head,
            audit,
            finding.number,
            password=password,
            content_sha256=service.finding_hash(finding),
        )
    service.edit_report(
        session,
        auditor,
        audit,
        conclusions="客户服务中心质量管理体系运行基本有效。",
        conformity_degree="基本符合；2 项一般不符合，1 项改进机会。",
        diverging_opinions="无",
        distribution="总经理、品质管理中心、客户服务中心",
    )
    service.submit_report(session, auditor, audit)
    service.approve_report(
        session, gm, audit, password=password, content_sha256=service.report_hash(audit)
    )
    del open_finding  # its nonconformity stays open for the owner to work on
    nc = session.get(_nc_model(), closed_finding.nonconformity_id)
    if nc is None:
        return
    ncs.record_cause_and_plan(
        session,
        head,
        nc,
        whys=["未规定统计分析的责任人"],
        root_cause="制度未明确调查结果的统计分析职责",
        correction="补做第三季度统计分析",
        plan="修订职责分工",
    )
    action = ncs.add_action(
        session,
        head,
        nc,
        description="明确统计分析责任人并补做分析",
        owner=users["staff"],
        due_on=done_day + timedelta(days=10),
    )
    ncs.start_actions(session, head, nc)
    ncs.complete_action(
        session,
        users["staff"],
        nc,
        action,
        note="已补做分析并公布",
        done_on=done_day + timedelta(days=5),
    )
    ncs.submit_for_verification(session, head, nc)
    earliest = ncs.earliest_verification(nc)
    if earliest is not None and earliest <= today:
        ncs.verify(
            session,
            manager,
            nc,
            effective=True,
            password=password,
            content_sha256=nc.content_sha256(),
            comment="复查 11 月记录，已按期统计",
        )
        ncs.close(session, manager, nc, reason="验证有效")


def _nc_model() -> type:
    from qms.nonconformity.models import Nonconformity

    return Nonconformity
