"""Certification pages (handbook 5.1): registers, projects and their steps, certificates,
the calendar and the evidence pack. Thin: validate, call one service, commit once."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from qms import clock
from qms.auth.permissions import Permission
from qms.certification import reminders as _reminders  # noqa: F401 - tasks, panel
from qms.certification import rules, service
from qms.certification.api import attachment_dir, feed_bytes, max_bytes
from qms.certification.forms import (
    AuditForm,
    BodyForm,
    ButtonForm,
    CertificateForm,
    ConsultantForm,
    ProjectForm,
    StatusForm,
    StepForm,
    TextsForm,
)
from qms.certification.labels import (
    ACTION_LABELS,
    AUDIT_KIND_LABELS,
    DUE_LABELS,
    KIND_LABELS,
    STATE_LABELS,
    STATUS_LABELS,
)
from qms.certification.models import (
    UNIT_KIND_LABELS,
    Certificate,
    CertificateStatus,
    CertificationBody,
    CertificationProject,
    Consultant,
    FeedToken,
    StepFile,
    UnitKind,
)
from qms.certification.rules import CertificateKind, ProjectAction
from qms.db import get_session
from qms.errorhandlers import refused
from qms.errors import DomainError
from qms.web import permission_required

bp = Blueprint("certification", __name__, url_prefix="/certification")

LABELS = {
    "state_labels": STATE_LABELS,
    "action_labels": ACTION_LABELS,
    "status_labels": STATUS_LABELS,
    "due_labels": DUE_LABELS,
    "kind_labels": KIND_LABELS,
    "audit_kind_labels": AUDIT_KIND_LABELS,
    "unit_kind_labels": UNIT_KIND_LABELS,
}


def _render(template: str, status: int = 200, **context: Any) -> Any:
    return render_template(f"certification/{template}", **LABELS, **context), status


def _bodies(db: Any) -> list[CertificationBody]:
    return list(
        db.scalars(
            sa.select(CertificationBody)
            .options(selectinload(CertificationBody.units))
            .order_by(CertificationBody.name)
        )
    )


def _consultants(db: Any) -> list[Consultant]:
    return list(db.scalars(sa.select(Consultant).order_by(Consultant.name)))


def _upload(storage: Any, direction: str = "received") -> service.FileIn | None:
    if storage is None or not getattr(storage, "filename", ""):
        return None
    return service.FileIn(storage.filename, storage.read(), direction)


@bp.route("/")
@permission_required(Permission.VIEW_CERTIFICATION)
def index() -> Any:
    db = get_session()
    certificates = list(
        db.scalars(
            sa.select(Certificate).order_by(Certificate.decision_date.desc(), Certificate.id)
        )
    )
    projects = list(
        db.scalars(
            sa.select(CertificationProject).order_by(CertificationProject.id.desc()).limit(50)
        )
    )
    return _render(
        "index.html",
        certificates=certificates,
        projects=projects,
        items=service.due_items(
            db, clock.today(), [c for c in certificates if c.status in service.CURRENT]
        ),
        today=clock.today(),
        manage=current_user.can(Permission.MANAGE_CERTIFICATION),
    )


# -- registers ------------------------------------------------------------------------------


@bp.route("/bodies", methods=["GET", "POST"])
@permission_required(Permission.VIEW_CERTIFICATION)
def bodies() -> Any:
    db = get_session()
    form, consultant_form = BodyForm(prefix="body"), ConsultantForm(prefix="consultant")
    status = 200
    if request.method == "POST":
        if not current_user.can(Permission.MANAGE_CERTIFICATION):
            abort(403)
        which = consultant_form if request.form.get("form") == "consultant" else form
        if which.validate_on_submit():
            try:
                if which is form:
                    body = service.create_body(
                        db,
                        current_user,
                        name=form.name.data or "",
                        accreditation_number=form.accreditation_number.data or "",
                        contact_name=form.contact_name.data or "",
                        contact_phone=form.contact_phone.data or "",
                        contact_email=form.contact_email.data or "",
                        address=form.address.data or "",
                    )
                    done = _("Certification body %(name)s registered.", name=body.name)
                else:
                    consultant = service.create_consultant(
                        db,
                        current_user,
                        name=consultant_form.name.data or "",
                        organisation=consultant_form.organisation.data or "",
                        contact_phone=consultant_form.contact_phone.data or "",
                        contact_email=consultant_form.contact_email.data or "",
                    )
                    done = _("Consultant %(name)s registered.", name=consultant.name)
            except DomainError as err:
                which.name.errors = [refused(err)]
                status = err.status
            else:
                db.commit()
                flash(done, "success")
                return redirect(url_for("certification.bodies"))
        else:
            status = 422
    return _render(
        "bodies.html",
        status,
        bodies=_bodies(db),
        consultants=_consultants(db),
        form=form,
        consultant_form=consultant_form,
        manage=current_user.can(Permission.MANAGE_CERTIFICATION),
    )


@bp.route("/bodies/<int:body_id>", methods=["GET", "POST"])
@permission_required(Permission.VIEW_CERTIFICATION)
def body(body_id: int) -> Any:
    from qms.certification.forms import UnitForm

    db = get_session()
    found = db.get(CertificationBody, body_id)
    if found is None:
        abort(404)
    form = UnitForm()
    status = 200
    if request.method == "POST":
        if not current_user.can(Permission.MANAGE_CERTIFICATION):
            abort(403)
        if form.validate_on_submit():
            try:
                service.add_unit(
                    db,
                    current_user,
                    found,
                    kind=UnitKind(form.kind.data),
                    name=form.name.data or "",
                    contact_name=form.contact_name.data or "",
                    contact_phone=form.contact_phone.data or "",
                    contact_email=form.contact_email.data or "",
                )
            except DomainError as err:
                form.name.errors = [refused(err)]
                status = err.status
            else:
                db.commit()
                flash(_("Added."), "success")
                return redirect(url_for("certification.body", body_id=body_id))
        else:
            status = 422
    return _render(
        "body.html",
        status,
        body=found,
        form=form,
        manage=current_user.can(Permission.MANAGE_CERTIFICATION),
    )


# -- projects -------------------------------------------------------------------------------


@bp.route("/projects/new", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_CERTIFICATION)
def new_project() -> Any:
    db = get_session()
    form = ProjectForm()
    form.body.choices = [(str(b.id), b.name) for b in _bodies(db)]
    form.consultant.choices = [("", "—")] + [(str(c.id), c.name) for c in _consultants(db)]
    status = 200
    if form.validate_on_submit():
        try:
            consultant = (
                db.get(Consultant, int(form.consultant.data)) if (form.consultant.data) else None
            )
            project = service.create_project(
                db,
                current_user,
                title=form.title.data or "",
                body=service.get_body(db, int(form.body.data or 0)),
                consultant=consultant,
                standard=form.standard.data or "",
                scope=form.scope.data or "",
                sites=form.sites.data or "",
                application_text=form.application_text.data or "",
                advice=form.advice.data or "",
                advice_on=form.advice_on.data,
            )
        except DomainError as err:
            form.title.errors = [refused(err)]
            status = err.status
        else:
            db.commit()
            flash(_("Certification project %(ref)s started.", ref=project.ref), "success")
            return redirect(url_for("certification.project", project_id=project.id))
    elif request.method == "POST":
        status = 422
    return _render("new_project.html", status, form=form)


def _step_form(db: Any, project: CertificationProject, form: StepForm | None = None) -> StepForm:
    from qms.reviews.approvers import general_manager

    form = form or StepForm()
    moves = service.next_actions(project, current_user, general_manager(db))
    form.step.choices = [(a, ACTION_LABELS[ProjectAction(a)]) for a in moves]
    return form


@bp.route("/projects/<int:project_id>", methods=["GET", "POST"])
@permission_required(Permission.VIEW_CERTIFICATION)
def project(project_id: int) -> Any:
    db = get_session()
    found = service.get_project(db, project_id)
    form = _step_form(db, found)
    texts = (
        TextsForm(prefix="texts", obj=found)
        if request.method == "GET"
        else (TextsForm(prefix="texts"))
    )
    status = 200
    if request.method == "POST":
        if not form.step.choices:
            abort(403)
        if form.validate_on_submit():
            certificate = None
            if form.step.data == ProjectAction.CERTIFY:
                certificate = service.CertificateIn(
                    number=form.number.data or "",
                    standard=form.cert_standard.data or "",
                    scope=(form.cert_scope.data or "").strip() or found.scope,
                    sites=(form.cert_sites.data or "").strip() or found.sites,
                    decision_date=form.decision_date.data,
                    grant_date=form.grant_date.data,
                    expiry_date=form.expiry_date.data,
                    scan=_upload(request.files.get("scan")),
                )
            files = [
                f
                for f in (
                    _upload(s, form.direction.data or "received")
                    for s in request.files.getlist("files")
                )
                if f
            ]
            try:
                service.take_step(
                    db,
                    current_user,
                    found,
                    service.StepIn(
                        action=form.step.data or "",
                        on_date=form.on_date.data,
                        responsible=form.responsible.data or "",
                        note=form.note.data or "",
                        files=files,
                        password=form.password.data or "",
                        content_sha256=form.content_sha256.data or None,
                        certificate=certificate,
                    ),
                    attachment_dir=attachment_dir(),
                    max_bytes=max_bytes(),
                )
            except DomainError as err:
                form.step.errors = [refused(err)]
                status = err.status
                found = service.get_project(db, project_id)
            else:
                db.commit()
                flash(
                    _(
                        "Step recorded: %(step)s.",
                        step=ACTION_LABELS[ProjectAction(form.step.data)],
                    ),
                    "success",
                )
                return redirect(url_for("certification.project", project_id=project_id))
        else:
            status = 422
    return _project_page(db, found, form, texts, status)


def _project_page(
    db: Any,
    found: CertificationProject,
    form: StepForm,
    texts: TextsForm,
    status: int,
    finding: Any = None,
) -> Any:
    from qms.certification import findings

    if not form.content_sha256.data:
        form.content_sha256.data = (
            service.contract_hash(found)
            if found.state == rules.ProjectState.ACCEPTED
            else service.application_hash(found)
        )
    manage = current_user.can(Permission.MANAGE_CERTIFICATION)
    return _render(
        "project.html",
        status,
        project=found,
        form=form,
        texts=texts,
        application_sha256=service.application_hash(found),
        contract_sha256=service.contract_hash(found),
        signed_actions=[str(a) for a in rules.SIGNED_ACTIONS],
        manage=manage,
        findings=findings.project_findings(db, found),
        finding=finding or (_finding_form(db) if manage and findings.engine_available() else None),
    )


def _finding_form(db: Any, form_class: Any = None) -> Any:
    from qms.auth.models import Department
    from qms.certification.forms import FindingForm

    form = (form_class or FindingForm)(prefix="finding")
    departments = db.scalars(sa.select(Department).order_by(Department.code)).all()
    form.department.choices = [(str(d.id), f"{d.code} {d.name}") for d in departments]
    return form


@bp.route("/projects/<int:project_id>/findings", methods=["POST"])
@permission_required(Permission.MANAGE_CERTIFICATION)
def project_finding(project_id: int) -> Any:
    from qms.certification import findings

    db = get_session()
    found = service.get_project(db, project_id)
    form = _finding_form(db)
    if form.validate_on_submit():
        try:
            nc = findings.raise_finding(
                db,
                current_user,
                found,
                department=int(form.department.data or 0),
                clause=form.clause.data or "",
                grade=form.grade.data or "",
                description=form.description.data or "",
                evidence=form.evidence.data or "",
                process_number=form.process_number.data or None,
                raised_on=form.raised_on.data,
            )
        except DomainError as err:
            form.description.errors = [refused(err)]
            status = err.status
        else:
            db.commit()
            flash(_("Nonconformity %(number)s recorded.", number=nc.number), "success")
            return redirect(url_for("certification.project", project_id=project_id))
    else:
        status = 422
    return _project_page(
        db, found, _step_form(db, found), TextsForm(prefix="texts", obj=found), status, finding=form
    )


@bp.route("/projects/<int:project_id>/texts", methods=["POST"])
@permission_required(Permission.MANAGE_CERTIFICATION)
def project_texts(project_id: int) -> Any:
    db = get_session()
    found = service.get_project(db, project_id)
    texts = TextsForm(prefix="texts")
    if texts.validate_on_submit():
        try:
            if found.state == rules.ProjectState.ACCEPTED:
                service.set_texts(
                    db, current_user, found, contract_text=texts.contract_text.data or ""
                )
            else:
                service.set_texts(
                    db, current_user, found, application_text=texts.application_text.data or ""
                )
        except DomainError as err:
            flash(refused(err), "error")
        else:
            db.commit()
            flash(_("Saved."), "success")
    return redirect(url_for("certification.project", project_id=project_id))


@bp.route("/files/<int:file_id>")
@permission_required(Permission.VIEW_CERTIFICATION)
def step_file(file_id: int) -> Any:
    row = get_session().get(StepFile, file_id)
    if row is None:
        abort(404)
    path = attachment_dir() / row.sha256
    if not path.exists():
        abort(404)
    return send_file(
        path, mimetype=row.content_type, as_attachment=True, download_name=row.filename
    )


# -- certificates ---------------------------------------------------------------------------


@bp.route("/certificates/new", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_CERTIFICATION)
def new_certificate() -> Any:
    db = get_session()
    form = CertificateForm()
    form.body.choices = [(str(b.id), b.name) for b in _bodies(db)]
    earlier = list(db.scalars(sa.select(Certificate).order_by(Certificate.id.desc())))
    form.previous.choices = [("", "—")] + [
        (str(c.id), f"{c.body.name} {c.number}") for c in earlier
    ]
    status = 200
    if form.validate_on_submit():
        try:
            previous = (
                service.get_certificate(db, int(form.previous.data))
                if (form.previous.data)
                else None
            )
            certificate = service.issue_certificate(
                db,
                current_user,
                service.get_body(db, int(form.body.data or 0)),
                service.CertificateIn(
                    number=form.number.data or "",
                    standard=form.cert_standard.data or "",
                    scope=form.cert_scope.data or "",
                    sites=form.cert_sites.data or "",
                    decision_date=form.decision_date.data,
                    grant_date=form.grant_date.data,
                    expiry_date=form.expiry_date.data,
                    kind=CertificateKind(form.kind.data),
                    previous=previous,
                    scan=_upload(request.files.get("scan")),
                ),
                attachment_dir=attachment_dir(),
                max_bytes=max_bytes(),
            )
        except DomainError as err:
            form.number.errors = [refused(err)]
            status = err.status
        else:
            db.commit()
            flash(_("Certificate %(number)s recorded.", number=certificate.number), "success")
            return redirect(url_for("certification.certificate", certificate_id=certificate.id))
    elif request.method == "POST":
        status = 422
    return _render("new_certificate.html", status, form=form)


@bp.route("/certificates/<int:certificate_id>", methods=["GET", "POST"])
@permission_required(Permission.VIEW_CERTIFICATION)
def certificate(certificate_id: int) -> Any:
    db = get_session()
    found = service.get_certificate(db, certificate_id)
    audit, change = AuditForm(prefix="audit"), StatusForm(prefix="status")
    status = 200
    if request.method == "POST":
        if not current_user.can(Permission.MANAGE_CERTIFICATION):
            abort(403)
        which = change if request.form.get("form") == "status" else audit
        if which.validate_on_submit():
            try:
                if which is audit:
                    service.record_audit(
                        db,
                        current_user,
                        found,
                        kind=audit.kind.data or "",
                        held_on=audit.held_on.data,
                        on_time=bool(audit.on_time.data),
                        major_nonconformities=audit.major_nonconformities.data or 0,
                        note=audit.note.data or "",
                    )
                else:
                    service.change_status(
                        db,
                        current_user,
                        found,
                        change.move.data or "",
                        on=change.on.data,
                        reason=change.reason.data or "",
                    )
            except DomainError as err:
                first = audit.held_on if which is audit else change.reason
                first.errors = [refused(err)]
                status = err.status
                found = service.get_certificate(db, certificate_id)
            else:
                db.commit()
                flash(_("Saved."), "success")
                return redirect(url_for("certification.certificate", certificate_id=certificate_id))
        else:
            status = 422
    return _certificate_page(db, found, audit, change, status)


def _audit_finding_form(db: Any, certificate: Any) -> Any:
    from qms.certification.forms import AuditFindingForm

    form = _finding_form(db, AuditFindingForm)
    form.audit.choices = [
        (str(a.id), f"{a.held_on.isoformat()} {AUDIT_KIND_LABELS[a.kind]}")
        for a in reversed(certificate.audits)
    ]
    return form


def _certificate_page(
    db: Any, found: Any, audit: Any, change: Any, status: int, finding: Any = None
) -> Any:
    from qms.certification import findings

    manage = current_user.can(Permission.MANAGE_CERTIFICATION)
    current = found.status in (CertificateStatus.VALID, CertificateStatus.SUSPENDED)
    if finding is None and manage and current and found.audits:
        finding = _audit_finding_form(db, found)
    scan_number = None
    if found.scan_document_id:
        from qms.documents.models import Document

        doc = db.get(Document, found.scan_document_id)
        scan_number = doc.number if doc else None
    return _render(
        "certificate.html",
        status,
        certificate=found,
        audit=audit,
        change=change,
        finding=finding,
        audit_findings=findings.audit_findings(db, [a.id for a in found.audits]),
        items=service.due_items(db, clock.today(), [found]),
        today=clock.today(),
        scan_number=scan_number,
        manage=manage,
    )


@bp.route("/certificates/<int:certificate_id>/findings", methods=["POST"])
@permission_required(Permission.MANAGE_CERTIFICATION)
def certificate_finding(certificate_id: int) -> Any:
    """A nonconformity the body found at a surveillance or recertification audit."""
    from qms.certification import findings

    db = get_session()
    found = service.get_certificate(db, certificate_id)
    form = _audit_finding_form(db, found)
    status = 422
    if form.validate_on_submit():
        try:
            nc = findings.raise_audit_finding(
                db,
                current_user,
                service.get_certificate_audit(db, found, int(form.audit.data or 0)),
                department=int(form.department.data or 0),
                clause=form.clause.data or "",
                grade=form.grade.data or "",
                description=form.description.data or "",
                evidence=form.evidence.data or "",
                process_number=form.process_number.data or None,
                raised_on=form.raised_on.data,
            )
        except DomainError as err:
            form.description.errors = [refused(err)]
            status = err.status
            db.rollback()
            found = service.get_certificate(db, certificate_id)
        else:
            db.commit()
            flash(_("Nonconformity %(number)s recorded.", number=nc.number), "success")
            return redirect(
                url_for("certification.certificate", certificate_id=certificate_id)
                + "#audit-findings"
            )
    return _certificate_page(
        db, found, AuditForm(prefix="audit"), StatusForm(prefix="status"), status, finding=form
    )


# -- calendar and evidence ------------------------------------------------------------------


@bp.route("/calendar", methods=["GET", "POST"])
@permission_required(Permission.VIEW_CERTIFICATION)
def calendar_page() -> Any:
    db = get_session()
    form = ButtonForm()
    feed_url = None
    if form.validate_on_submit():
        raw = service.new_feed_token(db, current_user)
        db.commit()
        feed_url = url_for("api.certification_api.calendar_feed", token=raw, _external=True)
        flash(_("Your calendar address was made; an earlier one no longer works."), "success")
    has_token = db.get(FeedToken, current_user.id) is not None
    items = service.due_items(db, clock.today())
    months: dict[str, list[Any]] = {}
    for item in items:
        months.setdefault(f"{item.due:%Y-%m}", []).append(item)
    return _render(
        "calendar.html",
        months=months,
        form=form,
        feed_url=feed_url,
        has_token=has_token,
        today=clock.today(),
    )


@bp.route("/calendar.ics")
@permission_required(Permission.VIEW_CERTIFICATION)
def calendar_download() -> Any:
    return send_file(
        io.BytesIO(feed_bytes(get_session())),
        mimetype="text/calendar",
        as_attachment=True,
        download_name="certification.ics",
    )


@bp.route("/evidence-pack", methods=["POST"])
@permission_required(Permission.MANAGE_CERTIFICATION)
def evidence_pack() -> Any:
    from qms.certification.evidence import build_pack

    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    today: date = clock.today()
    try:
        data, _manifest = build_pack(db, current_user, today=today, attachment_dir=attachment_dir())
    except DomainError as err:
        flash(refused(err), "error")
        return redirect(url_for("certification.index"))
    db.commit()
    response = send_file(
        io.BytesIO(data),
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"evidence-pack-{today.isoformat()}.zip",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _register_nav() -> None:
    from flask_babel import lazy_gettext as _l

    from qms import nav

    nav.register(
        nav.NavEntry(_l("Certification"), "certification.index", Permission.VIEW_CERTIFICATION, 45)
    )


_register_nav()
