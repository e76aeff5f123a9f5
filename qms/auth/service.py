"""Operations on people: users, roles, departments, sign-in, lockout and API tokens.
Each function changes the models, writes the trail and only flushes."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import ApiToken, Department, User, UserRole
from qms.auth.passwords import check_policy, hash_password, verify_password
from qms.auth.permissions import Role
from qms.db import utcnow
from qms.errors import Conflict, Forbidden, Invalid, NotFound
from qms.trail import service as trail

LOCKOUT_ATTEMPTS = 5
LOCKOUT_MINUTES = 15


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_l("No such user."))
    return user


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(sa.select(User).where(User.username == username.strip()))


def department_by_code(session: Session, code: str) -> Department | None:
    return session.scalar(sa.select(Department).where(Department.code == code))


def create_department(
    session: Session,
    actor: User | None,
    code: str,
    name: str,
    name_en: str = "",
    parent: Department | None = None,
) -> Department:
    code = code.strip().upper()
    if not code or not name.strip():
        raise Invalid(_l("A department needs a code and a name."))
    if department_by_code(session, code) is not None:
        raise Conflict(_l("Department code %(code)s is already in use.", code=code))
    dept = Department(code=code, name=name.strip(), name_en=name_en.strip(), parent=parent)
    session.add(dept)
    session.flush()
    trail.record(session, actor, "create", "department", dept.code, new=dept.name)
    return dept


def update_department(
    session: Session,
    actor: User,
    dept: Department,
    *,
    name: str,
    name_en: str,
    parent: Department | None,
    active: bool,
) -> Department:
    if parent is not None:
        ancestor: Department | None = parent
        while ancestor is not None:
            if ancestor.id == dept.id:
                raise Invalid(_l("A department cannot sit under itself."))
            ancestor = ancestor.parent
    changes = {
        "name": (dept.name, name.strip()),
        "name_en": (dept.name_en, name_en.strip()),
        "parent": (dept.parent.code if dept.parent else None, parent.code if parent else None),
        "active": (dept.active, active),
    }
    dept.name, dept.name_en, dept.parent, dept.active = (
        name.strip(),
        name_en.strip(),
        parent,
        active,
    )
    session.flush()
    trail.record_changes(session, actor, "update", "department", dept.code, changes)
    return dept


def create_user(
    session: Session,
    actor: User | None,
    *,
    username: str,
    display_name: str,
    password: str,
    roles: Iterable[Role],
    department: Department | None = None,
    email: str = "",
) -> User:
    username = username.strip()
    if not username or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise Invalid(_l("A username uses letters, digits, dots, dashes and underscores only."))
    if user_by_username(session, username) is not None:
        raise Conflict(
            _l("The username %(name)s has been used before and cannot be reused.", name=username)
        )
    check_policy(password, username)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        email=email.strip(),
        department=department,
        password_hash=hash_password(password),
    )
    user.role_rows = [UserRole(role=Role(r)) for r in sorted(set(roles))]
    session.add(user)
    session.flush()
    trail.record(session, actor, "create", "user", user.username, new=user.display_name)
    trail.record(
        session,
        actor,
        "roles",
        "user",
        user.username,
        field="roles",
        old="",
        new=",".join(sorted(user.roles)),
    )
    return user


def update_user(
    session: Session,
    actor: User | None,
    user: User,
    *,
    display_name: str,
    email: str,
    department: Department | None,
    roles: Iterable[Role],
    active: bool,
    reason: str = "",
) -> User:
    new_roles = frozenset(Role(r) for r in roles)
    is_self = actor is not None and user.id == actor.id
    if is_self and Role.ADMIN in user.roles and Role.ADMIN not in new_roles:
        raise Forbidden(_l("You cannot take the administrator role away from yourself."))
    if is_self and not active:
        raise Forbidden(_l("You cannot deactivate your own account."))
    changes = {
        "display_name": (user.display_name, display_name.strip()),
        "email": (user.email, email.strip()),
        "department": (
            user.department.code if user.department else None,
            department.code if department else None,
        ),
        "active": (user.active, active),
    }
    old_roles = ",".join(sorted(user.roles))
    user.display_name = display_name.strip() or user.username
    user.email = email.strip()
    user.department = department
    user.active = active
    if new_roles != user.roles:
        user.role_rows = [UserRole(role=r) for r in sorted(new_roles)]
    session.flush()
    trail.record_changes(session, actor, "update", "user", user.username, changes, reason)
    trail.record_changes(
        session,
        actor,
        "roles",
        "user",
        user.username,
        {"roles": (old_roles, ",".join(sorted(new_roles)))},
        reason,
    )
    return user


def set_password(session: Session, actor: User | None, user: User, password: str) -> None:
    check_policy(password, user.username)
    user.password_hash = hash_password(password)
    user.failed_attempts = 0
    user.locked_until = None
    session.flush()
    trail.record(session, actor, "password", "user", user.username, field="password")


def unlock(session: Session, actor: User | None, user: User) -> None:
    trail.record(
        session,
        actor,
        "unlock",
        "user",
        user.username,
        field="locked_until",
        old=user.locked_until,
        new=None,
    )
    user.locked_until = None
    user.failed_attempts = 0
    session.flush()


class SignInRefused(Exception):
    def __init__(self, message: object, user: User | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.user = user


def register_failed_password(session: Session, user: User, context: str) -> None:
    """Count a wrong password (at sign-in or when signing); lock after too many."""
    user.failed_attempts += 1
    trail.record(
        session,
        user,
        "password_failed",
        "user",
        user.username,
        reason=context,
        field="failed_attempts",
        old=user.failed_attempts - 1,
        new=user.failed_attempts,
    )
    if user.failed_attempts >= LOCKOUT_ATTEMPTS:
        user.locked_until = utcnow() + timedelta(minutes=LOCKOUT_MINUTES)
        user.failed_attempts = 0
        trail.record(
            session,
            user,
            "locked",
            "user",
            user.username,
            field="locked_until",
            new=user.locked_until,
            reason=f"{LOCKOUT_ATTEMPTS} failed attempts",
        )
    session.flush()


def authenticate(session: Session, username: str, password: str) -> User:
    """Check a sign-in. Every outcome is written to the trail; the caller commits."""
    user = user_by_username(session, username)
    if user is None:
        trail.record(session, None, "sign_in_failed", "user", username[:64], reason="unknown user")
        raise SignInRefused(_l("Wrong username or password."))
    if not user.active:
        trail.record(session, user, "sign_in_failed", "user", user.username, reason="disabled")
        raise SignInRefused(_l("This account is disabled. Ask an administrator."), user)
    if user.is_locked():
        trail.record(session, user, "sign_in_failed", "user", user.username, reason="locked")
        raise SignInRefused(
            _l(
                "This account is locked after too many failed attempts. Try again in "
                "%(minutes)d minutes or ask an administrator.",
                minutes=LOCKOUT_MINUTES,
            ),
            user,
        )
    if not verify_password(user.password_hash, password):
        register_failed_password(session, user, "sign-in")
        if user.is_locked():
            raise SignInRefused(
                _l(
                    "This account is locked after too many failed attempts. Try again in "
                    "%(minutes)d minutes or ask an administrator.",
                    minutes=LOCKOUT_MINUTES,
                ),
                user,
            )
        raise SignInRefused(_l("Wrong username or password."), user)
    user.failed_attempts = 0
    user.last_login_at = utcnow()
    trail.record(session, user, "sign_in", "user", user.username)
    return user


def create_token(session: Session, actor: User, user: User, name: str) -> str:
    """Create a personal access token and return it; only its hash is kept."""
    token = "qms_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user=user,
            name=name.strip() or "token",
            token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        )
    )
    session.flush()
    trail.record(session, actor, "create_token", "user", user.username, new=name)
    return token


def user_for_token(session: Session, token: str) -> User | None:
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = session.scalar(
        sa.select(ApiToken).where(ApiToken.token_sha256 == digest, ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active or row.user.is_locked():
        return None
    return row.user
