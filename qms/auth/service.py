"""Operations on people: users, roles, departments, sign-in, lockout and API tokens.
Each function changes the models, writes the trail and only flushes."""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from qms.auth.models import ApiToken, Department, SignInAttempt, User, UserRole, UserSession
from qms.auth.passwords import burn_password_check, check_policy, hash_password, verify_password
from qms.auth.permissions import Role
from qms.db import generation_column, note_generation, utcnow
from qms.errors import Conflict, Forbidden, Invalid, NotFound
from qms.trail import service as trail

LOCKOUT_ATTEMPTS = 5
LOCKOUT_MINUTES = 15
ADDRESS_ATTEMPTS = 20
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366


@dataclass(frozen=True)
class SignInPolicy:
    """How many failed sign-ins pause a username or a client address, and for how long."""

    attempts: int = LOCKOUT_ATTEMPTS
    minutes: int = LOCKOUT_MINUTES
    address_attempts: int = ADDRESS_ATTEMPTS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SignInPolicy:
        return cls(
            attempts=int(config.get("LOCKOUT_ATTEMPTS", LOCKOUT_ATTEMPTS)),
            minutes=int(config.get("LOCKOUT_MINUTES", LOCKOUT_MINUTES)),
            address_attempts=int(config.get("ADDRESS_ATTEMPTS", ADDRESS_ATTEMPTS)),
        )

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.minutes)


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
    check_policy(password, username, display_name, email)
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
    was_active = user.active
    user.active = active
    if new_roles != user.roles:
        user.role_rows = [UserRole(role=r) for r in sorted(new_roles)]
    session.flush()
    if was_active and not active:
        # A deactivated person keeps no way in: no open session, no API token.
        end_all_sessions(session, user, "deactivated")
        revoke_all_tokens(session, actor, user, "deactivated")
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


def set_password(
    session: Session, actor: User | None, user: User, password: str, now: datetime | None = None
) -> None:
    """Change (actor is the user) or reset (an administrator, or the CLI) a password.

    Every open session of the user ends; the view signs the changing user in again. A
    reset also revokes the user's API tokens: whoever held the old password may have
    made them."""
    check_policy(password, user.username, user.display_name, user.email)
    user.password_hash = hash_password(password)
    user.failed_attempts = 0
    user.locked_until = None
    session.flush()
    is_reset = actor is None or actor.id != user.id
    trail.record(
        session,
        actor,
        "password_reset" if is_reset else "password",
        "user",
        user.username,
        field="password",
    )
    reason = "password_reset" if is_reset else "password_changed"
    # A new password lifts a sign-in lock, as an administrator's unlock does.
    session.add(
        SignInAttempt(
            at=now or utcnow(), username=_key(user.username), address="", outcome="unlocked"
        )
    )
    end_all_sessions(session, user, reason, now)
    if is_reset:
        revoke_all_tokens(session, actor, user, reason, now)


def unlock(session: Session, actor: User | None, user: User, now: datetime | None = None) -> None:
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
    # Failed sign-ins before the unlock no longer count towards a lock.
    session.add(
        SignInAttempt(
            at=now or utcnow(), username=_key(user.username), address="", outcome="unlocked"
        )
    )
    session.flush()


# -- sign-in ------------------------------------------------------------------------------


