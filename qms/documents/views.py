"""HTML views of controlled documents: the register, the document page, the editor,
lifecycle actions, the redline, the document's trail and the approval matrix."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from qms import clock
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.auth.signatures import MEANING_LABELS, status_of
from qms.csvexport import csv_response
from qms.db import get_session
from qms.documents import diff as redline
from qms.documents import pages, queries, service, transitions
from qms.documents import panels as _panels  # noqa: F401 - registers home panels
from qms.documents.forms import ApprovalRightForm, DraftForm, NewDocumentForm
from qms.documents.lifecycle import RevState
from qms.documents.models import (
    CONFIDENTIALITY_LABELS,
    FAMILY_LABELS,
    KIND_LABELS,
    STATE_LABELS,
    ApprovalRight,
    Confidentiality,
    DocKind,
    Document,
    Family,
    Revision,
)
from qms.documents.periodic import DUE_WINDOW_DAYS, review_status_of
from qms.errorhandlers import refused
from qms.errors import DomainError
from qms.markup import render
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.pagination import clamp
from qms.trail import service as trail
from qms.web import parse_id, permission_required

bp = Blueprint("documents", __name__, url_prefix="/documents")

register_nav(
    NavEntry(_l("Documents"), "documents.register", Permission.READ_DOCUMENTS, 20),
    NavEntry(
        _l("Approval matrix"),
        "documents.approval_matrix",
        Permission.MANAGE_APPROVAL_MATRIX,
        85,
        "admin",
    ),
    NavEntry(
        _l("Numbering"), "documents.numbering", Permission.MANAGE_APPROVAL_MATRIX, 86, "admin"
    ),
)


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "review_status_of": review_status_of,
        "KIND_LABELS": KIND_LABELS,
        "STATE_LABELS": STATE_LABELS,
        "FAMILY_LABELS": FAMILY_LABELS,
        "MEANING_LABELS": MEANING_LABELS,
        "CONFIDENTIALITY_LABELS": CONFIDENTIALITY_LABELS,
    }


@bp.before_app_request
def _activate_due_revisions() -> None:
    """Revisions issued for a future date take effect once the day arrives."""
    if request.endpoint in ("static", "main.healthz"):
        return
    cache = current_app.extensions.setdefault("qms.activation", {"day": None})
    day = clock.today()
    if cache["day"] == day:
        return
    session = get_session()
    if service.activate_due(session, day):
        session.commit()
    cache["day"] = day


# -- register ---------------------------------------------------------------------------


def _register_filter() -> queries.RegisterFilter:
    return queries.filter_from_args(
        request.args, register=current_user.can(Permission.VIEW_REGISTER), today=clock.today()
    )


@bp.route("/")
@permission_required(Permission.READ_DOCUMENTS)
def register() -> str:
    session = get_session()
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    result = queries.register_page(session, _register_filter(), page, per_page)
    departments = session.scalars(sa.select(Department).order_by(Department.code)).all()
    return render_template(
        "documents/register.html",
        page=result,
        args=request.args,
        departments=departments,
        kinds=list(DocKind),
        states=list(RevState),
        due_window=DUE_WINDOW_DAYS,
        today=clock.today(),
    )


@bp.route("/register.csv")
@permission_required(Permission.READ_DOCUMENTS)
def register_csv() -> Any:
    session = get_session()
    rows = (
        [
            r.number,
            r.title,
            r.kind,
            r.department_code,
            r.current_label or "",
            r.working_label or "",
            r.status,
            r.effective_date or "",
            r.next_review_date or "",
        ]
        for r in queries.register_rows(session, _register_filter())
    )
    return csv_response(
        "document-register.csv",
        [
            "number",
            "title",
            "kind",
            "department",
            "current_revision",
            "revision_in_work",
            "status",
            "effective_date",
            "next_review_date",
        ],
        list(rows),
    )


# -- creating --------------------------------------------------------------------------


def _choices(form: NewDocumentForm) -> None:
    session = get_session()
    form.kind.choices = [(k.value, str(KIND_LABELS[k])) for k in DocKind]
    form.family.choices = [(f.value, str(FAMILY_LABELS[f])) for f in Family]
    form.confidentiality.choices = [
        (c.value, str(CONFIDENTIALITY_LABELS[c])) for c in Confidentiality
    ]
    form.department.choices = [
        (d.code, f"{d.code} {d.name}")
        for d in session.scalars(
            sa.select(Department).where(Department.active).order_by(Department.code)
        )
    ]


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.DRAFT_DOCUMENTS)
def new() -> Any:
    form = NewDocumentForm()
    _choices(form)
    status = 200
    if form.validate_on_submit():
        session = get_session()
        department = session.scalar(
            sa.select(Department).where(Department.code == form.department.data)
        )
        if department is None:
            abort(422)
        try:
            document = service.create_document(
                session,
                current_user,
                title=form.title.data or "",
                kind=DocKind(form.kind.data),
                department=department,
                family=Family(form.family.data),
                confidentiality=Confidentiality(form.confidentiality.data),
                body=form.body.data or "",
                change_summary=form.change_summary.data or "",
            )
        except DomainError as err:
            form.title.errors = [refused(err)]
            status = err.status
        else:
            session.commit()
            flash(_("Document %(number)s created as a draft.", number=document.number), "success")
            return redirect(url_for("documents.show", number=document.number))
    elif request.method == "POST":
        status = 422
    return render_template("documents/new.html", form=form), status


# -- the document page ---------------------------------------------------------------------


def _visible(session: Any, revision: Revision) -> bool:
    block = current_app.config["OBSOLETE_REVISIONS"] == "block"
    return service.can_view(session, current_user, revision, block_history=block)


def _revision_to_show(session: Any, document: Document) -> Revision:
    label = request.args.get("revision")
    if label:
        revision = service.revision_by_label(session, document, label)
    elif document.current_revision is not None:
        revision = document.current_revision
    elif document.working_revision is not None and _visible(session, document.working_revision):
        revision = document.working_revision
    else:
        latest = session.scalar(
            sa.select(Revision)
            .where(Revision.document_id == document.id)
            .order_by(Revision.major.desc(), Revision.minor.desc())
        )
        if latest is None:
            abort(404)
        revision = latest
    if not _visible(session, revision):
        abort(403)
    return revision


@bp.route("/<number>")
@permission_required(Permission.READ_DOCUMENTS)
def show(number: str) -> str:
    session = get_session()
    document = service.get_document(session, number)
    revision = _revision_to_show(session, document)
    hist = queries.history(session, document)
    visible = [r for r in hist.revisions if _visible(session, r)]
    signatures = {
        r.id: [(s, status_of(s, r.content_sha256)) for s in hist.signatures[r.id]] for r in visible
    }
    approved_by = next(
        (
            s.printed_name
            for s, _st in reversed(signatures.get(revision.id, []))
            if s.meaning == "approved" and s.voided_at is None
        ),
        None,
    )
    actors = (
        service.actors_for(session, current_user, document.working_revision)
        if document.working_revision is not None
        else frozenset()
    )
    extra = Markup("").join(
        Markup(render_template(template, **context))  # noqa: S704 - rendered by Jinja
        for template, context in pages.sections(session, document, revision)
    )
    return render_template(
        "documents/show.html",
        sections=extra,
        document=document,
        revision=revision,
        body_html=render(revision.body),
        history=visible,
        signatures=signatures,
        approved_by=approved_by,
        actors=actors,
        working=document.working_revision,
        reviewers=_reviewer_choices(session, document),
        approvers=_approver_choices(session, document),
        today=clock.today(),
    )


def _reviewer_choices(session: Any, document: Document) -> list[User]:
    users = session.scalars(sa.select(User).where(User.active).order_by(User.username)).all()
    return [
        u
        for u in users
        if u.can(Permission.REVIEW_DOCUMENTS)
        and (document.working_revision is None or u.id != document.working_revision.author_id)
    ]


def _approver_choices(session: Any, document: Document) -> list[User]:
    rights = session.scalars(
        sa.select(ApprovalRight).where(
            sa.or_(ApprovalRight.kind.is_(None), ApprovalRight.kind == document.kind),
            sa.or_(
                ApprovalRight.department_id.is_(None),
                ApprovalRight.department_id == document.department_id,
            ),
        )
    ).all()
    seen: dict[int, User] = {}
    for right in rights:
        if right.user.active and right.user.can(Permission.APPROVE_DOCUMENTS):
            seen[right.user.id] = right.user
    author = document.working_revision.author_id if document.working_revision else None
    return sorted((u for u in seen.values() if u.id != author), key=lambda u: u.username)


@bp.route("/<number>/transition", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def transition(number: str) -> Any:
    session = get_session()
    document = service.get_document(session, number)
    data: dict[str, Any] = request.form.to_dict()
    data["reviewers"] = request.form.getlist("reviewers")
    revision = transitions.apply(session, current_user, document, data)
    session.commit()
    flash(
        _(
            "Done: %(number)s revision %(label)s is now %(state)s.",
            number=document.number,
            label=revision.label,
            state=STATE_LABELS[revision.state],
        ),
        "success",
    )
    if data.get("action") == "revise":
        return redirect(url_for("documents.edit", number=number, revision_id=revision.id))
    return redirect(url_for("documents.show", number=number, revision=revision.label))


# -- editing ----------------------------------------------------------------------------


@bp.route("/<number>/edit/<int:revision_id>", methods=["GET", "POST"])
@permission_required(Permission.DRAFT_DOCUMENTS)
def edit(number: str, revision_id: int) -> Any:
    session = get_session()
    document = service.get_document(session, number)
    revision = service.get_revision(session, document, revision_id)
    if not _visible(session, revision):
        abort(403)
    form = DraftForm()
    conflict = None
    status = 200
    action = request.form.get("action", "save")
    if request.method == "POST" and action == "lock":
        service.acquire_lock(session, current_user, revision)
        session.commit()
        return redirect(url_for("documents.edit", number=number, revision_id=revision.id))
    if request.method == "POST" and action == "release":
        service.release_lock(session, current_user, revision)
        session.commit()
        return redirect(url_for("documents.show", number=number, revision=revision.label))
    if request.method == "POST" and action == "break":
        service.break_lock(session, current_user, revision, request.form.get("reason", ""))
        session.commit()
        flash(_("The editing lock was broken."), "warning")
        return redirect(url_for("documents.edit", number=number, revision_id=revision.id))
    if form.validate_on_submit():
        try:
            service.save_draft(
                session,
                current_user,
                revision,
                title=form.title.data,
                body=form.body.data or "",
                change_summary=form.change_summary.data or "",
                base_hash=form.base_hash.data or "",
            )
        except DomainError as err:
            session.rollback()
            if err.code != "stale":
                raise
            conflict = err
            status = 409
            form.base_hash.data = err.details["current_hash"]
        else:
            session.commit()
            flash(_("Draft saved."), "success")
            return redirect(url_for("documents.edit", number=number, revision_id=revision.id))
    elif request.method == "GET":
        form.title.data = revision.title
        form.body.data = revision.body
        form.change_summary.data = revision.change_summary
        form.base_hash.data = revision.content_sha256
    elif request.method == "POST":
        status = 422
    comparison = None
    if conflict is not None:
        comparison = redline.redline_html(
            conflict.details["current_body"], conflict.details["your_body"]
        )
    return render_template(
        "documents/edit.html",
        document=document,
        revision=revision,
        form=form,
        conflict=conflict,
        comparison=comparison,
    ), status


# -- redline and trail ----------------------------------------------------------------------


@bp.route("/<number>/diff")
@permission_required(Permission.READ_DOCUMENTS)
def compare(number: str) -> str:
    session = get_session()
    document = service.get_document(session, number)
    hist = queries.history(session, document)
    visible = [r for r in hist.revisions if _visible(session, r)]
    if len(visible) < 1:
        abort(404)
    old_label = request.args.get("from") or (
        visible[1].label if len(visible) > 1 else visible[0].label
    )
    new_label = request.args.get("to") or visible[0].label
    old = service.revision_by_label(session, document, old_label)
    new_rev = service.revision_by_label(session, document, new_label)
    if not (_visible(session, old) and _visible(session, new_rev)):
        abort(403)
    return render_template(
        "documents/diff.html",
        document=document,
        old=old,
        new=new_rev,
        revisions=visible,
        redline=redline.redline_html(old.body, new_rev.body),
        stats=redline.stats(old.body, new_rev.body),
    )


@bp.route("/<number>/trail")
@permission_required(Permission.READ_DOCUMENTS)
def document_trail(number: str) -> str:
    session = get_session()
    document = service.get_document(session, number)
    entries = session.scalars(
        trail.filtered(trail.TrailFilter())
        .where(
            sa.or_(
                sa.and_(
                    trail.TrailEntry.object_type == "document",
                    trail.TrailEntry.object_id == document.number,
                ),
                sa.and_(
                    trail.TrailEntry.object_type == "revision",
                    trail.TrailEntry.object_id.like(f"{document.number} %"),
                ),
            )
        )
        .limit(500)
    ).all()
    return render_template("documents/trail.html", document=document, entries=entries)


# -- approval matrix --------------------------------------------------------------------------


@bp.route("/approval-matrix", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_APPROVAL_MATRIX)
def approval_matrix() -> Any:
    session = get_session()
    form = ApprovalRightForm()
    approvers = [
        u
        for u in session.scalars(sa.select(User).where(User.active).order_by(User.username))
        if u.can(Permission.APPROVE_DOCUMENTS)
    ]
    form.user.choices = [(u.username, f"{u.username} {u.display_name}") for u in approvers]
    form.kind.choices = [("", _("Any kind"))] + [(k.value, str(KIND_LABELS[k])) for k in DocKind]
    departments = session.scalars(sa.select(Department).order_by(Department.code)).all()
    form.department.choices = [("", _("Any department"))] + [
        (d.code, f"{d.code} {d.name}") for d in departments
    ]
    if request.method == "POST" and request.form.get("action") == "revoke":
        right_id = parse_id(request.form.get("right_id"))
        right = session.get(ApprovalRight, right_id) if right_id is not None else None
        if right is None:
            abort(404)
        service.revoke_approval_right(session, current_user, right, request.form.get("reason", ""))
        session.commit()
        flash(_("Approval right removed."), "success")
        return redirect(url_for("documents.approval_matrix"))
    if form.validate_on_submit():
        user = session.scalar(sa.select(User).where(User.username == form.user.data))
        dept = (
            session.scalar(sa.select(Department).where(Department.code == form.department.data))
            if form.department.data
            else None
        )
        if user is None:
            abort(422)
        service.grant_approval_right(
            session, current_user, user, DocKind(form.kind.data) if form.kind.data else None, dept
        )
        session.commit()
        flash(_("Approval right granted."), "success")
        return redirect(url_for("documents.approval_matrix"))
    rights = session.scalars(sa.select(ApprovalRight).order_by(ApprovalRight.user_id)).all()
    return render_template("documents/approval_matrix.html", form=form, rights=rights)


@bp.route("/numbering", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_APPROVAL_MATRIX)
def numbering() -> Any:
    session = get_session()
    status = 200
    if request.method == "POST":
        try:
            kind = DocKind(request.form.get("kind", ""))
        except ValueError:
            abort(422)
        try:
            service.set_numbering_pattern(
                session, current_user, kind, request.form.get("pattern", "")
            )
        except DomainError as err:
            flash(refused(err), "error")
            status = err.status
        else:
            session.commit()
            flash(_("Numbering scheme saved."), "success")
            return redirect(url_for("documents.numbering"))
    schemes = [(k, service.pattern_for(session, k)) for k in DocKind]
    return render_template("documents/numbering.html", schemes=schemes), status
