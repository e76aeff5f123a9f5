"""HTML pages of internal audits: the programme with its planning table and calendar, an
audit (plan, criteria, steps, findings, report), the checklist fill page and the results.
Every form posts plainly; a refusal shows the same page again with the reason and the input."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms import clock
from qms.audits import export, forms, service
from qms.audits import labels as _labels  # noqa: F401  (the trail's words for audit codes)
from qms.audits import links as _links
from qms.audits import tasks as _tasks  # noqa: F401  (task provider)
from qms.audits.lifecycle import AuditAction, AuditState, ProgrammeAction, Status
from qms.audits.models import (
    ACTION_LABELS,
    GRADE_LABELS,
    MEETING_LABELS,
    PROGRAMME_STATE_LABELS,
    RESULT_LABELS,
    STATE_LABELS,
    STATUS_LABELS,
    Audit,
    AuditChecklistItem,
    AuditPhoto,
    AuditProgramme,
    Grade,
    Result,
)
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.db import get_session
from qms.errorhandlers import refused
from qms.errors import DomainError
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.pagination import clamp, paginate
from qms.web import permission_required

bp = Blueprint("audits", __name__, url_prefix="/audits")

register_nav(
    NavEntry(_l("Internal audits"), "audits.index", Permission.READ_DOCUMENTS, 35),
)

LABELS = {
    "state": STATE_LABELS,
    "programme_state": PROGRAMME_STATE_LABELS,
    "status": STATUS_LABELS,
    "grade": GRADE_LABELS,
    "result": RESULT_LABELS,
    "action": ACTION_LABELS,
    "meeting": MEETING_LABELS,
}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


_people_of_audits = _links._people_of_audits


def _programme(programme_id: int) -> AuditProgramme:
    programme = get_session().get(AuditProgramme, programme_id)
    if programme is None:
        abort(404)
    if not _people_of_audits(current_user):
        abort(403)
    return programme


def _audit(audit_id: int) -> Audit:
    audit = get_session().get(Audit, audit_id)
    if audit is None or not service.may_see(get_session(), current_user, audit):
        abort(404)
    return audit


def _keeper(refusal: dict[str, Any] | None) -> Callable[..., Any]:
    kept_for = (refusal or {}).get("for")

    def keep(form: str, name: str, default: Any = "") -> Any:
        if kept_for != form or name not in request.form:
            return default
        return request.form.get(name)

    def kept_list(form: str, name: str, default: Any) -> Any:
        return request.form.getlist(name) if kept_for == form else default

    keep.list = kept_list  # type: ignore[attr-defined]
    return keep


def _attempt(
    work: Callable[[], Any],
    kept_for: str,
    again: Callable[[dict[str, Any]], Any],
    done: Callable[[], Any],
) -> Any:
    """One service call, one commit; a refusal shows the page again, nothing stored."""
    try:
        work()
    except DomainError as err:
        message = refused(err)
        refusal = {**err.details, "message": message, "code": err.code, "for": kept_for}
        return again(refusal), err.status
    get_session().commit()
    return done()


# -- the list, programmes -----------------------------------------------------------------


def _statuses(db: Any, audits: Any, today: date) -> dict[int, Status]:
    add = service.working_days(db)
    return {a.id: service.status(db, a, today, add) for a in audits}


def _visible_audits(db: Any) -> sa.Select[Any]:
    stmt = sa.select(Audit)
    if not _people_of_audits(current_user):
        stmt = stmt.where(Audit.department_id == (current_user.department_id or 0))
    return stmt


@bp.route("/")
@permission_required(Permission.READ_DOCUMENTS)
def index() -> str:
    return _index_page(None)


def _index_page(refusal: dict[str, Any] | None) -> str:
    db = get_session()
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    result = paginate(
        db, _visible_audits(db).order_by(Audit.audit_date.desc(), Audit.id.desc()), page, per_page
    )
    programmes = (
        list(db.scalars(sa.select(AuditProgramme).order_by(AuditProgramme.year.desc())))
        if _people_of_audits(current_user)
        else []
    )
    today = clock.today()
    return render_template(
        "audits/index.html",
        page=result,
        programmes=programmes,
        L=LABELS,
        args=request.args,
        statuses=_statuses(db, result.items, today),
        may_manage=service.may_manage(current_user),
        this_year=today.year,
        refusal=refusal,
        keep=_keeper(refusal),
    )


@bp.route("/programmes", methods=["POST"])
@permission_required(Permission.MANAGE_AUDITS)
def new_programme() -> Any:
    made: list[AuditProgramme] = []

    def work() -> None:
        made.append(
            service.create_programme(
                get_session(),
                current_user,
                year=forms.whole(request.form.get("year"), "year"),
                notes=request.form.get("notes", ""),
            )
        )

    return _attempt(
        work,
        "programme",
        _index_page,
        lambda: _flash_to(
            _("The audit programme was created."),
            url_for("audits.programme", programme_id=made[0].id),
        ),
    )


def _flash_to(message: str, target: str) -> Any:
    flash(message, "success")
    return redirect(target)


@bp.route("/programmes/<int:programme_id>")
@permission_required(Permission.READ_DOCUMENTS)
def programme(programme_id: int) -> str:
    return _programme_page(_programme(programme_id), None)


def _auditors(db: Any) -> list[User]:
    return [
        u
        for u in db.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.username))
        if u.can(Permission.RUN_AUDITS)
    ]


def _programme_page(programme: AuditProgramme, refusal: dict[str, Any] | None) -> str:
    db = get_session()
    today = clock.today()
    actors = service.actors_on(db, current_user)
    from qms.audits import lifecycle

    return render_template(
        "audits/programme.html",
        programme=programme,
        L=LABELS,
        rows=service.planning_rows(db, programme),
        missing=service.uncovered(db, programme),
        statuses=_statuses(db, programme.audits, today),
        moves=lifecycle.programme_moves(programme.state, actors),
        PA=ProgrammeAction,
        signed=service.programme_hash(programme),
        may_manage=service.may_manage(current_user),
        departments=service.departments(db),
        auditors=_auditors(db),
        clauses=service.ISO_CLAUSES,
        refusal=refusal,
        keep=_keeper(refusal),
    )


@bp.route("/programmes/<int:programme_id>/audits", methods=["POST"])
@permission_required(Permission.MANAGE_AUDITS)
def plan_audit(programme_id: int) -> Any:
    programme_ = _programme(programme_id)
    made: list[Audit] = []

    def work() -> None:
        db = get_session()
        f = request.form
        department = db.get(Department, forms.whole(f.get("department_id"), "department"))
        if department is None:
            raise forms.invalid(_l("Choose the department to audit."))
        lead = forms.user(db, f.get("lead_auditor_id"))
        made.append(
            service.plan_audit(
                db,
                current_user,
                programme_,
                department=department,
                title=f.get("title", ""),
                audit_date=forms.day(f.get("audit_date"), "audit_date"),
                objectives=f.get("objectives", ""),
                scope=f.get("scope", ""),
                place=f.get("place", ""),
                lead_auditor=lead,
                team=forms.users(db, f.getlist("team")),
                clauses=f.getlist("clauses"),
                documents=forms.numbers(f.get("documents", "")),
            )
        )

    return _attempt(
        work,
        "plan",
        lambda r: _programme_page(programme_, r),
        lambda: _flash_to(
            _("The audit was planned."), url_for("audits.detail", audit_id=made[0].id)
        ),
    )


@bp.route("/programmes/<int:programme_id>/move", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def programme_move(programme_id: int) -> Any:
    programme_ = _programme(programme_id)
    action = request.form.get("action", "")

    def work() -> None:
        db = get_session()
        if action == ProgrammeAction.SUBMIT:
            service.submit_programme(db, current_user, programme_)
        elif action == ProgrammeAction.APPROVE:
            service.approve_programme(
                db,
                current_user,
                programme_,
                password=request.form.get("password", ""),
                content_sha256=request.form.get("content_sha256"),
                comment=request.form.get("reason", ""),
            )
        elif action == ProgrammeAction.RETURN:
            service.return_programme(
                db, current_user, programme_, reason=request.form.get("reason", "")
            )
        else:
            raise forms.invalid(_l("%(action)s is not a step of a programme.", action=action))

    return _attempt(
        work,
        f"move:{action}",
        lambda r: _programme_page(programme_, r),
        lambda: _flash_to(_("Done."), url_for("audits.programme", programme_id=programme_.id)),
    )


@bp.route("/programmes/<int:programme_id>/calendar")
@permission_required(Permission.READ_DOCUMENTS)
def programme_calendar(programme_id: int) -> str:
    programme_ = _programme(programme_id)
    today = clock.today()
    default = today.month if today.year == programme_.year else 1
    month = forms.month(request.args.get("month"), default)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(programme_.year, month)
    db = get_session()
    by_day: dict[date, list[tuple[Audit, Status]]] = {}
    statuses = _statuses(db, programme_.audits, today)
    for a in programme_.audits:
        by_day.setdefault(a.audit_date, []).append((a, statuses[a.id]))
    return render_template(
        "audits/calendar.html",
        programme=programme_,
        weeks=weeks,
        month=month,
        by_day=by_day,
        L=LABELS,
        today=today,
    )


# -- an audit -----------------------------------------------------------------------------


@bp.route("/<int:audit_id>")
@permission_required(Permission.READ_DOCUMENTS)
def detail(audit_id: int) -> str:
    return _detail_page(_audit(audit_id), None)


def _detail_page(audit: Audit, refusal: dict[str, Any] | None) -> str:
    db = get_session()
    return render_template(
        "audits/detail.html",
        audit=audit,
        L=LABELS,
        A=AuditAction,
        S=AuditState,
        status=service.status(db, audit),
        moves=service.moves_for(db, current_user, audit),
        later=service.later_revisions(db, audit),
        service=service,
        latest_notice=service.latest_notice(db, audit),
        today=clock.today(),
        heads=service.department_heads(db, audit.department_id),
        is_head=service.is_head_of(db, current_user, audit.department_id),
        on_team=current_user.id in ({m.user_id for m in audit.team} | {audit.lead_auditor_id}),
        is_lead=audit.lead_auditor_id == current_user.id,
        may_plan=bool(
            service.actors_on(db, current_user, audit) & {service.Actor.MANAGER, service.Actor.LEAD}
        )
        and audit.state in (AuditState.PLANNED, AuditState.NOTIFIED),
        people=list(
            db.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.username))
        ),
        auditors=_auditors(db),
        clauses=service.ISO_CLAUSES,
        grades=list(Grade),
        counts=service.counts(audit),
        report_sha=service.report_hash(audit),
        refusal=refusal,
        keep=_keeper(refusal),
        me=current_user,
    )


def _back(audit: Audit, anchor: str = "") -> Callable[[], Any]:
    target = url_for("audits.detail", audit_id=audit.id) + (f"#{anchor}" if anchor else "")
    return lambda: _flash_to(_("Saved."), target)


@bp.route("/<int:audit_id>/plan", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def edit_plan(audit_id: int) -> Any:
    audit = _audit(audit_id)

    def work() -> None:
        db = get_session()
        f = request.form
        service.update_plan(
            db,
            current_user,
            audit,
            title=f.get("title", ""),
            objectives=f.get("objectives", ""),
            scope=f.get("scope", ""),
            place=f.get("place", ""),
            audit_date=forms.day(f.get("audit_date"), "audit_date"),
            lead_auditor=forms.user(db, f.get("lead_auditor_id")),
            team=forms.users(db, f.getlist("team")),
        )

    return _attempt(work, "plan", lambda r: _detail_page(audit, r), _back(audit, "plan"))


@bp.route("/<int:audit_id>/criteria", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def add_criterion(audit_id: int) -> Any:
    audit = _audit(audit_id)

    def work() -> None:
        service.add_criterion(
            get_session(),
            current_user,
            audit,
            clause=request.form.get("clause", ""),
            document=request.form.get("document", ""),
            revision=request.form.get("revision", ""),
        )

    return _attempt(work, "criterion", lambda r: _detail_page(audit, r), _back(audit, "criteria"))


@bp.route("/<int:audit_id>/criteria/<int:criterion_id>/move", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def move_pin(audit_id: int, criterion_id: int) -> Any:
    audit = _audit(audit_id)

    def work() -> None:
        service.move_pin(
            get_session(), current_user, audit, criterion_id, reason=request.form.get("reason", "")
        )

    return _attempt(
        work, f"pin:{criterion_id}", lambda r: _detail_page(audit, r), _back(audit, "criteria")
    )


@bp.route("/<int:audit_id>/move", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def move(audit_id: int) -> Any:
    audit = _audit(audit_id)
    action = request.form.get("action", "")

    def work() -> None:
        db = get_session()
        f = request.form
        service.apply_move(
            db,
            current_user,
            audit,
            action,
            password=f.get("password", ""),
            content_sha256=f.get("content_sha256"),
            reason=f.get("reason", ""),
            present=forms.ids(f.getlist("present")),
            held_on=forms.day(f.get("held_on"), "held_on", required=False),
            notice_date=forms.day(f.get("notice_date"), "notice_date", required=False),
        )

    return _attempt(work, f"move:{action}", lambda r: _detail_page(audit, r), _back(audit))


@bp.route("/<int:audit_id>/findings", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def add_finding(audit_id: int) -> Any:
    audit = _audit(audit_id)

    def work() -> None:
        f = request.form
        service.raise_finding(
            get_session(),
            current_user,
            audit,
            grade=f.get("grade", ""),
            description=f.get("description", ""),
            evidence=f.get("evidence", ""),
            criterion=f.get("criterion", ""),
            clause=f.get("clause", ""),
            process_number=f.get("process_number", ""),
            item_id=forms.optional_id(f.get("item_id")),
        )

    page = _checklist_page if request.form.get("from") == "checklist" else _detail_page
    return _attempt(work, "finding", lambda r: page(audit, r), _back(audit, "findings"))


@bp.route("/<int:audit_id>/findings/<int:number>/acknowledge", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def acknowledge(audit_id: int, number: int) -> Any:
    audit = _audit(audit_id)

    def work() -> None:
        service.acknowledge(
            get_session(),
            current_user,
            audit,
            number,
            password=request.form.get("password", ""),
            content_sha256=request.form.get("content_sha256"),
        )

    return _attempt(
        work, f"ack:{number}", lambda r: _detail_page(audit, r), _back(audit, "findings")
    )


@bp.route("/<int:audit_id>/report", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def edit_report(audit_id: int) -> Any:
    audit = _audit(audit_id)

    def work() -> None:
        f = request.form
        service.edit_report(
            get_session(),
            current_user,
            audit,
            conclusions=f.get("conclusions", ""),
            conformity_degree=f.get("conformity_degree", ""),
            diverging_opinions=f.get("diverging_opinions", ""),
            distribution=f.get("distribution", ""),
        )

    return _attempt(work, "report", lambda r: _detail_page(audit, r), _back(audit, "report"))


@bp.route("/<int:audit_id>/plan.docx")
@permission_required(Permission.READ_DOCUMENTS)
def plan_docx(audit_id: int) -> Response:
    audit = _audit(audit_id)
    return _docx(export.plan_docx(get_session(), audit), f"{audit.ref}-plan.docx")


@bp.route("/<int:audit_id>/report.docx")
@permission_required(Permission.READ_DOCUMENTS)
def report_docx(audit_id: int) -> Response:
    audit = _audit(audit_id)
    return _docx(export.report_docx(get_session(), audit), f"{audit.ref}-report.docx")


def _docx(data: bytes, name: str) -> Response:
    return Response(
        data,
        mimetype=DOCX,
        headers={
            "Content-Disposition": f"attachment; filename={name}",
            "Cache-Control": "no-store",
        },
    )


# -- the checklist ------------------------------------------------------------------------


@bp.route("/<int:audit_id>/checklist")
@permission_required(Permission.READ_DOCUMENTS)
def checklist(audit_id: int) -> str:
    return _checklist_page(_audit(audit_id), None)


def _checklist_page(audit: Audit, refusal: dict[str, Any] | None) -> str:
    return render_template(
        "audits/checklist.html",
        audit=audit,
        L=LABELS,
        results=list(Result),
        grades=list(Grade),
        on_team=current_user.id in ({m.user_id for m in audit.team} | {audit.lead_auditor_id}),
        fieldwork=audit.state in (AuditState.IN_PROGRESS, AuditState.REPORTING),
        editable=audit.state
        in (AuditState.PLANNED, AuditState.NOTIFIED, AuditState.IN_PROGRESS, AuditState.REPORTING),
        counts=service.counts(audit),
        clauses=service.ISO_CLAUSES,
        refusal=refusal,
        keep=_keeper(refusal),
    )


def _to_checklist(audit: Audit, anchor: str = "") -> Callable[[], Any]:
    target = url_for("audits.checklist", audit_id=audit.id) + (f"#{anchor}" if anchor else "")
    return lambda: _flash_to(_("Saved."), target)


@bp.route("/<int:audit_id>/checklist/generate", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def generate_checklist(audit_id: int) -> Any:
    audit = _audit(audit_id)
    return _attempt(
        lambda: service.generate_checklist(get_session(), current_user, audit),
        "generate",
        lambda r: _checklist_page(audit, r),
        _to_checklist(audit),
    )


@bp.route("/<int:audit_id>/checklist/items", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def add_item(audit_id: int) -> Any:
    audit = _audit(audit_id)

    def work() -> None:
        service.add_item(
            get_session(),
            current_user,
            audit,
            question=request.form.get("question", ""),
            clause=request.form.get("clause", ""),
            source=request.form.get("source", ""),
        )

    return _attempt(work, "item", lambda r: _checklist_page(audit, r), _to_checklist(audit))


@bp.route("/<int:audit_id>/checklist/items/<int:item_id>", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def update_item(audit_id: int, item_id: int) -> Any:
    audit = _audit(audit_id)

    def work() -> None:
        f = request.form
        service.edit_item(
            get_session(),
            current_user,
            audit,
            item_id,
            question=f.get("question"),
            result=f.get("result"),
            evidence=f.get("evidence"),
        )

    return _attempt(
        work,
        f"item:{item_id}",
        lambda r: _checklist_page(audit, r),
        _to_checklist(audit, f"item-{item_id}"),
    )


@bp.route("/<int:audit_id>/checklist/items/<int:item_id>/delete", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def delete_item(audit_id: int, item_id: int) -> Any:
    audit = _audit(audit_id)
    return _attempt(
        lambda: service.delete_item(get_session(), current_user, audit, item_id),
        f"item:{item_id}",
        lambda r: _checklist_page(audit, r),
        _to_checklist(audit),
    )


@bp.route("/<int:audit_id>/checklist/items/<int:item_id>/photos", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def add_photo(audit_id: int, item_id: int) -> Any:
    audit = _audit(audit_id)

    def work() -> None:
        upload = request.files.get("photo")
        if upload is None or not upload.filename:
            raise forms.invalid(_l("Choose a photo to upload."))
        service.add_photo(
            get_session(),
            current_user,
            audit,
            item_id,
            filename=upload.filename,
            data=upload.read(service.MAX_PHOTO_BYTES + 1),
            data_dir=current_app.config["DATA_DIR"],
        )

    return _attempt(
        work,
        f"item:{item_id}",
        lambda r: _checklist_page(audit, r),
        _to_checklist(audit, f"item-{item_id}"),
    )


@bp.route("/photos/<int:photo_id>")
@permission_required(Permission.READ_DOCUMENTS)
def photo(photo_id: int) -> Any:
    db = get_session()
    found = db.get(AuditPhoto, photo_id)
    if found is None:
        abort(404)
    item = db.get(AuditChecklistItem, found.item_id)
    _audit(item.audit_id if item else 0)
    path = Path(current_app.config["DATA_DIR"]) / "attachments" / found.sha256
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=found.content_type, download_name=found.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- results ------------------------------------------------------------------------------


@bp.route("/results")
@permission_required(Permission.READ_DOCUMENTS)
def results() -> str:
    db = get_session()
    everyone = _people_of_audits(current_user)
    rows = service.results(db, None if everyone else [current_user.department_id or 0])
    return render_template(
        "audits/results.html",
        rows=rows,
        L=LABELS,
        grades=list(Grade),
        chart=_chart(service.trend(db)) if everyone else None,
    )


GRADE_COLOURS = {
    Grade.SERIOUS: "#b3261e",
    Grade.GENERAL: "#e8a33d",
    Grade.OBSERVATION: "#4f7fb8",
    Grade.IMPROVEMENT: "#7bae6b",
}


def _chart(quarters: list[dict[str, Any]]) -> dict[str, Any]:
    """Stacked bars of findings by grade per quarter, as plain numbers for an inline SVG."""
    height, bar, gap, top = 160, 22, 10, 10
    highest = max([sum(q[str(g)] for g in Grade) for q in quarters] or [0]) or 1
    bars = []
    for i, q in enumerate(quarters):
        x = 40 + i * (bar + gap)
        y = top + height
        parts = []
        for g in Grade:
            h = round(q[str(g)] / highest * height, 1)
            if h:
                y -= h
                parts.append(
                    {
                        "y": round(y, 1),
                        "h": h,
                        "colour": GRADE_COLOURS[g],
                        "n": q[str(g)],
                        "grade": g,
                    }
                )
        bars.append(
            {"x": x, "label": q["label"], "parts": parts, "total": sum(q[str(g)] for g in Grade)}
        )
    return {
        "bars": bars,
        "width": 40 + len(quarters) * (bar + gap) + 10,
        "bar": bar,
        "height": height + top + 40,
        "base": top + height,
        "highest": highest,
        "colours": GRADE_COLOURS,
    }
