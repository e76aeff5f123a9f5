"""Factory helpers for test data."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from qms.auth.models import Department, User, UserRole
from qms.auth.permissions import Role
from qms.demo import DEMO_USERS, ensure_departments

TEST_PASSWORD = "correct-horse-battery"


@functools.cache
def _test_hash() -> str:
    """The test users' password hash: scrypt as in production, with a cost 32 times lower
    (N=1024 instead of werkzeug's 32768), so that each sign-in and re-authenticated
    signature of a test costs milliseconds, not a tenth of a second. Passwords set through
    the product (sign-up, change, reset, demo) keep the production cost; that cost is
    tested in tests/unit/test_passwords.py."""
    return generate_password_hash(TEST_PASSWORD, method="scrypt:1024:8:1")


def seed_departments(session: Session) -> dict[str, Department]:
    return ensure_departments(session)


def make_user(
    session: Session,
    username: str,
    *roles: Role,
    department: str = "PZ",
    display_name: str | None = None,
) -> User:
    dept = session.scalar(sa.select(Department).where(Department.code == department))
    user = User(
        username=username,
        display_name=display_name or username.title(),
        department=dept,
        password_hash=_test_hash(),
        email=f"{username}@example.com",
    )
    user.role_rows = [UserRole(role=r) for r in (roles or (Role.STAFF,))]
    session.add(user)
    session.flush()
    return user


def make_role_users() -> dict[str, Any]:
    from qms.db import get_session

    session = get_session()
    from qms.demo import grant_demo_approval_rights

    made = {}
    for username, display_name, role, dept in DEMO_USERS:
        made[username] = make_user(
            session, username, role, department=dept, display_name=display_name
        )
    grant_demo_approval_rights(session, made, seed_departments(session))
    session.commit()
    return {name: user.id for name, user in made.items()}


def grant_all_approval(session: Session, user: User) -> None:
    from qms.documents.models import ApprovalRight

    session.add(ApprovalRight(user_id=user.id))
    session.flush()


def make_document(
    session: Session,
    *,
    state: str = "draft",
    author: User | None = None,
    reviewer: User | None = None,
    approver: User | None = None,
    clerk: User | None = None,
    kind: str = "regulation",
    department: str = "KF",
    title: str = "服务投诉处理制度",
    body: str = "## 总则\n\n为规范投诉处理，制定本制度。\n",
    number: str | None = None,
) -> Any:
    """A document whose first revision is driven through the real services to `state`."""
    from qms.documents import service
    from qms.documents.models import DocKind

    dept = session.scalar(sa.select(Department).where(Department.code == department))
    author = author or _get_or_make(session, "author1", Role.QUALITY_CLERK)
    document = service.create_document(
        session,
        author,
        title=title,
        kind=DocKind(kind),
        department=dept,
        body=body,
        change_summary="首次发布",
        number=number,
    )
    revision = document.working_revision
    if state == "draft":
        return document
    reviewer = reviewer or _get_or_make(session, "reviewer1", Role.REVIEWER)
    approver = approver or _get_or_make(session, "approver1", Role.APPROVER)
    if not service.has_approval_right(session, approver, document.kind, document.department_id):
        grant_all_approval(session, approver)
    service.submit_for_review(
        session,
        author,
        revision,
        reviewers=[reviewer],
        approver=approver,
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )
    if state == "in_review":
        return document
    service.review(
        session, reviewer, revision, password=TEST_PASSWORD, content_sha256=revision.content_sha256
    )
    if state == "reviewed":
        return document
    service.approve(
        session, approver, revision, password=TEST_PASSWORD, content_sha256=revision.content_sha256
    )
    if state == "approved":
        return document
    clerk = clerk or _get_or_make(session, "clerk1", Role.QUALITY_CLERK)
    service.issue(
        session, clerk, revision, password=TEST_PASSWORD, content_sha256=revision.content_sha256
    )
    assert state == "effective", state
    return document


def _get_or_make(session: Session, username: str, role: Role) -> User:
    existing = session.scalar(sa.select(User).where(User.username == username))
    return existing or make_user(session, username, role)
