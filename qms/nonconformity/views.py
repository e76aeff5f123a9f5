"""Pages of nonconformities: the register, raising one, and its page, where each step is
a form (cause and plan, actions, document change, verification with a signature, close)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms import clock
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.db import get_session
from qms.documents.lifecycle import RevState
from qms.documents.models import Document
from qms.errorhandlers import refused
from qms.errors import DomainError, Invalid
from qms.links import object_rule
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.nonconformity import docpage as _docpage  # noqa: F401  (actions on the revision page)
from qms.nonconformity import queries, rules, service
from qms.nonconformity import tasks as _tasks  # noqa: F401  (task provider)
from qms.nonconformity.forms import RaiseForm
from qms.nonconformity.labels import (
    ACTION_STATUS_LABELS,
    GRADE_LABELS,
    SOURCE_LABELS,
    STATE_LABELS,
    STEP_LABELS,
)
from qms.nonconformity.models import Nonconformity
from qms.nonconformity.rules import NcAction, NcState
from qms.pagination import clamp, paginate
from qms.trail.models import TrailEntry
from qms.web import parse_id, permission_required

bp = Blueprint("nonconformity", __name__, url_prefix="/nonconformities")

register_nav(
    NavEntry(_l("Nonconformities"), "nonconformity.register", Permission.READ_DOCUMENTS, 35)
)

LABELS = {
    "state": STATE_LABELS,
    "grade": GRADE_LABELS,
    "source": SOURCE_LABELS,
    "status": ACTION_STATUS_LABELS,
    "step": STEP_LABELS,
}
# the steps taken with the plain step form (no fields of their own beyond a reason)
PLAIN_STEPS = (
    NcAction.START_ACTIONS,
    NcAction.SUBMIT_FOR_VERIFICATION,
    NcAction.CLOSE,
    NcAction.REOPEN,
)


def _load(nc_id: int) -> Nonconformity:
    nc = get_session().get(Nonconformity, nc_id)
    if nc is None or not service.can_view(current_user, nc):
        abort(404)
    return nc


@object_rule("nonconformity.detail")
def _may_see(user: Any, nc_id: Any = None, **_: Any) -> bool:
    nc = get_session().get(Nonconformity, nc_id) if isinstance(nc_id, int) else None
    return nc is not None and service.can_view(user, nc)


def _keeper(refusal: dict[str, Any] | None) -> Callable[..., Any]:
    kept_for = (refusal or {}).get("for")

    def keep(form: str, name: str, default: Any = "") -> Any:
        if kept_for != form or name not in request.form:
            return default
        return request.form.get(name)

    return keep


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(_l("%(value)s is not a date (YYYY-MM-DD).", value=value)) from None


def _no_due() -> date:
    raise Invalid(_l("Give the due date."), code="due_required")


def _people(db: Any) -> list[User]:
    return list(
        db.scalars(
            sa.select(User).where(User.active.is_(True)).order_by(User.display_name)
        ).unique()
    )


def _departments(db: Any) -> list[Department]:
    return list(
        db.scalars(
            sa.select(Department).where(Department.active.is_(True)).order_by(Department.code)
        )
    )


# -- the register ----------------------------------------------------------------------------


@bp.route("/")
@permission_required(Permission.READ_DOCUMENTS)
def register() -> str:
    db = get_session()
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    filters = {
        "state": request.args.get("state", "") if request.args.get("state") in set(NcState) else "",
        "grade": request.args.get("grade", "")
        if request.args.get("grade") in set(rules.Grade)
        else "",
        "source": request.args.get("source", "")
        if request.args.get("source") in set(rules.Source)
        else "",
        "department": request.args.get("department", "")[:16],
        "clause": request.args.get("clause", "")[:20],
        "process": request.args.get("process", "")[:32],
        "overdue": request.args.get("overdue") == "1",
    }
    result = paginate(
        db, queries.register(current_user, filters, clock.today()), page, per_page, scalars=False
    )
    return render_template(
        "nonconformity/register.html",
        page=result,
        L=LABELS,
        args=request.args,
        filters=filters,
        departments=_departments(db),
        deadlines=_deadlines(),
        may_raise=current_user.can(Permission.RAISE_NONCONFORMITIES),
    )


def _deadlines() -> list[tuple[Any, Any]]:
    """The deadlines table, as the pages state it (from rules, the one place)."""

    def say(deadline: rules.Deadline) -> Any:
        if deadline.working:
            return _l("%(n)d working days", n=deadline.days)
        return _l("%(n)d days", n=deadline.days)

    return [
        (_l("Root cause and plan"), say(rules.CAUSE_AND_PLAN_DEADLINE)),
        *[
            (_l("Correction of a %(grade)s", grade=GRADE_LABELS[grade]), say(deadline))
            for grade, deadline in rules.CORRECTION_DEADLINES.items()
        ],
    ]


# -- raising ---------------------------------------------------------------------------------


def _raise_choices(form: RaiseForm, db: Any) -> None:
    form.source.choices = [(str(k), str(v)) for k, v in SOURCE_LABELS.items()]
    form.grade.choices = [(str(k), str(v)) for k, v in GRADE_LABELS.items()]
    form.department.choices = [(d.code, f"{d.code} {d.name}") for d in _departments(db)]
    form.owner.choices = [(0, _("The department head"))] + [
        (u.id, u.display_name) for u in _people(db)
    ]
    numbers = db.execute(
        sa.select(Document.number, Document.title)
        .where(Document.status == RevState.EFFECTIVE)
        .order_by(Document.number)
        .limit(1000)
    ).all()
    form.process_number.choices = [("", "—")] + [(n, f"{n} {t}") for n, t in numbers]


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.RAISE_NONCONFORMITIES)
def new() -> Any:
    db = get_session()
    form = RaiseForm()
    _raise_choices(form, db)
    refusal: dict[str, Any] | None = None
    status = 200
    if form.validate_on_submit():
        try:
            nc = service.raise_nonconformity(
                db,
                actor=current_user,
                source=form.source.data or "",
                source_id=None,
                source_label=form.source_label.data or "",
                department=db.scalar(
                    sa.select(Department).where(Department.code == form.department.data)
                )
                or 0,
                clause=form.clause.data or "",
                process_number=form.process_number.data or None,
                grade=form.grade.data or "",
                description=form.description.data or "",
                evidence=form.evidence.data or "",
                raised_on=form.raised_on.data,
                owner=form.owner.data or None,
                verification_interval_days=form.verification_interval_days.data,
            )
        except DomainError as err:
            refusal = {**err.details, "message": refused(err), "code": err.code}
            status = err.status
        else:
            db.commit()
            flash(_("Nonconformity %(number)s raised.", number=nc.number), "success")
            return redirect(url_for("nonconformity.detail", nc_id=nc.id))
    elif request.method == "POST":
        status = 422
    return render_template(
        "nonconformity/new.html", form=form, refusal=refusal, deadlines=_deadlines()
    ), status


# -- the nonconformity's page ----------------------------------------------------------------


@bp.route("/<int:nc_id>")
@permission_required(Permission.READ_DOCUMENTS)
def detail(nc_id: int) -> str:
    return _detail_page(_load(nc_id))


def _detail_page(nc: Nonconformity, refusal: dict[str, Any] | None = None) -> str:
    db = get_session()
    me = current_user
    actors = service.actors_for(me, nc)
    history = list(
        db.scalars(
            sa.select(TrailEntry)
            .where(
                sa.or_(
                    sa.and_(
                        TrailEntry.object_type == service.OBJECT, TrailEntry.object_id == str(nc.id)
                    ),
                    sa.and_(
                        TrailEntry.object_type == service.ACTION_OBJECT,
                        TrailEntry.object_id.in_([str(a.id) for a in nc.actions]),
                    ),
                )
            )
            .order_by(TrailEntry.seq)
        )
    )
    today = clock.today()
    return render_template(
        "nonconformity/detail.html",
        nc=nc,
        L=LABELS,
        A=NcAction,
        S=NcState,
        me=me,
        steps=rules.allowed_actions(nc.state, actors),
        plain_steps=PLAIN_STEPS,
        may_verify=me.can(Permission.VERIFY_NONCONFORMITIES)
        and nc.state == NcState.AWAITING_VERIFICATION,
        verifier_refusal=service._verifier_refusal(me, nc),
        earliest=service.earliest_verification(nc),
        overdue=service.is_overdue(nc, today),
        today=today,
        elsewhere=service.same_problem_elsewhere(db, nc),
        history=history,
        people=_people(db),
        refusal=refusal,
        keep=_keeper(refusal),
        deadlines=_deadlines(),
        rules=rules,
        perm_manage=Permission.MANAGE_NONCONFORMITIES,
        perm_draft=Permission.DRAFT_DOCUMENTS,
    )


def _attempt(nc: Nonconformity, kept_for: str, work: Callable[[], Any], done: Any) -> Any:
    """One service call; committed and back to the page, or the page again with the
    refusal, what was typed kept, nothing stored."""
    try:
        work()
    except DomainError as err:
        message = refused(err)
        refusal = {**err.details, "message": message, "code": err.code, "for": kept_for}
        return _detail_page(get_session().get(Nonconformity, nc.id) or nc, refusal), err.status
    get_session().commit()
    flash(str(done() if callable(done) else done), "success")
    return redirect(url_for("nonconformity.detail", nc_id=nc.id) + f"#{kept_for.split(':')[0]}")


@bp.route("/<int:nc_id>/cause", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def cause(nc_id: int) -> Any:
    nc = _load(nc_id)
    form = request.form
    return _attempt(
        nc,
        "cause",
        lambda: service.record_cause_and_plan(
            get_session(),
            current_user,
            nc,
            whys=[form.get(f"why{i}", "") for i in range(1, 6)],
            root_cause=form.get("root_cause", ""),
            correction=form.get("correction", ""),
            plan=form.get("plan", ""),
            reason=form.get("reason", ""),
        ),
        _("Root cause and plan saved."),
    )


@bp.route("/<int:nc_id>/actions", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def add_action(nc_id: int) -> Any:
    nc = _load(nc_id)
    form = request.form
    return _attempt(
        nc,
        "actions",
        lambda: service.add_action(
            get_session(),
            current_user,
            nc,
            description=form.get("description", ""),
            owner=parse_id(form.get("owner")) or 0,
            due_on=_date(form.get("due_on")) or _no_due(),
        ),
        _("Action added."),
    )


@bp.route("/<int:nc_id>/actions/<int:action_id>/done", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def complete_action(nc_id: int, action_id: int) -> Any:
    nc = _load(nc_id)
    db = get_session()
    action = service.get_action(db, nc, action_id)
    return _attempt(
        nc,
        f"done:{action_id}",
        lambda: service.complete_action(
            db,
            current_user,
            nc,
            action,
            note=request.form.get("note", ""),
            done_on=_date(request.form.get("done_on")),
        ),
        _("Action done."),
    )


@bp.route("/<int:nc_id>/actions/<int:action_id>/document-change", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def document_change(nc_id: int, action_id: int) -> Any:
    nc = _load(nc_id)
    db = get_session()
    action = service.get_action(db, nc, action_id)
    made: list[Any] = []

    def work() -> None:
        made.append(
            service.raise_document_change(
                db,
                current_user,
                nc,
                action,
                document_number=request.form.get("document_number") or None,
                major_change=request.form.get("major_change") == "1",
            )
        )

    return _attempt(
        nc,
        f"change:{action_id}",
        work,
        lambda: _(
            "Revision %(label)s of %(number)s started; the action is done when it is effective.",
            label=made[0].label,
            number=made[0].document.number,
        ),
    )


@bp.route("/<int:nc_id>/step", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def step(nc_id: int) -> Any:
    nc = _load(nc_id)
    db = get_session()
    action = request.form.get("action", "")
    reason = request.form.get("reason", "")
    steps: dict[str, Callable[[], Any]] = {
        NcAction.START_ACTIONS: lambda: service.start_actions(db, current_user, nc),
        NcAction.SUBMIT_FOR_VERIFICATION: lambda: service.submit_for_verification(
            db, current_user, nc
        ),
        NcAction.CLOSE: lambda: service.close(db, current_user, nc, reason=reason),
        NcAction.REOPEN: lambda: service.reopen(db, current_user, nc, reason=reason),
    }
    if action not in steps:
        abort(400)
    return _attempt(
        nc,
        f"step:{action}",
        steps[action],
        lambda: _("%(number)s: %(state)s.", number=nc.number, state=STATE_LABELS[nc.state]),
    )


@bp.route("/<int:nc_id>/verify", methods=["POST"])
@permission_required(Permission.VERIFY_NONCONFORMITIES)
def verify(nc_id: int) -> Any:
    nc = _load(nc_id)
    form = request.form
    return _attempt(
        nc,
        "verify",
        lambda: service.verify(
            get_session(),
            current_user,
            nc,
            effective=form.get("effective") == "yes",
            password=form.get("password", ""),
            content_sha256=form.get("content_sha256", ""),
            comment=form.get("comment", ""),
        ),
        lambda: _("%(number)s: %(state)s.", number=nc.number, state=STATE_LABELS[nc.state]),
    )
