"""What reviews put on people's task lists and on the review leader's home page."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.home import Panel, panel_provider
from qms.reviews.lifecycle import CLOSED, ReviewState
from qms.reviews.models import Defect, Disposition, Participant, ParticipantRole, Review
from qms.tasks.registry import Task, task_provider


def _url(review: Review, endpoint: str = "reviews.detail") -> str:
    return url_for(endpoint, review_id=review.id)


@task_provider
def review_tasks(session: Session, user: User) -> list[Task]:
    today = clock.today()
    tasks: list[Task] = []
    # Plans and reports waiting for this approver.
    for review in session.scalars(sa.select(Review).where(
            Review.approver_id == user.id,
            Review.state.in_([ReviewState.PLAN_SUBMITTED, ReviewState.REPORT_SUBMITTED]))):
        title = (_l("Approve the review plan") if review.state == ReviewState.PLAN_SUBMITTED
                 else _l("Approve the review report"))
        tasks.append(Task("approve", title, _url(review), review.ref))
    # The team's steps: one task per step and review, however many roles one person holds
    # on it (a reviewer who also records confirms, prepares and attends once).
    mine: dict[int, tuple[Review, list[Participant]]] = {}
    for review, part in session.execute(
        sa.select(Review, Participant).join(Participant, Participant.review_id == Review.id)
        .where(Participant.user_id == user.id, Review.state.not_in(list(CLOSED)))
        .order_by(Review.id, Participant.id)).all():
        mine.setdefault(review.id, (review, []))[1].append(part)
    for review, parts in mine.values():
        roles = {p.role for p in parts}
        if ParticipantRole.LEADER in roles:
            step = {ReviewState.PLANNING: _l("Draft the review plan and checklist"),
                    ReviewState.PLAN_APPROVED: _l("Publish the approved review plan"),
                    ReviewState.REPORTING: _l("Write the review report"),
                    ReviewState.FOLLOW_UP: _l("Follow up the accepted defects")}.get(review.state)
            if step:
                tasks.append(Task("review", step, _url(review), review.ref))
        elif review.state == ReviewState.PLAN_APPROVED and any(
                p.confirmed_at is None for p in parts):
            tasks.append(Task("review", _l("Confirm the review plan"), _url(review), review.ref))
        # preparation time is the person's, kept on one of their rows
        if review.state in (ReviewState.PRE_REVIEW, ReviewState.MEETING) \
                and roles - {ParticipantRole.AUTHOR} \
                and all(p.preparation_minutes is None for p in parts):
            tasks.append(Task("review", _l("Pre-review the documents and log your time"),
                              _url(review), review.ref, due=review.meeting_date))
        if review.state == ReviewState.PRE_REVIEW and review.meeting_date is not None:
            tasks.append(Task("meeting", _l("Attend the review meeting"),
                              _url(review, "reviews.meeting"), review.ref,
                              due=review.meeting_date, overdue=review.meeting_date < today))
    # Defects to fix (owner) and to verify (leader).
    for defect in session.scalars(sa.select(Defect).where(
            Defect.owner_id == user.id, Defect.disposition == Disposition.ACCEPTED,
            Defect.fixed_at.is_(None), Defect.carried_to_id.is_(None))):
        tasks.append(Task("defect", _l("Fix defect %(no)s", no=defect.number),
                          _url(defect.review), f"{defect.review.ref}#{defect.number}",
                          due=defect.fix_due,
                          overdue=bool(defect.fix_due and defect.fix_due < today)))
    for defect in session.scalars(sa.select(Defect).join(Review).where(
            Review.leader_id == user.id, Defect.disposition == Disposition.ACCEPTED,
            Defect.fixed_at.is_not(None), Defect.verified_at.is_(None),
            Defect.carried_to_id.is_(None))):
        tasks.append(Task("defect", _l("Verify the fix of defect %(no)s", no=defect.number),
                          _url(defect.review), f"{defect.review.ref}#{defect.number}"))
    return tasks


@panel_provider
def leader_panel(session: Session, user: User) -> list[Panel]:
    if not user.can(Permission.LEAD_REVIEWS):
        return []
    rows: list[tuple[Any, Any]] = []
    led = sa.select(Review.state, sa.func.count()).where(
        Review.leader_id == user.id, Review.state.not_in(list(CLOSED))).group_by(Review.state)
    from qms.reviews.models import STATE_LABELS

    for state, n in session.execute(led):
        rows.append((STATE_LABELS[ReviewState(state)], n))
    open_defects = session.scalar(sa.select(sa.func.count()).select_from(Defect).join(Review)
                                  .where(Review.leader_id == user.id,
                                         Defect.disposition == Disposition.ACCEPTED,
                                         Defect.verified_at.is_(None),
                                         Defect.carried_to_id.is_(None))) or 0
    rows.append((_l("Accepted defects still open"), open_defects))
    return [Panel(title=_l("My reviews"), order=20, rows=rows,
                  links=[(_l("Reviews"), "reviews.index"), (_l("Plan a review"), "reviews.new"),
                         (_l("Review metrics"), "reviews.metrics")])]
