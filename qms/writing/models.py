"""The quality-manual writing plan (文件编写计划, handbook 5.3, BD-PZ-006): its items and
who writes them, the manual sections' drafts, the question log, the consultant's findings
and the circulation comments (BD-PZ-007)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from qms.auth.models import Department, User
from qms.certification.models import Consultant
from qms.db import Base, str_enum, utcnow
from qms.documents.models import Document, Revision
from qms.documents.reservations import number_holder
from qms.writing.rules import Decision, FindingCategory, ItemKind, PlanState


class WritingPlan(Base):
    __tablename__ = "writing_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    consultant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cert_consultant.id"))
    # the consultant's training of the writers (LC-PZ-003 step 1)
    training_on: Mapped[date | None]
    trainer: Mapped[str] = mapped_column(sa.String(200), default="")
    training_notes: Mapped[str] = mapped_column(sa.Text, default="")
    state: Mapped[PlanState] = mapped_column(str_enum(PlanState), index=True)
    circulation_deadline: Mapped[date | None]
    manual_revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("revision.id"))
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    confirmed_at: Mapped[datetime | None]

    consultant: Mapped[Consultant | None] = relationship(lazy="joined")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])
    manual_revision: Mapped[Revision | None] = relationship()
    items: Mapped[list[PlanItem]] = relationship(
        back_populates="plan", order_by="PlanItem.position, PlanItem.id"
    )
    questions: Mapped[list[Question]] = relationship(back_populates="plan", order_by="Question.id")
    findings: Mapped[list[Finding]] = relationship(back_populates="plan", order_by="Finding.id")
    comments: Mapped[list[Comment]] = relationship(back_populates="plan", order_by="Comment.id")

    @property
    def ref(self) -> str:
        return f"BX-{self.id:04d}"


class PlanItem(Base):
    """One line of BD-PZ-006: a part of the manual, or a regulation, process or form."""

    __tablename__ = "writing_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("writing_plan.id"), index=True)
    position: Mapped[int] = mapped_column(default=1)
    kind: Mapped[ItemKind] = mapped_column(str_enum(ItemKind))
    title: Mapped[str] = mapped_column(sa.String(200))  # 文件名称 / 手册章节
    number: Mapped[str] = mapped_column(sa.String(32), default="", index=True)
    # an existing document this item revises, or the document its draft created
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("document.id"))
    revises_existing: Mapped[bool] = mapped_column(default=False)
    revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("revision.id"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    writer_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    start_on: Mapped[date]
    draft_due: Mapped[date]
    final_due: Mapped[date]
    started_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    # a writer without the drafting right writes on the item; the quality center then takes
    # the text into the controlled draft (revision_id) at this time
    taken_in_at: Mapped[datetime | None]
    actual_on: Mapped[date | None]
    delay_reason: Mapped[str] = mapped_column(sa.Text, default="")

    plan: Mapped[WritingPlan] = relationship(back_populates="items")
    department: Mapped[Department] = relationship(lazy="joined", innerjoin=True)
    writer: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    document: Mapped[Document | None] = relationship()
    revision: Mapped[Revision | None] = relationship()
    texts: Mapped[list[SectionText]] = relationship(
        back_populates="item", order_by="SectionText.version"
    )


class SectionText(Base):
    """A version of a manual section's draft; earlier versions are kept."""

    __tablename__ = "writing_section_text"
    __table_args__ = (
        sa.UniqueConstraint("item_id", "version", name="uq_writing_section_text_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("writing_item.id"), index=True)
    version: Mapped[int]
    body: Mapped[str] = mapped_column(sa.Text, default="")
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[PlanItem] = relationship(back_populates="texts")
    author: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class Question(Base):
    """A writer's question (LC-PZ-003 steps 6–7) and its answer."""

    __tablename__ = "writing_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("writing_plan.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("writing_item.id"))
    text: Mapped[str] = mapped_column(sa.Text)
    asked_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer: Mapped[str] = mapped_column(sa.Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    answered_at: Mapped[datetime | None]
    # the consultant whose answer the quality manager recorded; None: the manager's own
    consultant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cert_consultant.id"))

    plan: Mapped[WritingPlan] = relationship(back_populates="questions")
    item: Mapped[PlanItem | None] = relationship(lazy="selectin")
    asked_by: Mapped[User] = relationship(foreign_keys=[asked_by_id], lazy="joined")
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id], lazy="joined")
    consultant: Mapped[Consultant | None] = relationship(lazy="joined")


class Finding(Base):
    """What the consultant's check of the draft found (LC-PZ-003 step 9)."""

    __tablename__ = "writing_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("writing_plan.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("writing_item.id"))
    category: Mapped[FindingCategory] = mapped_column(str_enum(FindingCategory))
    text: Mapped[str] = mapped_column(sa.Text)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    resolution: Mapped[str] = mapped_column(sa.Text, default="")

    plan: Mapped[WritingPlan] = relationship(back_populates="findings")
    item: Mapped[PlanItem | None] = relationship(lazy="selectin")
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id], lazy="selectin")


class Comment(Base):
    """A line of BD-PZ-007: a department's comment on the circulated draft and its decision."""

    __tablename__ = "writing_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("writing_plan.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    person: Mapped[str] = mapped_column(sa.String(100))
    clause: Mapped[str] = mapped_column(sa.String(100), default="")
    text: Mapped[str] = mapped_column(sa.Text)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision: Mapped[Decision | None] = mapped_column(str_enum(Decision))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    confirmed_by: Mapped[str] = mapped_column(sa.String(100), default="")
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]

    plan: Mapped[WritingPlan] = relationship(back_populates="comments")
    department: Mapped[Department] = relationship(lazy="joined", innerjoin=True)


class ChaseSent(Base):
    """One chase of a late item for one missed deadline, so the daily job sends it once."""

    __tablename__ = "writing_chase"
    __table_args__ = (sa.UniqueConstraint("item_id", "stage", name="uq_writing_chase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("writing_item.id"))
    stage: Mapped[str] = mapped_column(sa.String(10))  # draft | final
    sent_on: Mapped[date]


@number_holder
def reserved_by_plan(session: Session, number: str) -> object | None:
    """Which open writing plan holds a number for an item not yet made into a document
    (registered with the documents service, which knows nothing of writing plans)."""
    plan = session.scalar(
        sa.select(WritingPlan)
        .join(PlanItem)
        .where(
            PlanItem.number == number,
            PlanItem.revises_existing.is_(False),
            PlanItem.document_id.is_(None),
            WritingPlan.state.not_in([PlanState.FINALISED, PlanState.CANCELLED]),
        )
        .limit(1)
    )
    if plan is None:
        return None
    return _l("writing plan %(ref)s %(title)s", ref=plan.ref, title=plan.title)
