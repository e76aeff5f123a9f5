"""Factory helpers for test data."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.auth.models import Department, User, UserRole
from qms.auth.passwords import hash_password
from qms.auth.permissions import Role
from qms.demo import DEMO_USERS, ensure_departments

TEST_PASSWORD = "correct-horse-battery"


@functools.cache
def _test_hash() -> str:
    return hash_password(TEST_PASSWORD)


def seed_departments(session: Session) -> dict[str, Department]:
    return ensure_departments(session)


def make_user(
    session: Session, username: str, *roles: Role, department: str = "PZ",
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
    ids = {}
    for username, display_name, role, dept in DEMO_USERS:
        ids[username] = make_user(session, username, role, department=dept,
                                  display_name=display_name).id
    session.commit()
    return ids
