"""HTML views of review meetings: list, plan, the review page, meeting mode, metrics, exports.
Meeting mode posts plain forms; static/reviews.js sends the same forms with
Accept: application/json and patches the page, so it works with and without JavaScript."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.csvexport import csv_response
from qms.db import get_session, new_session
from qms.documents import service as documents
from qms.documents import visibility
from qms.documents.lifecycle import RevState
from qms.documents.models import Document, Revision
from qms.errorhandlers import refused
from qms.errors import DomainError, Invalid
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.pagination import clamp, paginate
from qms.reviews import access, approvers, export, metrics, service
from qms.reviews import docpage as _docpage  # noqa: F401  (reviews on the document page)
from qms.reviews import gate as _gate  # noqa: F401  (subscribes the approval gate)
from qms.reviews import tasks as _tasks  # noqa: F401  (task provider and home panel)
from qms.reviews.forms import DefectForm, PlanEditForm, PlanForm
from qms.reviews.lifecycle import ReviewAction, ReviewState
from qms.reviews.models import (
    ACTION_LABELS,
    CAPACITY_LABELS,
    CATEGORY_LABELS,
    CONCLUSION_LABELS,
    DISPOSITION_LABELS,
    LEVEL_LABELS,
    PHASE_LABELS,
    ROLE_LABELS,
    SEVERITY_LABELS,
    STATE_LABELS,
    TYPE_LABELS,
    Category,
    Defect,
    Review,
    Severity,
)
from qms.web import form_errors, parse_id, permission_required, safe_next

bp = Blueprint("reviews", __name__, url_prefix="/reviews")

register_nav(
    NavEntry(
        _l("Reviews"),
        "reviews.index",
        Permission.READ_DOCUMENTS,
        30,
        shown=lambda user: access.takes_part_in_reviews(get_session(), user),
    ),
    NavEntry(
        _l("Approvers of review plans"),
        "reviews.plan_approvers",
        Permission.MANAGE_APPROVAL_MATRIX,
        87,
        "admin",
    ),
)

LABELS = {
    "state": STATE_LABELS,
    "type": TYPE_LABELS,
    "level": LEVEL_LABELS,
    "role": ROLE_LABELS,
    "severity": SEVERITY_LABELS,
    "category": CATEGORY_LABELS,
    "disposition": DISPOSITION_LABELS,
    "phase": PHASE_LABELS,
    "conclusion": CONCLUSION_LABELS,
    "action": ACTION_LABELS,
}


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _load(review_id: int) -> Review:
    """The review, or 404 when it does not exist or is not the user's to see."""
    review = get_session().get(Review, review_id)
    if review is None or not access.may_see_review(get_session(), current_user, review):
        abort(404)
    return review


def _done(review: Review, message: str, anchor: str = "", defect: Defect | None = None) -> Any:
    """Commit, then answer the script with fresh counts or the browser with a redirect."""
    get_session().commit()
    if wants_json():
        body: dict[str, Any] = {"message": message, "counts": service.counts(review)}
        if defect is not None:
            body["row"] = render_template(
                "reviews/_defect_row.html",
                review=review,
                d=defect,
                L=LABELS,
                me=current_user,
                service=service,
                A=ReviewAction,
                next_url=safe_next(request.form.get("next"), ""),
                refusal=None,
                keep=_keeper(None),
            )
            body["number"] = defect.number
        return jsonify(body)
    flash(message, "success")
    target = safe_next(request.form.get("next"), url_for("reviews.detail", review_id=review.id))
    return redirect(target + (f"#{anchor}" if anchor else ""))


def _attempt(review: Review, work: Callable[[], Any], kept_for: str, **page: Any) -> Any:
    """Run one service call; a refusal goes back to the page the user was on (or to the
    script) with its reason, what they typed kept, nothing stored."""
    try:
        return work()
    except DomainError as err:
        message = refused(err)  # rolled back, a refused signature kept in the trail
        if wants_json():
            return jsonify({"error": {"code": err.code, "message": message}}), err.status
        refusal = {**err.details, "message": message, "code": err.code, "for": kept_for}
        return _page_again(review, refusal, **page), err.status


def _page_again(review: Review, refusal: dict[str, Any], **page: Any) -> str:
    """The page the refused form was posted from, with the refusal and the input kept."""
    back = safe_next(request.form.get("next"), "") or ""
    if back.split("#")[0] == url_for("reviews.meeting", review_id=review.id):
        return _meeting_page(review, refusal=refusal, form=page.get("form"))
    return _detail_page(review, refusal=refusal, edit=page.get("edit"))