class SignInRefused(Exception):
    def __init__(self, message: object, user: User | None = None, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.user = user
        self.status = status


def register_failed_password(
    session: Session,
    user: User,
    context: str,
    policy: SignInPolicy | None = None,
    now: datetime | None = None,
) -> None:
    """Count a wrong password given when signing; lock after too many."""
    policy = policy or SignInPolicy()
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
    if user.failed_attempts >= policy.attempts:
        _lock(session, user, (now or utcnow()) + policy.window, policy)
        user.failed_attempts = 0
    session.flush()


def _lock(session: Session, user: User, until: datetime, policy: SignInPolicy) -> None:
    user.locked_until = until
    trail.record(
        session,
        user,
        "locked",
        "user",
        user.username,
        field="locked_until",
        new=until,
        reason=f"{policy.attempts} failed attempts",
    )


def _key(username: str) -> str:
    return username.strip().casefold()[:64]


def username_locked_until(
    session: Session, username: str, now: datetime, policy: SignInPolicy
) -> datetime | None:
    """When sign-in for this username (existing or not) opens again; None when it is open.

    A lock starts at the policy's n-th failure within one window (since the last success
    or unlock) and lasts one window from that failure. Known and unknown usernames are
    counted alike, so a lock tells nobody whether an account exists."""
    key = _key(username)
    last_reset = session.scalar(
        sa.select(sa.func.max(SignInAttempt.at)).where(
            SignInAttempt.username == key, SignInAttempt.outcome.in_(("succeeded", "unlocked"))
        )
    )
    query = sa.select(SignInAttempt.at).where(
        SignInAttempt.username == key,
        SignInAttempt.outcome == "failed",
        SignInAttempt.at > now - 2 * policy.window,
    )
    if last_reset is not None:
        query = query.where(SignInAttempt.at > last_reset)
    times = session.scalars(query.order_by(SignInAttempt.at.desc()).limit(policy.attempts)).all()
    if len(times) < policy.attempts or times[0] - times[-1] > policy.window:
        return None
    until = times[0] + policy.window
    return until if until > now else None


def address_throttled_until(
    session: Session, address: str, now: datetime, policy: SignInPolicy
) -> datetime | None:
    """When sign-in from this client address opens again: at most address_attempts
    failures (over every username) within one window."""
    if not address:
        return None
    times = session.scalars(
        sa.select(SignInAttempt.at)
        .where(
            SignInAttempt.address == address[:64],
            SignInAttempt.outcome == "failed",
            SignInAttempt.at > now - policy.window,
        )
        .order_by(SignInAttempt.at.desc())
        .limit(policy.address_attempts)
    ).all()
    if len(times) < policy.address_attempts:
        return None
    return times[-1] + policy.window


def _attempt(session: Session, username: str, address: str, outcome: str, now: datetime) -> None:
    session.add(
        SignInAttempt(at=now, username=_key(username), address=address[:64], outcome=outcome)
    )
    # Attempts older than a day decide nothing any more.
    session.execute(sa.delete(SignInAttempt).where(SignInAttempt.at < now - timedelta(days=1)))
    session.flush()


def _minutes(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def _locked_message(minutes: int) -> Any:
    return _l(
        "Sign-in for this username is paused after too many failed attempts. Try again in "
        "%(minutes)d minutes or ask an administrator.",
        minutes=minutes,
    )


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    address: str = "",
    now: datetime | None = None,
    policy: SignInPolicy | None = None,
) -> User:
    """Check a sign-in. Every outcome is written to the trail; the caller commits.

    Unknown and existing usernames answer alike: same message, same status, and a password
    hash is checked for both. Attempts are kept in the database, so the lock by username
    and the throttle by client address hold across every worker process."""
    now = now or utcnow()
    policy = policy or SignInPolicy()
    user = user_by_username(session, username)
    subject = user.username if user else username.strip()[:64]

    throttled = address_throttled_until(session, address, now, policy)
    if throttled is not None:
        _attempt(session, username, address, "refused", now)
        trail.record(session, user, "sign_in_failed", "user", subject, reason="throttled")
        raise SignInRefused(
            _l(
                "Too many failed sign-ins from your network address. Try again in "
                "%(minutes)d minutes.",
                minutes=_minutes(throttled, now),
            ),
            status=429,
        )
    locked = username_locked_until(session, username, now, policy)
    if user is not None and user.locked_until is not None and user.is_locked(now):
        locked = max(locked or user.locked_until, user.locked_until)
    if locked is not None:
        _attempt(session, username, address, "refused", now)
        trail.record(session, user, "sign_in_failed", "user", subject, reason="locked")
        raise SignInRefused(_locked_message(_minutes(locked, now)), status=403)

    if user is None:
        burn_password_check(password)
        right = False
    else:
        right = verify_password(user.password_hash, password)
    if not right:
        _attempt(session, username, address, "failed", now)
        if user is None:
            trail.record(session, None, "sign_in_failed", "user", subject, reason="unknown user")
        else:
            trail.record(session, user, "password_failed", "user", subject, reason="sign-in")
        locked = username_locked_until(session, username, now, policy)
        if locked is not None:
            if user is not None:
                _lock(session, user, locked, policy)
            raise SignInRefused(_locked_message(_minutes(locked, now)), status=403)
        raise SignInRefused(_l("Wrong username or password."), status=401)
    assert user is not None  # noqa: S101 - a right password belongs to a user
    if not user.active:
        # Only someone who knows the password learns that the account is disabled.
        _attempt(session, username, address, "refused", now)
        trail.record(session, user, "sign_in_failed", "user", subject, reason="disabled")
        raise SignInRefused(_l("This account is disabled. Ask an administrator."), user, 403)
    _attempt(session, username, address, "succeeded", now)
    user.failed_attempts = 0
    user.last_login_at = now
    trail.record(session, user, "sign_in", "user", user.username)
    return user


# -- server-side sessions -------------------------------------------------------------------


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


ENDED_SESSIONS_KEPT = timedelta(days=90)


def start_session(session: Session, user: User, now: datetime | None = None) -> str:
    """Open a browser session; the returned id goes into the signed cookie."""
    now = now or utcnow()
    sid = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, sid_sha256=_sha256(sid), created_at=now))
    # Ended sessions are kept a while (who was signed in when), then dropped.
    session.execute(sa.delete(UserSession).where(UserSession.ended_at < now - ENDED_SESSIONS_KEPT))
    session.flush()
    return sid


