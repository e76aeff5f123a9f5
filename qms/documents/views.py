"""HTML views of controlled documents: the register, the document page, the editor,
lifecycle actions, the redline, the document's trail and the approval matrix."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
from sqlalchemy.orm import defer
from werkzeug.exceptions import Forbidden
from werkzeug.exceptions import NotFound as NoPage

from qms import clock
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.auth.signatures import MEANING_LABELS, STATUS_LABELS, status_of
from qms.csvexport import csv_response
from qms.db import get_session
from qms.documents import diff as redline
from qms.documents import pages, queries, service, transitions, visibility
from qms.documents import panels as _panels  # noqa: F401 - registers home panels
from qms.documents.forms import ApprovalRightForm, DraftForm, NewDocumentForm
from qms.documents.integrity import current_content_hashes
from qms.documents.lifecycle import RevState
from qms.documents.links import revision_to_show
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
from qms.documents.starting import starting_text
from qms.errorhandlers import error_response, refused
from qms.errors import DomainError, NotFound
from qms.markup import render
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.pagination import clamp
from qms.trail import access as trail_access
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


class _LabelsOfThisPage(Mapping[Any, Markup]):
    """Labels translated once per page, however many rows show them (a register page of
    fifty rows otherwise translates a hundred times). Rendered as the lazy label renders."""

    def __init__(self, labels: Mapping[Any, Any]) -> None:
        self._labels = labels
        self._translated: dict[Any, Markup] = {}

    def __getitem__(self, key: Any) -> Markup:
        text = self._translated.get(key)
        if text is None:
            # as LazyString.__html__: our own translated label, not user data
            text = self._translated[key] = Markup(str(self._labels[key]))  # noqa: S704
        return text

    def __iter__(self) -> Iterator[Any]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "review_status_of": review_status_of,
        "KIND_LABELS": _LabelsOfThisPage(KIND_LABELS),
        "STATE_LABELS": _LabelsOfThisPage(STATE_LABELS),
        "FAMILY_LABELS": _LabelsOfThisPage(FAMILY_LABELS),
        "MEANING_LABELS": _LabelsOfThisPage(MEANING_LABELS),
        "SIGNATURE_STATUS_LABELS": _LabelsOfThisPage(STATUS_LABELS),
        "CONFIDENTIALITY_LABELS": _LabelsOfThisPage(CONFIDENTIALITY_LABELS),
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
        request.args,
        register=current_user.can(Permission.VIEW_REGISTER),
        today=clock.today(),
        reader=visibility.reader_for(get_session(), current_user),
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
    return visibility.can_view(session, current_user, revision)


def _document(session: Any, number: str) -> Document:
    """The document if this reader may read it; 404 as for a missing number otherwise."""
    return visibility.readable_document(session, current_user, number)


def _revision_to_show(session: Any, document: Document) -> Revision:
    return revision_to_show(session, current_user, document, request.args.get("revision"))


@bp.route("/<number>")
@permission_required(Permission.READ_DOCUMENTS)
def show(number: str) -> str:
    session = get_session()
    document = _document(session, number)
    return _document_page(session, document, _revision_to_show(session, document))


def _document_page(
    session: Any, document: Document, revision: Revision, refusal: dict[str, Any] | None = None
) -> str:
    hist = queries.history(session, document)
    visible = [r for r in hist.revisions if _visible(session, r)]
    # Statuses from each revision's content as stored now, not from its stored hash.
    current = current_content_hashes(session, [r.id for r in visible if hist.signatures[r.id]])
    signatures = {
        r.id: [(s, status_of(s, current.get(r.id, ""))) for s in hist.signatures[r.id]]
        for r in visible
    }
    approved_by = next(
        (
            s.printed_name
            for s, st in reversed(signatures.get(revision.id, []))
            if s.meaning == "approved" and st == "valid"  # not voided, not invalidated
        ),
        None,
    )
    # the revision in work, only to those who may see it (its label, state, comments)
    working = document.working_revision
    if working is not None and not _visible(session, working):
        working = None
    actors = service.actors_for(session, current_user, working) if working else frozenset()
    # whom a draft may be submitted to: only the submit form of a draft lists them
    submitting = working is not None and working.state == RevState.DRAFT
    extra = Markup("").join(
        Markup(render_template(template, **context))  # noqa: S704 - rendered by Jinja
        for template, context in pages.sections(session, document, revision)
    )
    sign_notes = Markup("")
    if working is not None and working.state == RevState.IN_REVIEW:
        sign_notes = Markup("").join(
            Markup(render_template(template, **context))  # noqa: S704 - rendered by Jinja
            for template, context in pages.sign_notes(session, working)
        )
    return render_template(
        "documents/show.html",
        sections=extra,
        sign_notes=sign_notes,
        document=document,
        revision=revision,
        body_html=render(revision.body),
        history=visible,
        signatures=signatures,
        approved_by=approved_by,
        actors=actors,
        working=working,
        reviewers=_reviewer_choices(session, document) if submitting else [],
        approvers=_approver_choices(session, document) if submitting else [],
        new_approvers=_new_approver_choices(session, document),
        chosen=_submission_choices(session, document),
        refusal=refusal,
        today=clock.today(),
    )


def _submission_choices(session: Any, document: Document) -> dict[str, Any]:
    """Who the submit form names before anyone chooses: what was just sent (a refused
    submission, shown again), else the reviewers and approver of the document's last
    submission (a revision returned or refused is sent to the same people)."""
    if request.method == "POST" and request.form.get("action") == "submit":
        return {
            "reviewers": set(request.form.getlist("reviewers")),
            "approver": request.form.get("approver", ""),
        }
    last = session.scalar(
        sa.select(Revision)
        .where(
            Revision.document_id == document.id,
            sa.or_(Revision.approver_id.is_not(None), Revision.reviews.any()),
        )
        .options(defer(Revision.body))
        .order_by(Revision.major.desc(), Revision.minor.desc())
    )
    if last is None:
        return {"reviewers": set(), "approver": ""}
    return {
        "reviewers": {a.reviewer.username for a in last.reviews},
        "approver": last.approver.username if last.approver else "",
    }


def _editors(session: Any, document: Document) -> set[int]:
    working = document.working_revision
    return service.editors_of(session, working) if working is not None else set()


def _reviewer_choices(session: Any, document: Document) -> list[User]:
    """Who may be named to review: never anyone who changed the text."""
    users = session.scalars(sa.select(User).where(User.active).order_by(User.username)).all()
    editors = _editors(session, document)
    return [u for u in users if u.can(Permission.REVIEW_DOCUMENTS) and u.id not in editors]


def _approver_choices(session: Any, document: Document) -> list[User]:
    """Who may be named to approve: an approval right for this document, and not an editor."""
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
    editors = _editors(session, document)
    return sorted((u for u in seen.values() if u.id not in editors), key=lambda u: u.username)


def _new_approver_choices(session: Any, document: Document) -> list[User]:
    """For the quality manager: approvers who could take over the revision in review."""
    working = document.working_revision
    if (
        working is None
        or working.state != RevState.IN_REVIEW
        or not current_user.can(Permission.REASSIGN_APPROVERS)
    ):
        return []
    taken = service.reviewers_of(session, working) | {working.approver_id}
    return [u for u in _approver_choices(session, document) if u.id not in taken]


def _refusal(err: DomainError) -> dict[str, Any]:
    """What the document page shows of a refused step: the message and, for a changed text
    or an open review, the facts behind it."""
    return {**err.details, "message": refused(err), "code": err.code, "status": err.status}


def _page_after_refusal(session: Any, number: str, err: DomainError, action: str) -> Any:
    refusal = _refusal(err)
    document = _document(session, number)
    working = document.working_revision
    if action not in ("withdraw", "revise") and working is not None and _visible(session, working):
        revision = working  # the text the refused step was about, as it is now
    else:
        try:
            revision = _revision_to_show(session, document)
        except (Forbidden, NoPage, NotFound):  # nothing here they may read: the refusal alone
            return error_response(err.status, err.code, refusal["message"])
    return _document_page(session, document, revision, refusal), err.status


@bp.route("/<number>/transition", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def transition(number: str) -> Any:
    session = get_session()
    document = _document(session, number)
    data: dict[str, Any] = request.form.to_dict()
    data["reviewers"] = request.form.getlist("reviewers")
    try:
        revision = transitions.apply(session, current_user, document, data)
    except DomainError as err:
        return _page_after_refusal(session, number, err, str(data.get("action") or ""))
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


@bp.route("/<number>/approver", methods=["POST"])
@permission_required(Permission.REASSIGN_APPROVERS)
def reassign_approver(number: str) -> Any:
    session = get_session()
    document = _document(session, number)
    try:
        revision = transitions.reassign(session, current_user, document, request.form.to_dict())
    except DomainError as err:
        return _page_after_refusal(session, number, err, "reassign")
    session.commit()
    flash(
        _(
            "%(name)s now approves %(number)s revision %(label)s.",
            name=revision.approver.display_name if revision.approver else "—",
            number=document.number,
            label=revision.label,
        ),
        "success",
    )
    return redirect(url_for("documents.show", number=number, revision=revision.label))


# -- editing ----------------------------------------------------------------------------


@bp.route("/<number>/edit/<int:revision_id>", methods=["GET", "POST"])
@permission_required(Permission.DRAFT_DOCUMENTS)
def edit(number: str, revision_id: int) -> Any:
    session = get_session()
    document = _document(session, number)
    revision = visibility.visible_revision(
        session, current_user, service.get_revision(session, document, revision_id)
    )
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
    if request.method == "POST" and action == "preview":
        # shown as the document page shows it, nothing saved
        if form.validate_on_submit():
            preview = render(form.body.data or "")
            return editor_page(session, document, revision, form, preview=preview)
        return editor_page(session, document, revision, form, status=422)
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
        if not (revision.body or "").strip() and revision.state == RevState.DRAFT:
            form.body.data = starting_text(document.kind)  # a blank draft starts from its kind
        form.change_summary.data = revision.change_summary
        form.base_hash.data = revision.content_sha256
    elif request.method == "POST":
        status = 422
    return editor_page(session, document, revision, form, conflict=conflict, status=status)


def editor_page(
    session: Any,
    document: Document,
    revision: Revision,
    form: DraftForm,
    *,
    conflict: DomainError | None = None,
    status: int = 200,
    state: dict[str, Any] | None = None,
    preview: str | None = None,
) -> tuple[str, int]:
    """The draft editor; `state` carries a refused step of a section (its message and what
    was typed) back to that section."""
    comparison = None
    if conflict is not None:
        comparison = redline.redline_html(
            conflict.details["current_body"], conflict.details["your_body"]
        )
    extra = Markup("").join(
        Markup(render_template(template, **context))  # noqa: S704 - rendered by Jinja
        for template, context in pages.editor_sections(session, document, revision, state or {})
    )
    return render_template(
        "documents/edit.html",
        document=document,
        revision=revision,
        form=form,
        conflict=conflict,
        comparison=comparison,
        sections=extra,
        preview=preview,
    ), status


# -- redline and trail ----------------------------------------------------------------------


@bp.route("/<number>/diff")
@permission_required(Permission.READ_DOCUMENTS)
def compare(number: str) -> str:
    session = get_session()
    document = _document(session, number)
    hist = queries.history(session, document)
    visible = [r for r in hist.revisions if _visible(session, r)]
    if len(visible) < 1:
        abort(404)
    old_label = request.args.get("from") or (
        visible[1].label if len(visible) > 1 else visible[0].label
    )
    new_label = request.args.get("to") or visible[0].label
    old = visibility.visible_revision(
        session, current_user, service.revision_by_label(session, document, old_label)
    )
    new_rev = visibility.visible_revision(
        session, current_user, service.revision_by_label(session, document, new_label)
    )
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
    document = _document(session, number)
    stmt = queries.document_trail_select(session, current_user, document).limit(500)
    entries = trail_access.lines(session, current_user, session.scalars(stmt))
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
