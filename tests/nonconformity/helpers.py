"""Test data for nonconformities, driven through the real services."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.auth.models import Department, User
from qms.nonconformity import service
from qms.nonconformity.models import Nonconformity
from tests.factories import TEST_PASSWORD


def user(session: Session, username: str) -> User:
    return session.scalars(sa.select(User).where(User.username == username)).unique().one()


def department(session: Session, code: str) -> Department:
    return session.scalars(sa.select(Department).where(Department.code == code)).one()


def raise_nc(session: Session, actor: User | None = None, **overrides: Any) -> Nonconformity:
    fields: dict[str, Any] = {
        "actor": actor or user(session, "auditor"),
        "source": "internal_audit",
        "source_id": None,
        "source_label": "2026年第一次内部审核",
        "department": department(session, "KF"),
        "clause": "7.5.3",
        "process_number": None,
        "grade": "general",
        "description": "投诉处理记录未按规定保存",
        "evidence": "抽查2026年10月投诉记录20份，其中3份缺少回访记录",
    }
    fields.update(overrides)
    return service.raise_nonconformity(session, **fields)


def drive_to_verification(
    session: Session, nc: Nonconformity, *, action_owner: str = "staff", done_on: date | None = None
) -> Nonconformity:
    """Cause and plan by the owner, one action done, submitted for verification."""
    owner = nc.owner or user(session, "manager")
    service.record_cause_and_plan(
        session,
        owner,
        nc,
        whys=["回访未记录", "系统无回访字段", "需求未提出"],
        root_cause="投诉处理流程未规定回访记录",
        correction="补录3份回访记录",
        plan="修订投诉处理流程，增加回访记录要求",
    )
    action = service.add_action(
        session,
        owner,
        nc,
        description="在投诉处理流程中增加回访记录步骤",
        owner=user(session, action_owner),
        due_on=nc.raised_on + timedelta(days=10),
    )
    service.start_actions(session, owner, nc)
    service.complete_action(
        session, user(session, action_owner), nc, action, note="流程已修订并培训", done_on=done_on
    )
    service.submit_for_verification(session, owner, nc)
    return nc


def verify(
    session: Session,
    nc: Nonconformity,
    username: str = "auditor",
    *,
    effective: bool = True,
    password: str = TEST_PASSWORD,
    comment: str = "",
) -> Any:
    return service.verify(
        session,
        user(session, username),
        nc,
        effective=effective,
        password=password,
        content_sha256=nc.content_sha256(),
        comment=comment or ("有效" if effective else "仍有记录缺失"),
    )
