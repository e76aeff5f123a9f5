"""Who may see a controlled document and each of its revisions: the one rule behind every
view of a record (the page, the API, the register, redlines, the trail, Word export,
controlled copies, search, procedure links, tasks and review pages).

Two questions, answered together:

* **Revision state.** An effective revision is for every reader; superseded and obsolete
  ones too, unless history is blocked (``OBSOLETE_REVISIONS=block``) for readers without
  the history permission. An unissued revision (draft, in review, approved, cancelled) is
  for document control and the people named on it (author, reviewers, approver) only.
* **Confidentiality** (the document's level, fixed when it is created):

  - ``public``: every signed-in reader; may also be handed outside the company
    (owners, contractors) as an uncontrolled copy.
  - ``internal``: every signed-in reader (every employee); not for outsiders.
  - ``confidential``: only the owning department and the departments above it (its line
    of management, up to the General Manager's office); whoever holds the
    ``read_confidential`` permission (the Quality Management Center's manager, clerk
    and review leaders, who keep all documents, and the internal auditors); approvers
    whose approval right covers the document's kind and department; and the people
    named on a revision (author, reviewers, approver) for that revision.

Anything a reader may not see is answered as if it did not exist (404), so neither a
document's existence nor a draft's is revealed.

The rule itself is pure (``may_read_document``, ``may_see_revision``); the rest of this
module gathers the facts from the database, turns the rule into SQL for lists, and loads
objects or answers 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session, aliased, defer, selectinload

from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.documents.lifecycle import RevState
from qms.documents.models import (
    ApprovalRight,
    Confidentiality,
    DocKind,
    Document,
    ReviewerAssignment,
    Revision,
)
from qms.errors import NotFound
from qms.trail.access import content_gate

HISTORY_STATES = frozenset({RevState.SUPERSEDED, RevState.OBSOLETE})


# -- the facts the rule needs -----------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """What the rule needs to know of the person reading."""

    user_id: int
    permissions: frozenset[Permission]
    # the reader's department and every department below it
    departments: frozenset[int] = frozenset()
    # approval rights: (kind or None for any, department id or None for any)
    approval_scopes: frozenset[tuple[str | None, int | None]] = frozenset()

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class DocumentFacts:
    confidentiality: Confidentiality
    department_id: int
    kind: str


@dataclass(frozen=True)
class RevisionFacts:
    state: RevState
    # author, approver and reviewers of this revision
    named: frozenset[int] = field(default_factory=frozenset)


# -- the rule (pure) --------------------------------------------------------------------


def cleared_for(reader: Reader, document: DocumentFacts) -> bool:
    """Whether the reader's standing (not a naming on one revision) admits the document's
    confidentiality level."""
    if not reader.can(Permission.READ_DOCUMENTS):
        return False
    if document.confidentiality != Confidentiality.CONFIDENTIAL:
        return True
    if reader.can(Permission.READ_CONFIDENTIAL):
        return True
    if document.department_id in reader.departments:
        return True
    return any(
        (kind is None or kind == document.kind)
        and (department is None or department == document.department_id)
        for kind, department in reader.approval_scopes
    )


def may_read_document(reader: Reader, document: DocumentFacts, *, named: bool = False) -> bool:
    """Whether the reader may know the document exists (register, page, search). `named`:
    the reader is named on one of its revisions, or is the document's author."""
    if not reader.can(Permission.READ_DOCUMENTS):
        return False
    return named or cleared_for(reader, document)


def may_see_revision(
    reader: Reader,
    document: DocumentFacts,
    revision: RevisionFacts,
    *,
    block_history: bool = False,
) -> bool:
    """Whether the reader may see this revision: its text, its redline, its trail content,
    its Word export and copies, its search hits."""
    if not reader.can(Permission.READ_DOCUMENTS):
        return False
    named = reader.user_id in revision.named
    if not (named or cleared_for(reader, document)):
        return False
    if revision.state == RevState.EFFECTIVE:
        return True
    if revision.state in HISTORY_STATES:
        return not block_history or reader.can(Permission.VIEW_HISTORY)
    return named or reader.can(Permission.ISSUE_DOCUMENTS)


# -- facts from the database --------------------------------------------------------------

_CACHE = "qms.visibility.readers"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_readers(session: Session, *_: Any) -> None:
    # roles, departments and approval rights may have changed in that transaction
    session.info.pop(_CACHE, None)


def departments_below(session: Session, department_id: int | None) -> frozenset[int]:
    """The department and every department under it (the tree is small: one statement)."""
    if department_id is None:
        return frozenset()
    children: dict[int | None, list[int]] = {}
    for dept_id, parent_id in session.execute(sa.select(Department.id, Department.parent_id)):
        children.setdefault(parent_id, []).append(dept_id)
    found: set[int] = set()
    stack = [department_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, []))
    return frozenset(found)