@functools.cache
def _session_user_statement() -> sa.Select[Any]:
    # the session, its user and the user's roles in one statement: every page asks this
    # (with the data generation, which the page cache keys on); built once, so that each
    # request neither builds it nor computes its cache key again
    return (
        sa.select(User, generation_column())
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.sid_sha256 == sa.bindparam("sid_sha256"),
            UserSession.ended_at.is_(None),
            User.id == sa.bindparam("user_id"),
        )
        .options(joinedload(User.role_rows))
    )


def session_user(session: Session, user_id: int, sid: str | None) -> User | None:
    """The user of a live session, or None when the session has ended or never existed."""
    if not sid:
        return None
    params = {"sid_sha256": _sha256(sid), "user_id": user_id}
    row = session.execute(_session_user_statement(), params).unique().one_or_none()
    if row is None:
        return None
    user, generation = row
    note_generation(session, generation)
    return user if user.active else None


def end_session(
    session: Session, sid: str | None, reason: str, now: datetime | None = None
) -> None:
    if not sid:
        return
    session.execute(
        sa.update(UserSession)
        .where(UserSession.sid_sha256 == _sha256(sid), UserSession.ended_at.is_(None))
        .values(ended_at=now or utcnow(), end_reason=reason)
    )


def end_all_sessions(session: Session, user: User, reason: str, now: datetime | None = None) -> int:
    """End every open session of a user (password change or reset, deactivation)."""
    result = session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=now or utcnow(), end_reason=reason)
    )
    ended = int(getattr(result, "rowcount", 0) or 0)
    if ended:
        trail.record(
            session, None, "sessions_ended", "user", user.username, reason=reason, new=ended
        )
    return ended


# -- API tokens -----------------------------------------------------------------------------


