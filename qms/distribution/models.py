"""Distribution of controlled copies and their recall, read-and-understood rules and
acknowledgements, periodic reviews and the side table of external documents."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import Department, Signature, User
from qms.auth.permissions import Role
from qms.db import Base, str_enum, utcnow
from qms.documents.models import DocKind, Document, Revision

# -- controlled copies -------------------------------------------------------------------


class Medium(enum.StrEnum):
    PAPER = "paper"
    ELECTRONIC = "electronic"


MEDIUM_LABELS = {Medium.PAPER: _l("Paper"), Medium.ELECTRONIC: _l("Electronic")}


class RecallOutcome(enum.StrEnum):
    RETURNED = "returned"
    DESTROYED = "destroyed"


OUTCOME_LABELS = {RecallOutcome.RETURNED: _l("Returned"), RecallOutcome.DESTROYED: _l("Destroyed")}


class ControlledCopy(Base):
    """One distributed copy of one revision (受控副本), numbered per revision (分发号)."""

    __tablename__ = "controlled_copy"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"), index=True)
    copy_number: Mapped[int]
    holder_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    holder_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    medium: Mapped[Medium] = mapped_column(str_enum(Medium), default=Medium.PAPER)
    location: Mapped[str] = mapped_column(sa.String(200), default="")
    issued_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime | None]
    received_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    # On the recall list from recall_requested_at until the outcome is recorded.
    recall_requested_at: Mapped[datetime | None] = mapped_column(index=True)
    recall_reason: Mapped[str] = mapped_column(sa.Text, default="")
    recall_outcome: Mapped[RecallOutcome | None] = mapped_column(str_enum(RecallOutcome))
    recalled_at: Mapped[datetime | None]
    recalled_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    recall_note: Mapped[str] = mapped_column(sa.Text, default="")

    revision: Mapped[Revision] = relationship(lazy="joined", innerjoin=True)
    holder_department: Mapped[Department | None] = relationship(lazy="joined")
    holder_user: Mapped[User | None] = relationship(foreign_keys=[holder_user_id], lazy="joined")
    issued_by: Mapped[User] = relationship(foreign_keys=[issued_by_id])
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    recalled_by: Mapped[User | None] = relationship(foreign_keys=[recalled_by_id])

    __table_args__ = (
        sa.UniqueConstraint("revision_id", "copy_number", name="uq_controlled_copy_number"),
        sa.CheckConstraint(
            "holder_department_id IS NOT NULL OR holder_user_id IS NOT NULL", name="holder"
        ),
    )

    @property
    def holder_name(self) -> str:
        if self.holder_user is not None:
            return self.holder_user.display_name
        return self.holder_department.name if self.holder_department else ""

    @property
    def outstanding(self) -> bool:
        """Still out with its holder (not yet returned or destroyed)."""
        return self.recall_outcome is None

    @property
    def to_recall(self) -> bool:
        return self.recall_requested_at is not None and self.recall_outcome is None


# -- read and understood -----------------------------------------------------------------


class ReadRule(Base):
    """Who must read a new revision of documents of one kind, or of one department.
    Empty kind and department means every document."""

    __tablename__ = "read_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DocKind | None] = mapped_column(str_enum(DocKind))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    due_days: Mapped[int] = mapped_column(default=14)
    # A major revision always asks for a new acknowledgement; a minor one only when set.
    minor_resets: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship(lazy="joined")
    targets: Mapped[list[ReadRuleTarget]] = relationship(
        back_populates="rule",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ReadRuleTarget.id",
    )


class ReadRuleTarget(Base):
    """One of: a role, a department (its members) or a person."""

    __tablename__ = "read_rule_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("read_rule.id"), index=True)
    role: Mapped[Role | None] = mapped_column(str_enum(Role, 32))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    rule: Mapped[ReadRule] = relationship(back_populates="targets")
    department: Mapped[Department | None] = relationship(lazy="joined")
    user: Mapped[User | None] = relationship(lazy="joined")


class AckState(enum.StrEnum):
    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"  # signed 阅知 for this revision
    CARRIED = "carried"  # a minor revision kept the acknowledgement of the one before
    LAPSED = "lapsed"  # the revision stopped being effective before it was read


ACK_LABELS = {
    AckState.PENDING: _l("To read"),
    AckState.ACKNOWLEDGED: _l("Read and understood"),
    AckState.CARRIED: _l("Carried over"),
    AckState.LAPSED: _l("Lapsed"),
}


class Acknowledgement(Base):
    """A person's duty to read one revision, and their 阅知 signature once done."""

    __tablename__ = "acknowledgement"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    state: Mapped[AckState] = mapped_column(
        str_enum(AckState), default=AckState.PENDING, index=True
    )
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_date: Mapped[date | None] = mapped_column(index=True)
    acknowledged_at: Mapped[datetime | None]
    signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signature.id"))
    carried_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("acknowledgement.id"))

    revision: Mapped[Revision] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    signature: Mapped[Signature | None] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("revision_id", "user_id", name="uq_acknowledgement_pair"),
    )

    def is_overdue(self, today: date) -> bool:
        return (
            self.state == AckState.PENDING and self.due_date is not None and self.due_date < today
        )

    @property
    def done(self) -> bool:
        return self.state in (AckState.ACKNOWLEDGED, AckState.CARRIED)


