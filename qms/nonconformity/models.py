"""Nonconformities and their corrective actions (不符合与纠正措施, BD-PZ-008), one engine for
every source: internal audits, certification audits, inspections, complaints."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import Department, Signature, User
from qms.db import Base, str_enum, utcnow
from qms.documents.models import Revision
from qms.nonconformity.rules import ActionStatus, Grade, NcState, Source


class Nonconformity(Base):
    __tablename__ = "nonconformity"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    source: Mapped[Source] = mapped_column(str_enum(Source))
    source_id: Mapped[int | None]
    source_label: Mapped[str] = mapped_column(sa.String(200), default="")
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    clause: Mapped[str] = mapped_column(sa.String(20), default="", index=True)
    process_number: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    grade: Mapped[Grade] = mapped_column(str_enum(Grade))
    description: Mapped[str] = mapped_column(sa.Text)
    evidence: Mapped[str] = mapped_column(sa.Text)
    raised_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    raised_on: Mapped[date] = mapped_column(sa.Date)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    verification_interval_days: Mapped[int] = mapped_column(default=30)
    state: Mapped[NcState] = mapped_column(str_enum(NcState, 32), index=True)
    # The deadlines, computed once from the rules' table when raised (or reopened)
    cause_due: Mapped[date] = mapped_column(sa.Date)
    correction_due: Mapped[date] = mapped_column(sa.Date)
    # Root cause: the 5 whys (a JSON list of up to five answers) and the conclusion
    whys: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    root_cause: Mapped[str] = mapped_column(sa.Text, default="")
    correction: Mapped[str] = mapped_column(sa.Text, default="")  # 纠正: the immediate fix
    plan: Mapped[str] = mapped_column(sa.Text, default="")  # 纠正措施计划
    round: Mapped[int] = mapped_column(default=1)  # 1, then +1 each time it is reopened
    actions_completed_on: Mapped[date | None] = mapped_column(sa.Date)
    closed_on: Mapped[date | None] = mapped_column(sa.Date)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    department: Mapped[Department] = relationship(lazy="joined")
    raised_by: Mapped[User] = relationship(foreign_keys=[raised_by_id], lazy="joined")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="joined")
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    actions: Mapped[list[CorrectiveAction]] = relationship(
        back_populates="nonconformity",
        order_by="CorrectiveAction.id",
        cascade="all, delete-orphan",
    )
    verifications: Mapped[list[Verification]] = relationship(
        back_populates="nonconformity",
        order_by="Verification.id",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        sa.Index("ix_nonconformity_state_number", "state", "number"),
        sa.Index("ix_nonconformity_source", "source", "source_id"),
    )

    def round_actions(self) -> list[CorrectiveAction]:
        return [a for a in self.actions if a.round == self.round]

    def content_sha256(self) -> str:
        """What a verifier signs: the finding, its cause and this round's actions as done."""
        payload: list[Any] = [
            self.number,
            self.description,
            self.evidence,
            self.clause,
            self.process_number or "",
            str(self.grade),
            list(self.whys or []),
            self.root_cause,
            self.correction,
            self.plan,
            self.round,
            [
                [a.id, a.description, a.owner_id, a.due_on.isoformat(), str(a.status), a.done_note]
                for a in self.round_actions()
            ],
        ]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


class CorrectiveAction(Base):
    __tablename__ = "nc_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonconformity_id: Mapped[int] = mapped_column(sa.ForeignKey("nonconformity.id"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    description: Mapped[str] = mapped_column(sa.Text)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    due_on: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[ActionStatus] = mapped_column(str_enum(ActionStatus, 16))
    done_on: Mapped[date | None] = mapped_column(sa.Date)
    done_note: Mapped[str] = mapped_column(sa.Text, default="")
    # A document change raised from this action: the draft revision it started
    revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("revision.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    nonconformity: Mapped[Nonconformity] = relationship(back_populates="actions")
    owner: Mapped[User] = relationship(foreign_keys=[owner_id], lazy="joined")
    revision: Mapped[Revision | None] = relationship()


class Verification(Base):
    """A verification of effectiveness, signed; an ineffective one reopens the nonconformity."""

    __tablename__ = "nc_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    nonconformity_id: Mapped[int] = mapped_column(sa.ForeignKey("nonconformity.id"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    verifier_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    verified_on: Mapped[date] = mapped_column(sa.Date)
    effective: Mapped[bool]
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    signature_id: Mapped[int] = mapped_column(sa.ForeignKey("signature.id"))

    nonconformity: Mapped[Nonconformity] = relationship(back_populates="verifications")
    verifier: Mapped[User] = relationship(lazy="joined")
    signature: Mapped[Signature] = relationship()
