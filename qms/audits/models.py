"""Internal quality audits (内部质量审核, ZD-PZ-003; ISO 9001 9.2, ISO 19011): the annual
programme, each audit with its criteria pinned to the revision in force on the audit day, its
team, checklist, meetings, findings and report."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.audits.lifecycle import AuditAction, AuditState, ProgrammeState, Status
from qms.auth.models import Department, User
from qms.db import Base, str_enum, utcnow
from qms.documents.models import Document, Revision


class Grade(enum.StrEnum):
    SERIOUS = "serious"  # 严重不符合
    GENERAL = "general"  # 一般不符合
    OBSERVATION = "observation"  # 观察项
    IMPROVEMENT = "improvement"  # 改进机会


NONCONFORMITY_GRADES = frozenset({Grade.SERIOUS, Grade.GENERAL})


class Result(enum.StrEnum):
    OPEN = "open"  # not yet checked
    CONFORMS = "conforms"
    NONCONFORMITY = "nonconformity"
    OBSERVATION = "observation"
    NOT_APPLICABLE = "not_applicable"


class Meeting(enum.StrEnum):
    OPENING = "opening"
    CLOSING = "closing"


GRADE_LABELS = {
    Grade.SERIOUS: _l("Serious nonconformity"),
    Grade.GENERAL: _l("General nonconformity"),
    Grade.OBSERVATION: _l("Observation"),
    Grade.IMPROVEMENT: _l("Opportunity for improvement"),
}
RESULT_LABELS = {
    Result.OPEN: _l("Not checked"),
    Result.CONFORMS: _l("Conforms"),
    Result.NONCONFORMITY: _l("Nonconformity"),
    Result.OBSERVATION: _l("Observation"),
    Result.NOT_APPLICABLE: _l("Not applicable"),
}
PROGRAMME_STATE_LABELS = {
    ProgrammeState.DRAFT: _l("Draft"),
    ProgrammeState.SUBMITTED: _l("Submitted for approval"),
    ProgrammeState.APPROVED: _l("Approved"),
}
STATE_LABELS = {
    AuditState.PLANNED: _l("Planned"),
    AuditState.NOTIFIED: _l("Notified"),
    AuditState.IN_PROGRESS: _l("In progress"),
    AuditState.REPORTING: _l("Report being written"),
    AuditState.REPORTED: _l("Reported"),
    AuditState.CLOSED: _l("Closed"),
    AuditState.CANCELLED: _l("Cancelled"),
}
STATUS_LABELS = {
    Status.PLANNED: _l("Planned"),
    Status.NOTIFIED: _l("Notified"),
    Status.IN_PROGRESS: _l("In progress"),
    Status.REPORTED: _l("Reported"),
    Status.CLOSED: _l("Closed"),
    Status.OVERDUE: _l("Overdue"),
    Status.CANCELLED: _l("Cancelled"),
}
ACTION_LABELS = {
    AuditAction.NOTIFY: _l("Send the audit notice"),
    AuditAction.OPEN_MEETING: _l("Hold the opening meeting"),
    AuditAction.CLOSE_MEETING: _l("Hold the closing meeting"),
    AuditAction.SUBMIT_REPORT: _l("Submit the report"),
    AuditAction.APPROVE_REPORT: _l("Approve the report"),
    AuditAction.RETURN_REPORT: _l("Return the report"),
    AuditAction.CANCEL: _l("Cancel the audit"),
}
MEETING_LABELS = {Meeting.OPENING: _l("Opening meeting"), Meeting.CLOSING: _l("Closing meeting")}


class AuditProgramme(Base):
    """The annual internal audit programme (年度内审计划), approved by the general manager."""

    __tablename__ = "audit_programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(unique=True)
    state: Mapped[ProgrammeState] = mapped_column(str_enum(ProgrammeState))
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]

    audits: Mapped[list[Audit]] = relationship(
        back_populates="programme", order_by="(Audit.audit_date, Audit.id)"
    )


class Audit(Base):
    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("audit_programme.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    state: Mapped[AuditState] = mapped_column(str_enum(AuditState), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    objectives: Mapped[str] = mapped_column(sa.Text, default="")
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    audit_date: Mapped[date] = mapped_column(index=True)
    place: Mapped[str] = mapped_column(sa.String(200), default="")
    lead_auditor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    notice_date: Mapped[date | None]
    notified_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    closing_date: Mapped[date | None]
    report_due: Mapped[date | None]
    report_submitted_on: Mapped[date | None]
    conclusions: Mapped[str] = mapped_column(sa.Text, default="")
    conformity_degree: Mapped[str] = mapped_column(sa.Text, default="")
    diverging_opinions: Mapped[str] = mapped_column(sa.Text, default="")
    distribution: Mapped[str] = mapped_column(sa.Text, default="")
    approved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    programme: Mapped[AuditProgramme] = relationship(back_populates="audits")
    department: Mapped[Department] = relationship(lazy="joined", innerjoin=True)
    lead_auditor: Mapped[User | None] = relationship(lazy="joined")
    team: Mapped[list[AuditTeamMember]] = relationship(
        cascade="all, delete-orphan", order_by="AuditTeamMember.id"
    )
    criteria: Mapped[list[AuditCriterion]] = relationship(
        cascade="all, delete-orphan", order_by="AuditCriterion.id"
    )
    checklist: Mapped[list[AuditChecklistItem]] = relationship(
        cascade="all, delete-orphan",
        order_by="(AuditChecklistItem.position, AuditChecklistItem.id)",
    )
    findings: Mapped[list[AuditFinding]] = relationship(
        cascade="all, delete-orphan", order_by="AuditFinding.number"
    )
    attendance: Mapped[list[MeetingAttendance]] = relationship(
        cascade="all, delete-orphan", order_by="MeetingAttendance.id"
    )

    @property
    def ref(self) -> str:
        return f"NS-{self.audit_date.year}-{self.id:03d}"


class AuditTeamMember(Base):
    __tablename__ = "audit_team_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(sa.ForeignKey("audit.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))

    user: Mapped[User] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("audit_id", "user_id", name="uq_audit_team_member_audit_user"),
    )


class AuditCriterion(Base):
    """An ISO 9001 clause, or a controlled document pinned to one revision."""

    __tablename__ = "audit_criterion"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(sa.ForeignKey("audit.id"), index=True)
    clause: Mapped[str] = mapped_column(sa.String(16), default="")
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("document.id"))
    revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("revision.id"))

    document: Mapped[Document | None] = relationship(lazy="joined")
    revision: Mapped[Revision | None] = relationship(lazy="joined")


class AuditChecklistItem(Base):
    __tablename__ = "audit_checklist_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(sa.ForeignKey("audit.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    source: Mapped[str] = mapped_column(sa.String(64), default="")  # "LC-KF-001 A/0 步骤 3"
    clause: Mapped[str] = mapped_column(sa.String(16), default="")
    question: Mapped[str] = mapped_column(sa.Text)
    result: Mapped[Result] = mapped_column(str_enum(Result), default=Result.OPEN)
    evidence: Mapped[str] = mapped_column(sa.Text, default="")

    photos: Mapped[list[AuditPhoto]] = relationship(
        cascade="all, delete-orphan", order_by="AuditPhoto.id"
    )


class AuditPhoto(Base):
    """A photo taken as evidence, stored once under DATA_DIR/attachments/<sha256>."""

    __tablename__ = "audit_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("audit_checklist_item.id"), index=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditFinding(Base):
    __tablename__ = "audit_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(sa.ForeignKey("audit.id"), index=True)
    number: Mapped[int]
    grade: Mapped[Grade] = mapped_column(str_enum(Grade))
    criterion: Mapped[str] = mapped_column(sa.Text, default="")  # clause or document article
    clause: Mapped[str] = mapped_column(sa.String(16), default="")
    process_number: Mapped[str] = mapped_column(sa.String(32), default="")
    description: Mapped[str] = mapped_column(sa.Text)
    evidence: Mapped[str] = mapped_column(sa.Text, default="")
    checklist_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("audit_checklist_item.id"))
    raised_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    acknowledged_at: Mapped[datetime | None]
    nonconformity_id: Mapped[int | None] = mapped_column(sa.ForeignKey("nonconformity.id"))

    raised_by: Mapped[User] = relationship(foreign_keys=[raised_by_id], lazy="joined")
    acknowledged_by: Mapped[User | None] = relationship(
        foreign_keys=[acknowledged_by_id], lazy="joined"
    )

    __table_args__ = (
        sa.UniqueConstraint("audit_id", "number", name="uq_audit_finding_audit_number"),
    )

    @property
    def is_nonconformity(self) -> bool:
        return self.grade in NONCONFORMITY_GRADES


class MeetingAttendance(Base):
    __tablename__ = "audit_attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(sa.ForeignKey("audit.id"), index=True)
    meeting: Mapped[Meeting] = mapped_column(str_enum(Meeting))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    held_on: Mapped[date]

    user: Mapped[User] = relationship(lazy="joined")