def reader_for(session: Session, user: User) -> Reader:
    """The reader's facts, read once per transaction."""
    cache: dict[int, Reader] = session.info.setdefault(_CACHE, {})
    reader = cache.get(user.id)
    if reader is None:
        # by can(), not .permissions: the console's operator (qms search) is a stand-in
        permissions = frozenset(p for p in Permission if user.can(p))
        scopes: frozenset[tuple[str | None, int | None]] = frozenset()
        if Permission.APPROVE_DOCUMENTS in permissions:
            scopes = frozenset(
                (str(kind) if kind is not None else None, department)
                for kind, department in session.execute(
                    sa.select(ApprovalRight.kind, ApprovalRight.department_id).where(
                        ApprovalRight.user_id == user.id
                    )
                )
            )
        reader = cache[user.id] = Reader(
            user_id=user.id,
            permissions=permissions,
            departments=departments_below(session, getattr(user, "department_id", None)),
            approval_scopes=scopes,
        )
    return reader


def document_facts(document: Document) -> DocumentFacts:
    return DocumentFacts(
        confidentiality=document.confidentiality,
        department_id=document.department_id,
        kind=str(document.kind),
    )


def revision_facts(revision: Revision) -> RevisionFacts:
    named = {revision.author_id, *(a.reviewer_id for a in revision.reviews)}
    if revision.approver_id is not None:
        named.add(revision.approver_id)
    return RevisionFacts(state=revision.state, named=frozenset(named))


def block_history_setting() -> bool:
    """The OBSOLETE_REVISIONS setting of the running app (False outside one)."""
    from flask import current_app, has_app_context

    return has_app_context() and current_app.config.get("OBSOLETE_REVISIONS") == "block"


def can_view(
    session: Session, user: User, revision: Revision, *, block_history: bool | None = None
) -> bool:
    """The rule for one revision, as every view asks it."""
    if block_history is None:
        block_history = block_history_setting()
    return may_see_revision(
        reader_for(session, user),
        document_facts(revision.document),
        revision_facts(revision),
        block_history=block_history,
    )


def _named_on_document(session: Session, user_id: int, document: Document) -> bool:
    if document.author_id == user_id:
        return True
    return session.scalar(sa.select(named_on_document_clause(user_id, document.id))) or False


def cleared_for_document(session: Session, user: User, document: Document) -> bool:
    """The confidentiality half of the rule alone: cleared for the document's level, or
    named on one of its revisions. For records that quote a document by number and title
    whatever the state of its revisions (review records, a procedure's links)."""
    reader = reader_for(session, user)
    facts = document_facts(document)
    if cleared_for(reader, facts):
        return True
    return may_read_document(reader, facts, named=_named_on_document(session, user.id, document))


def can_read_document(session: Session, user: User, document: Document) -> bool:
    """Whether the document exists for this reader: cleared for its confidentiality (or
    named on it), and either keeping the register (which lists drafts by number and
    title) or able to see at least one of its revisions."""
    if not cleared_for_document(session, user, document):
        return False
    if user.can(Permission.VIEW_REGISTER):
        return True
    if document.current_revision is not None and can_view(session, user, document.current_revision):
        return True
    revisions = session.scalars(
        sa.select(Revision)
        .where(Revision.document_id == document.id)
        .options(defer(Revision.body), selectinload(Revision.reviews))
    )
    return any(can_view(session, user, r) for r in revisions)


def readable_document(session: Session, user: User, number: str) -> Document:
    """The document, or the same 404 a missing number gets."""
    from qms.documents.service import get_document

    document = get_document(session, number)
    if not can_read_document(session, user, document):
        raise NotFound(_l("There is no document numbered %(number)s.", number=number))
    return document


def not_found(document: Document, label: str) -> NotFound:
    """The answer for a revision the reader may not see: as if it did not exist."""
    return NotFound(
        _l("%(number)s has no revision %(label)s.", number=document.number, label=label)
    )


def visible_revision(
    session: Session, user: User, revision: Revision, *, block_history: bool | None = None
) -> Revision:
    if not can_view(session, user, revision, block_history=block_history):
        raise not_found(revision.document, revision.label)
    return revision


def visible_revisions(
    session: Session,
    user: User,
    revisions: Iterable[Revision],
    *,
    block_history: bool | None = None,
) -> list[Revision]:
    return [r for r in revisions if can_view(session, user, r, block_history=block_history)]


def department_may_hold(session: Session, department: Department, document: Document) -> bool:
    """Whether a department may hold a controlled copy: any for public and internal
    documents; for a confidential one, its own department and those above it."""
    if document.confidentiality != Confidentiality.CONFIDENTIAL:
        return True
    return document.department_id in departments_below(session, department.id)


# -- the rule in SQL (lists filter before they page) ----------------------------------------


# Aliases keep the subqueries their own tables inside queries that join revisions. Made
# once: an alias of the revision table proxies all its columns, which cost a register
# page more than its SQL did when built per request.
_NAMED_REV = aliased(Revision, name="named_rev")
_REVIEWED_REV = aliased(Revision, name="reviewed_rev")
_ASSIGNMENT = aliased(ReviewerAssignment, name="named_assignment")


