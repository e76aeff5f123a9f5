"""The object checks of the document pages, for links (qms.links.may_open) and the views."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, defer, selectinload

from qms.auth.models import User
from qms.db import get_session
from qms.documents import service, visibility
from qms.documents.models import KIND_LABELS, STATE_LABELS, Document, Revision
from qms.errors import DomainError, NotFound
from qms.links import batch_rule, object_rule
from qms.trail import labels as trail_labels


def choose_revision(
    document: Document, revisions: Sequence[Revision], visible: Callable[[Revision], bool]
) -> Revision | None:
    """Which revision the document page shows when none is named: the current one, else
    the one in work (if the reader may see it), else the latest."""
    if document.current_revision is not None:
        return document.current_revision
    working = document.working_revision
    if working is not None and visible(working):
        return working
    return max(revisions, key=lambda r: (r.major, r.minor), default=None)


def revision_to_show(
    session: Session, user: User, document: Document, label: str | None
) -> Revision:
    """The revision the document page shows (see choose_revision), or the one named;
    404 when hidden from the reader."""
    if label:
        revision = service.revision_by_label(session, document, label)
    else:
        revisions = session.scalars(
            sa.select(Revision)
            .where(Revision.document_id == document.id)
            .options(defer(Revision.body))
        ).all()
        chosen = choose_revision(
            document, revisions, lambda r: visibility.can_view(session, user, r)
        )
        if chosen is None:
            raise NotFound(_l("There is no document numbered %(number)s.", number=document.number))
        revision = chosen
    return visibility.visible_revision(session, user, revision)


@object_rule("documents.show")
def document_page_opens(user: User, number: str, revision: str | None = None, **_: Any) -> bool:
    session = get_session()
    try:
        document = visibility.readable_document(session, user, number)
        revision_to_show(session, user, document, revision)
    except DomainError:
        return False
    return True


@batch_rule("documents.show")
def document_pages_open(user: User, links: list[dict[str, Any]]) -> list[bool]:
    """`document_page_opens` for a page of numbers, in four statements."""
    session = get_session()
    numbers = sorted({str(one["number"]) for one in links})
    documents = {
        d.number: d
        for d in session.scalars(sa.select(Document).where(Document.number.in_(numbers)))
    }
    revisions: dict[int, list[Revision]] = {}
    for revision in session.scalars(
        sa.select(Revision)
        .where(Revision.document_id.in_([d.id for d in documents.values()]))
        .options(defer(Revision.body), selectinload(Revision.reviews))
    ):
        revisions.setdefault(revision.document_id, []).append(revision)
    reader = visibility.reader_for(session, user)
    block = visibility.block_history_setting()

    def visible(document: Document, revision: Revision) -> bool:
        return visibility.may_see_revision(
            reader,
            visibility.document_facts(document),
            visibility.revision_facts(revision),
            block_history=block,
        )

    answers = []
    for one in links:
        document = documents.get(str(one["number"]))
        if document is None:
            answers.append(False)
            continue
        own = revisions.get(document.id, [])
        named = document.author_id == user.id or any(
            user.id in visibility.revision_facts(r).named for r in own
        )
        readable = visibility.may_read_document(
            reader, visibility.document_facts(document), named=named
        )
        chosen = choose_revision(document, own, functools.partial(visible, document))
        answers.append(readable and chosen is not None and visible(document, chosen))
    return answers


# -- the trail names revisions and documents, and says their states in words ----------------

trail_labels.value_labels("revision", "state", STATE_LABELS)
trail_labels.value_labels("document", "status", STATE_LABELS)
trail_labels.value_labels("document", "kind", KIND_LABELS)
# a reviewer's decision (the entry has no field)
trail_labels.value_labels(
    "revision", "", {"agreed": _l("agreed"), "rejected": _l("rejected"), "pending": _l("waiting")}
)


@trail_labels.namer("revision")
def _revision_names(session: Session, user: User, refs: Sequence[str]) -> dict[str, str]:
    """Revision entries name the revision "NUMBER LABEL", signatures by its id."""
    names: dict[str, str] = {}
    ids = [int(r) for r in refs if r.isdigit()]
    for ref in refs:
        number, _sep, label = ref.rpartition(" ")
        if number and label:
            names[ref] = trail_labels.revision_name(number, label)
    if ids:
        rows = session.execute(
            sa.select(Revision.id, Document.number, Revision.label)
            .join(Document, Document.id == Revision.document_id)
            .where(Revision.id.in_(ids))
        )
        for rev_id, number, label in rows:
            names[str(rev_id)] = trail_labels.revision_name(number, label)
    return names


@trail_labels.namer("document")
def _document_names(session: Session, user: User, numbers: Sequence[str]) -> dict[str, str]:
    return {n: _("Document %(number)s", number=n) for n in numbers}
