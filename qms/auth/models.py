"""People: departments, users, their roles, API tokens and electronic signatures."""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.permissions import Permission, Role, permissions_for
from qms.db import Base, utcnow


class Department(Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Department | None] = relationship(remote_side=[id])

    def label(self, locale: str = "zh_CN") -> str:
        return self.name_en if locale.startswith("en") and self.name_en else self.name


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), primary_key=True)
    role: Mapped[Role] = mapped_column(
        sa.Enum(Role, native_enum=False, length=32), primary_key=True
    )


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Users are deactivated, never deleted, so a username is never reused.
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    email: Mapped[str] = mapped_column(sa.String(200), default="")
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    password_hash: Mapped[str] = mapped_column(sa.String(255), default="")
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(sa.String(8), default="")
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(lazy="selectin", cascade="all, delete-orphan")

    # Flask-Login
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_for(self.roles)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())


class ApiToken(Base):
    """A personal access token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Tokens made before expiry existed have none; every new one expires.
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")

    user: Mapped[User] = relationship()

    def state(self, now: datetime) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class UserSession(Base):
    """A signed-in browser session, kept on the server so that it can be ended.

    The cookie carries a random id; only its SHA-256 is stored. Sign-out ends one
    session; a password change or reset and deactivation end all of a user's sessions.
    Every worker process checks the same row, so an ended session is refused everywhere."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    sid_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str] = mapped_column(sa.String(40), default="")


class SignInAttempt(Base):
    """One sign-in attempt, kept in the database so that throttling holds across every
    worker process. The username is stored as typed (casefolded), whether or not it exists."""

    __tablename__ = "sign_in_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    username: Mapped[str] = mapped_column(sa.String(64), index=True)
    address: Mapped[str] = mapped_column(sa.String(64), index=True)
    # failed, succeeded, refused (while locked or throttled), unlocked (by an administrator)
    outcome: Mapped[str] = mapped_column(sa.String(16))


class Meaning(enum.StrEnum):
    AUTHORED = "authored"  # 起草
    REVIEWED = "reviewed"  # 审核
    APPROVED = "approved"  # 批准
    ISSUED = "issued"  # 发布
    WITHDRAWN = "withdrawn"  # 作废
    READ = "read"  # 阅知
    ACKNOWLEDGED = "acknowledged"  # 确认 (an auditee acknowledges a finding)


class Signature(Base):
    """An electronic signature bound to the SHA-256 of the exact content signed."""

    __tablename__ = "signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    printed_name: Mapped[str] = mapped_column(sa.String(100))
    meaning: Mapped[Meaning] = mapped_column(sa.Enum(Meaning, native_enum=False, length=16))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[str] = mapped_column(sa.String(64))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    # SHA-256 over the signature's own fields: a later change to the row is detectable.
    seal: Mapped[str] = mapped_column(sa.String(64))
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str] = mapped_column(sa.Text, default="")

    user: Mapped[User] = relationship(lazy="joined")

    __table_args__ = (sa.Index("ix_signature_object", "object_type", "object_id"),)

    def compute_seal(self) -> str:
        payload = json.dumps(
            [
                self.user_id,
                self.printed_name,
                str(self.meaning),
                self.signed_at.isoformat(),
                self.content_sha256,
                self.object_type,
                str(self.object_id),
                self.comment or "",
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def is_intact(self, current_content_sha256: str) -> bool:
        """True when the row is unchanged and still matches the content it claims."""
        return self.seal == self.compute_seal() and self.content_sha256 == current_content_sha256