def _keeper(refusal: dict[str, Any] | None) -> Callable[..., Any]:
    """keep(form, field, default): what the user typed into the refused form, else default."""
    kept_for = (refusal or {}).get("for")

    def keep(form: str, name: str, default: Any = "") -> Any:
        if kept_for != form or name not in request.form:
            return default
        return request.form.get(name)

    def kept_list(form: str, name: str, default: Any) -> Any:
        if kept_for != form:
            return default
        return request.form.getlist(name)

    keep.list = kept_list  # type: ignore[attr-defined]
    return keep


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise Invalid(_l("%(value)s is not a whole number.", value=value)) from None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(_l("%(value)s is not a date (YYYY-MM-DD).", value=value)) from None


# -- list and plan --------------------------------------------------------------------------


@bp.route("/")
@permission_required(Permission.READ_DOCUMENTS)
def index() -> str:
    db = get_session()
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    stmt = access.readable_reviews(db, current_user, service.visible_reviews(current_user))
    state = request.args.get("state", "")
    if state in set(ReviewState):
        stmt = stmt.where(Review.state == state)
    result = paginate(db, stmt.order_by(Review.id.desc()), page, per_page)
    return render_template(
        "reviews/index.html",
        page=result,
        L=LABELS,
        args=request.args,
        states=list(ReviewState),
        may_lead=service.may_lead(current_user),
    )


def _people(db: Any) -> list[User]:
    return list(db.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.username)))


def _plan_choices(form: PlanForm, db: Any) -> None:
    people = _people(db)
    form.department.choices = [
        (d.code, f"{d.code} {d.name}")
        for d in db.scalars(
            sa.select(Department).where(Department.active.is_(True)).order_by(Department.code)
        )
    ]
    form.reviewers.choices = [(u.id, u.display_name) for u in people]
    form.recorder.choices = [(0, "—")] + [(u.id, u.display_name) for u in people]
    form.approver.choices = [(u.id, u.display_name) for u in approvers.plan_approvers(db)]
    form.revision.choices = [
        (r.id, f"{r.document.number} {r.label} {r.title}") for r in _under_review(db)
    ]


def _under_review(db: Any) -> list[Revision]:
    """The revisions awaiting review, of documents this leader is cleared for, by number."""
    rows = db.scalars(
        sa.select(Revision)
        .join(Document, Document.id == Revision.document_id)
        .where(Revision.state == RevState.IN_REVIEW)
        .order_by(Document.number)
        .limit(500)
    )
    # The rule review records follow: cleared for the document (a leader plans the review
    # of a draft he is not named on yet).
    return [r for r in rows if visibility.cleared_for_document(db, current_user, r.document)]


def _from_document(db: Any, form: PlanForm) -> None:
    """Opened from a document page: that revision chosen, its title and department filled."""
    chosen = parse_id(request.args.get("revision_id"))
    if chosen is None or chosen not in {value for value, _label in form.revision.choices}:
        return
    revision = db.get(Revision, chosen)
    form.revision.data = revision.id
    form.title.data = form.title.data or revision.title
    form.department.data = revision.document.department.code


def _revision(db: Any, number: str, label: str) -> Any:
    document = documents.get_document(db, number)
    return documents.revision_by_label(db, document, label.strip())


def _plan_fields(form: Any) -> dict[str, Any]:
    """The review plan's own fields, as the new-review and plan forms both carry them."""
    return {
        "strategy": form.strategy.data or "",
        "deliverables": form.deliverables.data or "",
        "regression_criteria": form.regression_criteria.data or "",
        "planned_pages_per_hour": form.planned_pages_per_hour.data,
        "meeting_date": form.meeting_date.data,
        "meeting_place": form.meeting_place.data or "",
        "agenda": form.agenda.data or "",
    }


