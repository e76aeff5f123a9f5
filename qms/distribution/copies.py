"""Controlled copies: issue (发放), receipt, and recall (收回) of every copy out there."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.db import utcnow
from qms.distribution.models import OUTCOME_LABELS, ControlledCopy, Medium, RecallOutcome
from qms.documents import visibility
from qms.documents.lifecycle import RevState
from qms.documents.models import CONFIDENTIALITY_LABELS, STATE_LABELS, Document, Revision
from qms.errors import Conflict, Forbidden, Invalid
from qms.mail.service import queue_mail
from qms.trail import labels as trail_labels
from qms.trail import service as trail


def copy_ref(copy: ControlledCopy) -> str:
    return f"{copy.revision.document.number} {copy.revision.label} #{copy.copy_number}"


# Why a copy is recalled, stored as a code with its labels (rendered in the reader's
# language by recall_reason_text), not as an English sentence.
RECALL_SUPERSEDED = "superseded"
RECALL_WITHDRAWN = "withdrawn"
RECALL_BY_CONTROL = "control"
_LEGACY = (
    (re.compile(r"^(?P<old>\S+) superseded by (?P<new>\S+)$"), RECALL_SUPERSEDED),
    (re.compile(r"^(?P<old>\S+) withdrawn(?:: (?P<why>.*))?$", re.S), RECALL_WITHDRAWN),
    (re.compile(r"^recalled by document control$"), RECALL_BY_CONTROL),
)


def superseded_reason(old: str, new: str) -> str:
    return f"{RECALL_SUPERSEDED}|{old}|{new}"


def withdrawn_reason(label: str, why: str) -> str:
    return f"{RECALL_WITHDRAWN}|{label}|{why.strip()}"


def recall_reason_text(stored: str) -> str:
    """A stored recall reason in the reader's language; free text (a clerk's note) as is."""
    code, *parts = stored.split("|", 2)
    values: dict[str, str] = {}
    if (code in (RECALL_SUPERSEDED, RECALL_WITHDRAWN) and parts) or stored == RECALL_BY_CONTROL:
        names = ("old", "new") if code == RECALL_SUPERSEDED else ("old", "why")
        values = dict(zip(names, parts, strict=False))
    else:
        for pattern, legacy_code in _LEGACY:
            found = pattern.match(stored)
            if found:
                code, values = legacy_code, {k: v or "" for k, v in found.groupdict().items()}
                break
        else:
            return stored
    if code == RECALL_SUPERSEDED:
        return _("Revision %(old)s superseded by %(new)s",
                 old=values.get("old", ""), new=values.get("new", ""))
    if code == RECALL_WITHDRAWN:
        if values.get("why"):
            return _("Revision %(old)s withdrawn: %(why)s",
                     old=values.get("old", ""), why=values["why"])
        return _("Revision %(old)s withdrawn", old=values.get("old", ""))
    return _("Recalled by document control")


trail_labels.reason_text("controlled_copy", recall_reason_text)


def _require_control(actor: User) -> None:
    if not actor.can(Permission.ISSUE_DOCUMENTS):
        raise Forbidden(_l("Only document control may issue or recall controlled copies."))


def issue_copy(session: Session, actor: User, revision: Revision, *,
               holder_department: Department | None = None, holder_user: User | None = None,
               medium: Medium = Medium.PAPER, location: str = "") -> ControlledCopy:
    """Number and register a new copy of an effective (or issued, soon effective) revision."""
    _require_control(actor)
    document = revision.document
    if revision.state in (RevState.SUPERSEDED, RevState.OBSOLETE, RevState.CANCELLED):
        raise Conflict(_l("Revision %(label)s of %(number)s is %(state)s: no copy of it may be "
                          "issued. Issue a copy of the effective revision instead.",
                          label=revision.label, number=document.number,
                          state=STATE_LABELS[revision.state]), code="revision_not_current")
    if revision.state != RevState.EFFECTIVE and not (
            revision.state == RevState.APPROVED and revision.issued_at is not None):
        raise Conflict(_l("Revision %(label)s of %(number)s has not been issued yet; copies are "
                          "made only of issued revisions.", label=revision.label,
                          number=document.number), code="revision_not_issued")
    if holder_department is None and holder_user is None:
        raise Invalid(_l("Name who holds the copy: a department or a person."))
    if holder_user is not None and not visibility.can_view(session, holder_user, revision,
                                                           block_history=False):
        raise Invalid(_l("%(holder)s may not read %(number)s (%(level)s); no copy of it may be "
                         "issued to them.", holder=holder_user.display_name,
                         number=document.number,
                         level=CONFIDENTIALITY_LABELS[document.confidentiality]),
                      code="holder_not_cleared")
    if holder_department is not None and not visibility.department_may_hold(
            session, holder_department, document):
        raise Invalid(_l("%(holder)s may not hold %(number)s (%(level)s): a confidential "
                         "document's copies stay in its own department and those above it.",
                         holder=holder_department.name, number=document.number,
                         level=CONFIDENTIALITY_LABELS[document.confidentiality]),
                      code="holder_not_cleared")
    # Lock the document row so two clerks never hand out the same copy number.
    session.execute(sa.select(Document.id).where(Document.id == document.id).with_for_update())
    last = session.scalar(sa.select(sa.func.max(ControlledCopy.copy_number))
                          .where(ControlledCopy.revision_id == revision.id)) or 0
    copy = ControlledCopy(
        revision=revision, copy_number=last + 1, holder_department=holder_department,
        holder_user=holder_user, medium=medium, location=location.strip(),
        issued_by_id=actor.id, issued_at=utcnow(),
    )
    session.add(copy)
    session.flush()
    trail.record(session, actor, "issue_copy", "controlled_copy", copy_ref(copy),
                 new=f"{copy.holder_name} ({medium})")
    if holder_user is not None:
        queue_mail(
            session, holder_user,
            _l("Controlled copy %(ref)s issued to you", ref=copy_ref(copy)),
            _l("Controlled copy No. %(n)d of %(number)s %(title)s, revision %(label)s, has been "
               "issued to you. Please confirm receipt in your task list.",
               n=copy.copy_number, number=document.number, title=revision.title,
               label=revision.label),
        )
    return copy


def may_confirm_receipt(user: User, copy: ControlledCopy) -> bool:
    if user.can(Permission.ISSUE_DOCUMENTS):
        return True
    if copy.holder_user_id is not None:
        return copy.holder_user_id == user.id
    return copy.holder_department_id is not None and copy.holder_department_id == user.department_id


def confirm_receipt(session: Session, actor: User, copy: ControlledCopy) -> ControlledCopy:
    """The holder signs for receipt (or the clerk records the paper receipt)."""
    if not may_confirm_receipt(actor, copy):
        raise Forbidden(_l("Only the holder of the copy may confirm its receipt."))
    if copy.received_at is not None:
        raise Conflict(_l("Receipt of copy %(ref)s was already confirmed.", ref=copy_ref(copy)),
                       code="already_received")
    if copy.recall_outcome is not None:
        raise Conflict(_l("Copy %(ref)s has been recalled.", ref=copy_ref(copy)),
                       code="already_recalled")
    copy.received_at = utcnow()
    copy.received_by_id = actor.id
    session.flush()
    trail.record(session, actor, "receive_copy", "controlled_copy", copy_ref(copy),
                 field="received_at", new=copy.received_at)
    return copy


def request_recall(session: Session, actor: User | None, copy: ControlledCopy,
                   reason: str) -> bool:
    """Put a copy on the recall list. False when it is already on it."""
    if copy.recall_outcome is not None:
        raise Conflict(_l("Copy %(ref)s was already recalled.", ref=copy_ref(copy)),
                       code="already_recalled")
    if copy.recall_requested_at is not None:
        return False
    copy.recall_requested_at = utcnow()
    copy.recall_reason = reason.strip()
    session.flush()
    trail.record(session, actor, "request_recall", "controlled_copy", copy_ref(copy),
                 field="recall_requested_at", new=copy.recall_requested_at, reason=reason)
    if copy.holder_user is not None:
        revision = copy.revision
        queue_mail(
            session, copy.holder_user,
            _l("Please return controlled copy %(ref)s", ref=copy_ref(copy)),
            _l("Copy No. %(n)d of %(number)s %(title)s, revision %(label)s, is no longer valid "
               "(%(reason)s). Return it to the quality clerk or have it destroyed.",
               n=copy.copy_number, number=revision.document.number, title=revision.title,
               label=revision.label, reason=recall_reason_text(reason)),
        )
    return True


def recall_outstanding(session: Session, actor: User | None, document: Document,
                       reason: str, *, keep: Revision | None = None) -> list[ControlledCopy]:
    """Every copy of the document still out (except copies of `keep`) goes on the recall list."""
    stmt = (sa.select(ControlledCopy).join(ControlledCopy.revision)
            .where(Revision.document_id == document.id,
                   ControlledCopy.recall_outcome.is_(None),
                   ControlledCopy.recall_requested_at.is_(None))
            .order_by(ControlledCopy.revision_id, ControlledCopy.copy_number))
    if keep is not None:
        stmt = stmt.where(ControlledCopy.revision_id != keep.id)
    listed = [c for c in session.scalars(stmt) if request_recall(session, actor, c, reason)]
    if listed:
        _tell_document_control(session, document, listed, reason)
    return listed


def _tell_document_control(session: Session, document: Document, copies: list[ControlledCopy],
                           reason: str) -> None:
    from qms.auth.models import UserRole
    from qms.auth.permissions import Role

    clerks = session.scalars(sa.select(User).join(UserRole).where(
        UserRole.role == Role.QUALITY_CLERK, User.active.is_(True))).unique().all()
    refs = "\n".join(f"- {copy_ref(c)}: {c.holder_name}" for c in copies)
    for clerk in clerks:
        queue_mail(
            session, clerk,
            _l("%(count)d copies of %(number)s to recall", count=len(copies),
               number=document.number),
            _l("%(reason)s. These copies are on the recall list until you record them returned "
               "or destroyed:\n%(refs)s", reason=recall_reason_text(reason), refs=refs),
        )


def record_recall(session: Session, actor: User, copy: ControlledCopy, outcome: RecallOutcome,
                  note: str = "") -> ControlledCopy:
    """The copy came back (or was destroyed). Recording it twice is refused."""
    _require_control(actor)
    if copy.recall_outcome is not None:
        raise Conflict(
            _l("Copy %(ref)s was already recorded as %(outcome)s on %(date)s; it cannot be "
               "recalled twice.", ref=copy_ref(copy), outcome=OUTCOME_LABELS[copy.recall_outcome],
               date=copy.recalled_at.date().isoformat() if copy.recalled_at else "?"),
            code="already_recalled")
    if copy.recall_requested_at is None:
        copy.recall_requested_at = utcnow()
        copy.recall_reason = note.strip() or RECALL_BY_CONTROL
    copy.recall_outcome = outcome
    copy.recalled_at = utcnow()
    copy.recalled_by_id = actor.id
    copy.recall_note = note.strip()
    session.flush()
    trail.record(session, actor, "recall_copy", "controlled_copy", copy_ref(copy),
                 field="recall_outcome", new=outcome, reason=note)
    return copy


def copies_of(session: Session, revision: Revision) -> list[ControlledCopy]:
    return list(session.scalars(sa.select(ControlledCopy)
                                .where(ControlledCopy.revision_id == revision.id)
                                .order_by(ControlledCopy.copy_number)))


def outstanding_recalls() -> sa.Select[tuple[ControlledCopy]]:
    return (sa.select(ControlledCopy)
            .where(ControlledCopy.recall_requested_at.is_not(None),
                   ControlledCopy.recall_outcome.is_(None))
            .order_by(ControlledCopy.recall_requested_at, ControlledCopy.id))


def unreceived_for(session: Session, user: User) -> list[ControlledCopy]:
    """Copies issued to this person whose receipt they have not confirmed."""
    return list(session.scalars(sa.select(ControlledCopy).where(
        ControlledCopy.holder_user_id == user.id, ControlledCopy.received_at.is_(None),
        ControlledCopy.recall_outcome.is_(None), ControlledCopy.recall_requested_at.is_(None),
    ).order_by(ControlledCopy.issued_at)))
