"""Demo data for a first run: the company's departments and one user per role."""

from __future__ import annotations

import os
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.auth import service as auth
from qms.auth.models import Department, User
from qms.auth.permissions import Role

# (code, 中文, English, parent)
DEPARTMENTS: list[tuple[str, str, str, str | None]] = [
    ("ZJ", "总经理室", "General Manager", None),
    ("PZ", "品质管理中心", "Quality Management Center", "ZJ"),
    ("PZ-XM", "项目品质管理分部", "Project quality branches", "PZ"),
    ("KF", "客户服务中心", "Customer Service", "ZJ"),
    ("BA", "安全管理部", "Security", "ZJ"),
    ("GJ", "管家服务部", "Butler Service", "ZJ"),
    ("GC", "工程服务部", "Engineering Service", "ZJ"),
    ("XZ", "行政人事部", "Administration & HR", "ZJ"),
    ("CW", "财务部", "Finance", "ZJ"),
]

# (username, display name, role, department)
DEMO_USERS: list[tuple[str, str, Role, str]] = [
    ("admin", "系统管理员", Role.ADMIN, "XZ"),
    ("manager", "周宁（品质管理中心经理）", Role.QUALITY_MANAGER, "PZ"),
    ("clerk", "李静（品质文员）", Role.QUALITY_CLERK, "PZ"),
    ("leader", "陈涛（评审组长）", Role.REVIEW_LEADER, "PZ"),
    ("reviewer", "刘洋（评审员）", Role.REVIEWER, "KF"),
    ("auditor", "赵云（内审员）", Role.AUDITOR, "PZ"),
    ("approver", "孙丽（客户服务中心经理）", Role.APPROVER, "KF"),
    ("gm", "吴刚（总经理）", Role.APPROVER, "ZJ"),
    ("staff", "郑晓（客服专员）", Role.STAFF, "KF"),
]


def ensure_departments(session: Session) -> dict[str, Department]:
    by_code = {d.code: d for d in session.scalars(sa.select(Department))}
    for code, name, name_en, parent in DEPARTMENTS:
        if code not in by_code:
            by_code[code] = auth.create_department(
                session, None, code, name, name_en, by_code.get(parent) if parent else None
            )
    return by_code


def demo_password() -> str:
    """A random password every demo user's policy accepts (a random string may contain a
    short username such as "gm", which the policy refuses)."""
    from qms.auth.passwords import weakness

    while True:
        password = secrets.token_urlsafe(12)
        if all(weakness(password, (u[0], u[1])) is None for u in DEMO_USERS):
            return password


def create_demo_data(session: Session) -> str | None:
    """Create departments and demo users if there are no users yet.
    Returns the demo password when users were created (to be printed once)."""
    depts = ensure_departments(session)
    if session.scalar(sa.select(sa.func.count()).select_from(User)):
        return None
    password = os.environ.get("QMS_DEMO_PASSWORD") or demo_password()
    users = {}
    for username, display_name, role, dept in DEMO_USERS:
        users[username] = auth.create_user(
            session,
            None,
            username=username,
            display_name=display_name,
            password=password,
            roles=[role],
            department=depts[dept],
            email=f"{username}@example.com",
        )
    grant_demo_approval_rights(session, users, depts)
    from qms.audits.demo import create_demo_audits

    create_demo_audits(session, users, depts, password)
    create_demo_certificate(session, users["manager"])
    create_demo_writing_plan(session, users, depts)
    return password


def grant_demo_approval_rights(
    session: Session, users: dict[str, User], depts: dict[str, Department]
) -> None:
    """The general manager approves anything, and review plans (handbook 5.2); the
    customer-service head approves the documents of Customer Service; the quality manager
    those of the Quality Center."""
    from qms.documents.service import grant_approval_right
    from qms.reviews import approvers

    grant_approval_right(session, None, users["gm"], None, None)
    approvers.name_general_manager(session, None, users["gm"])
    grant_approval_right(session, None, users["approver"], None, depts["KF"])
    grant_approval_right(session, None, users["manager"], None, depts["PZ"])


def create_demo_certificate(session: Session, manager: User) -> None:
    """The company's certificate, granted ten months ago, so a new user sees its status and
    the first surveillance audit coming up (qms/certification)."""
    from qms import clock
    from qms.certification import rules, service

    body = service.create_body(session, manager, name="华信质量认证有限公司",
                               accreditation_number="CNCA-R-2002-117",
                               contact_name="王敏", contact_phone="010-00000000")
    decision = rules.add_months(clock.today(), -10)
    service.issue_certificate(session, manager, body, service.CertificateIn(
        number="01326Q30117R0M", standard="GB/T 19001-2016 / ISO 9001:2015",
        scope="物业管理服务（客户服务、安全管理、管家服务、工程服务）",
        sites="公司总部及各项目管理处",
        decision_date=decision, grant_date=decision))


def create_demo_writing_plan(
    session: Session, users: dict[str, User], depts: dict[str, Department]
) -> None:
    """The writing plan of the manual's next revision (qms/writing): sections across the
    departments, one submitted, one late, a new regulation written on the plan by a
    department person; one answered question and one open, so a new user sees how the
    manual is written (handbook 5.3)."""
    from datetime import timedelta

    from qms import clock
    from qms.certification import service as certification
    from qms.writing import service

    today = clock.today()
    manager, clerk = users["manager"], users["clerk"]
    consultant = certification.create_consultant(
        session, manager, name="刘建华", organisation="华信管理咨询有限公司"
    )

    def item(kind: str, title: str, dept: str, writer: str, draft: int) -> service.ItemIn:
        return service.ItemIn(
            kind=kind, title=title, department=depts[dept], writer=users[writer],
            start_on=today - timedelta(days=20), draft_due=today + timedelta(days=draft),
            final_due=today + timedelta(days=30),
        )

    plan = service.create_plan(
        session, clerk, title="质量手册 B/0 换版", scope="质量手册（QM-01）整体换版及配套制度",
        consultant=consultant, training_on=today - timedelta(days=21), trainer="刘建华",
        training_notes="各部门编写人员参加：手册结构、标准条款与编写方法",
        items=[
            item("manual_section", "第1章 质量方针和质量目标", "KF", "staff", 5),
            item("manual_section", "第4章 客户服务", "KF", "approver", -3),
            item("manual_section", "第5章 安全管理", "BA", "reviewer", 10),
            # engineering's processes have no regulation yet (a gap the handbook leaves);
            # its writer may not draft controlled documents, so writes it on the plan and
            # the quality center takes it into the controlled draft once submitted
            item("regulation", "房屋维修管理制度", "GC", "reviewer", 12),
        ],
    )
    service.take_step(session, manager, plan, "confirm")
    service.take_step(session, clerk, plan, "start_writing")
    first = plan.items[0]
    service.start_draft(session, users["staff"], first)
    service.save_text(
        session, users["staff"], first, base_version=1,
        body="## 一、质量方针\n\n业主至上，服务第一，持续改进。\n\n## 二、质量目标\n\n"
        "业主满意率不低于 95%。\n",
    )
    service.submit_draft(session, users["staff"], first)
    service.start_draft(session, users["approver"], plan.items[1])
    service.start_draft(session, users["reviewer"], plan.items[3])
    asked = service.ask(
        session, users["staff"], plan, item=first,
        text="质量目标是否需要按部门分解写入手册？",
    )
    service.answer(
        session, manager, asked, consultant=consultant,
        text="手册写公司级目标；部门目标在质量方针和目标（MB-01）中分解。",
    )
    service.ask(session, users["reviewer"], plan, text="安全管理章节是否需要引用消防管理制度？")