def _attachments(db: Any, text: str) -> list[service.ObjectSpec]:
    specs = []
    for line in (text or "").splitlines():
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) < 2:
            raise Invalid(_l("Write each attachment as: number, revision, pages."))
        pages = _int(parts[2]) if len(parts) > 2 else 1
        specs.append(service.ObjectSpec(_revision(db, parts[0], parts[1]), pages or 1))
    return specs


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.LEAD_REVIEWS)
def new() -> Any:
    db = get_session()
    form = PlanForm()
    _plan_choices(form, db)
    status = 200
    refusal: dict[str, Any] | None = None
    if request.method == "GET":
        _from_document(db, form)
    if form.validate_on_submit():
        try:
            users = {u.id: u for u in _people(db)}
            review = service.create_review(
                db,
                current_user,
                title=form.title.data or "",
                system_version=form.system_version.data or "",
                department=db.scalar(
                    sa.select(Department).where(Department.code == form.department.data)
                )
                or abort(400),
                level=form.level.data,
                review_type=form.review_type.data,
                objects=[
                    service.ObjectSpec(
                        db.get(Revision, form.revision.data) or abort(422), form.pages.data or 1
                    ),
                    *_attachments(db, form.attachments.data or ""),
                ],
                reviewers=[users[i] for i in form.reviewers.data or [] if i in users],
                recorder=users.get(form.recorder.data or 0),
                approver=users[form.approver.data],
                **_plan_fields(form),
            )
        except DomainError as err:
            refusal = {**err.details, "message": refused(err), "code": err.code}
            status = err.status
        else:
            db.commit()
            flash(
                _(
                    "Review %(ref)s planned. Check the checklist, then submit the plan.",
                    ref=review.ref,
                ),
                "success",
            )
            return redirect(url_for("reviews.detail", review_id=review.id))
    elif request.method == "POST":
        status = 422
    return render_template("reviews/new.html", form=form, refusal=refusal), status


# -- the review page ------------------------------------------------------------------------


@bp.route("/<int:review_id>")
@permission_required(Permission.READ_DOCUMENTS)
def detail(review_id: int) -> str:
    return _detail_page(_load(review_id))


def _detail_page(
    review: Review, refusal: dict[str, Any] | None = None, edit: PlanEditForm | None = None
) -> str:
    figures = metrics.for_review(review)
    if edit is None:
        edit = PlanEditForm(obj=review, formdata=None)
        edit.checklist.data = "\n".join(i.text for i in review.checklist)
    return render_template(
        "reviews/detail.html",
        review=review,
        L=LABELS,
        me=current_user,
        service=service,
        A=ReviewAction,
        moves=service.moves_for(review, current_user),
        figures=figures,
        charts=_charts(figures),
        counts=service.counts(review),
        edit=edit,
        unconfirmed=service.unconfirmed(review),
        people=_people(get_session()),
        refusal=refusal,
        keep=_keeper(refusal),
    )


