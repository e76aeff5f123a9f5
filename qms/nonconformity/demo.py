"""Demo nonconformities for a finished internal audit: one closed (cause, action, signed
verification), one open with its action under way. The audits feature calls this with its
audit as the source; everything goes through the services, so the trail tells the story."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import Department, User
from qms.nonconformity import service
from qms.nonconformity.models import Nonconformity


def demo_nonconformities(
    session: Session,
    users: dict[str, User],
    password: str,
    *,
    department: Department | int,
    source: str = "internal_audit",
    source_id: int | None = None,
    source_label: str = "2026年度第一次内部质量审核",
    raised_on: date | None = None,
    process_number: str | None = None,
) -> tuple[Nonconformity, Nonconformity]:
    """(closed, open). `users` holds the demo users by username (qms.demo.DEMO_USERS):
    the auditor raises and verifies, the department head owns, staff act, the quality
    manager closes. `password` is the demo users' password (the verification is signed).
    Does not commit."""
    day = raised_on or clock.today() - timedelta(days=45)
    auditor, head, staff, manager = (
        users["auditor"],
        users["approver"],
        users["staff"],
        users["manager"],
    )
    common: dict[str, Any] = {
        "actor": auditor,
        "source": source,
        "source_id": source_id,
        "source_label": source_label,
        "department": department,
        "process_number": process_number,
        "raised_on": day,
    }
    closed = service.raise_nonconformity(
        session,
        **common,
        clause="9.1.2",
        grade="general",
        description="客户投诉处理后未进行回访，无法证实顾客满意情况。",
        evidence="抽查2026年第三季度投诉处理记录20份，其中3份无回访记录（编号见审核检查表）。",
        owner=head,
        verification_interval_days=14,
    )
    service.record_cause_and_plan(
        session,
        head,
        closed,
        whys=[
            "处理人员结案后未安排回访",
            "投诉处理流程未规定回访步骤",
            "流程编写时未将顾客满意评价纳入闭环",
        ],
        root_cause="投诉处理流程缺少回访与满意度确认环节。",
        correction="对3件未回访投诉补做回访并记录。",
        plan="修订投诉处理流程，增加回访步骤；对客服专员进行培训。",
    )
    action = service.add_action(
        session,
        head,
        closed,
        description="在投诉处理流程中增加结案后3个工作日内回访的要求，并培训客服专员。",
        owner=staff,
        due_on=day + timedelta(days=10),
    )
    service.start_actions(session, head, closed)
    service.complete_action(
        session,
        staff,
        closed,
        action,
        note="流程已修订，培训已完成（签到表存档）。",
        done_on=day + timedelta(days=8),
    )
    service.submit_for_verification(session, head, closed)
    service.verify(
        session,
        auditor,
        closed,
        effective=True,
        password=password,
        content_sha256=closed.content_sha256(),
        comment="抽查整改后投诉记录15份，均有回访记录，措施有效。",
    )
    service.close(session, manager, closed, reason="验证有效")

    still_open = service.raise_nonconformity(
        session,
        **common,
        clause="7.5.3",
        grade="general",
        description="前台使用的《访客登记表》为已作废版本。",
        evidence="现场查看前台登记表，版本为A/0，现行有效版本为A/1。",
        owner=head,
    )
    service.record_cause_and_plan(
        session,
        head,
        still_open,
        whys=["新版发布后前台未更换", "发放记录未包含前台"],
        root_cause="受控文件发放范围未覆盖前台。",
        correction="收回作废版本，换发现行有效版本。",
        plan="更新发放范围并检查各岗位在用表单版本。",
    )
    service.add_action(
        session,
        head,
        still_open,
        description="核对各岗位在用表单版本，更新受控文件发放清单。",
        owner=staff,
        due_on=clock.today() + timedelta(days=14),
    )
    service.start_actions(session, head, still_open)
    return closed, still_open