def named_on_document_clause(user_id: int, document_id: Any) -> sa.ColumnElement[bool]:
    """The user is named on some revision of the document (author, approver, reviewer)."""
    named_rev, reviewed_rev, assignment = _NAMED_REV, _REVIEWED_REV, _ASSIGNMENT
    on_revision = (
        sa.select(named_rev.id)
        .where(
            named_rev.document_id == document_id,
            sa.or_(named_rev.author_id == user_id, named_rev.approver_id == user_id),
        )
        .exists()
    )
    reviewing = (
        sa.select(assignment.id)
        .join(reviewed_rev, reviewed_rev.id == assignment.revision_id)
        .where(reviewed_rev.document_id == document_id, assignment.reviewer_id == user_id)
        .exists()
    )
    return sa.or_(on_revision, reviewing)


def readable_documents_clause(reader: Reader) -> sa.ColumnElement[bool]:
    """`may_read_document` over the document table: for the register, the API list, the
    procedure lists and panels, so counts and pages are right. (Those lists show readers
    without the register permission effective documents only, which they may see.)"""
    if not reader.can(Permission.READ_DOCUMENTS):
        return sa.false()
    if reader.can(Permission.READ_CONFIDENTIAL):
        return sa.true()
    allowed: list[sa.ColumnElement[bool]] = [
        Document.confidentiality != Confidentiality.CONFIDENTIAL,
        Document.author_id == reader.user_id,
        named_on_document_clause(reader.user_id, Document.id),
    ]
    if reader.departments:
        allowed.append(Document.department_id.in_(sorted(reader.departments)))
    for kind, department in sorted(reader.approval_scopes, key=str):
        terms: list[sa.ColumnElement[bool]] = []
        if kind is not None:
            terms.append(Document.kind == DocKind(kind))
        if department is not None:
            terms.append(Document.department_id == department)
        allowed.append(sa.and_(sa.true(), *terms))
    return sa.or_(*allowed)


# -- the rule for the search index (terms on each entry, terms in each query) ------------------

EVERYONE = "*"


def index_viewers(document: DocumentFacts, revision: RevisionFacts) -> list[str]:
    """Terms stored with an index entry: a query matches it when the reader holds one.
    Unissued revisions carry only the ids of the people named on them (document control
    is not filtered by these terms)."""
    named = sorted(str(i) for i in revision.named)
    if revision.state not in (RevState.EFFECTIVE, *HISTORY_STATES):
        return named
    if document.confidentiality != Confidentiality.CONFIDENTIAL:
        return [EVERYONE]
    return [
        "c:all",
        f"c:d{document.department_id}",
        f"c:k{document.kind}",
        f"c:k{document.kind}:d{document.department_id}",
        *named,
    ]


def reader_viewer_terms(reader: Reader) -> list[str] | None:
    """Terms a reader's queries ask for; None when the reader sees every entry."""
    if reader.can(Permission.READ_CONFIDENTIAL) and reader.can(Permission.ISSUE_DOCUMENTS):
        return None
    terms = {EVERYONE, str(reader.user_id)}
    if reader.can(Permission.READ_CONFIDENTIAL):
        terms.add("c:all")
    terms |= {f"c:d{d}" for d in reader.departments}
    for kind, department in reader.approval_scopes:
        if kind is None and department is None:
            terms.add("c:all")
        elif kind is None:
            terms.add(f"c:d{department}")
        elif department is None:
            terms.add(f"c:k{kind}")
        else:
            terms.add(f"c:k{kind}:d{department}")
    return sorted(terms)


# -- the rule for trail entries -------------------------------------------------------------


def _split_ref(ref: str) -> tuple[str, str] | None:
    number, _sep, label = ref.rpartition(" ")
    return (number, label) if number and label else None


@content_gate("revision", "revision_links", "import_docx")
def _revision_content(session: Session, user: User, refs: Sequence[str]) -> set[str]:
    """Revision entries name the revision as "NUMBER LABEL" (or by id, for signatures)."""
    ids = [int(r) for r in refs if r.isdigit()]
    numbers = {p[0] for r in refs if (p := _split_ref(r)) is not None}
    conditions = []
    if ids:
        conditions.append(Revision.id.in_(ids))
    if numbers:
        conditions.append(Document.number.in_(sorted(numbers)))
    if not conditions:
        return set()
    revisions = session.scalars(
        sa.select(Revision)
        .join(Document, Document.id == Revision.document_id)
        .where(sa.or_(*conditions))
        .options(defer(Revision.body), selectinload(Revision.reviews))
    ).all()
    seen: set[str] = set()
    for revision in revisions:
        if can_view(session, user, revision):
            seen.add(str(revision.id))
            seen.add(f"{revision.document.number} {revision.label}")
    return seen & set(refs)


@content_gate("document", "procedure")
def _document_content(session: Session, user: User, numbers: Sequence[str]) -> set[str]:
    documents = session.scalars(sa.select(Document).where(Document.number.in_(list(numbers))))
    return {d.number for d in documents if can_read_document(session, user, d)}


def hides_unseen_trail_entries(user: User) -> bool:
    """A document's trail, read by someone without the audit-trail permission, leaves out
    entries about revisions they may not see (not even that a draft exists); the audit
    trail keeps every entry, content withheld, so its sequence stays complete."""
    return not user.can(Permission.VIEW_TRAIL)
