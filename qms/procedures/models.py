"""Service procedures and the links between documents, kept per revision.

A revision's links name their target by document number (the number is never reused), so a
link survives the target's revisions and can point at a document that is missing."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.db import Base, str_enum, utcnow
from qms.documents.models import Document, Revision


class LinkKind(enum.StrEnum):
    CONTROLS = "controls"
    CONTROLLED_BY = "controlled_by"
    REFERENCES = "references"
    USES_FORM = "uses_form"


LINK_LABELS = {
    LinkKind.CONTROLS: _l("Controls"),
    LinkKind.CONTROLLED_BY: _l("Controlled by"),
    LinkKind.REFERENCES: _l("References"),
    LinkKind.USES_FORM: _l("Uses form"),
}


class DocumentLink(Base):
    """One link of one revision to another document, by number."""

    __tablename__ = "document_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"), index=True)
    kind: Mapped[LinkKind] = mapped_column(str_enum(LinkKind))
    target_number: Mapped[str] = mapped_column(sa.String(32), index=True)
    position: Mapped[int] = mapped_column(default=0)
    # our reading, not the handbook's: shown as inferred until the quality clerk confirms it
    inferred: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    revision: Mapped[Revision] = relationship()

    __table_args__ = (sa.UniqueConstraint("revision_id", "kind", "target_number",
                                          name="uq_document_link_target"),)


class RevisionSource(Base):
    """What the importer knows of a revision: the source file's fingerprint (so a second
    run recognises an unchanged file), the ISO clauses it serves and a declared gap."""

    __tablename__ = "revision_source"

    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"), primary_key=True)
    path: Mapped[str] = mapped_column(sa.String(255), default="")
    source_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    iso_clauses: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    gap_note: Mapped[str] = mapped_column(sa.Text, default="")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    revision: Mapped[Revision] = relationship()


class StepType(enum.StrEnum):
    START = "start"
    TASK = "task"
    DECISION = "decision"
    END = "end"


STEP_TYPE_LABELS = {
    StepType.START: _l("Start"),
    StepType.TASK: _l("Task"),
    StepType.DECISION: _l("Decision"),
    StepType.END: _l("End"),
}


class ProcedureLane(Base):
    """A swim lane (a role or department) of a process revision, left to right."""

    __tablename__ = "procedure_lane"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(60))

    __table_args__ = (sa.UniqueConstraint("revision_id", "position",
                                          name="uq_procedure_lane_position"),)


class ProcedureStep(Base):
    """A node of a process revision: its number, lane, type, label and explanation (节点说明).
    Successors are step numbers of the same revision."""

    __tablename__ = "procedure_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"), index=True)
    number: Mapped[int]
    position: Mapped[int]
    lane: Mapped[str] = mapped_column(sa.String(60))
    type: Mapped[StepType] = mapped_column(str_enum(StepType))
    title: Mapped[str] = mapped_column(sa.String(100))
    explanation: Mapped[str] = mapped_column(sa.Text, default="")
    next_steps: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    if_yes: Mapped[int | None]
    if_no: Mapped[int | None]
    forms_used: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    forms_produced: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    __table_args__ = (sa.UniqueConstraint("revision_id", "number",
                                          name="uq_procedure_step_number"),)

    @property
    def kind(self) -> str:
        return str(self.type)

    def successors(self) -> list[tuple[int, str]]:
        """(step number, branch) pairs; the branch is "yes", "no" or ""."""
        if self.type == StepType.DECISION:
            out: list[tuple[int, str]] = []
            if self.if_yes is not None:
                out.append((self.if_yes, "yes"))
            if self.if_no is not None:
                out.append((self.if_no, "no"))
            return out
        return [(n, "") for n in self.next_steps or []]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.number, "lane": self.lane, "type": str(self.type), "title": self.title,
            "explanation": self.explanation, "next": list(self.next_steps or []),
            "if_yes": self.if_yes, "if_no": self.if_no,
            "forms_used": list(self.forms_used or []),
            "forms_produced": list(self.forms_produced or []),
        }


class FlagReason(enum.StrEnum):
    REVISED = "revised"
    WITHDRAWN = "withdrawn"


FLAG_REASON_LABELS = {
    FlagReason.REVISED: _l("controlling document revised"),
    FlagReason.WITHDRAWN: _l("controlling document withdrawn"),
}


class ReviewFlag(Base):
    """A procedure on the "needs review" list because a document controlling it changed.
    Cleared when someone confirms the procedure or the procedure gets a new revision."""

    __tablename__ = "procedure_review_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"), index=True)
    procedure_revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"))
    cause_number: Mapped[str] = mapped_column(sa.String(32))
    cause_label: Mapped[str] = mapped_column(sa.String(16), default="")
    reason: Mapped[FlagReason] = mapped_column(str_enum(FlagReason))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(index=True)
    cleared_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    clear_reason: Mapped[str] = mapped_column(sa.Text, default="")

    document: Mapped[Document] = relationship(lazy="joined", innerjoin=True)
    procedure_revision: Mapped[Revision] = relationship()
