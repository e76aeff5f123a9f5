"""Word copies out, Word files in. Services take what they need and only flush; the view
or API commits once."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.documents import service as documents
from qms.documents.lifecycle import IN_WORK, RevState
from qms.documents.models import DocKind, Document, Family, Revision
from qms.errors import Conflict, Forbidden, Invalid
from qms.trail import service as trail
from qms.word import import_docx
from qms.word.export_docx import export_revision
from qms.word.models import Attachment, WordImport
from qms.word.package import ImportLimits

COPY_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,15}$")
COPYABLE = (RevState.EFFECTIVE, RevState.APPROVED)


@dataclass
class Upload:
    filename: str
    data: bytes


# -- export ----------------------------------------------------------------------------

def revision_for_copy(session: Session, user: User, number: str, label: str | None, *,
                      block_history: bool = False) -> Revision:
    """The revision a user asks to print: the named one, else the effective one, else the
    one in work. What the user may not see answers as if it did not exist (404)."""
    from qms.documents import visibility

    document = visibility.readable_document(session, user, number)
    revision = (documents.revision_by_label(session, document, label) if label
                else document.current_revision or document.working_revision)
    if revision is None:
        raise Conflict(_l("%(number)s has no revision to print.", number=number))
    return visibility.visible_revision(session, user, revision, block_history=block_history)


def may_print_copy(user: User, revision: Revision) -> bool:
    """Controlled copies are printed by document control, of an approved or effective
    revision only (a superseded revision's copies are recalled, never printed again)."""
    return user.can(Permission.ISSUE_DOCUMENTS) and revision.state in COPYABLE


def controlled_copy(session: Session, user: User, revision: Revision, copy_number: str | None,
                    attachment_dir: Path | None) -> tuple[bytes, str]:
    """The .docx and its file name. A copy number makes it a controlled copy: only
    document control issues those, and only of an approved or effective revision."""
    if copy_number is not None:
        copy_number = copy_number.strip()
        if not user.can(Permission.ISSUE_DOCUMENTS):
            raise Forbidden(_l("Only document control may print controlled copies."))
        if not COPY_NUMBER.match(copy_number):
            raise Invalid(_l("A copy number is 1 to 16 letters, digits or hyphens."))
        if revision.state not in COPYABLE:
            raise Conflict(_l("Revision %(label)s is not approved or effective; it cannot be "
                              "issued as a controlled copy.", label=revision.label),
                           code="not_copyable")
    data = export_revision(session, revision, copy_number or None, attachment_dir=attachment_dir)
    name = f"{revision.document.number}_{revision.label.replace('/', '-')}"
    if copy_number:
        name += f"_copy-{copy_number}"
    return data, name + ".docx"


# -- import ------------------------------------------------------------------------------

def import_as_new_document(
    session: Session, actor: User, upload: Upload, *, title: str, kind: DocKind,
    department: Department, family: Family, attachment_dir: Path, limits: ImportLimits,
) -> WordImport:
    """A new document whose first draft is the converted body of the file."""
    if not actor.can(Permission.DRAFT_DOCUMENTS):
        raise Forbidden(_l("You may not draft documents."))
    conversion = _convert(upload, limits)
    title = title.strip() or conversion.title or Path(upload.filename).stem
    document = documents.create_document(
        session, actor, title=title, kind=kind, department=department, family=family,
        body=conversion.markdown, change_summary=_("Imported from %(name)s", name=upload.filename))
    revision = document.working_revision
    if revision is None:  # create_document always starts a draft
        raise Conflict(_l("The new document has no draft."))
    return _record(session, actor, upload, conversion, document, revision, attachment_dir)


def import_as_revision(
    session: Session, actor: User, document: Document, upload: Upload, *, change_summary: str,
    major_change: bool, base_hash: str | None, attachment_dir: Path, limits: ImportLimits,
) -> WordImport:
    """The file becomes the body of the draft in work (if the actor may edit it), or of a
    new revision started from the effective one."""
    conversion = _convert(upload, limits)
    working = document.working_revision
    if working is not None and working.state in IN_WORK:
        if not base_hash:
            raise Conflict(_l("Revision %(label)s is already in work. Reload the page and "
                              "confirm that the file replaces its text.", label=working.label),
                           code="stale")
        revision = working
    else:
        revision = documents.revise(session, actor, document, major_change=major_change,
                                    change_summary=change_summary)
        base_hash = revision.content_sha256
    documents.save_draft(session, actor, revision, body=conversion.markdown,
                         change_summary=change_summary or revision.change_summary,
                         base_hash=base_hash)
    return _record(session, actor, upload, conversion, document, revision, attachment_dir)


def _convert(upload: Upload, limits: ImportLimits) -> import_docx.Conversion:
    import_docx.check_package(upload.data, upload.filename, limits)
    conversion = import_docx.convert(upload.data, limits)
    if not conversion.markdown.strip() and not conversion.images:
        raise Invalid(_l("The file holds no text that could be imported."), code="empty_file",
                      details={"unconverted": conversion.unconverted})
    return conversion


def _record(session: Session, actor: User, upload: Upload, conversion: import_docx.Conversion,
            document: Document, revision: Revision, attachment_dir: Path) -> WordImport:
    for image in conversion.images:
        exists = session.scalar(sa.select(Attachment.id).where(
            Attachment.document_id == document.id, Attachment.sha256 == image.sha256))
        if exists is None:
            session.add(Attachment(
                document_id=document.id, revision_id=revision.id, sha256=image.sha256,
                filename=image.filename[:255], content_type=image.content_type,
                size=len(image.data), uploaded_by_id=actor.id))
    record = WordImport(
        document_id=document.id, revision_id=revision.id, filename=upload.filename[:255],
        file_sha256=hashlib.sha256(upload.data).hexdigest(), size=len(upload.data),
        image_count=len(conversion.images), unconverted=conversion.unconverted,
        imported_by_id=actor.id)
    session.add(record)
    session.flush()
    lost = ", ".join(f"{item['kind']}×{item['count']}" for item in conversion.unconverted
                     if item["kind"] != "qms_cover")
    trail.record(session, actor, "import_docx", "revision", f"{document.number} {revision.label}",
                 new=record.file_sha256,
                 reason=f"{upload.filename}; not converted: {lost or 'nothing'}")
    # Files last: every refusal above has happened, and content addressing makes a rewrite
    # harmless if the transaction should still fail.
    for image in conversion.images:
        store_file(attachment_dir, image.sha256, image.data)
    return record


def store_file(directory: Path, sha256: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / sha256
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    return target


def attachment_for(session: Session, user: User, sha256: str,
                   block_history: bool = False) -> Attachment:
    """An attachment the user may see: one of a document with a revision they may view."""
    from qms.errors import NotFound

    rows = session.scalars(sa.select(Attachment).where(Attachment.sha256 == sha256)).all()
    for row in rows:
        revisions = session.scalars(sa.select(Revision).where(
            Revision.document_id == row.document_id)).all()
        if any(documents.can_view(session, user, r, block_history=block_history)
               for r in revisions):
            return row
    # one the user may not see is answered as if it did not exist, as documents are
    raise NotFound(_l("There is no such attachment."))
