"""Word copies of a revision, Word files in as drafts, their import reports, attachments."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from qms.auth.models import Department
from qms.auth.permissions import Permission
from qms.db import get_session
from qms.documents import service as documents
from qms.documents import visibility
from qms.documents.models import DocKind, Family
from qms.errors import DomainError, Forbidden, NotFound
from qms.web import permission_required
from qms.word import links as _links  # noqa: F401 - registers the export's link rule
from qms.word import service
from qms.word.forms import ImportDocumentForm, ImportRevisionForm
from qms.word.import_docx import KIND_LABELS
from qms.word.models import WordImport
from qms.word.package import ImportLimits

bp = Blueprint("word", __name__)

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def attachment_dir() -> Path:
    return Path(current_app.config["DATA_DIR"]) / "attachments"


def block_history() -> bool:
    return bool(current_app.config.get("OBSOLETE_REVISIONS") == "block")


def max_bytes() -> int:
    return int(current_app.config["MAX_CONTENT_LENGTH"])


def import_limits() -> ImportLimits:
    return ImportLimits.from_config(current_app.config)


def docx_response(data: bytes, filename: str) -> Any:
    response = send_file(io.BytesIO(data), mimetype=DOCX_MIME, as_attachment=True,
                         download_name=filename)
    response.headers["Cache-Control"] = "no-store"
    return response


def uploaded(form: Any) -> service.Upload:
    storage = form.file.data
    return service.Upload(filename=storage.filename or "", data=storage.read(max_bytes() + 1))


@bp.route("/documents/<number>/export.docx")
@permission_required(Permission.READ_DOCUMENTS)
def export(number: str) -> Any:
    db = get_session()
    revision = service.revision_for_copy(db, current_user, number, request.args.get("revision"),
                                         block_history=block_history())
    data, filename = service.controlled_copy(db, current_user, revision,
                                             request.args.get("copy") or None, attachment_dir())
    return docx_response(data, filename)


@bp.route("/documents/import-docx", methods=["GET", "POST"])
@permission_required(Permission.DRAFT_DOCUMENTS)
def import_document() -> Any:
    db = get_session()
    form = ImportDocumentForm()
    departments = db.scalars(sa.select(Department).where(Department.active)
                             .order_by(Department.code)).all()
    form.department.choices = [(d.code, f"{d.code} {d.name}") for d in departments]
    if current_user.department and not form.department.data:
        form.department.data = current_user.department.code
    error = None
    if form.validate_on_submit():
        try:
            record = service.import_as_new_document(
                db, current_user, uploaded(form), title=form.title.data or "",
                kind=DocKind(form.kind.data), family=Family(form.family.data),
                department=next(d for d in departments if d.code == form.department.data),
                attachment_dir=attachment_dir(), limits=import_limits())
            db.commit()
            return redirect(url_for("word.import_result", import_id=record.id))
        except DomainError as err:
            db.rollback()
            error = err
    return _form_page(form, error, document=None)


@bp.route("/documents/<number>/import-docx", methods=["GET", "POST"])
@permission_required(Permission.DRAFT_DOCUMENTS)
def import_revision(number: str) -> Any:
    db = get_session()
    document = visibility.readable_document(db, current_user, number)
    form = ImportRevisionForm()
    working = document.working_revision
    if request.method == "GET" and working is not None:
        form.base_hash.data = working.content_sha256
    error = None
    if form.validate_on_submit():
        try:
            record = service.import_as_revision(
                db, current_user, document, uploaded(form),
                change_summary=form.change_summary.data or "",
                major_change=bool(form.major_change.data), base_hash=form.base_hash.data or None,
                attachment_dir=attachment_dir(), limits=import_limits())
            db.commit()
            return redirect(url_for("word.import_result", import_id=record.id))
        except DomainError as err:
            db.rollback()
            error = err
    return _form_page(form, error, document=document)


def _form_page(form: Any, error: DomainError | None, document: Any) -> Any:
    status = error.status if error else (422 if form.errors else 200)
    return render_template("word/import.html", form=form, error=error, document=document,
                           working=document.working_revision if document else None), status


@bp.route("/word/imports/<int:import_id>")
@permission_required(Permission.READ_DOCUMENTS)
def import_result(import_id: int) -> Any:
    db = get_session()
    record = db.get(WordImport, import_id)
    if record is None:
        raise NotFound(_not_found())
    if record.imported_by_id != current_user.id and not documents.can_view(
            db, current_user, record.revision, block_history=block_history()):
        raise Forbidden(_not_yours())
    return render_template("word/result.html", record=record, labels=KIND_LABELS)


@bp.route("/attachments/<sha256>")
@permission_required(Permission.READ_DOCUMENTS)
def attachment(sha256: str) -> Any:
    row = service.attachment_for(get_session(), current_user, sha256.lower(),
                                 block_history=block_history())
    path = attachment_dir() / row.sha256
    if not path.is_file():
        raise NotFound(_not_found())
    response = send_file(path, mimetype=row.content_type, download_name=row.filename,
                         max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _not_found() -> str:
    from flask_babel import gettext as _

    return _("There is no such page or record.")


def _not_yours() -> str:
    from flask_babel import gettext as _

    return _("You do not have the right to do this.")


@bp.route("/documents/register.docx")
@permission_required(Permission.READ_DOCUMENTS)
def export_register() -> Any:
    """The register, with the page's filters, as a Word table."""
    from qms import clock
    from qms.documents import queries
    from qms.documents.models import KIND_LABELS as DOC_KIND_LABELS
    from qms.documents.models import STATE_LABELS
    from qms.documents.visibility import reader_for
    from qms.word.export_docx import export_register as register_docx

    register = current_user.can(Permission.VIEW_REGISTER)
    flt = queries.filter_from_args(request.args, register=register, today=clock.today(),
                                   reader=reader_for(get_session(), current_user))
    rows = [
        {
            "number": r.number,
            "title": r.title,
            "kind": str(DOC_KIND_LABELS[r.kind]),
            "department": r.department_name,
            # that a revision is in work is for those who keep the register
            "revision": r.current_label or (r.working_label if register else "") or "",
            "status": str(STATE_LABELS[r.status]),
            "effective_date": r.effective_date,
            "next_review_date": r.next_review_date,
        }
        for r in queries.register_rows(get_session(), flt)
    ]
    return docx_response(register_docx(rows), "document-register.docx")
