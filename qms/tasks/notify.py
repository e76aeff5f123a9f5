"""Mail for document work: reviewers when a revision is submitted, the approver when every
reviewer has agreed, document control when a revision is approved. Written in the
transaction, sent after the commit (qms.mail)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import events
from qms.auth.models import User, UserRole
from qms.auth.permissions import Role
from qms.documents.lifecycle import RevState
from qms.documents.models import ReviewDecision, Revision
from qms.mail.service import queue_mail


@events.subscribe(events.REVISION_CHANGED)
def on_revision_changed(session: Session, revision: Revision) -> None:
    number, label, title = revision.document.number, revision.label, revision.title
    decisions = [a.decision for a in revision.reviews]
    if revision.state == RevState.IN_REVIEW and decisions and all(
            d == ReviewDecision.PENDING for d in decisions):
        for assignment in revision.reviews:
            queue_mail(session, assignment.reviewer,
                       _l("Please review %(number)s %(label)s", number=number, label=label),
                       _l("%(number)s %(title)s, revision %(label)s, waits for your review.",
                          number=number, title=title, label=label))
    elif revision.state == RevState.IN_REVIEW and decisions and all(
            d == ReviewDecision.AGREED for d in decisions):
        if revision.approver is not None:
            queue_mail(session, revision.approver,
                       _l("Please approve %(number)s %(label)s", number=number, label=label),
                       _l("Every reviewer has agreed to %(number)s %(title)s, revision "
                          "%(label)s. It waits for your approval.",
                          number=number, title=title, label=label))
    elif revision.state == RevState.APPROVED and revision.issued_at is None:
        clerks = session.scalars(sa.select(User).join(UserRole).where(
            UserRole.role == Role.QUALITY_CLERK, User.active.is_(True))).unique().all()
        for clerk in clerks:
            queue_mail(session, clerk,
                       _l("%(number)s %(label)s approved: to issue", number=number, label=label),
                       _l("%(number)s %(title)s, revision %(label)s, has been approved and "
                          "waits to be issued.", number=number, title=title, label=label))