@bp.route("/<int:review_id>/move", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def move(review_id: int) -> Any:
    review = _load(review_id)
    action = request.form.get("action", "")

    def work() -> Any:
        service.apply_move(
            get_session(),
            current_user,
            review,
            action,
            password=request.form.get("password", ""),
            reason=request.form.get("reason", ""),
            content_sha256=request.form.get("content_sha256"),
            minutes=_int(request.form.get("minutes")),
        )
        return _done(
            review,
            _("Review %(ref)s: %(state)s.", ref=review.ref, state=STATE_LABELS[review.state]),
        )

    return _attempt(review, work, f"move:{action}")


@bp.route("/<int:review_id>/plan", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def edit_plan(review_id: int) -> Any:
    review = _load(review_id)
    form = PlanEditForm()
    if not form.validate():
        refusal = {"message": form_errors(form), "code": "invalid", "for": "plan"}
        return _detail_page(review, refusal=refusal, edit=form), 422

    def work() -> Any:
        db = get_session()
        service.update_plan(db, current_user, review, **_plan_fields(form))
        service.set_checklist(db, current_user, review, (form.checklist.data or "").splitlines())
        return _done(review, _("Plan saved."))

    return _attempt(review, work, "plan", edit=form)


@bp.route("/<int:review_id>/preparation", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def preparation(review_id: int) -> Any:
    review = _load(review_id)

    def work() -> Any:
        service.log_preparation(
            get_session(), current_user, review, _int(request.form.get("minutes")) or 0
        )
        return _done(review, _("Preparation time logged."))

    return _attempt(review, work, "preparation")


@bp.route("/<int:review_id>/attendance", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def attendance(review_id: int) -> Any:
    review = _load(review_id)

    def work() -> Any:
        present = [int(x) for x in request.form.getlist("present") if x.isdigit()]
        service.record_attendance(get_session(), current_user, review, present)
        return _done(review, _("Attendance recorded."))

    return _attempt(review, work, "attendance")


@bp.route("/<int:review_id>/conclusion", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def conclusion(review_id: int) -> Any:
    review = _load(review_id)

    def work() -> Any:
        service.conclude(
            get_session(),
            current_user,
            review,
            request.form.get("conclusion", ""),
            _int(request.form.get("count")),
            request.form.get("notes", ""),
        )
        return _done(review, _("Conclusion recorded."))

    return _attempt(review, work, "conclusion")


@bp.route("/<int:review_id>/regression", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def regression(review_id: int) -> Any:
    review = _load(review_id)

    def work() -> Any:
        service.decide_regression(
            get_session(),
            current_user,
            review,
            needed=request.form.get("needed") == "yes",
            reason=request.form.get("reason", ""),
            lessons=request.form.get("lessons", ""),
        )
        return _done(review, _("Decision on a regression review recorded."))

    return _attempt(review, work, "regression")


# -- meeting mode: defects and checklist ---------------------------------------------------


def _defect_form(review: Review, fresh: bool = False) -> DefectForm:
    form = DefectForm(formdata=None) if fresh else DefectForm()
    form.raised_by.choices = [(u.id, u.display_name) for u in review.people()]
    form.revision_id.choices = [
        (o.revision_id, f"{o.revision.document.number} {o.revision.label}") for o in review.objects
    ]
    if request.method == "GET" or fresh:
        form.raised_by.data = current_user.id
    return form


@bp.route("/<int:review_id>/meeting")
@permission_required(Permission.READ_DOCUMENTS)
def meeting(review_id: int) -> str:
    return _meeting_page(_load(review_id))


def _meeting_page(
    review: Review, refusal: dict[str, Any] | None = None, form: DefectForm | None = None
) -> str:
    return render_template(
        "reviews/meeting.html",
        review=review,
        L=LABELS,
        me=current_user,
        service=service,
        A=ReviewAction,
        form=form if form is not None else _defect_form(review, fresh=True),
        counts=service.counts(review),
        refusal=refusal,
        keep=_keeper(refusal),
    )


@bp.route("/<int:review_id>/defects", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def add_defect(review_id: int) -> Any:
    review = _load(review_id)
    form = _defect_form(review)
    if not form.validate():
        message = form_errors(form)
        if wants_json():
            return jsonify({"error": {"code": "invalid", "message": message}}), 422
        refusal = {"message": message, "code": "invalid", "for": "add_defect"}
        return _page_again(review, refusal, form=form), 422

    def work() -> Any:
        db = get_session()
        defect = service.add_defect(
            db,
            current_user,
            review,
            description=form.description.data or "",
            severity=Severity(form.severity.data),
            category=Category(form.category.data),
            revision_id=form.revision_id.data,
            raised_by=db.get(User, form.raised_by.data),
            chapter=form.chapter.data or "",
            section=form.section.data or "",
            page=form.page.data or "",
        )
        return _done(
            review, _("Defect %(no)s logged.", no=defect.number), f"defect-{defect.number}", defect
        )

    return _attempt(review, work, "add_defect", form=form)


@bp.route("/<int:review_id>/defects/<int:number>", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def update_defect(review_id: int, number: int) -> Any:
    review = _load(review_id)
    op = request.form.get("op", "")

    def work() -> Any:
        db = get_session()
        defect = service.get_defect(review, number)
        f = request.form
        if op == "dispose":
            service.dispose(
                db,
                current_user,
                defect,
                f.get("disposition", ""),
                f.get("reason", ""),
                f.get("severity") or None,
            )
            done = _(
                "Defect %(no)s: %(disposition)s.",
                no=number,
                disposition=DISPOSITION_LABELS[defect.disposition],
            )
        elif op == "respond":
            service.respond(db, current_user, defect, f.get("response", ""))
            done = _("Your response to defect %(no)s is saved.", no=number)
        elif op == "track":
            owner_id = parse_id(f.get("owner"))
            owner = db.get(User, owner_id) if owner_id is not None else None
            if owner is None:
                raise Invalid(_l("Name who fixes the defect."))
            service.track(db, current_user, defect, owner=owner, fix_due=_date(f.get("fix_due")))
            if defect.fix_due is not None:
                done = _(
                    "Defect %(no)s: %(name)s fixes it by %(date)s.",
                    no=number,
                    name=owner.display_name,
                    date=defect.fix_due.isoformat(),
                )
            else:
                done = _("Defect %(no)s: %(name)s fixes it.", no=number, name=owner.display_name)
        elif op == "fix":
            service.mark_fixed(db, current_user, defect)
            done = _("Defect %(no)s marked fixed.", no=number)
        elif op == "verify":
            service.verify(db, current_user, defect)
            done = _("Defect %(no)s verified.", no=number)
        else:
            raise Invalid(_l("Unknown action."))
        return _done(review, done, f"defect-{number}", defect)

    return _attempt(review, work, f"defect:{number}:{op}")


@bp.route("/<int:review_id>/checklist/<int:item_id>", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def tick(review_id: int, item_id: int) -> Any:
    review = _load(review_id)

    def work() -> Any:
        service.tick(
            get_session(),
            current_user,
            review,
            item_id,
            request.form.get("checked") in ("1", "on", "true"),
            request.form.get("note"),
        )
        return _done(review, _("Checklist updated."), "checklist")

    return _attempt(review, work, f"tick:{item_id}")


# -- exports and metrics -------------------------------------------------------------------


@bp.route("/<int:review_id>/record.docx")
@permission_required(Permission.READ_DOCUMENTS)
def record_docx(review_id: int) -> Response:
    review = _load(review_id)
    data = export.record_docx(get_session(), review)
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={"Content-Disposition": f"attachment; filename={review.ref}-record.docx"},
    )


@bp.route("/<int:review_id>/defects.csv")
@permission_required(Permission.READ_DOCUMENTS)
def defects_csv(review_id: int) -> Response:
    review = _load(review_id)
    stmt = sa.select(Defect).where(Defect.review_id == review.id).order_by(Defect.number)

    def rows() -> Iterator[list[Any]]:
        # The response streams after the view returns, so it reads with a session of its own.
        with new_session() as db:
            for defect in db.scalars(stmt):
                yield export.csv_row(defect)

    return csv_response(f"{review.ref}-defects.csv", export.CSV_HEADER, rows())


def _charts(f: metrics.Figures) -> dict[str, Any]:
    return {
        "severity": metrics.bar_chart(
            _("Defects by type"),
            [(str(SEVERITY_LABELS[Severity(k)]), v) for k, v in f.by_severity.items()],
        ),
        "category": metrics.bar_chart(
            _("Defects by category"),
            [(str(CATEGORY_LABELS[Category(k)]), v) for k, v in f.by_category.items()],
        ),
        "phase": metrics.bar_chart(
            _("Where defects were found"),
            [(_("Pre-review"), f.found_pre_review), (_("Meeting"), f.found_meeting)],
        ),
        "rate": metrics.bar_chart(
            _("Pages per hour"),
            [(_("Meeting"), f.pages_per_hour or 0)],
            reference=f.planned_pages_per_hour,
            reference_label=_("Plan"),
        ),
    }


@bp.route("/metrics", endpoint="metrics")
@permission_required(Permission.LEAD_REVIEWS)
def metrics_page() -> str:
    db = get_session()
    reviews = db.scalars(
        sa.select(Review)
        .where(
            Review.state.in_(
                [
                    ReviewState.REPORTING,
                    ReviewState.REPORT_SUBMITTED,
                    ReviewState.FOLLOW_UP,
                    ReviewState.ARCHIVED,
                ]
            )
        )
        .order_by(Review.id.desc())
        .limit(200)
    ).all()
    total, rows = metrics.across(reversed(reviews))
    density = metrics.bar_chart(
        _("Defects per page, by review"), [(r.ref, f.defects_per_page or 0) for r, f in rows]
    )
    return render_template(
        "reviews/metrics.html",
        total=total,
        rows=rows,
        charts=_charts(total),
        density=density,
        L=LABELS,
    )


# -- who approves review plans (the general manager and his delegates) ------------------


@bp.route("/approvers", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_APPROVAL_MATRIX)
def plan_approvers() -> Any:
    db = get_session()
    refusal: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        action = request.form.get("action", "")
        try:
            if action == "remove":
                entry_id = parse_id(request.form.get("entry_id"))
                if entry_id is None:
                    abort(404)
                approvers.remove(db, current_user, entry_id, request.form.get("reason", ""))
                done = _("Removed from the approvers of review plans.")
            else:
                user_id = parse_id(request.form.get("user"))
                user = db.get(User, user_id) if user_id is not None else None
                if user is None:
                    raise Invalid(_l("Choose a person."))
                reason = request.form.get("reason", "")
                if action == "general_manager":
                    approvers.name_general_manager(db, current_user, user, reason)
                    done = _("%(name)s is named as the general manager.", name=user.display_name)
                else:
                    approvers.delegate(db, current_user, user, reason)
                    done = _(
                        "%(name)s now approves review plans in the general manager's place.",
                        name=user.display_name,
                    )
        except DomainError as err:
            refusal = {"message": refused(err), "code": err.code, "for": action}
            status = err.status
        else:
            db.commit()
            flash(done, "success")
            return redirect(url_for("reviews.plan_approvers"))
    candidates = [u for u in _people(db) if service.may_approve(u)]
    return render_template(
        "reviews/approvers.html",
        entries=approvers.entries(db),
        candidates=candidates,
        refusal=refusal,
        keep=_keeper(refusal),
        CAPACITY_LABELS=CAPACITY_LABELS,
    ), status
