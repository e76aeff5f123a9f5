"""Certification (质量认证, handbook 5.1): the bodies and consultants, projects and their
steps with the files received or sent, certificates and the audits that keep them."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import Signature, User
from qms.certification.rules import CertificateKind, ProjectAction, ProjectState
from qms.db import Base, str_enum, utcnow


class UnitKind(enum.StrEnum):
    INSPECTION_GROUP = "inspection_group"  # 检查组
    INSPECTION_INSTITUTION = "inspection_institution"  # 检验机构


UNIT_KIND_LABELS = {
    UnitKind.INSPECTION_GROUP: _l("Inspection group"),
    UnitKind.INSPECTION_INSTITUTION: _l("Inspection institution"),
}


class CertificateStatus(enum.StrEnum):
    VALID = "valid"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"  # an earlier certificate, replaced by the next cycle's


class CertificationBody(Base):
    """认证机构."""

    __tablename__ = "cert_body"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    accreditation_number: Mapped[str] = mapped_column(sa.String(100), default="")
    contact_name: Mapped[str] = mapped_column(sa.String(100), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(50), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(200), default="")
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    units: Mapped[list[BodyUnit]] = relationship(back_populates="body", order_by="BodyUnit.id")


class BodyUnit(Base):
    """An inspection group (检查组) or inspection institution (检验机构) of a body."""

    __tablename__ = "cert_body_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    body_id: Mapped[int] = mapped_column(sa.ForeignKey("cert_body.id"), index=True)
    kind: Mapped[UnitKind] = mapped_column(str_enum(UnitKind))
    name: Mapped[str] = mapped_column(sa.String(200))
    contact_name: Mapped[str] = mapped_column(sa.String(100), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(50), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(200), default="")

    body: Mapped[CertificationBody] = relationship(back_populates="units")


class Consultant(Base):
    """ISO 认证咨询顾问."""

    __tablename__ = "cert_consultant"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    organisation: Mapped[str] = mapped_column(sa.String(200), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(50), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(200), default="")


class CertificationProject(Base):
    __tablename__ = "cert_project"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body_id: Mapped[int] = mapped_column(sa.ForeignKey("cert_body.id"), index=True)
    consultant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cert_consultant.id"))
    standard: Mapped[str] = mapped_column(sa.String(100))
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    sites: Mapped[str] = mapped_column(sa.Text, default="")
    application_text: Mapped[str] = mapped_column(sa.Text, default="")  # what the GM signs
    contract_text: Mapped[str] = mapped_column(sa.Text, default="")
    state: Mapped[ProjectState] = mapped_column(str_enum(ProjectState), index=True)
    audit_report_on: Mapped[date | None]
    inspection_report_on: Mapped[date | None]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    body: Mapped[CertificationBody] = relationship(lazy="joined", innerjoin=True)
    consultant: Mapped[Consultant | None] = relationship(lazy="joined")
    steps: Mapped[list[ProjectStep]] = relationship(
        back_populates="project", order_by="ProjectStep.id"
    )

    @property
    def ref(self) -> str:
        return f"RZ-{self.id:04d}"


class ProjectStep(Base):
    """One step taken: when, who was responsible, what was received or sent."""

    __tablename__ = "cert_project_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("cert_project.id"), index=True)
    action: Mapped[ProjectAction] = mapped_column(str_enum(ProjectAction, 32))
    state_before: Mapped[ProjectState] = mapped_column(str_enum(ProjectState))
    state_after: Mapped[ProjectState] = mapped_column(str_enum(ProjectState))
    on_date: Mapped[date]
    responsible: Mapped[str] = mapped_column(sa.String(200), default="")
    note: Mapped[str] = mapped_column(sa.Text, default="")
    actor_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signature.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[CertificationProject] = relationship(back_populates="steps")
    actor: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    signature: Mapped[Signature | None] = relationship()
    files: Mapped[list[StepFile]] = relationship(
        back_populates="step", order_by="StepFile.id", lazy="selectin"
    )


class StepFile(Base):
    """A document received from or sent to the body, stored once under
    DATA_DIR/attachments/<sha256> (the store Word attachments use)."""

    __tablename__ = "cert_step_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(sa.ForeignKey("cert_project_step.id"), index=True)
    direction: Mapped[str] = mapped_column(sa.String(10))  # received | sent
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))

    step: Mapped[ProjectStep] = relationship(back_populates="files")


class Certificate(Base):
    __tablename__ = "cert_certificate"
    __table_args__ = (
        sa.UniqueConstraint("body_id", "number", name="uq_cert_certificate_body_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(100))
    body_id: Mapped[int] = mapped_column(sa.ForeignKey("cert_body.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cert_project.id"))
    previous_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cert_certificate.id"))
    kind: Mapped[CertificateKind] = mapped_column(str_enum(CertificateKind))
    standard: Mapped[str] = mapped_column(sa.String(100))  # GB/T 19001-2016 / ISO 9001:2015
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    sites: Mapped[str] = mapped_column(sa.Text, default="")
    decision_date: Mapped[date]
    grant_date: Mapped[date]
    expiry_date: Mapped[date] = mapped_column(index=True)
    status: Mapped[CertificateStatus] = mapped_column(str_enum(CertificateStatus), index=True)
    suspended_on: Mapped[date | None]
    status_reason: Mapped[str] = mapped_column(sa.Text, default="")
    scan_document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("document.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    body: Mapped[CertificationBody] = relationship(lazy="joined", innerjoin=True)
    audits: Mapped[list[CertificateAudit]] = relationship(
        back_populates="certificate", order_by="CertificateAudit.held_on", lazy="selectin"
    )


class CertificateAudit(Base):
    """A surveillance or recertification audit held on a certificate."""

    __tablename__ = "cert_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(sa.ForeignKey("cert_certificate.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # surveillance | recertification
    held_on: Mapped[date]
    on_time: Mapped[bool]
    major_nonconformities: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    certificate: Mapped[Certificate] = relationship(back_populates="audits")


class FeedToken(Base):
    """A per-user secret for the calendar feed URL (Outlook cannot send a header)."""

    __tablename__ = "cert_feed_token"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderSent(Base):
    """One reminder mailed (due kind, due date, threshold), so a rerun sends nothing twice."""

    __tablename__ = "cert_reminder_sent"
    __table_args__ = (
        sa.UniqueConstraint(
            "certificate_id", "kind", "due", "threshold", name="uq_cert_reminder_sent"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(sa.ForeignKey("cert_certificate.id"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    due: Mapped[date]
    threshold: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
