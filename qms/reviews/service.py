"""Operations on review meetings. Each checks the review's state machine and the actor's role
on the review, changes the models, writes the trail and only flushes; the caller commits."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import Department, Meaning, User
from qms.auth.permissions import Permission
from qms.auth.signatures import check_seen, sign
from qms.db import utcnow
from qms.documents.lifecycle import RevState
from qms.documents.models import STATE_LABELS as REVISION_STATE_LABELS
from qms.documents.models import ReviewerAssignment, Revision
from qms.errors import Conflict, Forbidden, Invalid, NotFound
from qms.reviews import approvers
from qms.reviews.checklists import checklist_template
from qms.reviews.lifecycle import (
    ReviewAction,
    ReviewActor,
    ReviewState,
    ReviewTransitionError,
    allowed_moves,
)
from qms.reviews.lifecycle import transition as review_transition
from qms.reviews.models import (
    ACTION_LABELS,
    STATE_LABELS,
    Category,
    ChecklistItem,
    Conclusion,
    Defect,
    Disposition,
    Participant,
    ParticipantRole,
    Phase,
    Review,
    ReviewLevel,
    ReviewObject,
    ReviewType,
    Severity,
)
from qms.trail import service as trail

MIN_PARTICIPANTS = 2
MAX_PARTICIPANTS = 7
OBJECT_TYPE = "review"
DEFECT_TYPE = "review_defect"

A = ReviewAction


# -- who may do what -------------------------------------------------------------------

def may_lead(user: User) -> bool:
    """Review leaders and the quality manager plan and run reviews."""
    return user.active and user.can(Permission.LEAD_REVIEWS)


def may_approve(user: User) -> bool:
    """Holds the right to approve at all; who signs review plans and reports is narrower
    (the general manager or his delegate: qms/reviews/approvers.py)."""
    return user.active and user.can(Permission.APPROVE_DOCUMENTS)


def _check_plan_approver(session: Session, actor: User, review: Review,
                         action: ReviewAction) -> None:
    """Before approving or returning a plan or report: the general manager or his delegate,
    and the one the plan names. Others are told who may; a wrong step keeps its own reason."""
    from qms.reviews.lifecycle import TRANSITIONS

    if (review.state, action) not in TRANSITIONS:
        return
    approvers.refuse_unless_plan_approver(session, actor, code="not_plan_approver")
    if review.approver_id != actor.id:
        raise Forbidden(_l("Review %(ref)s goes to %(name)s for approval, as its plan names; "
                           "you are not that approver.", ref=review.ref,
                           name=review.approver.display_name),
                        code="not_your_step", details=approvers.refusal_details(session))


def actors_for(review: Review, user: User, defect: Defect | None = None) -> frozenset[ReviewActor]:
    held: set[ReviewActor] = set()
    roles = {p.role for p in review.participants if p.user_id == user.id}
    if roles:
        held.add(ReviewActor.PARTICIPANT)
    mapping = {ParticipantRole.LEADER: ReviewActor.LEADER,
               ParticipantRole.RECORDER: ReviewActor.RECORDER,
               ParticipantRole.REVIEWER: ReviewActor.REVIEWER,
               ParticipantRole.AUTHOR: ReviewActor.AUTHOR}
    held |= {mapping[r] for r in roles}
    if review.approver_id == user.id and may_approve(user):
        held.add(ReviewActor.APPROVER)
    if defect is not None and defect.owner_id == user.id:
        held.add(ReviewActor.OWNER)
    return frozenset(held)


def signs_a_reviewed_revision(user: User, review: Review) -> bool:
    """Named to review or approve a revision this review covers: they see the review of
    what they sign, before they sign it."""
    return any(o.revision.approver_id == user.id
               or any(a.reviewer_id == user.id for a in o.revision.reviews)
               for o in review.objects)


def reviews_of_signers(user_id: int) -> sa.Select[tuple[int]]:
    """`signs_a_reviewed_revision` in SQL: the ids of those reviews."""
    approves = (sa.select(ReviewObject.review_id)
                .join(Revision, Revision.id == ReviewObject.revision_id)
                .where(Revision.approver_id == user_id))
    reviews = (sa.select(ReviewObject.review_id)
               .join(ReviewerAssignment,
                     ReviewerAssignment.revision_id == ReviewObject.revision_id)
               .where(ReviewerAssignment.reviewer_id == user_id))
    return sa.union(approves, reviews)  # type: ignore[return-value]


def can_view(user: User, review: Review) -> bool:
    if any(p.user_id == user.id for p in review.participants) or review.approver_id == user.id:
        return True
    if signs_a_reviewed_revision(user, review):
        return True
    return user.can(Permission.LEAD_REVIEWS) or user.can(Permission.VIEW_REGISTER)


def visible_reviews(user: User) -> sa.Select[tuple[Review]]:
    stmt = sa.select(Review)
    if not (user.can(Permission.LEAD_REVIEWS) or user.can(Permission.VIEW_REGISTER)):
        mine = sa.select(Participant.review_id).where(Participant.user_id == user.id)
        stmt = stmt.where(sa.or_(Review.id.in_(mine), Review.approver_id == user.id,
                                 Review.id.in_(reviews_of_signers(user.id))))
    return stmt


def _apply(review: Review, action: ReviewAction, actors: frozenset[ReviewActor]) -> ReviewState:
    try:
        return review_transition(review.state, action, actors)
    except ReviewTransitionError as err:
        if err.reason == "state":
            raise Conflict(_l("Review %(ref)s is at the step “%(state)s”; you cannot %(action)s "
                              "now.", ref=review.ref, state=STATE_LABELS[review.state],
                              action=ACTION_LABELS[action]),
                           code="transition_not_allowed") from None
        raise Forbidden(_l("Your role on review %(ref)s does not let you %(action)s.",
                           ref=review.ref, action=ACTION_LABELS[action]),
                        code="not_your_step") from None


def _act(review: Review, action: ReviewAction, actor: User,
         defect: Defect | None = None) -> ReviewState:
    return _apply(review, action, actors_for(review, actor, defect))


def _set_state(session: Session, actor: User, review: Review, new: ReviewState,
               reason: str = "") -> None:
    old = review.state
    review.state = new
    trail.record(session, actor, "transition", OBJECT_TYPE, review.ref, field="state",
                 old=old, new=new, reason=reason)


def moves_for(review: Review, user: User) -> list[ReviewAction]:
    return allowed_moves(review.state, actors_for(review, user))


def may(review: Review, user: User, action: ReviewAction, defect: Defect | None = None) -> bool:
    from qms.reviews.lifecycle import allowed

    return allowed(review.state, action, actors_for(review, user, defect))


# -- loading ------------------------------------------------------------------------------

def get_review(session: Session, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None:
        raise NotFound(_l("There is no review %(id)s.", id=review_id))
    return review


def get_defect(review: Review, number: int) -> Defect:
    for defect in review.defects:
        if defect.number == number:
            return defect
    raise NotFound(_l("Review %(ref)s has no defect %(no)s.", ref=review.ref, no=number))


def defect_ref(defect: Defect) -> str:
    return f"{defect.review.ref}#{defect.number}"


# -- planning --------------------------------------------------------------------------------

@dataclass
class ObjectSpec:
    revision: Revision
    pages: int = 1


def _check_team(leader: User, reviewers: Sequence[User], authors: Sequence[User],
                recorder: User | None) -> None:
    author_ids = {a.id for a in authors}
    if leader.id in author_ids:
        raise Invalid(_l("An author of the reviewed document cannot lead its review."),
                      code="author_as_leader")
    if recorder is not None and recorder.id in author_ids:
        raise Invalid(_l("An author of the reviewed document cannot be the recorder."),
                      code="author_as_recorder")
    if author_ids & {r.id for r in reviewers}:
        raise Invalid(_l("An author cannot also be a reviewer of the same document."))
    people = {leader.id} | {r.id for r in reviewers} | author_ids
    if recorder is not None:
        people.add(recorder.id)
    if not MIN_PARTICIPANTS <= len(people) <= MAX_PARTICIPANTS:
        raise Invalid(_l("A review takes %(min)d to %(max)d people; this team has %(n)d.",
                         min=MIN_PARTICIPANTS, max=MAX_PARTICIPANTS, n=len(people)),
                      code="team_size")
    if not reviewers:
        raise Invalid(_l("Name at least one reviewer."))
    for person in [leader, *reviewers, *authors, *([recorder] if recorder else [])]:
        if not person.active:
            raise Invalid(_l("%(name)s is not an active user.", name=person.display_name))


def create_review(
    session: Session,
    actor: User,
    *,
    title: str,
    department: Department,
    objects: Sequence[ObjectSpec],
    reviewers: Sequence[User],
    approver: User,
    leader: User | None = None,
    authors: Sequence[User] | None = None,
    recorder: User | None = None,
    review_type: ReviewType = ReviewType.FIRST,
    level: ReviewLevel = ReviewLevel.CENTER,
    system_version: str = "",
    strategy: str = "",
    deliverables: str = "",
    regression_criteria: str = "",
    planned_pages_per_hour: int | None = None,
    meeting_date: date | None = None,
    meeting_place: str = "",
    agenda: str = "",
    checklist: Sequence[str] | None = None,
) -> Review:
    """Draft a review plan. The first object is the main document; the rest are attachments.
    A regression review starts with the open defects of the last review of that document."""
    leader = leader or actor
    if not may_lead(actor) or not may_lead(leader):
        raise Forbidden(_l("Only a review leader or the quality manager may plan a review."))
    title = title.strip()
    if not title:
        raise Invalid(_l("Give the project or system name."))
    if not objects:
        raise Invalid(_l("Name the document revision to review."))
    revisions = [o.revision for o in objects]
    if len({r.id for r in revisions}) != len(revisions):
        raise Invalid(_l("A revision is listed twice."))
    main = revisions[0]
    if main.state != RevState.IN_REVIEW:
        raise Conflict(_l("%(number)s %(label)s is not under review; submit it for review "
                          "before planning a review meeting.",
                          number=main.document.number, label=main.label),
                       code="not_under_review")
    for spec in objects:
        if spec.pages < 1:
            raise Invalid(_l("The page count of a document must be at least 1."))
    if authors is None:
        authors = list({r.author_id: r.author for r in revisions if r.state in (
            RevState.DRAFT, RevState.IN_REVIEW)}.values())
    _check_team(leader, reviewers, authors, recorder)
    if not approvers.may_approve_plans(session, approver):
        raise Invalid(_l("%(name)s may not approve review plans. %(who)s",
                         name=approver.display_name, who=approvers.who_may_approve(session)),
                      code="not_plan_approver", details=approvers.refusal_details(session))
    if approver.id == leader.id or approver.id in {a.id for a in authors}:
        raise Invalid(_l("The approver of the plan must be neither its leader nor an author."))
    if planned_pages_per_hour is not None and planned_pages_per_hour < 1:
        raise Invalid(_l("The planned pages per hour must be at least 1."))
    review = Review(
        title=title, system_version=system_version.strip(), department=department, level=level,
        review_type=review_type, state=ReviewState.PLANNING, strategy=strategy.strip(),
        deliverables=deliverables.strip(), regression_criteria=regression_criteria.strip(),
        planned_pages_per_hour=planned_pages_per_hour, leader_id=leader.id,
        approver_id=approver.id, meeting_date=meeting_date, meeting_place=meeting_place.strip(),
        agenda=agenda.strip(),
    )
    review.objects = [ReviewObject(revision=o.revision, revision_id=o.revision.id,
                                   content_sha256=o.revision.content_sha256,
                                   is_main=i == 0, pages=o.pages)
                      for i, o in enumerate(objects)]
    team: list[Participant] = [Participant(user=leader, user_id=leader.id,
                                           role=ParticipantRole.LEADER)]
    team += [Participant(user=u, user_id=u.id, role=ParticipantRole.REVIEWER) for u in
             {u.id: u for u in reviewers}.values()]
    team += [Participant(user=u, user_id=u.id, role=ParticipantRole.AUTHOR) for u in authors]
    if recorder is not None:
        team.append(Participant(user=recorder, user_id=recorder.id,
                                role=ParticipantRole.RECORDER))
    review.participants = team
    items = list(checklist) if checklist is not None else checklist_template(
        session, main.document.kind
    )
    review.checklist = [ChecklistItem(position=i + 1, text=t.strip()[:500])
                        for i, t in enumerate(items) if t.strip()]
    session.add(review)
    session.flush()
    trail.record(session, actor, "create", OBJECT_TYPE, review.ref, new=title,
                 reason=f"{main.document.number} {main.label} sha256={main.content_sha256}")
    if review_type == ReviewType.REGRESSION:
        carry_over_open_defects(session, actor, review)
    return review


def carry_over_open_defects(session: Session, actor: User, review: Review) -> list[Defect]:
    """Copy the open defects of the last review of the same document into this one."""
    main = review.main_object
    if main is None:
        return []
    previous = session.scalar(
        sa.select(Review).join(ReviewObject, ReviewObject.review_id == Review.id)
        .join(Revision, Revision.id == ReviewObject.revision_id)
        .where(ReviewObject.is_main.is_(True),
               Revision.document_id == main.revision.document_id,
               Review.id != review.id, Review.state != ReviewState.CANCELLED)
        .order_by(Review.id.desc()).limit(1))
    if previous is None:
        return []
    review.previous_review_id = previous.id
    carried: list[Defect] = []
    number = _last_number(session, review)
    for old in previous.defects:
        if not old.is_open:
            continue
        number += 1
        new = Defect(
            review=review, number=number, revision_id=main.revision_id,
            raised_by_id=old.raised_by_id, raised_at=old.raised_at, phase=Phase.CARRIED_OVER,
            chapter=old.chapter, section=old.section, page=old.page,
            description=old.description, severity=old.severity, category=old.category,
            author_response=old.author_response, disposition=Disposition.ACCEPTED,
            disposition_reason=old.disposition_reason, owner_id=old.owner_id,
            fix_due=old.fix_due, carried_from_id=old.id,
        )
        session.add(new)
        session.flush()
        old.carried_to_id = new.id
        trail.record(session, actor, "carry_over", DEFECT_TYPE, f"{review.ref}#{number}",
                     old=f"{previous.ref}#{old.number}", new=new.description[:200])
        carried.append(new)
    session.flush()
    return carried


PLAN_FIELDS = ("title", "system_version", "strategy", "deliverables", "regression_criteria",
               "planned_pages_per_hour", "meeting_date", "meeting_place", "agenda", "level",
               "review_type")


def update_plan(session: Session, actor: User, review: Review, **fields: Any) -> Review:
    _act(review, A.EDIT_PLAN, actor)
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise Invalid(_l("These fields cannot be changed here: %(f)s.", f=", ".join(unknown)))
    if "title" in fields and not str(fields["title"] or "").strip():
        raise Invalid(_l("Give the project or system name."))
    changes = {}
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.strip()
        changes[name] = (getattr(review, name), value)
        setattr(review, name, value)
    trail.record_changes(session, actor, "update", OBJECT_TYPE, review.ref, changes)
    session.flush()
    return review


def set_checklist(session: Session, actor: User, review: Review, items: Sequence[str]) -> Review:
    _act(review, A.EDIT_PLAN, actor)
    texts = [t.strip()[:500] for t in items if t.strip()]
    if not texts:
        raise Invalid(_l("The checklist needs at least one item."))
    old = "\n".join(i.text for i in review.checklist)
    review.checklist = [ChecklistItem(position=i + 1, text=t) for i, t in enumerate(texts)]
    trail.record(session, actor, "update", OBJECT_TYPE, review.ref, field="checklist",
                 old=old, new="\n".join(texts))
    session.flush()
    return review


def plan_hash(review: Review) -> str:
    payload = [
        review.ref, review.title, review.system_version, str(review.level),
        str(review.review_type), review.strategy, review.deliverables,
        review.regression_criteria, review.planned_pages_per_hour,
        str(review.meeting_date or ""), review.meeting_place, review.agenda,
        [[o.revision_id, o.content_sha256, o.is_main, o.pages] for o in review.objects],
        sorted([p.user_id, str(p.role)] for p in review.participants),
        [i.text for i in review.checklist],
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def report_hash(review: Review) -> str:
    payload = [
        plan_hash(review), str(review.conclusion or ""), review.conclusion_count,
        review.conclusion_notes, review.meeting_minutes,
        [[d.number, d.revision_id, str(d.severity), str(d.category), str(d.disposition),
          d.description, d.disposition_reason] for d in review.defects],
        [[i.text, i.checked] for i in review.checklist],
        sorted(
            ([p.user_id, p.attended, p.preparation_minutes] for p in review.participants),
            key=_participant_order,
        ),
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def _participant_order(row: list[Any]) -> tuple[int, bool, bool, bool, int]:
    # A person with two roles has two rows, one of them often without attendance or time:
    # None sorts first instead of being compared with a number (that was a 500).
    user_id, attended, minutes = row
    return (user_id, attended is not None, bool(attended), minutes is not None, minutes or 0)


def submit_plan(session: Session, actor: User, review: Review) -> Review:
    new = _act(review, A.SUBMIT_PLAN, actor)
    if not review.checklist:
        raise Invalid(_l("The plan needs a review checklist."))
    _set_state(session, actor, review, new)
    session.flush()
    return review


def approve_plan(session: Session, actor: User, review: Review, *, password: str,
                 content_sha256: str | None, comment: str = "") -> Review:
    """The general manager signs the plan he read: content_sha256 is its plan_hash as his
    page showed it; a plan changed since is refused with both hashes."""
    _check_plan_approver(session, actor, review, A.APPROVE_PLAN)
    new = _act(review, A.APPROVE_PLAN, actor)
    check_seen(content_sha256, plan_hash(review))
    sign(session, actor, password, Meaning.APPROVED, content_sha256=plan_hash(review),
         object_type="review_plan", object_id=review.id, comment=comment)
    review.plan_approved_at = utcnow()
    _set_state(session, actor, review, new, reason=comment)
    session.flush()
    return review


def return_plan(session: Session, actor: User, review: Review, *, reason: str) -> Review:
    _check_plan_approver(session, actor, review, A.RETURN_PLAN)
    new = _act(review, A.RETURN_PLAN, actor)
    if not reason.strip():
        raise Invalid(_l("Say what must change in the plan."))
    _set_state(session, actor, review, new, reason=reason.strip())
    session.flush()
    return review


def confirm_participation(session: Session, actor: User, review: Review) -> Review:
    _act(review, A.CONFIRM, actor)
    for p in review.participants:
        if p.user_id == actor.id and p.confirmed_at is None:
            p.confirmed_at = utcnow()
    trail.record(session, actor, "confirm", OBJECT_TYPE, review.ref, field="team",
                 new=actor.username)
    session.flush()
    return review


def unconfirmed(review: Review) -> list[User]:
    return [u for u in review.people() if not all(
        p.confirmed_at for p in review.participants if p.user_id == u.id)]


def publish(session: Session, actor: User, review: Review) -> Review:
    new = _act(review, A.PUBLISH, actor)
    if actor.id == review.leader_id:  # the leader confirms by publishing
        for p in review.participants:
            if p.user_id == actor.id and p.confirmed_at is None:
                p.confirmed_at = utcnow()
    waiting = unconfirmed(review)
    if waiting:
        raise Conflict(_l("Not every member of the team has confirmed the plan: %(names)s.",
                          names=", ".join(u.display_name for u in waiting)),
                       code="team_not_confirmed")
    review.published_at = utcnow()
    _set_state(session, actor, review, new)
    session.flush()
    return review


def log_preparation(session: Session, actor: User, review: Review, minutes: int) -> Review:
    _act(review, A.LOG_PREPARATION, actor)
    if minutes < 0 or minutes > 60 * 24 * 7:
        raise Invalid(_l("Preparation time must be between 0 and a week, in minutes."))
    for p in review.participants:
        if p.user_id == actor.id:
            old = p.preparation_minutes
            p.preparation_minutes = minutes
            trail.record(session, actor, "update", OBJECT_TYPE, review.ref,
                         field=f"preparation_minutes:{actor.username}:{p.role}", old=old,
                         new=minutes)
            break
    session.flush()
    return review


# -- the meeting --------------------------------------------------------------------------

def start_meeting(session: Session, actor: User, review: Review, *, place: str | None = None,
                  agenda: str | None = None) -> Review:
    new = _act(review, A.START_MEETING, actor)
    # The approved plan is signed: the meeting's own place and agenda are kept beside it.
    if place is not None and place.strip() and place.strip() != review.meeting_place:
        trail.record(session, actor, "update", OBJECT_TYPE, review.ref, field="held_place",
                     old=review.meeting_place, new=place.strip())
        review.held_place = place.strip()
    if agenda is not None and agenda.strip() and agenda.strip() != review.agenda:
        trail.record(session, actor, "update", OBJECT_TYPE, review.ref, field="held_agenda",
                     old=review.agenda, new=agenda.strip())
        review.held_agenda = agenda.strip()
    review.meeting_started_at = utcnow()
    _set_state(session, actor, review, new)
    session.flush()
    return review


def record_attendance(session: Session, actor: User, review: Review,
                      present_user_ids: Sequence[int]) -> Review:
    _act(review, A.RECORD_ATTENDANCE, actor)
    present = set(present_user_ids)
    for p in review.participants:
        old = p.attended
        p.attended = p.user_id in present
        if old != p.attended:
            trail.record(session, actor, "update", OBJECT_TYPE, review.ref,
                         field=f"attended:{p.user.username}:{p.role}", old=old, new=p.attended)
    session.flush()
    return review


def close_meeting(session: Session, actor: User, review: Review,
                  minutes: int | None = None) -> Review:
    new = _act(review, A.CLOSE_MEETING, actor)
    review.meeting_ended_at = utcnow()
    if minutes is None and review.meeting_started_at is not None:
        elapsed = review.meeting_ended_at - review.meeting_started_at
        minutes = max(1, round(elapsed.total_seconds() / 60))
    if minutes is not None and minutes < 0:
        raise Invalid(_l("The meeting time cannot be negative."))
    trail.record(session, actor, "update", OBJECT_TYPE, review.ref, field="meeting_minutes",
                 old=review.meeting_minutes, new=minutes)
    review.meeting_minutes = minutes
    if all(p.attended is None for p in review.participants):
        for p in review.participants:  # nobody recorded attendance: the team was there
            p.attended = True
    _set_state(session, actor, review, new)
    session.flush()
    return review


# -- the defect log -----------------------------------------------------------------------

def _last_number(session: Session, review: Review) -> int:
    session.flush()
    return int(session.scalar(sa.select(sa.func.max(Defect.number))
                              .where(Defect.review_id == review.id)) or 0)


def _pinned(review: Review, revision_id: int | None) -> ReviewObject:
    for obj in review.objects:
        if (revision_id is None and obj.is_main) or obj.revision_id == revision_id:
            return obj
    raise Invalid(_l("That revision is not one of the documents under this review."),
                  code="revision_not_under_review")


def add_defect(
    session: Session,
    actor: User,
    review: Review,
    *,
    description: str,
    severity: Severity,
    category: Category,
    revision_id: int | None = None,
    raised_by: User | None = None,
    chapter: str = "",
    section: str = "",
    page: str = "",
) -> Defect:
    """Log a defect: a reviewer in pre-review, or the leader / recorder for the one who
    raised it in the meeting."""
    _act(review, A.RAISE_DEFECT, actor)
    raised_by = raised_by or actor
    if raised_by.id != actor.id and not (actor.id == review.leader_id
                                         or actor.id in review.user_ids(ParticipantRole.RECORDER)):
        raise Forbidden(_l("Only the leader or the recorder logs defects for others."))
    if raised_by.id not in {p.user_id for p in review.participants}:
        raise Invalid(_l("%(name)s is not on this review's team.", name=raised_by.display_name))
    obj = _pinned(review, revision_id)
    if obj.revision.state != RevState.IN_REVIEW:
        raise Conflict(_l("%(number)s %(label)s is not under review (it is %(state)s); defects "
                          "are raised only against a revision under review.",
                          number=obj.revision.document.number, label=obj.revision.label,
                          state=REVISION_STATE_LABELS[obj.revision.state]),
                       code="revision_not_under_review")
    description = description.strip()
    if not description:
        raise Invalid(_l("Describe the defect."))
    number = _last_number(session, review) + 1
    defect = Defect(
        review=review, number=number, revision_id=obj.revision_id, raised_by_id=raised_by.id,
        raised_by=raised_by, raised_at=utcnow(),
        phase=Phase.MEETING if review.state == ReviewState.MEETING else Phase.PRE_REVIEW,
        chapter=chapter.strip()[:40], section=section.strip()[:40], page=page.strip()[:20],
        description=description, severity=Severity(severity), category=Category(category),
        disposition=Disposition.OPEN,
    )
    session.add(defect)
    session.flush()
    trail.record(session, actor, "create", DEFECT_TYPE, f"{review.ref}#{number}",
                 new=f"[{defect.severity}/{defect.category}] {description[:500]}",
                 reason=f"raised by {raised_by.username}")
    return defect


def edit_defect(session: Session, actor: User, defect: Defect, **fields: Any) -> Defect:
    """Correct the wording, location or classification (a defect or a suggestion)."""
    review = defect.review
    if review.state not in (ReviewState.PRE_REVIEW, ReviewState.MEETING,
                             ReviewState.REPORTING):
        _act(review, A.DISPOSE, actor)  # raises the state error
    chair = actor.id == review.leader_id or actor.id in review.user_ids(ParticipantRole.RECORDER)
    if not chair and not (actor.id == defect.raised_by_id and defect.disposition ==
                          Disposition.OPEN):
        raise Forbidden(_l("Only the leader, the recorder or whoever raised it may change "
                           "a defect."))
    allowed_fields = {"description", "severity", "category", "chapter", "section", "page"}
    unknown = set(fields) - allowed_fields
    if unknown:
        raise Invalid(_l("These fields cannot be changed here: %(f)s.", f=", ".join(unknown)))
    changes = {}
    for name, value in fields.items():
        if name in ("severity", "category"):
            choices = Severity if name == "severity" else Category
            if not isinstance(value, str) or value not in {str(c) for c in choices}:
                raise Invalid(_l("%(name)s must be one of: %(choices)s.", name=name,
                                 choices=", ".join(str(c) for c in choices)))
            value = choices(value)
        else:
            value = str(value or "").strip()
        if name == "description" and not value:
            raise Invalid(_l("Describe the defect."))
        changes[name] = (getattr(defect, name), value)
        setattr(defect, name, value)
    trail.record_changes(session, actor, "update", DEFECT_TYPE, defect_ref(defect), changes)
    session.flush()
    return defect


def respond(session: Session, actor: User, defect: Defect, response: str) -> Defect:
    _act(defect.review, A.RESPOND, actor)
    old = defect.author_response
    defect.author_response = response.strip()
    trail.record(session, actor, "update", DEFECT_TYPE, defect_ref(defect),
                 field="author_response", old=old, new=defect.author_response)
    session.flush()
    return defect


def dispose(session: Session, actor: User, defect: Defect, disposition: Disposition | str,
            reason: str = "", severity: Severity | str | None = None) -> Defect:
    """Accept or reject a defect (with a reason), or mark it a duplicate or withdrawn."""
    _act(defect.review, A.DISPOSE, actor)
    try:
        disposition = Disposition(disposition)
    except ValueError:
        raise Invalid(_l("Unknown disposition.")) from None
    reason = reason.strip()
    if disposition not in (Disposition.ACCEPTED, Disposition.OPEN) and not reason:
        raise Invalid(_l("Give the reason for this disposition."), code="reason_required")
    if defect.verified_at is not None:
        raise Conflict(_l("Defect %(no)s has been verified; its disposition is final.",
                          no=defect.number))
    changes: dict[str, tuple[Any, Any]] = {
        "disposition": (defect.disposition, disposition),
        "disposition_reason": (defect.disposition_reason, reason),
    }
    if severity:
        changes["severity"] = (defect.severity, Severity(severity))
        defect.severity = Severity(severity)
    defect.disposition = disposition
    defect.disposition_reason = reason
    trail.record_changes(session, actor, "dispose", DEFECT_TYPE, defect_ref(defect), changes,
                         reason=reason)
    session.flush()
    return defect


def track(session: Session, actor: User, defect: Defect, *, owner: User,
          fix_due: date | None) -> Defect:
    """Name who fixes an accepted defect and by when."""
    _act(defect.review, A.TRACK, actor)
    if defect.disposition != Disposition.ACCEPTED:
        raise Conflict(_l("Only an accepted defect is tracked to a fix."))
    if fix_due is not None and fix_due < defect.raised_at.date():
        raise Invalid(_l("The promised fix date %(due)s is before the defect was raised "
                         "(%(raised)s).", due=fix_due, raised=defect.raised_at.date()),
                      code="fix_date_before_raised")
    if not owner.active:
        raise Invalid(_l("%(name)s is not an active user.", name=owner.display_name))
    trail.record_changes(session, actor, "track", DEFECT_TYPE, defect_ref(defect), {
        "owner": (defect.owner.username if defect.owner else None, owner.username),
        "fix_due": (defect.fix_due, fix_due),
    })
    defect.owner_id = owner.id
    defect.owner = owner
    defect.fix_due = fix_due
    session.flush()
    return defect


def mark_fixed(session: Session, actor: User, defect: Defect,
               revision: Revision | None = None) -> Defect:
    """The owner or author says which revision fixes the defect."""
    _act(defect.review, A.FIX, actor, defect)
    if defect.disposition != Disposition.ACCEPTED:
        raise Conflict(_l("Only an accepted defect is fixed."))
    if defect.verified_at is not None:
        raise Conflict(_l("Defect %(no)s is already verified.", no=defect.number))
    revision = revision or defect.revision
    if revision.document_id != defect.revision.document_id:
        raise Invalid(_l("The fix must be a revision of the same document."))
    defect.fixed_in_revision_id = revision.id
    defect.fixed_in_revision = revision
    defect.fixed_at = utcnow()
    trail.record(session, actor, "fix", DEFECT_TYPE, defect_ref(defect),
                 field="fixed_in_revision", new=f"{revision.document.number} {revision.label}",
                 reason=revision.content_sha256)
    session.flush()
    return defect


def verify(session: Session, actor: User, defect: Defect) -> Defect:
    """Someone other than whoever raised or fixed the defect confirms the fix."""
    _act(defect.review, A.VERIFY, actor)
    if defect.disposition != Disposition.ACCEPTED:
        raise Conflict(_l("Only an accepted defect is verified."))
    if defect.fixed_at is None:
        raise Conflict(_l("Defect %(no)s is not marked fixed yet.", no=defect.number))
    if defect.verified_at is not None:
        raise Conflict(_l("Defect %(no)s is already verified.", no=defect.number))
    authors = defect.review.user_ids(ParticipantRole.AUTHOR)
    if actor.id in {defect.raised_by_id, defect.owner_id} | authors:
        raise Forbidden(_l("You raised or fixed defect %(no)s; someone else must verify it.",
                           no=defect.number), code="self_verification")
    defect.verified_by_id = actor.id
    defect.verified_by = actor
    defect.verified_at = utcnow()
    trail.record(session, actor, "verify", DEFECT_TYPE, defect_ref(defect),
                 field="verified_by", new=actor.username)
    session.flush()
    return defect


# -- checklist, conclusion, report --------------------------------------------------------

def tick(session: Session, actor: User, review: Review, item_id: int, checked: bool,
         note: str | None = None) -> ChecklistItem:
    _act(review, A.TICK_CHECKLIST, actor)
    item = next((i for i in review.checklist if i.id == item_id), None)
    if item is None:
        raise NotFound(_l("This review has no such checklist item."))
    if item.checked != checked:
        trail.record(session, actor, "tick", OBJECT_TYPE, review.ref,
                     field=f"checklist:{item.position}", old=item.checked, new=checked)
    item.checked = checked
    item.checked_by_id = actor.id if checked else None
    item.checked_at = utcnow() if checked else None
    if note is not None:
        item.note = note.strip()[:500]
    session.flush()
    return item


def conclude(session: Session, actor: User, review: Review, conclusion: Conclusion | str,
             count: int | None = None, notes: str = "") -> Review:
    _act(review, A.CONCLUDE, actor)
    try:
        conclusion = Conclusion(conclusion)
    except ValueError:
        raise Invalid(_l("The conclusion is none, minor, major or a number.")) from None
    if conclusion == Conclusion.NUMBER and (count is None or count < 1):
        raise Invalid(_l("Give the number of changes needed."))
    if conclusion != Conclusion.NUMBER:
        count = None
    trail.record_changes(session, actor, "conclude", OBJECT_TYPE, review.ref, {
        "conclusion": (review.conclusion, conclusion),
        "conclusion_count": (review.conclusion_count, count),
        "conclusion_notes": (review.conclusion_notes, notes.strip()),
    })
    review.conclusion = conclusion
    review.conclusion_count = count
    review.conclusion_notes = notes.strip()
    session.flush()
    return review


def _report_ready(review: Review) -> None:
    unticked = [i for i in review.checklist if not i.checked]
    if unticked:
        raise Conflict(_l("The checklist has unticked items: %(items)s.",
                          items="; ".join(f"{i.position}. {i.text}" for i in unticked)),
                       code="checklist_incomplete")
    undecided = [d for d in review.defects if d.disposition == Disposition.OPEN]
    if undecided:
        raise Conflict(_l("Defects without a disposition: %(nos)s.",
                          nos=", ".join(str(d.number) for d in undecided)),
                       code="defects_undecided")
    if review.conclusion is None:
        raise Conflict(_l("Record the conclusion first."), code="no_conclusion")


def submit_report(session: Session, actor: User, review: Review) -> Review:
    new = _act(review, A.SUBMIT_REPORT, actor)
    _report_ready(review)
    _set_state(session, actor, review, new)
    session.flush()
    return review


def approve_report(session: Session, actor: User, review: Review, *, password: str,
                   content_sha256: str | None, comment: str = "") -> Review:
    """Like approve_plan, for the report (report_hash as the approver's page showed it)."""
    _check_plan_approver(session, actor, review, A.APPROVE_REPORT)
    new = _act(review, A.APPROVE_REPORT, actor)
    _report_ready(review)
    check_seen(content_sha256, report_hash(review))
    sign(session, actor, password, Meaning.APPROVED, content_sha256=report_hash(review),
         object_type="review_report", object_id=review.id, comment=comment)
    review.report_approved_at = utcnow()
    _set_state(session, actor, review, new, reason=comment)
    session.flush()
    return review


def return_report(session: Session, actor: User, review: Review, *, reason: str) -> Review:
    _check_plan_approver(session, actor, review, A.RETURN_REPORT)
    new = _act(review, A.RETURN_REPORT, actor)
    if not reason.strip():
        raise Invalid(_l("Say what must change in the report."))
    _set_state(session, actor, review, new, reason=reason.strip())
    session.flush()
    return review


def decide_regression(session: Session, actor: User, review: Review, *, needed: bool,
                      reason: str = "", lessons: str = "") -> Review:
    _act(review, A.DECIDE_REGRESSION, actor)
    if needed and not reason.strip():
        raise Invalid(_l("Say what the regression review must cover."))
    trail.record_changes(session, actor, "decide", OBJECT_TYPE, review.ref, {
        "regression_needed": (review.regression_needed, needed),
        "regression_reason": (review.regression_reason, reason.strip()),
        "lessons_learned": (review.lessons_learned, lessons.strip()),
    })
    review.regression_needed = needed
    review.regression_reason = reason.strip()
    review.lessons_learned = lessons.strip()
    session.flush()
    return review


def archive(session: Session, actor: User, review: Review, reason: str = "") -> Review:
    new = _act(review, A.ARCHIVE, actor)
    if review.regression_needed is None:
        raise Conflict(_l("Decide whether a regression review is needed before archiving."),
                       code="no_regression_decision")
    if not review.regression_needed:
        still_open = [d for d in review.defects if d.blocks_approval]
        if still_open:
            raise Conflict(_l("Accepted defects are still open: %(nos)s. Verify them, or "
                              "decide on a regression review that takes them over.",
                              nos=", ".join(str(d.number) for d in still_open)),
                           code="defects_open")
    review.closed_at = utcnow()
    review.close_reason = reason.strip()
    _set_state(session, actor, review, new, reason=reason.strip())
    session.flush()
    return review


def cancel(session: Session, actor: User, review: Review, *, reason: str) -> Review:
    new = _act(review, A.CANCEL, actor)
    if not reason.strip():
        raise Invalid(_l("Say why the review is cancelled."))
    review.closed_at = utcnow()
    review.close_reason = reason.strip()
    _set_state(session, actor, review, new, reason=reason.strip())
    session.flush()
    return review


def apply_move(session: Session, actor: User, review: Review, action: ReviewAction | str,
               *, password: str = "", reason: str = "", minutes: int | None = None,
               content_sha256: str | None = None) -> Review:
    """One entry point for the transition buttons and the API."""
    try:
        action = ReviewAction(action)
    except ValueError:
        raise Invalid(_l("Unknown action.")) from None
    if action == A.SUBMIT_PLAN:
        return submit_plan(session, actor, review)
    if action == A.APPROVE_PLAN:
        return approve_plan(session, actor, review, password=password,
                            content_sha256=content_sha256, comment=reason)
    if action == A.RETURN_PLAN:
        return return_plan(session, actor, review, reason=reason)
    if action == A.PUBLISH:
        return publish(session, actor, review)
    if action == A.START_MEETING:
        return start_meeting(session, actor, review)
    if action == A.CLOSE_MEETING:
        return close_meeting(session, actor, review, minutes)
    if action == A.SUBMIT_REPORT:
        return submit_report(session, actor, review)
    if action == A.APPROVE_REPORT:
        return approve_report(session, actor, review, password=password,
                              content_sha256=content_sha256, comment=reason)
    if action == A.RETURN_REPORT:
        return return_report(session, actor, review, reason=reason)
    if action == A.ARCHIVE:
        return archive(session, actor, review, reason)
    if action == A.CANCEL:
        return cancel(session, actor, review, reason=reason)
    if action == A.CONFIRM:
        return confirm_participation(session, actor, review)
    raise Invalid(_l("This action is not a transition; use its own form."))


# -- the gate on document approval -----------------------------------------------------------

def blocking_defects(session: Session, revision_id: int) -> list[Defect]:
    """Accepted serious or general defects against this revision, not yet verified."""
    return list(session.scalars(
        sa.select(Defect).join(Review, Review.id == Defect.review_id)
        .where(Defect.revision_id == revision_id,
               Defect.disposition == Disposition.ACCEPTED,
               Defect.severity.in_([Severity.SERIOUS, Severity.GENERAL]),
               Defect.verified_at.is_(None), Defect.carried_to_id.is_(None),
               Review.state != ReviewState.CANCELLED)
        .order_by(Defect.review_id, Defect.number)))


# Review states in which the review of a revision is still under way: its report has not
# been approved yet (follow-up, archive and cancellation come after or instead).
REPORT_PENDING = frozenset({ReviewState.PLANNING, ReviewState.PLAN_SUBMITTED,
                            ReviewState.PLAN_APPROVED, ReviewState.PRE_REVIEW,
                            ReviewState.MEETING, ReviewState.REPORTING,
                            ReviewState.REPORT_SUBMITTED})


def open_reviews_of(session: Session, revision_id: int) -> list[Review]:
    """Reviews of this revision whose report is not approved yet."""
    return list(session.scalars(
        sa.select(Review).join(ReviewObject, ReviewObject.review_id == Review.id)
        .where(ReviewObject.revision_id == revision_id, Review.state.in_(REPORT_PENDING))
        .order_by(Review.id)).unique())


def undisposed_defects(session: Session, revision_id: int) -> list[Defect]:
    """Serious or general defects against this revision nobody has decided on yet."""
    return list(session.scalars(
        sa.select(Defect).join(Review, Review.id == Defect.review_id)
        .where(Defect.revision_id == revision_id,
               Defect.disposition == Disposition.OPEN,
               Defect.severity.in_([Severity.SERIOUS, Severity.GENERAL]),
               Defect.carried_to_id.is_(None),
               Review.state != ReviewState.CANCELLED)
        .order_by(Defect.review_id, Defect.number)))


# -- counts ----------------------------------------------------------------------------------

def counts(review: Review) -> dict[str, Any]:
    """What meeting mode shows live."""
    by_severity = {str(s): 0 for s in Severity}
    by_disposition = {str(d): 0 for d in Disposition}
    for d in review.defects:
        by_severity[str(d.severity)] += 1
        by_disposition[str(d.disposition)] += 1
    return {
        "defects": len(review.defects),
        "severity": by_severity,
        "disposition": by_disposition,
        "open": sum(1 for d in review.defects if d.is_open),
        "checklist_ticked": sum(1 for i in review.checklist if i.checked),
        "checklist_total": len(review.checklist),
    }
