"""Review meetings (质量评审, handbook 5.2): the plan, the team, the reviewed revisions pinned to
their content hash, the checklist, and the defect log that outlives a re-submission."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import Department, User
from qms.db import Base, str_enum, utcnow
from qms.documents.models import Revision
from qms.reviews.lifecycle import ReviewAction, ReviewState


class ReviewType(enum.StrEnum):
    FIRST = "first"  # 首次
    REGRESSION = "regression"  # 回归
    PARTIAL = "partial"  # 部分
    PHASE = "phase"  # 阶段


class ReviewLevel(enum.StrEnum):
    DEPARTMENT = "department"
    CENTER = "center"  # the Quality Management Center with the project manager
    COMPANY = "company"  # with the general manager


class ParticipantRole(enum.StrEnum):
    LEADER = "leader"
    REVIEWER = "reviewer"
    AUTHOR = "author"
    RECORDER = "recorder"


class Severity(enum.StrEnum):
    SERIOUS = "serious"  # 严重
    GENERAL = "general"  # 一般
    SUGGESTION = "suggestion"  # 建议


class Category(enum.StrEnum):
    MISSING = "missing"
    WRONG = "wrong"
    AMBIGUOUS = "ambiguous"
    INCONSISTENT = "inconsistent"
    NOT_PER_STANDARD = "not_per_standard"
    EDITORIAL = "editorial"


class Disposition(enum.StrEnum):
    OPEN = "open"  # raised, not yet decided
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    WITHDRAWN = "withdrawn"


class Phase(enum.StrEnum):
    PRE_REVIEW = "pre_review"
    MEETING = "meeting"
    CARRIED_OVER = "carried_over"


class Conclusion(enum.StrEnum):
    NONE = "none"  # no change needed
    MINOR = "minor"
    MAJOR = "major"
    NUMBER = "number"  # a stated number of changes


STATE_LABELS = {
    ReviewState.PLANNING: _l("Planning"),
    ReviewState.PLAN_SUBMITTED: _l("Plan awaiting approval"),
    ReviewState.PLAN_APPROVED: _l("Plan approved"),
    ReviewState.PRE_REVIEW: _l("Pre-review"),
    ReviewState.MEETING: _l("Meeting in progress"),
    ReviewState.REPORTING: _l("Report in preparation"),
    ReviewState.REPORT_SUBMITTED: _l("Report awaiting approval"),
    ReviewState.FOLLOW_UP: _l("Follow-up"),
    ReviewState.ARCHIVED: _l("Archived"),
    ReviewState.CANCELLED: _l("Cancelled"),
}

ACTION_LABELS = {
    ReviewAction.SUBMIT_PLAN: _l("Submit the plan for approval"),
    ReviewAction.RETURN_PLAN: _l("Return the plan"),
    ReviewAction.APPROVE_PLAN: _l("Approve the plan"),
    ReviewAction.PUBLISH: _l("Publish the plan"),
    ReviewAction.START_MEETING: _l("Start the meeting"),
    ReviewAction.CLOSE_MEETING: _l("Close the meeting"),
    ReviewAction.SUBMIT_REPORT: _l("Submit the report for approval"),
    ReviewAction.RETURN_REPORT: _l("Return the report"),
    ReviewAction.APPROVE_REPORT: _l("Approve the report"),
    ReviewAction.ARCHIVE: _l("Archive the review"),
    ReviewAction.CANCEL: _l("Cancel the review"),
    ReviewAction.EDIT_PLAN: _l("edit the plan"),
    ReviewAction.CONFIRM: _l("confirm the plan"),
    ReviewAction.LOG_PREPARATION: _l("log preparation time"),
    ReviewAction.RAISE_DEFECT: _l("raise a defect"),
    ReviewAction.RESPOND: _l("respond to a defect"),
    ReviewAction.DISPOSE: _l("set a disposition"),
    ReviewAction.TICK_CHECKLIST: _l("tick the checklist"),
    ReviewAction.RECORD_ATTENDANCE: _l("record attendance"),
    ReviewAction.CONCLUDE: _l("record the conclusion"),
    ReviewAction.TRACK: _l("name an owner and a fix date"),
    ReviewAction.FIX: _l("mark a defect fixed"),
    ReviewAction.VERIFY: _l("verify a fix"),
    ReviewAction.DECIDE_REGRESSION: _l("decide on a regression review"),
}

TYPE_LABELS = {
    ReviewType.FIRST: _l("First review"),
    ReviewType.REGRESSION: _l("Regression review"),
    ReviewType.PARTIAL: _l("Partial review"),
    ReviewType.PHASE: _l("Phase review"),
}

LEVEL_LABELS = {
    ReviewLevel.DEPARTMENT: _l("Department level"),
    ReviewLevel.CENTER: _l("Quality Management Center level"),
    ReviewLevel.COMPANY: _l("Company level (general manager)"),
}

ROLE_LABELS = {
    ParticipantRole.LEADER: _l("Review leader"),
    ParticipantRole.REVIEWER: _l("Reviewer"),
    ParticipantRole.AUTHOR: _l("Author"),
    ParticipantRole.RECORDER: _l("Recorder"),
}

SEVERITY_LABELS = {
    Severity.SERIOUS: _l("Serious"),
    Severity.GENERAL: _l("General"),
    Severity.SUGGESTION: _l("Suggestion"),
}

CATEGORY_LABELS = {
    Category.MISSING: _l("Missing"),
    Category.WRONG: _l("Wrong"),
    Category.AMBIGUOUS: _l("Ambiguous"),
    Category.INCONSISTENT: _l("Inconsistent"),
    Category.NOT_PER_STANDARD: _l("Not per standard"),
    Category.EDITORIAL: _l("Editorial"),
}

DISPOSITION_LABELS = {
    Disposition.OPEN: _l("Not yet decided"),
    Disposition.ACCEPTED: _l("Accepted"),
    Disposition.REJECTED: _l("Rejected"),
    Disposition.DUPLICATE: _l("Duplicate"),
    Disposition.WITHDRAWN: _l("Withdrawn"),
}

PHASE_LABELS = {
    Phase.PRE_REVIEW: _l("Pre-review"),
    Phase.MEETING: _l("Meeting"),
    Phase.CARRIED_OVER: _l("Carried over"),
}

CONCLUSION_LABELS = {
    Conclusion.NONE: _l("No change needed"),
    Conclusion.MINOR: _l("Minor changes"),
    Conclusion.MAJOR: _l("Major changes"),
    Conclusion.NUMBER: _l("A stated number of changes"),
}


class Review(Base):
    __tablename__ = "review"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))  # project or system name
    system_version: Mapped[str] = mapped_column(sa.String(40), default="")
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    level: Mapped[ReviewLevel] = mapped_column(str_enum(ReviewLevel))
    review_type: Mapped[ReviewType] = mapped_column(str_enum(ReviewType))
    state: Mapped[ReviewState] = mapped_column(str_enum(ReviewState), index=True)
    strategy: Mapped[str] = mapped_column(sa.Text, default="")
    deliverables: Mapped[str] = mapped_column(sa.Text, default="")
    regression_criteria: Mapped[str] = mapped_column(sa.Text, default="")
    planned_pages_per_hour: Mapped[int | None]
    leader_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    approver_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    previous_review_id: Mapped[int | None] = mapped_column(sa.ForeignKey("review.id"))
    # the meeting
    meeting_date: Mapped[date | None] = mapped_column(index=True)
    meeting_place: Mapped[str] = mapped_column(sa.String(200), default="")
    agenda: Mapped[str] = mapped_column(sa.Text, default="")
    # Where and how the meeting was held, when that differs from the approved plan: the
    # plan's own fields stay as signed.
    held_place: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    held_agenda: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    meeting_started_at: Mapped[datetime | None]
    meeting_ended_at: Mapped[datetime | None]
    meeting_minutes: Mapped[int | None]
    # the outcome
    conclusion: Mapped[Conclusion | None] = mapped_column(str_enum(Conclusion))
    conclusion_count: Mapped[int | None]
    conclusion_notes: Mapped[str] = mapped_column(sa.Text, default="")
    regression_needed: Mapped[bool | None]

    @property
    def place(self) -> str:
        """Where the meeting was held, or where the plan puts it."""
        return self.held_place or self.meeting_place

    @property
    def meeting_agenda(self) -> str:
        return self.held_agenda or self.agenda

    @property
    def held_on(self) -> date | None:
        """The day the meeting was held (in the company's zone), or the plan's day."""
        if self.meeting_started_at is not None:
            from qms import clock

            started = self.meeting_started_at.replace(tzinfo=self.meeting_started_at.tzinfo or UTC)
            return started.astimezone(clock.local_zone()).date()
        return self.meeting_date
    regression_reason: Mapped[str] = mapped_column(sa.Text, default="")
    lessons_learned: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    plan_approved_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    report_approved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]  # archived or cancelled
    close_reason: Mapped[str] = mapped_column(sa.Text, default="")

    department: Mapped[Department] = relationship(lazy="joined", innerjoin=True)
    leader: Mapped[User] = relationship(foreign_keys=[leader_id])
    approver: Mapped[User] = relationship(foreign_keys=[approver_id])
    previous_review: Mapped[Review | None] = relationship(remote_side=[id])
    objects: Mapped[list[ReviewObject]] = relationship(
        back_populates="review", cascade="all, delete-orphan",
        order_by="ReviewObject.id")  # the main one is pinned first
    participants: Mapped[list[Participant]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="Participant.id")
    checklist: Mapped[list[ChecklistItem]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="ChecklistItem.position")
    defects: Mapped[list[Defect]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="Defect.number",
        foreign_keys="Defect.review_id")

    @property
    def ref(self) -> str:
        return f"RV-{self.id:04d}"

    @property
    def main_object(self) -> ReviewObject | None:
        return next((o for o in self.objects if o.is_main), None)

    def people(self) -> list[User]:
        seen: dict[int, User] = {}
        for p in self.participants:
            seen.setdefault(p.user_id, p.user)
        return list(seen.values())

    def user_ids(self, role: ParticipantRole) -> set[int]:
        return {p.user_id for p in self.participants if p.role == role}


class ReviewObject(Base):
    """A revision under review, pinned to the hash of the content the team read."""

    __tablename__ = "review_object"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("review.id"), index=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"), index=True)
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    is_main: Mapped[bool] = mapped_column(default=False)
    pages: Mapped[int] = mapped_column(default=1)

    review: Mapped[Review] = relationship(back_populates="objects")
    revision: Mapped[Revision] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (sa.UniqueConstraint("review_id", "revision_id",
                                          name="uq_review_object_pair"),)

    @property
    def changed_since_pinned(self) -> bool:
        return self.revision.content_sha256 != self.content_sha256


class Participant(Base):
    __tablename__ = "review_participant"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("review.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    role: Mapped[ParticipantRole] = mapped_column(str_enum(ParticipantRole))
    confirmed_at: Mapped[datetime | None]
    preparation_minutes: Mapped[int | None]
    attended: Mapped[bool | None]

    review: Mapped[Review] = relationship(back_populates="participants")
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (sa.UniqueConstraint("review_id", "user_id", "role",
                                          name="uq_review_participant_role"),)


class ChecklistItem(Base):
    """One line of the review checklist; the verification record is the list, all ticked."""

    __tablename__ = "review_checklist_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("review.id"), index=True)
    position: Mapped[int]
    text: Mapped[str] = mapped_column(sa.String(500))
    checked: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    checked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    checked_at: Mapped[datetime | None]

    review: Mapped[Review] = relationship(back_populates="checklist")
    checked_by: Mapped[User | None] = relationship()


class Defect(Base):
    """One line of the defect log."""

    __tablename__ = "review_defect"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("review.id"), index=True)
    number: Mapped[int]
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("revision.id"), index=True)
    raised_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    phase: Mapped[Phase] = mapped_column(str_enum(Phase))
    chapter: Mapped[str] = mapped_column(sa.String(40), default="")
    section: Mapped[str] = mapped_column(sa.String(40), default="")
    page: Mapped[str] = mapped_column(sa.String(20), default="")
    description: Mapped[str] = mapped_column(sa.Text)
    severity: Mapped[Severity] = mapped_column(str_enum(Severity), index=True)
    category: Mapped[Category] = mapped_column(str_enum(Category))
    author_response: Mapped[str] = mapped_column(sa.Text, default="")
    disposition: Mapped[Disposition] = mapped_column(
        str_enum(Disposition), default=Disposition.OPEN, index=True)
    disposition_reason: Mapped[str] = mapped_column(sa.Text, default="")
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    fix_due: Mapped[date | None]
    fixed_in_revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("revision.id"))
    fixed_at: Mapped[datetime | None]
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    verified_at: Mapped[datetime | None]
    carried_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("review_defect.id"))
    # Set on the original when a regression review takes the defect over.
    carried_to_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("review_defect.id", use_alter=True, name="fk_review_defect_carried_to"))

    review: Mapped[Review] = relationship(back_populates="defects", foreign_keys=[review_id])
    revision: Mapped[Revision] = relationship(foreign_keys=[revision_id], lazy="joined",
                                              innerjoin=True)
    raised_by: Mapped[User] = relationship(foreign_keys=[raised_by_id], lazy="joined",
                                           innerjoin=True)
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    fixed_in_revision: Mapped[Revision | None] = relationship(foreign_keys=[fixed_in_revision_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    carried_from: Mapped[Defect | None] = relationship(foreign_keys=[carried_from_id],
                                                       remote_side=[id])

    __table_args__ = (sa.UniqueConstraint("review_id", "number", name="uq_review_defect_number"),)

    @property
    def location(self) -> str:
        return " / ".join(x for x in (self.chapter, self.section,
                                      f"p. {self.page}" if self.page else "") if x)

    @property
    def is_open(self) -> bool:
        """Accepted and not yet verified here (not handed on to a regression review)."""
        return (self.disposition == Disposition.ACCEPTED and self.verified_at is None
                and self.carried_to_id is None)

    @property
    def blocks_approval(self) -> bool:
        return self.is_open and self.severity in (Severity.SERIOUS, Severity.GENERAL)


class ApproverCapacity(enum.StrEnum):
    GENERAL_MANAGER = "general_manager"  # 总经理 (handbook 5.2: approves plans and reports)
    DELEGATE = "delegate"  # named by the general manager to approve in his place


CAPACITY_LABELS = {
    ApproverCapacity.GENERAL_MANAGER: _l("General manager"),
    ApproverCapacity.DELEGATE: _l("Delegate of the general manager"),
}


class PlanApprover(Base):
    """The approval matrix of reviews: who signs review plans and reports. The general
    manager does (handbook 5.2), and whoever he delegates to; each entry says who named
    them, when and why (the trail keeps the same, and every removal)."""

    __tablename__ = "review_approver"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), unique=True)
    capacity: Mapped[ApproverCapacity] = mapped_column(str_enum(ApproverCapacity))
    delegated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined", innerjoin=True)
    delegated_by: Mapped[User | None] = relationship(foreign_keys=[delegated_by_id])