# -- periodic review ----------------------------------------------------------------------


class KindReviewInterval(Base):
    """The review interval for new documents of a kind (months); default 24."""

    __tablename__ = "kind_review_interval"

    kind: Mapped[DocKind] = mapped_column(str_enum(DocKind), primary_key=True)
    months: Mapped[int]


class ReviewOutcome(enum.StrEnum):
    NO_CHANGE = "no_change"
    REVISE = "revise"


REVIEW_OUTCOME_LABELS = {
    ReviewOutcome.NO_CHANGE: _l("Still suitable, no change"),
    ReviewOutcome.REVISE: _l("Needs a change: new revision started"),
}


class PeriodicReview(Base):
    """One periodic review of a document (定期评审)."""

    __tablename__ = "periodic_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"), index=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"))
    outcome: Mapped[ReviewOutcome] = mapped_column(str_enum(ReviewOutcome))
    reviewed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    reviewed_at: Mapped[datetime] = mapped_column(default=utcnow)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    due_date: Mapped[date | None]
    next_review_date: Mapped[date | None]
    signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signature.id"))
    new_revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("revision.id"))

    document: Mapped[Document] = relationship()
    revision: Mapped[Revision] = relationship(foreign_keys=[revision_id])
    reviewed_by: Mapped[User] = relationship(lazy="joined")
    new_revision: Mapped[Revision | None] = relationship(foreign_keys=[new_revision_id])


# -- external documents -------------------------------------------------------------------


class ExternalCategory(enum.StrEnum):
    LAW = "law"
    NATIONAL_STANDARD = "national_standard"
    INDUSTRY_STANDARD = "industry_standard"
    CONTRACT = "contract"
    CUSTOMER_REQUIREMENT = "customer_requirement"
    OTHER = "other"


CATEGORY_LABELS = {
    ExternalCategory.LAW: _l("Law or regulation"),
    ExternalCategory.NATIONAL_STANDARD: _l("National standard"),
    ExternalCategory.INDUSTRY_STANDARD: _l("Industry standard"),
    ExternalCategory.CONTRACT: _l("Contract"),
    ExternalCategory.CUSTOMER_REQUIREMENT: _l("Customer requirement"),
    ExternalCategory.OTHER: _l("Other"),
}


class ExternalSource(Base):
    """What a document of external origin needs beyond the document itself (外来文件)."""

    __tablename__ = "external_source"

    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"), primary_key=True)
    category: Mapped[ExternalCategory] = mapped_column(str_enum(ExternalCategory), index=True)
    source: Mapped[str] = mapped_column(sa.String(200))  # issuer: a ministry, SAC, a customer
    reference: Mapped[str] = mapped_column(sa.String(100), default="")  # e.g. GB/T 19001-2016
    edition: Mapped[str] = mapped_column(sa.String(100), default="")
    url: Mapped[str] = mapped_column(sa.String(500), default="")
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    currency_checked_on: Mapped[date | None] = mapped_column(index=True)
    currency_note: Mapped[str] = mapped_column(sa.Text, default="")

    document: Mapped[Document] = relationship(lazy="joined", innerjoin=True)
    owner: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    @property
    def web_link(self) -> str | None:
        """The web address as a link target, only when it is an http(s) address: a stored
        ``javascript:`` or ``data:`` address is shown as text, never followed."""
        return self.url if is_web_address(self.url) else None


def is_web_address(url: str) -> bool:
    """An absolute http or https address with a host (what a web address field accepts)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
