"""Writing-plan pages (handbook 5.3): the plans, each plan with its items, questions and
steps, an item's draft, the consolidation page and the two forms (BD-PZ-006, BD-PZ-007).
Thin: check who may, validate, call one service, commit once."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from qms import clock
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.certification.models import Consultant
from qms.db import get_session
from qms.documents.models import Document
from qms.errorhandlers import refused
from qms.errors import DomainError
from qms.web import permission_required
from qms.writing import reminders as _reminders  # noqa: F401 - tasks, panel
from qms.writing import rules, service
from qms.writing.forms import (
    AnswerForm,
    ButtonForm,
    CommentForm,
    DecideForm,
    DelayForm,
    FindingForm,
    ItemForm,
    PlanForm,
    QuestionForm,
    ResolveForm,
    SectionForm,
    StepForm,
    TrainingForm,
)
from qms.writing.labels import (
    ACTION_LABELS,
    CATEGORY_LABELS,
    DECISION_LABELS,
    KIND_LABELS,
    PROGRESS_LABELS,
    STATE_LABELS,
)
from qms.writing.models import Comment, Finding, PlanItem, Question, WritingPlan

bp = Blueprint("writing", __name__, url_prefix="/writing-plans")

LABELS = {
    "state_labels": STATE_LABELS,
    "action_labels": ACTION_LABELS,
    "kind_labels": KIND_LABELS,
    "category_labels": CATEGORY_LABELS,
    "decision_labels": DECISION_LABELS,
    "progress_labels": PROGRESS_LABELS,
}


def _render(template: str, status: int = 200, **context: Any) -> Any:
    return render_template(f"writing/{template}", **LABELS, **context), status


def _plan(plan_id: int) -> WritingPlan:
    """The plan, or 404; 403 for someone with no part in it."""
    plan = service.get_plan(get_session(), plan_id)
    if not service.can_view(plan, current_user):
        abort(403)
    return plan


def _consultants(db: Any) -> list[tuple[str, str]]:
    return [("", "—")] + [
        (str(c.id), f"{c.name} {c.organisation}".strip())
        for c in db.scalars(sa.select(Consultant).order_by(Consultant.name))
    ]


def _departments(db: Any) -> list[tuple[str, str]]:
    return [
        (str(d.id), f"{d.code} {d.name}")
        for d in db.scalars(sa.select(Department).order_by(Department.code))
    ]


def _users(db: Any) -> list[tuple[str, str]]:
    return [("", "—")] + [
        (str(u.id), f"{u.display_name} ({u.username})")
        for u in db.scalars(
            sa.select(User).where(User.active.is_(True)).order_by(User.username)
        ).unique()
    ]


def _item_choices(plan: WritingPlan) -> list[tuple[str, str]]:
    return [("", "—")] + [(str(i.id), f"{i.position}. {i.title}") for i in plan.items]


def _get(db: Any, model: Any, value: Any) -> Any:
    try:
        return db.get(model, int(value)) if value else None
    except (TypeError, ValueError):
        return None


@bp.route("/")
@permission_required(Permission.VIEW_OWN_TASKS)
def index() -> Any:
    db = get_session()
    return _render(
        "index.html",
        plans=service.visible_plans(db, current_user),
        manage=service.can_manage(current_user),
    )


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_WRITING_PLANS)
def new() -> Any:
    db = get_session()
    form = PlanForm()
    form.consultant.choices = _consultants(db)
    status = 200
    if form.validate_on_submit():
        try:
            plan = service.create_plan(
                db,
                current_user,
                title=form.title.data or "",
                scope=form.scope.data or "",
                consultant=_get(db, Consultant, form.consultant.data),
                training_on=form.training_on.data,
                trainer=form.trainer.data or "",
                training_notes=form.training_notes.data or "",
            )
        except DomainError as err:
            db.rollback()
            form.title.errors = [refused(err)]
            status = err.status
        else:
            db.commit()
            flash(_("Writing plan %(ref)s created: add its items.", ref=plan.ref), "success")
            return redirect(url_for("writing.plan", plan_id=plan.id))
    elif request.method == "POST":
        status = 422
    return _render("new.html", status, form=form)


class _PlanForms:
    def __init__(self, db: Any, plan: WritingPlan) -> None:
        self.item = ItemForm(prefix="item")
        self.item.department.choices = _departments(db)
        self.item.writer.choices = _users(db)
        self.training = TrainingForm(prefix="training")
        self.step = StepForm(prefix="step")
        self.step.set_choices(service.next_actions(plan, current_user))
        self.question = QuestionForm(prefix="question")
        self.question.item.choices = _item_choices(plan)
        self.answer = AnswerForm(prefix="answer")
        self.answer.consultant.choices = [("", _("The quality manager")), *_consultants(db)[1:]]


@bp.route("/<int:plan_id>", methods=["GET", "POST"])
@permission_required(Permission.VIEW_OWN_TASKS)
def plan(plan_id: int) -> Any:
    db = get_session()
    found = _plan(plan_id)
    forms = _PlanForms(db, found)
    status = 200
    if request.method == "POST":
        which = request.form.get("form", "")
        allowed = {
            "item": service.can_manage(current_user),
            "training": service.can_manage(current_user),
            "step": bool(forms.step.step.choices),
            "question": True,
            "answer": service.can_confirm(current_user),
        }
        if not allowed.get(which, service.can_manage(current_user)):
            abort(403)
        form = getattr(forms, which, None)
        if form is None:
            abort(400)
        if form.validate_on_submit():
            try:
                done = _plan_post(db, found, which, form)
            except DomainError as err:
                target = {"item": "title", "training": "training_on", "step": "step"}
                getattr(form, target.get(which, "text")).errors = [refused(err)]
                status = err.status
                db.rollback()
                found = _plan(plan_id)
            else:
                db.commit()
                flash(done, "success")
                anchor = "#questions" if which in ("question", "answer") else ""
                return redirect(url_for("writing.plan", plan_id=plan_id) + anchor)
        else:
            status = 422
    return _plan_page(db, found, forms, status)


def _plan_post(db: Any, found: WritingPlan, which: str, form: Any) -> str:
    if which == "item":
        document = None
        if (form.revises.data or "").strip():
            document = service.documents.get_document(db, form.revises.data.strip().upper())
        service.add_item(
            db,
            current_user,
            found,
            service.ItemIn(
                kind=form.kind.data or "",
                title=form.title.data or "",
                department=_get(db, Department, form.department.data),
                writer=_get(db, User, form.writer.data),
                start_on=form.start_on.data,
                draft_due=form.draft_due.data,
                final_due=form.final_due.data,
                number=form.number.data or "",
                document=document,
                position=form.position.data,
            ),
        )
        return _("Item added.")
    if which == "training":
        service.record_training(
            db,
            current_user,
            found,
            training_on=form.training_on.data,
            trainer=form.trainer.data or "",
            notes=form.notes.data or "",
        )
        return _("Training recorded.")
    if which == "step":
        service.take_step(
            db,
            current_user,
            found,
            form.step.data or "",
            reason=form.reason.data or "",
            deadline=form.deadline.data,
        )
        return _("Step taken: %(step)s.", step=ACTION_LABELS[rules.PlanAction(form.step.data)])
    if which == "question":
        item = _get(db, PlanItem, form.item.data)
        service.ask(db, current_user, found, text=form.text.data or "", item=item)
        return _("Question asked; the answer will show here for every writer of the plan.")
    question = _get(db, Question, form.question_id.data)
    if question is None or question.plan_id != found.id:
        abort(404)
    service.answer(
        db,
        current_user,
        question,
        text=form.text.data or "",
        consultant=_get(db, Consultant, form.consultant.data),
    )
    return _("Answer recorded.")


def _plan_page(db: Any, found: WritingPlan, forms: _PlanForms, status: int) -> Any:
    if request.method == "GET":
        forms.training.training_on.data = found.training_on
        forms.training.trainer.data = found.trainer
        forms.training.notes.data = found.training_notes
    return _render(
        "plan.html",
        status,
        plan=found,
        forms=forms,
        rows=service.standings(found),
        questions=service.questions_in_order(found),
        manage=service.can_manage(current_user),
        confirm=service.can_confirm(current_user),
        facts=service.facts(found),
        today=clock.today(),
    )


@bp.route("/<int:plan_id>/items/<int:plan_item_id>", methods=["GET", "POST"])
@permission_required(Permission.VIEW_OWN_TASKS)
def item(plan_id: int, plan_item_id: int) -> Any:
    db = get_session()
    found = _plan(plan_id)
    row = service.get_item(db, found, plan_item_id)
    mine = row.writer_id == current_user.id
    manage = service.can_manage(current_user)
    section = SectionForm(prefix="section")
    delay = DelayForm(prefix="delay")
    button = ButtonForm()
    status = 200
    if request.method == "POST":
        which = request.form.get("form", "")
        allowed = {
            "start": mine,
            "submit": mine,
            "text": mine or manage,
            "delay": manage,
            "take_in": manage,
        }
        if not allowed.get(which, mine or manage):
            abort(403)
        form: Any = {
            "start": button,
            "submit": button,
            "text": section,
            "delay": delay,
            "take_in": button,
        }.get(which)
        if form is None:
            abort(400)
        if form.validate_on_submit():
            try:
                if which == "start":
                    service.start_draft(db, current_user, row)
                    done = _("Draft started from the template.")
                elif which == "submit":
                    service.submit_draft(db, current_user, row)
                    done = _("Draft submitted.")
                elif which == "text":
                    try:
                        base = int(section.base_version.data or 0)
                    except ValueError:
                        base = 0
                    service.save_text(
                        db, current_user, row, body=section.body.data or "", base_version=base
                    )
                    done = _("Section saved.")
                elif which == "take_in":
                    service.take_in(db, current_user, row)
                    done = _(
                        "The text is taken into the controlled draft %(number)s.",
                        number=row.number,
                    )
                else:
                    service.record_delay(db, current_user, row, reason=delay.reason.data or "")
                    done = _("Delay recorded.")
            except DomainError as err:
                target = {"text": section.body, "delay": delay.reason}.get(which)
                if target is not None:
                    target.errors = [refused(err)]
                else:
                    flash(refused(err), "error")
                status = err.status
                db.rollback()
                found = _plan(plan_id)
                row = service.get_item(db, found, plan_item_id)
            else:
                db.commit()
                flash(done, "success")
                return redirect(url_for("writing.item", plan_id=plan_id, plan_item_id=plan_item_id))
        else:
            status = 422
    current = service.current_text(row)
    if request.method == "GET" or not section.body.data:
        section.body.data = current.body if current else ""
    section.base_version.data = str(current.version) if current else "0"
    return _render(
        "item.html",
        status,
        plan=found,
        item=row,
        current=current,
        section=section,
        delay=delay,
        button=button,
        mine=mine,
        manage=manage,
        writing=found.state in rules.WRITING_STATES,
        on_item=service.drafted_on_item(row),
        may_take_in=manage and service.awaits_take_in(row) and found.state not in rules.FINAL,
        progress=service.standings(found)[found.items.index(row)],
    )


@bp.route("/<int:plan_id>/consolidation", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_WRITING_PLANS)
def consolidation(plan_id: int) -> Any:
    db = get_session()
    found = _plan(plan_id)
    forms: dict[str, Any] = {
        "assemble": ButtonForm(),
        "finding": FindingForm(prefix="finding"),
        "resolve": ResolveForm(prefix="resolve"),
        "comment": CommentForm(prefix="comment"),
        "decide": DecideForm(prefix="decide"),
    }
    forms["finding"].item.choices = _item_choices(found)
    forms["comment"].department.choices = _departments(db)
    status = 200
    if request.method == "POST":
        which = request.form.get("form", "")
        form = forms.get(which)
        if form is None:
            abort(400)
        if form.validate_on_submit():
            try:
                done = _consolidation_post(db, found, which, form)
            except DomainError as err:
                flash(refused(err), "error")
                status = err.status
                db.rollback()
                found = _plan(plan_id)
            else:
                db.commit()
                flash(done, "success")
                return redirect(url_for("writing.consolidation", plan_id=plan_id))
        else:
            status = 422
    if request.method == "GET":
        forms["decide"].confirmed_by.data = current_user.display_name
    service.load_drafts(db, found)
    rows = service.standings(found)
    on_item = [i for i in found.items if i.kind != "manual_section" and service.drafted_on_item(i)]
    return _render(
        "consolidation.html",
        status,
        plan=found,
        forms=forms,
        rows=rows,
        counts=service.counts(rows),
        facts=service.facts(found),
        manual=found.manual_revision,
        on_item=on_item,
        taken_in=[i.revision.document for i in on_item if i.taken_in_at and i.revision],
    )


def _consolidation_post(db: Any, found: WritingPlan, which: str, form: Any) -> str:
    if which == "assemble":
        revision = service.assemble_manual(db, current_user, found)
        return _(
            "The draft manual %(number)s %(label)s is assembled from the sections.",
            number=service.MANUAL_NUMBER,
            label=revision.label,
        )
    if which == "finding":
        service.record_finding(
            db,
            current_user,
            found,
            category=form.category.data or "",
            text=form.text.data or "",
            item=_get(db, PlanItem, form.item.data),
        )
        return _("Finding recorded.")
    if which == "resolve":
        finding = _get(db, Finding, form.finding_id.data)
        if finding is None or finding.plan_id != found.id:
            abort(404)
        service.resolve_finding(db, current_user, finding, note=form.note.data or "")
        return _("Finding resolved.")
    if which == "comment":
        service.add_comment(
            db,
            current_user,
            found,
            department=_get(db, Department, form.department.data),
            person=form.person.data or "",
            clause=form.clause.data or "",
            text=form.text.data or "",
        )
        return _("Comment recorded.")
    comment = _get(db, Comment, form.comment_id.data)
    if comment is None or comment.plan_id != found.id:
        abort(404)
    service.decide_comment(
        db,
        current_user,
        comment,
        decision=form.decision.data or "",
        reason=form.reason.data or "",
        confirmed_by=form.confirmed_by.data or "",
    )
    return _("Decision recorded.")


@bp.route("/<int:plan_id>/bd-pz-006")
@permission_required(Permission.VIEW_OWN_TASKS)
def form_006(plan_id: int) -> Any:
    found = _plan(plan_id)
    return _render("bd_pz_006.html", plan=found, rows=service.standings(found))


@bp.route("/<int:plan_id>/bd-pz-007")
@permission_required(Permission.MANAGE_WRITING_PLANS)
def form_007(plan_id: int) -> Any:
    found = _plan(plan_id)
    return _render("bd_pz_007.html", plan=found, manual=found.manual_revision)


@bp.route("/<int:plan_id>/bd-pz-006.docx")
@permission_required(Permission.VIEW_OWN_TASKS)
def form_006_docx(plan_id: int) -> Any:
    from qms.writing.export import plan_docx

    found = _plan(plan_id)
    return _docx(plan_docx(found, service.standings(found)), f"BD-PZ-006-{found.ref}.docx")


@bp.route("/<int:plan_id>/bd-pz-007.docx")
@permission_required(Permission.MANAGE_WRITING_PLANS)
def form_007_docx(plan_id: int) -> Any:
    from qms.writing.export import comments_docx

    found = _plan(plan_id)
    return _docx(comments_docx(found), f"BD-PZ-007-{found.ref}.docx")


def _docx(data: bytes, name: str) -> Any:
    import io

    from flask import send_file

    return send_file(
        io.BytesIO(data),
        mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        as_attachment=True,
        download_name=name,
    )


def manual_document(db: Any) -> Document | None:
    return db.scalar(sa.select(Document).where(Document.number == service.MANUAL_NUMBER))


def _register_nav() -> None:
    from flask_babel import lazy_gettext as _l

    from qms import nav

    nav.register(
        # less frequent than daily work: in the document-control group, off the bar
        nav.NavEntry(
            _l("Writing plans"), "writing.index", Permission.MANAGE_WRITING_PLANS, 66, "control"
        )
    )


_register_nav()