def issue_token(
    session: Session,
    actor: User | None,
    user: User,
    name: str,
    *,
    days: int = TOKEN_DAYS,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a named, expiring personal access token. Returns the row and the token,
    which is shown once; only its SHA-256 is kept."""
    name = (name or "").strip()
    if not name:
        raise Invalid(_l("A token needs a name, to tell it apart when you revoke it."))
    if len(name) > 100:
        raise Invalid(_l("A token name has at most 100 characters."))
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise Invalid(_l("A token lives between 1 and %(max)d days.", max=MAX_TOKEN_DAYS))
    now = now or utcnow()
    token = "qms_" + secrets.token_urlsafe(32)
    row = ApiToken(
        user=user,
        name=name,
        token_sha256=_sha256(token),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    trail.record(
        session,
        actor,
        "create_token",
        "user",
        user.username,
        field="api_token",
        new=f"#{row.id} {name} (expires {row.expires_at:%Y-%m-%d})",
    )
    return row, token


def create_token(
    session: Session, actor: User | None, user: User, name: str, days: int = TOKEN_DAYS
) -> str:
    """Create a token and return it (see issue_token)."""
    return issue_token(session, actor, user, name, days=days)[1]


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def get_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(_l("No such API token."))
    return row


def revoke_token(
    session: Session,
    actor: User | None,
    token: ApiToken,
    reason: str = "revoked",
    now: datetime | None = None,
) -> ApiToken:
    if token.revoked_at is not None:
        raise Conflict(_l("This token has already been revoked."), code="already_revoked")
    token.revoked_at = now or utcnow()
    token.revoke_reason = reason[:40]
    session.flush()
    trail.record(
        session,
        actor,
        "revoke_token",
        "user",
        token.user.username,
        field="api_token",
        old=f"#{token.id} {token.name}",
        reason=reason,
    )
    return token


def revoke_all_tokens(
    session: Session,
    actor: User | None,
    user: User,
    reason: str,
    now: datetime | None = None,
) -> int:
    rows = session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for row in rows:
        revoke_token(session, actor, row, reason, now)
    return len(rows)


TOKEN_REFUSALS = {
    "token_invalid": _l("This API token is not known."),
    "token_expired": _l("This API token has expired. Create a new one in your account."),
    "token_revoked": _l("This API token has been revoked."),
}


def check_token(
    session: Session, token: str, now: datetime | None = None
) -> tuple[User | None, str | None]:
    """The token's user, or None and the refusal code (token_invalid, token_expired,
    token_revoked)."""
    row, refusal = find_token(session, token, now)
    return (row.user if row is not None else None), refusal


@functools.cache
def _token_statement() -> sa.Select[Any]:
    # every API request needs the user and the user's roles: one statement (with the data
    # generation, which the page cache keys on), built once as the session's
    return (
        sa.select(ApiToken, generation_column())
        .where(ApiToken.token_sha256 == sa.bindparam("token_sha256"))
        .options(joinedload(ApiToken.user).joinedload(User.role_rows))
    )


def find_token(
    session: Session, token: str, now: datetime | None = None
) -> tuple[ApiToken | None, str | None]:
    params = {"token_sha256": _sha256(token)}
    found = session.execute(_token_statement(), params).unique().one_or_none()
    if found is None:
        return None, "token_invalid"
    row, generation = found
    note_generation(session, generation)
    state = row.state(now or utcnow())
    if state != "active":
        return None, f"token_{state}"
    if not row.user.active:
        return None, "token_revoked"
    return row, None


TOKEN_USE_RESOLUTION = timedelta(hours=1)


def token_use_is_stale(token: ApiToken, now: datetime) -> bool:
    return token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION


def note_token_use(session: Session, token_id: int, now: datetime) -> None:
    """Record when a token was last used, at most once an hour (a write per request would
    cost more than the date is worth)."""
    session.execute(
        sa.update(ApiToken)
        .where(
            ApiToken.id == token_id,
            sa.or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at <= now - TOKEN_USE_RESOLUTION,
            ),
        )
        .values(last_used_at=now)
    )


def user_for_token(session: Session, token: str) -> User | None:
    return check_token(session, token)[0]
