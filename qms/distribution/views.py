"""Controlled copies and recall, read and understood, periodic review, external documents."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import Department, User
from qms.auth.permissions import ROLE_LABELS, Permission, Role
from qms.db import get_session
from qms.distribution import (
    copies,
    external,
    periodic,
    reading,
    subscribers,  # noqa: F401 - subscribes to document events
)
from qms.distribution.forms import (
    AckForm,
    AssignReadingForm,
    CurrencyCheckForm,
    ExternalEditForm,
    ExternalForm,
    IntervalForm,
    IssueCopyForm,
    NewEditionForm,
    PeriodicReviewForm,
    ReadRuleForm,
    RecallForm,
)
from qms.distribution.models import (
    ACK_LABELS,
    CATEGORY_LABELS,
    MEDIUM_LABELS,
    OUTCOME_LABELS,
    REVIEW_OUTCOME_LABELS,
    Acknowledgement,
    ControlledCopy,
    ExternalCategory,
    Medium,
    ReadRule,
    RecallOutcome,
)
from qms.documents import service as documents
from qms.documents import visibility
from qms.documents.lifecycle import RevState
from qms.documents.models import KIND_LABELS, STATE_LABELS, DocKind, Document, Revision
from qms.errorhandlers import refused
from qms.errors import DomainError
from qms.home import Panel, panel_provider
from qms.markup import render
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.pagination import clamp, paginate
from qms.web import form_errors, parse_id, permission_required

bp = Blueprint("distribution", __name__, url_prefix="/distribution")

register_nav(
    NavEntry(
        _l("Copies and recall"), "distribution.recalls", Permission.VIEW_REGISTER, 60, "control"
    ),
    NavEntry(
        _l("Read and understood"),
        "distribution.reading_matrix",
        Permission.VIEW_REGISTER,
        61,
        "control",
    ),
    NavEntry(
        _l("Periodic review"),
        "distribution.periodic_reviews",
        Permission.VIEW_REGISTER,
        62,
        "control",
    ),
    NavEntry(
        _l("External documents"),
        "distribution.external_register",
        Permission.READ_DOCUMENTS,
        63,
        "control",
    ),
)


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "medium_labels": MEDIUM_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "ack_labels": ACK_LABELS,
        "category_labels": CATEGORY_LABELS,
        "state_labels": STATE_LABELS,
        "kind_labels": KIND_LABELS,
        "review_outcome_labels": REVIEW_OUTCOME_LABELS,
        "recall_reason_text": copies.recall_reason_text,
    }


# -- helpers ------------------------------------------------------------------------------


def _refused(err: DomainError) -> None:
    flash(refused(err), "error")


def _revision_or_current(db: Session, document: Document, label: str | None) -> Revision | None:
    revision: Revision | None
    if label:
        revision = documents.revision_by_label(db, document, label)
    elif document.current_revision is not None:
        revision = document.current_revision
    else:
        revisions = document.revisions
        revision = revisions[-1] if revisions else None
    if revision is None:
        return None
    return visibility.visible_revision(db, current_user, revision)


def _departments(db: Session) -> list[Department]:
    return list(
        db.scalars(
            sa.select(Department).where(Department.active.is_(True)).order_by(Department.code)
        )
    )


def _people(db: Session) -> list[User]:
    return list(
        db.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.display_name))
    )


def _dept_by_code(db: Session, code: str | None) -> Department | None:
    if not code:
        return None
    return db.scalar(sa.select(Department).where(Department.code == code))


def _user_by_id(db: Session, raw: str | None) -> User | None:
    user_id = parse_id(raw)
    return db.get(User, user_id) if user_id is not None else None


def export_url(number: str, label: str, copy_number: int) -> str:
    """The controlled copy as .docx (built by qms.word)."""
    from urllib.parse import quote, urlencode

    query = urlencode({"revision": label, "copy": copy_number})
    return f"/documents/{quote(number)}/export.docx?{query}"


# -- controlled copies ------------------------------------------------------------------


@bp.route("/copies")
@permission_required(Permission.VIEW_REGISTER)
def copies_index() -> Any:
    db = get_session()
    number = request.args.get("number", "").strip()
    if number:
        return redirect(url_for("distribution.copy_register", number=number.upper()))
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    stmt = sa.select(ControlledCopy).order_by(
        ControlledCopy.issued_at.desc(), ControlledCopy.id.desc()
    )
    result = paginate(db, stmt, page, per_page)
    return render_template(
        "distribution/copies_index.html", page=result, args=request.args, export_url=export_url
    )


@bp.route("/copies/<number>")
@permission_required(Permission.VIEW_REGISTER)
def copy_register(number: str) -> Any:
    db = get_session()
    document = visibility.readable_document(db, current_user, number)
    revision = _revision_or_current(db, document, request.args.get("revision"))
    form = IssueCopyForm(revision=revision.label if revision else "")
    return _copy_register_page(db, document, revision, form)


def _copy_register_page(
    db: Session,
    document: Document,
    revision: Revision | None,
    form: IssueCopyForm,
    status: int = 200,
) -> Any:
    _holder_choices(db, form)
    rows = copies.copies_of(db, revision) if revision is not None else []
    page = render_template(
        "distribution/copy_register.html",
        document=document,
        revision=revision,
        copies=rows,
        form=form,
        recall_form=RecallForm(),
        export_url=export_url,
        can_issue=current_user.can(Permission.ISSUE_DOCUMENTS),
        issuable=revision is not None
        and (
            revision.state == RevState.EFFECTIVE
            or (revision.state == RevState.APPROVED and revision.issued_at is not None)
        ),
    )
    return page, status


def _holder_choices(db: Session, form: IssueCopyForm) -> None:
    form.holder_department.choices = [("", "—")] + [
        (d.code, f"{d.code} {d.name}") for d in _departments(db)
    ]
    form.holder_user.choices = [("", "—")] + [(str(u.id), u.display_name) for u in _people(db)]


@bp.route("/copies/<number>/issue", methods=["POST"])
@permission_required(Permission.ISSUE_DOCUMENTS)
def issue_copy(number: str) -> Any:
    """Issue a copy; a refusal re-renders the register with what was typed kept."""
    db = get_session()
    document = visibility.readable_document(db, current_user, number)
    form = IssueCopyForm()
    _holder_choices(db, form)
    revision = _revision_or_current(db, document, form.revision.data or None)
    if revision is None:
        abort(404)
    if not form.validate_on_submit():
        flash(_("Check the form: %(errors)s", errors=form_errors(form)), "error")
        return _copy_register_page(db, document, revision, form, 422)
    try:
        copy = copies.issue_copy(
            db,
            current_user,
            revision,
            holder_department=_dept_by_code(db, form.holder_department.data),
            holder_user=_user_by_id(db, form.holder_user.data),
            medium=Medium(form.medium.data),
            location=form.location.data or "",
        )
    except DomainError as err:
        _refused(err)
        return _copy_register_page(db, document, revision, form, err.status)
    db.commit()
    flash(
        _("Copy No. %(n)d issued to %(holder)s.", n=copy.copy_number, holder=copy.holder_name),
        "success",
    )
    return redirect(
        url_for("distribution.copy_register", number=document.number, revision=revision.label)
    )


def _load_copy(db: Session, copy_id: int) -> ControlledCopy:
    copy = db.get(ControlledCopy, copy_id)
    if copy is None:
        abort(404)
    return copy


@bp.route("/copy/<int:copy_id>/receipt", methods=["POST"])
@permission_required(Permission.VIEW_OWN_TASKS)
def confirm_receipt(copy_id: int) -> Any:
    db = get_session()
    copy = _load_copy(db, copy_id)
    try:
        copies.confirm_receipt(db, current_user, copy)
    except DomainError as err:
        _refused(err)
    else:
        db.commit()
        flash(_("Receipt of copy %(ref)s confirmed.", ref=copies.copy_ref(copy)), "success")
    return redirect(_back(url_for("distribution.my_copies")))


@bp.route("/copy/<int:copy_id>/recall", methods=["POST"])
@permission_required(Permission.ISSUE_DOCUMENTS)
def record_recall(copy_id: int) -> Any:
    db = get_session()
    copy = _load_copy(db, copy_id)
    form = RecallForm()
    if form.validate_on_submit():
        try:
            copies.record_recall(
                db, current_user, copy, RecallOutcome(form.outcome.data), form.note.data or ""
            )
        except DomainError as err:
            _refused(err)
        else:
            db.commit()
            flash(
                _(
                    "Copy %(ref)s recorded as %(outcome)s.",
                    ref=copies.copy_ref(copy),
                    outcome=OUTCOME_LABELS[RecallOutcome(form.outcome.data)],
                ),
                "success",
            )
    else:
        flash(_("Choose whether the copy was returned or destroyed."), "error")
    return redirect(_back(url_for("distribution.recalls")))


def _back(default: str) -> str:
    from qms.web import safe_next

    return safe_next(request.form.get("next")) or default


@bp.route("/recalls")
@permission_required(Permission.VIEW_REGISTER)
def recalls() -> str:
    db = get_session()
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    result = paginate(db, copies.outstanding_recalls(), page, per_page)
    return render_template(
        "distribution/recalls.html",
        page=result,
        args=request.args,
        recall_form=RecallForm(),
        can_recall=current_user.can(Permission.ISSUE_DOCUMENTS),
    )


@bp.route("/my-copies")
@permission_required(Permission.VIEW_OWN_TASKS)
def my_copies() -> str:
    db = get_session()
    holder = ControlledCopy.holder_user_id == current_user.id
    if current_user.department_id is not None:
        holder = sa.or_(holder, ControlledCopy.holder_department_id == current_user.department_id)
    rows = db.scalars(
        sa.select(ControlledCopy)
        .where(holder, ControlledCopy.recall_outcome.is_(None))
        .order_by(ControlledCopy.issued_at.desc())
    ).all()
    return render_template(
        "distribution/my_copies.html",
        copies=rows,
        may_confirm=lambda c: copies.may_confirm_receipt(current_user, c),
    )


# -- read and understood --------------------------------------------------------------------


@bp.route("/read/<int:revision_id>", methods=["GET", "POST"])
@permission_required(Permission.VIEW_OWN_TASKS)
def read(revision_id: int) -> Any:
    db = get_session()
    revision = db.get(Revision, revision_id)
    if revision is None:
        abort(404)
    visibility.visible_revision(db, current_user, revision)
    form = AckForm()
    refusal = None
    status = 200
    if form.validate_on_submit():
        try:
            reading.acknowledge(
                db,
                current_user,
                revision,
                password=form.password.data or "",
                content_sha256=form.content_sha256.data,
            )
        except DomainError as err:
            if err.code not in ("content_changed", "content_sha256_required"):
                _refused(err)
                return redirect(url_for("distribution.read", revision_id=revision.id))
            # the text changed since the page was opened: shown again, as it is now
            refusal, status = {**err.details, "message": refused(err)}, err.status
            revision = db.get(Revision, revision_id) or abort(404)
        else:
            db.commit()
            flash(
                _(
                    "You have acknowledged %(number)s %(label)s as read and understood.",
                    number=revision.document.number,
                    label=revision.label,
                ),
                "success",
            )
            return redirect(url_for("tasks.mine"))
    form.content_sha256.data = revision.content_sha256
    ack = db.scalar(
        sa.select(Acknowledgement).where(
            Acknowledgement.revision_id == revision.id, Acknowledgement.user_id == current_user.id
        )
    )
    previous = reading.previous_revision(revision)
    if previous is not None and not visibility.can_view(db, current_user, previous):
        previous = None  # no redline against a revision this reader may not open
    return render_template(
        "distribution/read.html",
        revision=revision,
        document=revision.document,
        body=render(revision.body),
        form=form,
        ack=ack,
        previous=previous,
        refusal=refusal,
    ), status


@bp.route("/reading")
@permission_required(Permission.VIEW_REGISTER)
def reading_matrix() -> str:
    db = get_session()
    today = clock.today()
    dept = _dept_by_code(db, request.args.get("department"))
    kind_raw = request.args.get("kind", "")
    kind = DocKind(kind_raw) if kind_raw in {k.value for k in DocKind} else None
    grid = reading.matrix(db, department_id=dept.id if dept else None, kind=kind)
    overdue = db.scalars(reading.overdue_stmt(today).limit(200)).all()
    return render_template(
        "distribution/reading_matrix.html",
        grid=grid,
        overdue=overdue,
        today=today,
        departments=_departments(db),
        args=request.args,
        can_edit=current_user.can(Permission.ISSUE_DOCUMENTS),
    )


@bp.route("/reading/document/<number>")
@permission_required(Permission.VIEW_REGISTER)
def reading_document(number: str) -> Any:
    db = get_session()
    document = visibility.readable_document(db, current_user, number)
    return _reading_document_page(db, document, _assign_form(db))


def _reading_document_page(
    db: Session, document: Document, form: AssignReadingForm, status: int = 200
) -> Any:
    revision = _revision_or_current(db, document, request.args.get("revision"))
    acks = reading.acknowledgements_of(db, revision) if revision else []
    return render_template(
        "distribution/reading_document.html",
        document=document,
        revision=revision,
        acks=acks,
        today=clock.today(),
        assign_form=form,
        can_assign=current_user.can(Permission.ISSUE_DOCUMENTS)
        and document.current_revision is not None
        and document.current_revision.state == RevState.EFFECTIVE,
    ), status


def _assign_form(db: Session) -> AssignReadingForm:
    form = AssignReadingForm()
    form.people.choices = [
        (str(u.id), f"{u.display_name} · {u.department.name if u.department else ''}")
        for u in _people(db)
    ]
    form.departments.choices = [(d.code, d.name) for d in _departments(db)]
    return form


@bp.route("/reading/document/<number>/assign", methods=["POST"])
@permission_required(Permission.ISSUE_DOCUMENTS)
def assign_reading(number: str) -> Any:
    """Ask chosen people and departments to read the revision in force."""
    db = get_session()
    document = visibility.readable_document(db, current_user, number)
    form = _assign_form(db)
    if not form.validate_on_submit():
        return _reading_document_page(db, document, form, 422)
    revision = document.current_revision
    if revision is None:
        abort(404)
    people = list(
        db.scalars(sa.select(User).where(User.id.in_([int(i) for i in form.people.data or []])))
    )
    departments = list(
        db.scalars(sa.select(Department).where(Department.code.in_(form.departments.data or [])))
    )
    try:
        asked = reading.assign_reading_to(
            db,
            current_user,
            revision,
            people=people,
            departments=departments,
            due_days=form.due_days.data or 14,
        )
    except DomainError as err:
        form.people.errors = [refused(err)]
        return _reading_document_page(db, document, form, err.status)
    db.commit()
    flash(
        _(
            "%(n)d people asked to read %(number)s %(label)s.",
            n=len(asked.created),
            number=document.number,
            label=revision.label,
        ),
        "success",
    )
    if asked.already or asked.not_cleared:
        flash(
            _(
                "Not asked again: %(names)s.",
                names=", ".join(u.display_name for u in asked.already + asked.not_cleared),
            ),
            "warning",
        )
    return redirect(url_for("distribution.reading_document", number=document.number))


@bp.route("/reading/person/<int:user_id>")
@permission_required(Permission.VIEW_OWN_TASKS)
def reading_person(user_id: int) -> str:
    db = get_session()
    if user_id != current_user.id and not current_user.can(Permission.VIEW_REGISTER):
        abort(403)
    person = db.get(User, user_id)
    if person is None:
        abort(404)
    return render_template(
        "distribution/reading_person.html",
        person=person,
        acks=reading.for_person(db, person),
        today=clock.today(),
    )


def _rule_form(db: Session, rule: ReadRule | None = None) -> ReadRuleForm:
    form = ReadRuleForm()
    form.kind.choices = [("", _("Any kind"))] + [(k.value, str(KIND_LABELS[k])) for k in DocKind]
    depts = _departments(db)
    form.department.choices = [("", _("Any department"))] + [(d.code, d.name) for d in depts]
    form.roles.choices = [(r.value, str(ROLE_LABELS[r])) for r in Role]
    form.departments.choices = [(d.code, d.name) for d in depts]
    form.people.choices = [(str(u.id), u.display_name) for u in _people(db)]
    return form


@bp.route("/reading/rules", methods=["GET", "POST"])
@permission_required(Permission.ISSUE_DOCUMENTS)
def reading_rules() -> Any:
    db = get_session()
    form = _rule_form(db)
    status = 200
    if form.validate_on_submit():
        try:
            reading.save_rule(
                db,
                current_user,
                kind=DocKind(form.kind.data) if form.kind.data else None,
                department=_dept_by_code(db, form.department.data),
                roles=[Role(r) for r in form.roles.data or []],
                departments=[
                    d
                    for d in (_dept_by_code(db, c) for c in form.departments.data or [])
                    if d is not None
                ],
                people=[
                    u for u in (_user_by_id(db, i) for i in form.people.data or []) if u is not None
                ],
                due_days=form.due_days.data or 14,
                minor_resets=bool(form.minor_resets.data),
            )
        except DomainError as err:
            form.roles.errors = [refused(err)]
            status = err.status
        else:
            db.commit()
            flash(_("Reading rule saved."), "success")
            return redirect(url_for("distribution.reading_rules"))
    elif request.method == "POST":
        status = 422
    rules = db.scalars(sa.select(ReadRule).order_by(ReadRule.id)).all()
    return render_template(
        "distribution/reading_rules.html", form=form, rules=rules, role_labels=ROLE_LABELS
    ), status


@bp.route("/reading/rules/<int:rule_id>/delete", methods=["POST"])
@permission_required(Permission.ISSUE_DOCUMENTS)
def delete_reading_rule(rule_id: int) -> Any:
    db = get_session()
    rule = db.get(ReadRule, rule_id) or abort(404)
    reading.delete_rule(db, current_user, rule)
    db.commit()
    flash(_("Reading rule removed."), "success")
    return redirect(url_for("distribution.reading_rules"))


# -- periodic review -----------------------------------------------------------------------


@bp.route("/periodic")
@permission_required(Permission.VIEW_REGISTER)
def periodic_reviews() -> str:
    db = get_session()
    today = clock.today()
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    result = paginate(db, periodic.due_documents(today), page, per_page)
    form = IntervalForm()
    form.kind.choices = [(k.value, str(KIND_LABELS[k])) for k in DocKind]
    return render_template(
        "distribution/periodic.html",
        page=result,
        args=request.args,
        today=today,
        status_of=lambda d: periodic.review_status(d, today),
        intervals=periodic.intervals(db),
        form=form,
        can_edit=current_user.can(Permission.ISSUE_DOCUMENTS),
    )


@bp.route("/periodic/intervals", methods=["POST"])
@permission_required(Permission.ISSUE_DOCUMENTS)
def set_interval() -> Any:
    db = get_session()
    form = IntervalForm()
    form.kind.choices = [(k.value, k.value) for k in DocKind]
    if form.validate_on_submit():
        try:
            changed = periodic.set_kind_interval(
                db,
                current_user,
                DocKind(form.kind.data),
                form.months.data or 24,
                apply_to_existing=bool(form.apply_to_existing.data),
            )
        except DomainError as err:
            _refused(err)
        else:
            db.commit()
            flash(
                _("Review interval saved; %(n)d existing documents changed.", n=changed), "success"
            )
    else:
        flash(_("A review interval is between 1 and 120 months."), "error")
    return redirect(url_for("distribution.periodic_reviews"))


@bp.route("/periodic/<number>", methods=["GET", "POST"])
@permission_required(Permission.ISSUE_DOCUMENTS)
def periodic_review(number: str) -> Any:
    db = get_session()
    document = visibility.readable_document(db, current_user, number)
    form = PeriodicReviewForm()
    if form.validate_on_submit():
        try:
            if form.outcome.data == "no_change":
                periodic.review_without_change(
                    db,
                    current_user,
                    document,
                    password=form.password.data or "",
                    comment=form.comment.data or "",
                )
            else:
                periodic.review_with_change(
                    db,
                    current_user,
                    document,
                    comment=form.comment.data or "",
                    major_change=form.outcome.data == "revise_major",
                )
        except DomainError as err:
            _refused(err)
            return redirect(url_for("distribution.periodic_review", number=document.number))
        db.commit()
        flash(_("Periodic review of %(number)s recorded.", number=document.number), "success")
        return redirect(url_for("distribution.periodic_reviews"))
    return render_template(
        "distribution/periodic_review.html",
        document=document,
        form=form,
        status=periodic.review_status(document, clock.today()),
        history=periodic.history(db, document),
    )


# -- external documents ----------------------------------------------------------------------


@bp.route("/external")
@permission_required(Permission.READ_DOCUMENTS)
def external_register() -> str:
    db = get_session()
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    raw = request.args.get("category", "")
    category = ExternalCategory(raw) if raw in {c.value for c in ExternalCategory} else None
    stmt = external.register_stmt(
        q=request.args.get("q", "").strip(),
        category=category,
        include_obsolete=bool(request.args.get("all")),
    )
    result = paginate(db, stmt, page, per_page)
    return render_template(
        "distribution/external_register.html",
        page=result,
        args=request.args,
        can_edit=current_user.can(Permission.ISSUE_DOCUMENTS),
    )


def _owner_choices(db: Session) -> list[tuple[str, str]]:
    return [(str(u.id), u.display_name) for u in _people(db)]


@bp.route("/external/new", methods=["GET", "POST"])
@permission_required(Permission.ISSUE_DOCUMENTS)
def external_new() -> Any:
    db = get_session()
    form = ExternalForm()
    form.department.choices = [(d.code, f"{d.code} {d.name}") for d in _departments(db)]
    form.owner.choices = _owner_choices(db)
    if request.method == "GET":
        form.department.data = "PZ"
        form.owner.data = str(current_user.id)
    status = 200
    if form.validate_on_submit():
        department = _dept_by_code(db, form.department.data)
        owner = _user_by_id(db, form.owner.data)
        try:
            if department is None or owner is None:
                abort(422)
            ext = external.register_external(
                db,
                current_user,
                title=form.title.data or "",
                category=ExternalCategory(form.category.data),
                source=form.source.data or "",
                reference=form.reference.data or "",
                edition=form.edition.data or "",
                url=form.url.data or "",
                notes=form.notes.data or "",
                number=form.number.data or "",
                department=department,
                owner=owner,
                effective_date=form.effective_date.data,
                checked_on=form.checked_on.data,
            )
        except DomainError as err:
            form.title.errors = [refused(err)]
            status = err.status
        else:
            db.commit()
            flash(
                _("External document %(number)s registered.", number=ext.document.number), "success"
            )
            return redirect(url_for("distribution.external_detail", number=ext.document.number))
    elif request.method == "POST":
        status = 422
    return render_template("distribution/external_new.html", form=form), status


@bp.route("/external/<number>")
@permission_required(Permission.READ_DOCUMENTS)
def external_detail(number: str) -> str:
    db = get_session()
    ext = external.get_external(db, number)
    edit = ExternalEditForm(obj=ext, prefix="edit")
    edit.owner.choices = _owner_choices(db)
    edit.owner.data = str(ext.owner_id)
    revisions = [
        r
        for r in ext.document.revisions
        if r.state in (RevState.EFFECTIVE, RevState.SUPERSEDED, RevState.OBSOLETE)
    ]
    return render_template(
        "distribution/external_detail.html",
        ext=ext,
        document=ext.document,
        revisions=revisions,
        edit=edit,
        check=CurrencyCheckForm(prefix="check"),
        edition=NewEditionForm(prefix="edition"),
        can_edit=current_user.can(Permission.ISSUE_DOCUMENTS),
        can_check=current_user.can(Permission.ISSUE_DOCUMENTS) or ext.owner_id == current_user.id,
    )


@bp.route("/external/<number>/edit", methods=["POST"])
@permission_required(Permission.ISSUE_DOCUMENTS)
def external_edit(number: str) -> Any:
    db = get_session()
    ext = external.get_external(db, number)
    form = ExternalEditForm(prefix="edit")
    form.owner.choices = _owner_choices(db)
    owner = _user_by_id(db, form.owner.data)
    if form.validate_on_submit() and owner is not None:
        try:
            external.update_external(
                db,
                current_user,
                ext,
                category=ExternalCategory(form.category.data),
                source=form.source.data or "",
                reference=form.reference.data or "",
                url=form.url.data or "",
                owner=owner,
                reason=form.reason.data or "",
            )
        except DomainError as err:
            _refused(err)
        else:
            db.commit()
            flash(_("Changes saved."), "success")
    else:
        flash(_("Check the form: the source and the owner are needed."), "error")
    return redirect(url_for("distribution.external_detail", number=number))


@bp.route("/external/<number>/check", methods=["POST"])
@permission_required(Permission.VIEW_OWN_TASKS)
def external_check(number: str) -> Any:
    db = get_session()
    ext = external.get_external(db, number)
    form = CurrencyCheckForm(prefix="check")
    if form.validate_on_submit():
        try:
            external.check_currency(
                db, current_user, ext, checked_on=form.checked_on.data, note=form.note.data or ""
            )
        except DomainError as err:
            _refused(err)
        else:
            db.commit()
            flash(_("Currency check recorded."), "success")
    return redirect(url_for("distribution.external_detail", number=number))


@bp.route("/external/<number>/edition", methods=["POST"])
@permission_required(Permission.ISSUE_DOCUMENTS)
def external_edition(number: str) -> Any:
    db = get_session()
    ext = external.get_external(db, number)
    form = NewEditionForm(prefix="edition")
    if form.validate_on_submit():
        try:
            revision = external.new_edition(
                db,
                current_user,
                ext,
                edition=form.edition.data or "",
                notes=form.notes.data or "",
                effective_date=form.effective_date.data,
                reference=form.reference.data or None,
            )
        except DomainError as err:
            _refused(err)
        else:
            db.commit()
            flash(
                _(
                    "Edition %(edition)s registered as revision %(label)s.",
                    edition=ext.edition,
                    label=revision.label,
                ),
                "success",
            )
    else:
        flash(_("Name the new edition."), "error")
    return redirect(url_for("distribution.external_detail", number=number))


# -- home page -------------------------------------------------------------------------------


@panel_provider
def document_control_panel(session: Session, user: User) -> list[Panel]:
    if not user.can(Permission.ISSUE_DOCUMENTS):
        return []
    today = clock.today()
    count = sa.func.count()
    recalls_open = (
        session.scalar(
            sa.select(count).select_from(copies.outstanding_recalls().order_by(None).subquery())
        )
        or 0
    )
    overdue = (
        session.scalar(
            sa.select(count).select_from(reading.overdue_stmt(today).order_by(None).subquery())
        )
        or 0
    )
    due = session.scalars(periodic.due_documents(today)).all()
    late = sum(1 for d in due if periodic.review_status(d, today) == "overdue")
    return [
        Panel(
            title=_l("Distribution and review"),
            order=20,
            rows=[
                (_l("Copies to recall"), recalls_open),
                (_l("Overdue acknowledgements"), overdue),
                (_l("Periodic reviews due"), len(due) - late),
                (_l("Periodic reviews overdue"), late),
            ],
            links=[
                (_l("Outstanding recalls"), "distribution.recalls"),
                (_l("Read and understood"), "distribution.reading_matrix"),
                (_l("Periodic review"), "distribution.periodic_reviews"),
                (_l("External documents"), "distribution.external_register"),
            ],
        )
    ]
