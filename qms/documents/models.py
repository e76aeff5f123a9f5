"""Controlled documents and their revisions (revisions are rows of their own)."""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _p
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import Department, User
from qms.db import Base, str_enum, utcnow
from qms.documents.lifecycle import RevState


class DocKind(enum.StrEnum):
    QUALITY_MANUAL = "quality_manual"
    POLICY = "policy"
    PROCEDURE = "procedure"
    REGULATION = "regulation"
    PROCESS = "process"
    JOB_DESCRIPTION = "job_description"
    WORK_INSTRUCTION = "work_instruction"
    FORM = "form"
    EXTERNAL = "external"


KIND_LABELS = {
    DocKind.QUALITY_MANUAL: _l("Quality manual"),
    DocKind.POLICY: _l("Quality policy and objectives"),
    DocKind.PROCEDURE: _l("Procedure"),
    DocKind.REGULATION: _l("Regulation"),
    DocKind.PROCESS: _l("Process"),
    DocKind.JOB_DESCRIPTION: _l("Job description"),
    DocKind.WORK_INSTRUCTION: _l("Work instruction"),
    DocKind.FORM: _l("Form or record template"),
    DocKind.EXTERNAL: _l("External document"),
}


class Family(enum.StrEnum):
    STANDARD = "standard"  # 标准性
    SPECIAL = "special"  # 专用性


FAMILY_LABELS = {Family.STANDARD: _l("Standard"), Family.SPECIAL: _l("Special-purpose")}


class Confidentiality(enum.StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"


CONFIDENTIALITY_LABELS = {
    Confidentiality.PUBLIC: _l("Public"),
    Confidentiality.INTERNAL: _l("Internal"),
    Confidentiality.CONFIDENTIAL: _l("Confidential"),
}

STATE_LABELS = {
    RevState.DRAFT: _l("Draft"),
    RevState.IN_REVIEW: _l("In review"),
    # a state, not the signature meaning "approved" (批准): 已批准
    RevState.APPROVED: _p("revision state", "Approved"),
    RevState.EFFECTIVE: _l("Effective"),
    RevState.SUPERSEDED: _l("Superseded"),
    RevState.OBSOLETE: _l("Obsolete"),
    RevState.CANCELLED: _l("Cancelled"),
}


class NumberCounter(Base):
    """The last sequence number handed out per prefix; numbers only go up, never reused."""

    __tablename__ = "number_counter"

    prefix: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class NumberingScheme(Base):
    """Per kind: a pattern such as ZD-{dept}-{seq:03d}. Administrators edit it."""

    __tablename__ = "numbering_scheme"

    kind: Mapped[DocKind] = mapped_column(str_enum(DocKind), primary_key=True)
    pattern: Mapped[str] = mapped_column(sa.String(64))


class Document(Base):
    __tablename__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[DocKind] = mapped_column(str_enum(DocKind))
    family: Mapped[Family] = mapped_column(str_enum(Family))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    confidentiality: Mapped[Confidentiality] = mapped_column(
        str_enum(Confidentiality), default=Confidentiality.INTERNAL
    )
    # Overall status, kept by the service on every transition so the register filters in SQL.
    status: Mapped[RevState] = mapped_column(str_enum(RevState))
    current_revision_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("revision.id", use_alter=True, name="fk_document_current_revision")
    )
    working_revision_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("revision.id", use_alter=True, name="fk_document_working_revision")
    )
    review_interval_months: Mapped[int] = mapped_column(default=24)
    next_review_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department] = relationship(lazy="joined", innerjoin=True)
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    current_revision: Mapped[Revision | None] = relationship(
        foreign_keys=[current_revision_id], post_update=True
    )
    working_revision: Mapped[Revision | None] = relationship(
        foreign_keys=[working_revision_id], post_update=True
    )
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="document",
        foreign_keys="Revision.document_id",
        order_by="Revision.major, Revision.minor",
        lazy="select",
    )

    # The register sorts by each of these, with the number as tie-breaker.
    __table_args__ = (
        sa.Index("ix_document_title_number", "title", "number"),
        sa.Index("ix_document_status_number", "status", "number"),
        sa.Index("ix_document_kind_number", "kind", "number"),
        sa.Index("ix_document_department_number", "department_id", "number"),
        sa.Index("ix_document_review_number", "next_review_date", "number"),
    )


class Revision(Base):
    __tablename__ = "revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"), index=True)
    major: Mapped[int]
    minor: Mapped[int]
    label: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[RevState] = mapped_column(str_enum(RevState), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    change_summary: Mapped[str] = mapped_column(sa.Text, default="")
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    # Digest of structure kept beside the text (a procedure's steps, lanes and links),
    # part of the content hash so that signatures cover it too.
    structure_sha256: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    # Bumped on every save: optimistic concurrency for the editor and the API.
    version: Mapped[int] = mapped_column(default=1)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    approver_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    is_major: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    issued_at: Mapped[datetime | None]
    effective_date: Mapped[date | None]
    effective_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]  # superseded, withdrawn or cancelled
    end_reason: Mapped[str] = mapped_column(sa.Text, default="")
    lock_owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    locked_at: Mapped[datetime | None]

    document: Mapped[Document] = relationship(
        back_populates="revisions", foreign_keys=[document_id]
    )
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    approver: Mapped[User | None] = relationship(foreign_keys=[approver_id])
    lock_owner: Mapped[User | None] = relationship(foreign_keys=[lock_owner_id])
    reviews: Mapped[list[ReviewerAssignment]] = relationship(
        back_populates="revision", cascade="all, delete-orphan", order_by="ReviewerAssignment.id"
    )

    __table_args__ = (
        sa.UniqueConstraint("document_id", "major", "minor", name="uq_revision_label"),
        # At most one effective revision per document, whatever the code above does.
        sa.Index(
            "uq_revision_one_effective",
            "document_id",
            unique=True,
            sqlite_where=sa.text("state = 'effective'"),
            postgresql_where=sa.text("state = 'effective'"),
        ),
    )

    def compute_hash(self, number: str) -> str:
        return content_hash(
            number,
            self.label,
            self.title,
            self.body,
            self.change_summary,
            self.structure_sha256 or "",
        )


def content_hash(
    number: str, label: str, title: str, body: str, change_summary: str, structure: str = ""
) -> str:
    fields = [number, label, title, body, change_summary]
    if structure:
        fields.append(structure)
    payload = json.dumps(fields, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class ReviewDecision(enum.StrEnum):
    PENDING = "pending"
    AGREED = "agreed"
    REJECTED = "rejected"


class ReviewerAssignment(Base):
    """A reviewer of one revision; all must agree before the approver signs."""

    __tablename__ = "reviewer_assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    decision: Mapped[ReviewDecision] = mapped_column(
        str_enum(ReviewDecision), default=ReviewDecision.PENDING
    )
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    decided_at: Mapped[datetime | None]

    revision: Mapped[Revision] = relationship(back_populates="reviews")
    reviewer: Mapped[User] = relationship(lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("revision_id", "reviewer_id", name="uq_reviewer_assignment_pair"),
    )


class ApprovalRight(Base):
    """The approval matrix: who may approve which kind for which department.
    An empty kind or department means any."""

    __tablename__ = "approval_right"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    kind: Mapped[DocKind | None] = mapped_column(str_enum(DocKind))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))

    user: Mapped[User] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship(lazy="joined")
