"""Operations on controlled documents. Each applies a lifecycle transition, changes the
models, signs where the step is a signature, writes the trail and only flushes; the caller
commits once."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from qms import clock, events
from qms.auth.models import Department, Meaning, Signature, User
from qms.auth.permissions import Permission
from qms.auth.signatures import check_seen, sign, signatures_for, void_signatures
from qms.db import utcnow
from qms.documents import labels, reservations
from qms.documents.lifecycle import FROZEN, IN_WORK, Action, Actor, RevState, TransitionError
from qms.documents.lifecycle import transition as lifecycle_transition
from qms.documents.models import (
    STATE_LABELS,
    ApprovalRight,
    Confidentiality,
    DocKind,
    Document,
    Family,
    NumberCounter,
    NumberingScheme,
    ReviewDecision,
    ReviewerAssignment,
    Revision,
    content_hash,
)
from qms.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from qms.trail import service as trail
from qms.trail.models import TrailEntry

MAX_BODY_BYTES = 2 * 1024 * 1024
FULL_TEXT_IN_TRAIL = 64 * 1024
LABEL_SCHEME = os.environ.get("QMS_REVISION_LABELS", "letter")  # or "numeric": 1.0, 1.1

DEFAULT_PATTERNS: dict[DocKind, str] = {
    DocKind.QUALITY_MANUAL: "QM-{seq:02d}",
    DocKind.POLICY: "MB-{seq:02d}",
    DocKind.PROCEDURE: "CX-{dept}-{seq:03d}",
    DocKind.REGULATION: "ZD-{dept}-{seq:03d}",
    DocKind.PROCESS: "LC-{dept}-{seq:03d}",
    DocKind.JOB_DESCRIPTION: "GW-{dept}-{seq:03d}",
    DocKind.WORK_INSTRUCTION: "ZY-{dept}-{seq:03d}",
    DocKind.FORM: "BD-{dept}-{seq:03d}",
    DocKind.EXTERNAL: "WB-{seq:03d}",
}

ACTION_LABELS = {
    Action.EDIT: _l("edited"),
    Action.SUBMIT: _l("submitted for review"),
    Action.REVIEW: _l("reviewed"),
    Action.REJECT: _l("rejected"),
    Action.APPROVE: _l("approved"),
    Action.ISSUE: _l("issued"),
    Action.ACTIVATE: _l("made effective"),
    Action.SUPERSEDE: _l("superseded"),
    Action.WITHDRAW: _l("withdrawn"),
    Action.CANCEL: _l("cancelled"),
}


# -- loading -------------------------------------------------------------------------


def get_document(session: Session, number: str, *, for_update: bool = False) -> Document:
    stmt = sa.select(Document).where(Document.number == number.strip())
    if for_update:
        stmt = stmt.with_for_update(of=Document).execution_options(populate_existing=True)
    else:  # a page or an answer about the document reads its revision in force: same statement
        stmt = stmt.options(joinedload(Document.current_revision))
    document = session.scalar(stmt)
    if document is None:
        raise NotFound(_l("There is no document numbered %(number)s.", number=number))
    return document


def get_revision(session: Session, document: Document, revision_id: int) -> Revision:
    revision = session.get(Revision, revision_id)
    if revision is None or revision.document_id != document.id:
        raise NotFound(_l("This document has no such revision."))
    return revision


def revision_by_label(session: Session, document: Document, label: str) -> Revision:
    try:
        major, minor = labels.parse_label(label)
    except ValueError:
        raise NotFound(_l("%(label)s is not a revision label.", label=label)) from None
    revision = session.scalar(
        sa.select(Revision).where(
            Revision.document_id == document.id, Revision.major == major, Revision.minor == minor
        )
    )
    if revision is None:
        raise NotFound(
            _l("%(number)s has no revision %(label)s.", number=document.number, label=label)
        )
    return revision


# -- numbers ------------------------------------------------------------------------


def pattern_for(session: Session, kind: DocKind) -> str:
    row = session.get(NumberingScheme, kind)
    return row.pattern if row else DEFAULT_PATTERNS[kind]


def _prefix(pattern: str, dept_code: str) -> str:
    return pattern.split("{seq", 1)[0].format(dept=dept_code)


def allocate_number(session: Session, kind: DocKind, department: Department) -> str:
    """The next free number for this kind and department. Safe under concurrency: the
    counter row is updated (and so locked) before it is read; numbers never go back."""
    pattern = pattern_for(session, kind)
    prefix = _prefix(pattern, department.code)
    while True:
        seq = _next_seq(session, prefix)
        number = pattern.format(dept=department.code, seq=seq)
        taken = session.scalar(sa.select(Document.id).where(Document.number == number))
        if taken is None:
            return number


def _next_seq(session: Session, prefix: str) -> int:
    for _attempt in range(5):
        row = session.execute(
            sa.update(NumberCounter)
            .where(NumberCounter.prefix == prefix)
            .values(last=NumberCounter.last + 1)
            .returning(NumberCounter.last)
        ).first()
        if row is not None:
            return int(row[0])
        try:
            with session.begin_nested():
                session.add(NumberCounter(prefix=prefix, last=0))
        except IntegrityError:
            continue  # another transaction created it first; update theirs
    raise Conflict(_l("Could not allocate a document number; please try again."))


def _reserve_number(session: Session, number: str, kind: DocKind, department: Department) -> None:
    """An explicitly given number (an import) moves the counter past it."""
    pattern = pattern_for(session, kind)
    prefix = _prefix(pattern, department.code)
    tail = number.removeprefix(prefix)
    if number.startswith(prefix) and tail.isdigit():
        _next_seq(session, prefix)  # make sure the row exists and is locked
        session.execute(
            sa.update(NumberCounter)
            .where(NumberCounter.prefix == prefix, NumberCounter.last < int(tail))
            .values(last=int(tail))
        )


# -- who may do what -------------------------------------------------------------------


def has_approval_right(session: Session, user: User, kind: DocKind, department_id: int) -> bool:
    if not user.can(Permission.APPROVE_DOCUMENTS):
        return False
    return (
        session.scalar(
            sa.select(ApprovalRight.id)
            .where(
                ApprovalRight.user_id == user.id,
                sa.or_(ApprovalRight.kind.is_(None), ApprovalRight.kind == kind),
                sa.or_(
                    ApprovalRight.department_id.is_(None),
                    ApprovalRight.department_id == department_id,
                ),
            )
            .limit(1)
        )
        is not None
    )


def actors_for(session: Session, user: User, revision: Revision) -> frozenset[Actor]:
    held: set[Actor] = set()
    document = revision.document
    if revision.author_id == user.id and user.can(Permission.DRAFT_DOCUMENTS):
        held.add(Actor.AUTHOR)
    if user.can(Permission.ISSUE_DOCUMENTS):
        held.add(Actor.CONTROLLER)
    if any(
        a.reviewer_id == user.id and a.decision == ReviewDecision.PENDING for a in revision.reviews
    ):
        held.add(Actor.REVIEWER)
    if (
        revision.approver_id == user.id
        and revision.author_id != user.id
        and has_approval_right(session, user, document.kind, document.department_id)
    ):
        held.add(Actor.APPROVER)
    return frozenset(held)


# -- separation of duties and what the signer saw -------------------------------------------

# Trail entries that change what a revision says: its text (and title, change summary) and
# the structure kept beside it (a procedure's links, lanes and steps).
_CONTENT_TRAIL = (("revision", ("create", "update")), ("revision_links", ("update",)))


def editors_of(session: Session, revision: Revision) -> set[int]:
    """Everyone who changed the content of this revision: its author and every editor the
    trail records (a save in the editor, a .docx upload, a change of structure)."""
    ref = _ref(revision)
    changed_by = sa.or_(
        *(
            sa.and_(TrailEntry.object_type == kind, TrailEntry.action.in_(actions))
            for kind, actions in _CONTENT_TRAIL
        )
    )
    ids = session.scalars(
        sa.select(TrailEntry.actor_id)
        .where(TrailEntry.object_id == ref, TrailEntry.actor_id.is_not(None), changed_by)
        .distinct()
    ).all()
    return {revision.author_id, *(i for i in ids if i is not None)}


def review_signers(session: Session, revision: Revision) -> set[int]:
    """Everyone who signed this revision as reviewed, voided signatures included: an edit
    or a rejection voids the signature, not the fact that they reviewed it."""
    return {
        s.user_id
        for s in signatures_for(session, "revision", [revision.id])
        if s.meaning == Meaning.REVIEWED
    }


def reviewers_of(session: Session, revision: Revision) -> set[int]:
    """The reviewers named on the submission and everyone who ever reviewed it."""
    return {a.reviewer_id for a in revision.reviews} | review_signers(session, revision)


def _check_seen(revision: Revision, content_sha256: str) -> None:
    check_seen(content_sha256, revision.content_sha256)


def _refuse_editor(session: Session, user: User, revision: Revision, *, approving: bool) -> None:
    if user.id not in editors_of(session, revision):
        return
    if approving:
        raise Forbidden(
            _l(
                "You changed the text of revision %(label)s; someone who did not write it "
                "must approve it.",
                label=revision.label,
            ),
            code="editor_as_approver",
        )
    raise Forbidden(
        _l(
            "You changed the text of revision %(label)s; someone who did not write it "
            "must review it.",
            label=revision.label,
        ),
        code="editor_as_reviewer",
    )


def can_view(
    session: Session, user: User, revision: Revision, *, block_history: bool | None = None
) -> bool:
    """The one visibility rule (qms/documents/visibility.py): state and confidentiality."""
    from qms.documents import visibility

    return visibility.can_view(session, user, revision, block_history=block_history)


def _apply(revision: Revision, action: Action, actors: frozenset[Actor] | Actor) -> RevState:
    try:
        return lifecycle_transition(revision.state, action, actors)
    except TransitionError as err:
        if err.reason == "state":
            raise Conflict(
                _l(
                    "Revision %(label)s is %(state)s; it cannot be %(action)s.",
                    label=revision.label,
                    state=STATE_LABELS[revision.state],
                    action=ACTION_LABELS[action],
                ),
                code="transition_not_allowed",
            ) from None
        raise Forbidden(
            _l(
                "You may not do this: revision %(label)s cannot be %(action)s by you.",
                label=revision.label,
                action=ACTION_LABELS[action],
            ),
            code="not_your_step",
        ) from None


def _set_state(
    session: Session, actor: User | None, revision: Revision, new: RevState, reason: str = ""
) -> None:
    old = revision.state
    revision.state = new
    trail.record(
        session,
        actor,
        "transition",
        "revision",
        _ref(revision),
        field="state",
        old=old,
        new=new,
        reason=reason,
    )


def _end(
    session: Session, actor: User | None, revision: Revision, state: RevState, reason: str
) -> None:
    """A revision leaves use for good: superseded, withdrawn or cancelled."""
    _set_state(session, actor, revision, state, reason=reason.strip())
    revision.ended_at = utcnow()
    revision.end_reason = reason.strip()


def _changed(session: Session, revision: Revision) -> None:
    """Every step that leaves a revision in work ends here: status, flush, event."""
    _refresh_status(revision.document)
    session.flush()
    events.publish(session, events.REVISION_CHANGED, revision=revision)


def _ref(revision: Revision) -> str:
    return f"{revision.document.number} {revision.label}"


def _refresh_status(document: Document) -> None:
    working = document.working_revision
    current = document.current_revision
    if current is not None and current.state == RevState.EFFECTIVE:
        document.status = RevState.EFFECTIVE
    elif working is not None:
        document.status = working.state
    elif current is not None:
        document.status = current.state
    # else: keep what it was (cancelled first draft, obsolete document)


# -- creating and editing ------------------------------------------------------------------


def _check_body(body: str) -> None:
    if len(body.encode("utf-8")) > MAX_BODY_BYTES:
        raise TooLarge(
            _l(
                "The text is larger than 2 MB. Split the document or move material "
                "into attachments."
            )
        )


def create_document(
    session: Session,
    actor: User,
    *,
    title: str,
    kind: DocKind,
    department: Department,
    family: Family = Family.STANDARD,
    confidentiality: Confidentiality = Confidentiality.INTERNAL,
    body: str = "",
    change_summary: str = "",
    number: str | None = None,
    review_interval_months: int | None = None,
    label: str | None = None,
    claim_reserved: bool = False,
) -> Document:
    """A new document with its first draft. A typed number must be free: neither used nor
    held for a document not yet made (reservations.py) — unless the holder itself makes
    the document under it (claim_reserved)."""
    if not actor.can(Permission.DRAFT_DOCUMENTS):
        raise Forbidden(_l("You may not draft documents."))
    title = title.strip()
    if not title:
        raise Invalid(_l("A document needs a title."))
    _check_body(body)
    if number:
        number = number.strip().upper()
        if session.scalar(sa.select(Document.id).where(Document.number == number)) is not None:
            raise Conflict(
                _l("The number %(number)s is already in use and is never reused.", number=number),
                code="duplicate_number",
            )
        holder = None if claim_reserved else reservations.holder_of(session, number)
        if holder is not None:
            raise Conflict(
                _l(
                    "%(number)s is reserved by %(holder)s; choose another number or let "
                    "the system allocate one.",
                    number=number,
                    holder=holder,
                ),
                code="number_reserved",
            )
        _reserve_number(session, number, kind, department)
    else:
        number = allocate_number(session, kind, department)
    major, minor = labels.parse_label(label) if label else (1, 0)
    document = Document(
        number=number,
        title=title,
        kind=kind,
        family=family,
        department=department,
        author_id=actor.id,
        confidentiality=confidentiality,
        status=RevState.DRAFT,
        review_interval_months=review_interval_months or default_interval(kind),
    )
    session.add(document)
    session.flush()
    revision = _new_revision(session, actor, document, major, minor, body, change_summary, True)
    trail.record(session, actor, "create", "document", number, new=title)
    events.publish(session, events.REVISION_DRAFTED, revision=revision)
    return document


def default_interval(kind: DocKind) -> int:
    return {DocKind.FORM: 36, DocKind.EXTERNAL: 12}.get(kind, 24)


def _new_revision(
    session: Session,
    actor: User,
    document: Document,
    major: int,
    minor: int,
    body: str,
    change_summary: str,
    is_major: bool,
) -> Revision:
    revision = Revision(
        document=document,
        major=major,
        minor=minor,
        label=labels.format_label(major, minor, LABEL_SCHEME),
        state=RevState.DRAFT,
        title=document.title,
        body=body,
        change_summary=change_summary.strip(),
        author_id=actor.id,
        is_major=is_major,
        content_sha256="",
    )
    revision.content_sha256 = revision.compute_hash(document.number)
    session.add(revision)
    session.flush()
    document.working_revision = revision
    _refresh_status(document)
    trail.record(
        session,
        actor,
        "create",
        "revision",
        _ref(revision),
        new=revision.content_sha256,
        reason=change_summary,
    )
    return revision


def save_draft(
    session: Session,
    actor: User,
    revision: Revision,
    *,
    body: str,
    change_summary: str,
    base_hash: str,
    title: str | None = None,
) -> Revision:
    """Save the text of a draft. A stale base is refused with both texts; an edit to a
    revision in review sends it back to draft and voids its signatures."""
    _check_body(body)
    revision, new_state = _open_for_edit(session, actor, revision)
    if base_hash != revision.content_sha256:
        raise Conflict(
            _l(
                "Someone saved this draft after you opened it. Your text was not saved; "
                "compare both versions below and save again."
            ),
            code="stale",
            details={
                "current_hash": revision.content_sha256,
                "current_body": revision.body,
                "current_change_summary": revision.change_summary,
                "your_body": body,
                "current_version": revision.version,
            },
        )
    document = revision.document
    changes = {
        "title": (revision.title, (title or revision.title).strip()),
        "change_summary": (revision.change_summary, change_summary.strip()),
        "body": (_trail_text(revision.body), _trail_text(body)),
    }
    if revision.state == RevState.IN_REVIEW:
        _back_to_draft(session, actor, revision, "edited while in review")
    revision.title = (title or revision.title).strip()
    revision.body = body
    revision.change_summary = change_summary.strip()
    revision.content_sha256 = revision.compute_hash(document.number)
    revision.version += 1
    revision.updated_at = utcnow()
    if revision.state != new_state:
        _set_state(session, actor, revision, new_state)
    if revision.major == 1 and revision.minor == 0 and document.current_revision_id is None:
        document.title = revision.title  # a first draft names the document
    trail.record_changes(session, actor, "update", "revision", _ref(revision), changes)
    _changed(session, revision)
    return revision


def _open_for_edit(session: Session, actor: User, revision: Revision) -> tuple[Revision, RevState]:
    """The checks of every edit of a draft (its text or its links), under the row lock: a
    revision still open to change, an actor who may edit it, nobody else's editing lock.
    Returns the locked revision and the state the edit leaves it in."""
    revision = _lock_revision(session, revision)
    if revision.state in FROZEN:
        raise Conflict(
            _l(
                "Revision %(label)s is approved or closed; it is never changed. "
                "Start a new revision instead.",
                label=revision.label,
            ),
            code="frozen",
        )
    new_state = _apply(revision, Action.EDIT, actors_for(session, actor, revision))
    if revision.lock_owner_id not in (None, actor.id):
        owner = revision.lock_owner
        raise Conflict(
            _l(
                "%(name)s is editing this draft (since %(time)s).",
                name=owner.display_name if owner else "?",
                time=revision.locked_at.strftime("%Y-%m-%d %H:%M UTC")
                if revision.locked_at
                else "",
            ),
            code="locked",
        )
    return revision, new_state


def _trail_text(text: str) -> str:
    if len(text) <= FULL_TEXT_IN_TRAIL:
        return text
    return f"[{len(text)} characters, sha256 {content_hash('', '', '', text, '')}]"


def _back_to_draft(session: Session, actor: User, revision: Revision, reason: str) -> None:
    void_signatures(session, actor, _live_signatures(session, revision), reason)
    for assignment in revision.reviews:
        assignment.decision = ReviewDecision.PENDING
        assignment.decided_at = None


def begin_structure_edit(session: Session, actor: User, revision: Revision) -> Revision:
    """The checks of a save in the editor, for a change to what is kept beside the text (its
    links): an editable revision, nobody else's lock; a revision in review goes back to
    draft and its signatures are voided, as a text edit does. The caller then binds the
    new structure and calls `structure_edited`."""
    revision, new_state = _open_for_edit(session, actor, revision)
    if revision.state == RevState.IN_REVIEW:
        _back_to_draft(session, actor, revision, "links changed while in review")
    if revision.state != new_state:
        _set_state(session, actor, revision, new_state)
    return revision


def structure_edited(session: Session, revision: Revision) -> None:
    revision.version += 1
    revision.updated_at = utcnow()
    _changed(session, revision)


def bind_structure(session: Session, revision: Revision, digest: str) -> None:
    """Structure kept beside the text (a procedure's steps, lanes and links) becomes part of
    the content hash. Once someone has signed the revision it no longer changes."""
    if revision.structure_sha256 == digest:
        return
    if _live_signatures(session, revision):
        raise Conflict(
            _l(
                "Revision %(label)s has been signed; its structure no longer changes.",
                label=revision.label,
            ),
            code="frozen",
        )
    old = revision.content_sha256
    revision.structure_sha256 = digest
    revision.content_sha256 = revision.compute_hash(revision.document.number)
    session.flush()
    trail.record(
        session,
        None,
        "update",
        "revision",
        _ref(revision),
        field="content_sha256",
        old=old,
        new=revision.content_sha256,
        reason="structure changed",
    )


def _live_signatures(session: Session, revision: Revision) -> list[Signature]:
    return [s for s in signatures_for(session, "revision", [revision.id]) if s.voided_at is None]


# -- locks -----------------------------------------------------------------------------


def acquire_lock(session: Session, actor: User, revision: Revision) -> Revision:
    _apply(revision, Action.EDIT, actors_for(session, actor, revision))
    if revision.lock_owner_id not in (None, actor.id):
        owner = revision.lock_owner
        raise Conflict(
            _l(
                "%(name)s is editing this draft (since %(time)s). Ask them to "
                "finish, or ask the quality clerk to break the lock.",
                name=owner.display_name if owner else "?",
                time=revision.locked_at.strftime("%Y-%m-%d %H:%M UTC")
                if revision.locked_at
                else "",
            ),
            code="locked",
        )
    if revision.lock_owner_id is None:
        revision.lock_owner_id = actor.id
        revision.locked_at = utcnow()
        trail.record(session, actor, "lock", "revision", _ref(revision), new=actor.username)
    session.flush()
    return revision


def release_lock(session: Session, actor: User, revision: Revision) -> None:
    if revision.lock_owner_id == actor.id:
        revision.lock_owner_id = None
        revision.locked_at = None
        trail.record(session, actor, "unlock", "revision", _ref(revision), old=actor.username)
        session.flush()


def break_lock(session: Session, actor: User, revision: Revision, reason: str) -> None:
    if not actor.can(Permission.BREAK_LOCKS):
        raise Forbidden(_l("Only the quality clerk may break an editing lock."))
    if not reason.strip():
        raise Invalid(_l("Say why the lock is broken."))
    if revision.lock_owner_id is None:
        return
    trail.record(
        session,
        actor,
        "break_lock",
        "revision",
        _ref(revision),
        old=revision.lock_owner.username if revision.lock_owner else None,
        reason=reason,
    )
    revision.lock_owner_id = None
    revision.locked_at = None
    session.flush()


# -- review and approval -----------------------------------------------------------------


def _lock_revision(session: Session, revision: Revision) -> Revision:
    """Read the revision again under a row lock (on PostgreSQL), so that a signature and a
    concurrent edit of the same revision are serialised: the hash compared is the hash
    signed."""
    locked = session.scalar(
        sa.select(Revision)
        .where(Revision.id == revision.id)
        .with_for_update(of=Revision)
        .execution_options(populate_existing=True)
    )
    if locked is None:
        raise NotFound(_l("This document has no such revision."))
    return locked


def _check_approver_is_independent(
    session: Session, revision: Revision, approver: User, reviewer_ids: set[int]
) -> None:
    """The approver neither changed the text nor reviews (or reviewed) this revision."""
    if approver.id in editors_of(session, revision):
        raise Forbidden(
            _(
                "%(name)s changed the text of this revision and so cannot approve it; "
                "name an approver who did not write it.",
                name=approver.display_name,
            ),
            code="editor_as_approver",
        )
    if approver.id in reviewer_ids | review_signers(session, revision):
        raise Invalid(
            _(
                "%(name)s is a reviewer of this revision and cannot also approve it; "
                "one person is not both reviewer and approver.",
                name=approver.display_name,
            ),
            code="reviewer_as_approver",
        )


def submit_for_review(
    session: Session,
    actor: User,
    revision: Revision,
    *,
    reviewers: Sequence[User],
    approver: User,
    password: str,
    content_sha256: str,
) -> Revision:
    revision = _lock_revision(session, revision)
    new_state = _apply(revision, Action.SUBMIT, actors_for(session, actor, revision))
    document = revision.document
    reviewers = list({r.id: r for r in reviewers}.values())
    if not reviewers:
        raise Invalid(_l("Name at least one reviewer."))
    editors = editors_of(session, revision)
    for reviewer in reviewers:
        if reviewer.id == revision.author_id:
            raise Invalid(_l("The author cannot review their own revision."))
        if reviewer.id in editors:
            raise Invalid(
                _(
                    "%(name)s changed the text of this revision and so cannot review it; "
                    "name someone who did not write it.",
                    name=reviewer.display_name,
                ),
                code="editor_as_reviewer",
            )
        if not reviewer.active or not reviewer.can(Permission.REVIEW_DOCUMENTS):
            raise Invalid(_l("%(name)s may not review documents.", name=reviewer.display_name))
    if approver.id == revision.author_id:
        raise Forbidden(
            _l("The author can never approve their own revision; name another approver."),
            code="self_approval",
        )
    _check_approver_is_independent(session, revision, approver, {r.id for r in reviewers})
    if not has_approval_right(session, approver, document.kind, document.department_id):
        raise Forbidden(
            _l(
                "%(name)s has no approval right for this kind of document in this department.",
                name=approver.display_name,
            ),
            code="no_approval_right",
        )
    _check_seen(revision, content_sha256)
    sign(
        session,
        actor,
        password,
        Meaning.AUTHORED,
        content_sha256=revision.content_sha256,
        object_type="revision",
        object_id=revision.id,
    )
    # A re-submission keeps each returning reviewer's row (reset to pending): replacing it
    # would insert the same (revision, reviewer) pair before the old row is deleted.
    existing = {a.reviewer_id: a for a in revision.reviews}
    assignments = []
    for reviewer in reviewers:
        assignment = existing.get(reviewer.id) or ReviewerAssignment(
            reviewer_id=reviewer.id, reviewer=reviewer
        )
        assignment.decision = ReviewDecision.PENDING
        assignment.comment = ""
        assignment.decided_at = None
        assignments.append(assignment)
    revision.reviews = assignments
    revision.approver_id = approver.id
    revision.submitted_at = utcnow()
    revision.lock_owner_id = None
    revision.locked_at = None
    _set_state(session, actor, revision, new_state)
    trail.record(
        session,
        actor,
        "assign",
        "revision",
        _ref(revision),
        field="reviewers",
        new=",".join(r.username for r in reviewers),
    )
    trail.record(
        session,
        actor,
        "assign",
        "revision",
        _ref(revision),
        field="approver",
        new=approver.username,
    )
    _changed(session, revision)
    return revision


def review(
    session: Session,
    actor: User,
    revision: Revision,
    *,
    password: str,
    content_sha256: str,
    comment: str = "",
) -> Revision:
    revision = _lock_revision(session, revision)
    _apply(revision, Action.REVIEW, actors_for(session, actor, revision))
    _refuse_editor(session, actor, revision, approving=False)
    if revision.approver_id == actor.id:
        raise Forbidden(
            _l(
                "You are the approver of revision %(label)s; one person is not both reviewer "
                "and approver. Ask the quality manager to name another approver or reviewer.",
                label=revision.label,
            ),
            code="approver_as_reviewer",
        )
    _check_seen(revision, content_sha256)
    events.publish(session, events.BEFORE_AGREE, revision=revision, reviewer=actor)
    sign(
        session,
        actor,
        password,
        Meaning.REVIEWED,
        content_sha256=revision.content_sha256,
        object_type="revision",
        object_id=revision.id,
        comment=comment,
    )
    for assignment in revision.reviews:
        if assignment.reviewer_id == actor.id:
            assignment.decision = ReviewDecision.AGREED
            assignment.comment = comment.strip()
            assignment.decided_at = utcnow()
    trail.record(session, actor, "review", "revision", _ref(revision), new="agreed", reason=comment)
    _changed(session, revision)
    return revision


def reject(session: Session, actor: User, revision: Revision, *, comment: str) -> Revision:
    new_state = _apply(revision, Action.REJECT, actors_for(session, actor, revision))
    if not comment.strip():
        raise Invalid(_l("Say what must change: a rejection needs a comment."))
    for assignment in revision.reviews:
        if assignment.reviewer_id == actor.id:
            assignment.decision = ReviewDecision.REJECTED
            assignment.comment = comment.strip()
            assignment.decided_at = utcnow()
    _back_to_draft(session, actor, revision, f"rejected: {comment.strip()}")
    _set_state(session, actor, revision, new_state, reason=comment.strip())
    _changed(session, revision)
    return revision


def pending_reviewers(revision: Revision) -> list[User]:
    return [a.reviewer for a in revision.reviews if a.decision != ReviewDecision.AGREED]


def approve(
    session: Session,
    actor: User,
    revision: Revision,
    *,
    password: str,
    content_sha256: str,
    comment: str = "",
) -> Revision:
    revision = _lock_revision(session, revision)
    if revision.author_id == actor.id:
        raise Forbidden(
            _l("You drafted this revision; someone else must approve it."), code="self_approval"
        )
    if revision.state == RevState.IN_REVIEW and revision.approver_id != actor.id:
        named = revision.approver
        raise Forbidden(
            _(
                "Revision %(label)s is to be approved by %(name)s, who was named when it was "
                "submitted; you are not. The quality manager can name another approver.",
                label=revision.label,
                name=named.display_name if named else "—",
            ),
            code="not_named_approver",
            details={"approver": named.username if named else None},
        )
    document = revision.document
    if revision.state == RevState.IN_REVIEW and not has_approval_right(
        session, actor, document.kind, document.department_id
    ):
        raise Forbidden(
            _l(
                "You have no approval right for %(kind)s documents of %(dept)s.",
                kind=document.kind,
                dept=document.department.name,
            ),
            code="no_approval_right",
        )
    new_state = _apply(revision, Action.APPROVE, actors_for(session, actor, revision))
    _refuse_editor(session, actor, revision, approving=True)
    if actor.id in reviewers_of(session, revision):
        raise Forbidden(
            _l(
                "You are a reviewer of revision %(label)s; one person is not both reviewer "
                "and approver. Ask the quality manager to name another approver.",
                label=revision.label,
            ),
            code="reviewer_as_approver",
        )
    _check_seen(revision, content_sha256)
    waiting = pending_reviewers(revision)
    if waiting:
        raise Conflict(
            _l(
                "Not every reviewer has agreed yet: %(names)s.",
                names=", ".join(u.display_name for u in waiting),
            ),
            code="reviews_pending",
        )
    events.publish(session, events.BEFORE_APPROVE, revision=revision)
    sign(
        session,
        actor,
        password,
        Meaning.APPROVED,
        content_sha256=revision.content_sha256,
        object_type="revision",
        object_id=revision.id,
        comment=comment,
    )
    revision.approver_id = actor.id
    revision.approved_at = utcnow()
    _set_state(session, actor, revision, new_state)
    _changed(session, revision)
    return revision


def reassign_approver(
    session: Session, actor: User, revision: Revision, *, approver: User, reason: str
) -> Revision:
    """The quality manager names another approver of a submitted revision (the named one is
    away, has left, or turns out not to be independent). The trail keeps who, whom and why."""
    if not actor.can(Permission.REASSIGN_APPROVERS):
        raise Forbidden(
            _l("Only the quality manager may name another approver."),
            code="not_quality_manager",
        )
    revision = _lock_revision(session, revision)
    if revision.state != RevState.IN_REVIEW:
        raise Conflict(
            _l(
                "Revision %(label)s is %(state)s; only a revision submitted for review and "
                "not yet approved gets another approver.",
                label=revision.label,
                state=STATE_LABELS[revision.state],
            ),
            code="transition_not_allowed",
        )
    reason = reason.strip()
    if not reason:
        raise Invalid(_l("Say why the approver is changed."), code="reason_required")
    previous = revision.approver
    if previous is not None and previous.id == approver.id:
        raise Invalid(
            _(
                "%(name)s is already the approver of this revision.",
                name=approver.display_name,
            ),
            code="same_approver",
        )
    if not approver.active:
        raise Invalid(
            _("%(name)s is not an active user.", name=approver.display_name),
            code="inactive_user",
        )
    if approver.id == revision.author_id:
        raise Forbidden(
            _l("The author can never approve their own revision; name another approver."),
            code="self_approval",
        )
    _check_approver_is_independent(session, revision, approver, reviewers_of(session, revision))
    document = revision.document
    if not has_approval_right(session, approver, document.kind, document.department_id):
        raise Forbidden(
            _(
                "%(name)s has no approval right for this kind of document in this department.",
                name=approver.display_name,
            ),
            code="no_approval_right",
        )
    revision.approver_id = approver.id
    revision.approver = approver
    trail.record(
        session,
        actor,
        "reassign",
        "revision",
        _ref(revision),
        field="approver",
        old=previous.username if previous else None,
        new=approver.username,
        reason=reason,
    )
    _refresh_status(document)
    session.flush()
    if not pending_reviewers(revision):
        # every reviewer has agreed: the new approver is told it waits for them
        events.publish(session, events.REVISION_CHANGED, revision=revision)
    return revision


# -- issue, supersede, withdraw -------------------------------------------------------------


def issue(
    session: Session,
    actor: User,
    revision: Revision,
    *,
    password: str,
    content_sha256: str,
    effective_date: date | None = None,
    today: date | None = None,
) -> Revision:
    """Release an approved revision. It takes effect today, or on a later date; until then
    the revision it replaces stays effective."""
    today = today or clock.today()
    document = get_document(session, revision.document.number, for_update=True)
    session.refresh(revision)
    _apply(revision, Action.ISSUE, actors_for(session, actor, revision))
    _check_seen(revision, content_sha256)
    if revision.issued_at is not None:
        raise Conflict(
            _l(
                "Revision %(label)s has already been issued for %(date)s.",
                label=revision.label,
                date=revision.effective_date,
            ),
            code="already_issued",
        )
    effective_date = effective_date or today
    if effective_date < today:
        raise Invalid(_l("The effective date cannot be in the past."))
    sign(
        session,
        actor,
        password,
        Meaning.ISSUED,
        content_sha256=revision.content_sha256,
        object_type="revision",
        object_id=revision.id,
    )
    revision.issued_at = utcnow()
    revision.effective_date = effective_date
    trail.record(
        session,
        actor,
        "issue",
        "revision",
        _ref(revision),
        field="effective_date",
        new=effective_date,
    )
    if effective_date <= today:
        _activate(session, actor, document, revision)
    session.flush()
    return revision


def _activate(session: Session, actor: User | None, document: Document, revision: Revision) -> None:
    new_state = _apply(revision, Action.ACTIVATE, Actor.SYSTEM)
    previous = document.current_revision
    if previous is not None and previous.state == RevState.EFFECTIVE:
        _apply(previous, Action.SUPERSEDE, Actor.SYSTEM)
        _end(session, actor, previous, RevState.SUPERSEDED, f"superseded by {revision.label}")
        session.flush()  # the old one leaves 'effective' before the new one enters it
    _set_state(session, actor, revision, new_state)
    revision.effective_at = utcnow()
    document.current_revision = revision
    document.working_revision = None
    document.title = revision.title
    start = revision.effective_date or clock.today()
    old_review = document.next_review_date
    document.next_review_date = clock.add_months(start, document.review_interval_months)
    trail.record(
        session,
        actor,
        "update",
        "document",
        document.number,
        field="next_review_date",
        old=old_review,
        new=document.next_review_date,
    )
    _refresh_status(document)
    session.flush()
    events.publish(
        session,
        events.REVISION_EFFECTIVE,
        revision=revision,
        previous=previous if previous is not None and previous is not revision else None,
    )


def activate_due(session: Session, today: date | None = None) -> list[Revision]:
    """Revisions issued for a date that has now arrived become effective."""
    today = today or clock.today()
    due = session.scalars(
        sa.select(Revision)
        .where(
            Revision.state == RevState.APPROVED,
            Revision.issued_at.is_not(None),
            Revision.effective_date <= today,
        )
        .order_by(Revision.effective_date, Revision.id)
    ).all()
    done = []
    for revision in due:
        document = get_document(session, revision.document.number, for_update=True)
        session.refresh(revision)
        if revision.state == RevState.APPROVED:
            _activate(session, None, document, revision)
            done.append(revision)
    return done


def withdraw(
    session: Session,
    actor: User,
    document: Document,
    *,
    reason: str,
    password: str,
    content_sha256: str,
) -> Document:
    document = get_document(session, document.number, for_update=True)
    current = document.current_revision
    if current is None or current.state != RevState.EFFECTIVE:
        raise Conflict(
            _l("%(number)s has no effective revision to withdraw.", number=document.number),
            code="transition_not_allowed",
        )
    new_state = _apply(current, Action.WITHDRAW, actors_for(session, actor, current))
    if not reason.strip():
        raise Invalid(_l("Say why the document is withdrawn."))
    _check_seen(current, content_sha256)
    sign(
        session,
        actor,
        password,
        Meaning.WITHDRAWN,
        content_sha256=current.content_sha256,
        object_type="revision",
        object_id=current.id,
        comment=reason,
    )
    working = document.working_revision
    if working is not None and working.state in (RevState.DRAFT, RevState.IN_REVIEW):
        _end(session, actor, working, RevState.CANCELLED, reason)
    document.working_revision = None
    _end(session, actor, current, new_state, reason)
    document.current_revision = None
    document.status = RevState.OBSOLETE
    document.next_review_date = None
    session.flush()
    events.publish(session, events.REVISION_WITHDRAWN, revision=current)
    return document


def revise(
    session: Session,
    actor: User,
    document: Document,
    *,
    major_change: bool,
    change_summary: str = "",
) -> Revision:
    """Start the next revision from the effective one, which stays effective meanwhile."""
    if not actor.can(Permission.DRAFT_DOCUMENTS):
        raise Forbidden(_l("You may not draft documents."))
    document = get_document(session, document.number, for_update=True)
    working = document.working_revision
    if working is not None and working.state in IN_WORK:
        raise Conflict(
            _l(
                "Revision %(label)s is already in work; finish or cancel it first.",
                label=working.label,
            ),
            code="revision_in_work",
        )
    current = document.current_revision
    if current is None or current.state != RevState.EFFECTIVE:
        raise Conflict(
            _l("Only a document with an effective revision can be revised."),
            code="transition_not_allowed",
        )
    latest = session.execute(
        sa.select(Revision.major, Revision.minor)
        .where(Revision.document_id == document.id)
        .order_by(Revision.major.desc(), Revision.minor.desc())
    ).first()
    base_major, base_minor = latest if latest else (current.major, current.minor)
    if major_change:
        major, minor = base_major + 1, 0
    else:
        major, minor = base_major, base_minor + 1
    revision = _new_revision(
        session, actor, document, major, minor, current.body, change_summary, major_change
    )
    revision.title = current.title
    revision.content_sha256 = revision.compute_hash(document.number)
    session.flush()
    events.publish(session, events.REVISION_DRAFTED, revision=revision)
    return revision


def cancel(session: Session, actor: User, revision: Revision, *, reason: str) -> Revision:
    new_state = _apply(revision, Action.CANCEL, actors_for(session, actor, revision))
    if not reason.strip():
        raise Invalid(_l("Say why the revision is cancelled."))
    document = revision.document
    void_signatures(session, actor, _live_signatures(session, revision), f"cancelled: {reason}")
    _end(session, actor, revision, new_state, reason)
    revision.lock_owner_id = None
    if document.working_revision_id == revision.id:
        document.working_revision = None
    if document.current_revision is None and document.status != RevState.OBSOLETE:
        document.status = RevState.CANCELLED
    _changed(session, revision)
    return revision


# -- approval matrix ----------------------------------------------------------------------


def grant_approval_right(
    session: Session,
    actor: User | None,
    user: User,
    kind: DocKind | None,
    department: Department | None,
) -> ApprovalRight:
    right = ApprovalRight(user=user, kind=kind, department=department)
    session.add(right)
    session.flush()
    trail.record(
        session,
        actor,
        "grant",
        "approval_right",
        user.username,
        new=f"{kind or '*'}@{department.code if department else '*'}",
    )
    return right


def revoke_approval_right(session: Session, actor: User, right: ApprovalRight, reason: str) -> None:
    if not reason.strip():
        raise Invalid(_l("Say why the approval right is removed."))
    trail.record(
        session,
        actor,
        "revoke",
        "approval_right",
        right.user.username,
        old=f"{right.kind or '*'}@{right.department.code if right.department else '*'}",
        reason=reason,
    )
    session.delete(right)
    session.flush()


# -- documents that were approved before the system existed ---------------------------------


def register_effective(
    session: Session,
    actor: User,
    *,
    number: str,
    title: str,
    kind: DocKind,
    department: Department,
    family: Family,
    label: str,
    body: str,
    change_summary: str,
    effective_date: date,
    review_interval_months: int | None = None,
    confidentiality: Confidentiality = Confidentiality.INTERNAL,
) -> Document:
    """Bring in a document already approved and in force on paper (the import of the
    company's document set). It is recorded in the trail as taken over, not signed here."""
    if not actor.can(Permission.ISSUE_DOCUMENTS):
        raise Forbidden(_l("Only document control may register documents already in force."))
    document = create_document(
        session,
        actor,
        number=number,
        title=title,
        kind=kind,
        department=department,
        family=family,
        body=body,
        change_summary=change_summary,
        label=label,
        review_interval_months=review_interval_months,
        confidentiality=confidentiality,
    )
    revision = document.working_revision
    if revision is None:  # create_document always starts a draft
        raise RuntimeError("new document without a draft")
    for state in (RevState.IN_REVIEW, RevState.APPROVED):
        _set_state(session, actor, revision, state, reason="approved before the system (import)")
    revision.approved_at = utcnow()
    revision.issued_at = utcnow()
    revision.effective_date = effective_date
    _activate(session, actor, document, revision)
    return document


def register_effective_revision(
    session: Session,
    actor: User,
    document: Document,
    *,
    label: str,
    body: str,
    change_summary: str,
    effective_date: date,
    title: str | None = None,
) -> Revision:
    """A later revision already in force on paper: supersedes the current one."""
    if not actor.can(Permission.ISSUE_DOCUMENTS):
        raise Forbidden(_l("Only document control may register documents already in force."))
    major, minor = labels.parse_label(label)
    revision = _new_revision(
        session, actor, document, major, minor, body, change_summary, minor == 0
    )
    if title:
        revision.title = title.strip()
        revision.content_sha256 = revision.compute_hash(document.number)
    for state in (RevState.IN_REVIEW, RevState.APPROVED):
        _set_state(session, actor, revision, state, reason="approved before the system (import)")
    revision.approved_at = revision.issued_at = utcnow()
    revision.effective_date = effective_date
    _activate(session, actor, document, revision)
    return revision


def set_numbering_pattern(session: Session, actor: User, kind: DocKind, pattern: str) -> None:
    """Change how new numbers of a kind are formed; numbers already given never change."""
    pattern = pattern.strip()
    try:
        sample = pattern.format(dept="KF", seq=7)
    except (KeyError, IndexError, ValueError):
        sample = ""
    if (
        "{seq" not in pattern
        or not sample
        or len(sample) > 32
        or not all(c.isalnum() or c in "-_." for c in sample)
    ):
        raise Invalid(
            _l(
                "A numbering pattern needs {seq} (for example ZD-{dept}-{seq:03d}) and may use "
                "{dept}; the result uses letters, digits, - _ . and at most 32 characters."
            )
        )
    old = pattern_for(session, kind)
    row = session.get(NumberingScheme, kind)
    if row is None:
        session.add(NumberingScheme(kind=kind, pattern=pattern))
    else:
        row.pattern = pattern
    session.flush()
    trail.record(
        session, actor, "update", "numbering_scheme", kind, field="pattern", old=old, new=pattern
    )
