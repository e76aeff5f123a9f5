"""Writing-plan operations (handbook 5.3). Each takes what it needs, writes the audit trail
in the same transaction and only flushes; the view, the API or the worker commits once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.certification.models import Consultant
from qms.db import utcnow
from qms.documents import service as documents
from qms.documents.models import DocKind, Document
from qms.documents.starting import starting_text
from qms.errors import Conflict, Forbidden, Invalid, NotFound
from qms.trail import service as trail
from qms.writing import rules
from qms.writing.models import (
    Comment,
    Finding,
    PlanItem,
    Question,
    SectionText,
    WritingPlan,
)
from qms.writing.rules import (
    Decision,
    Facts,
    FindingCategory,
    ItemKind,
    PlanAction,
    PlanState,
)

MANUAL_NUMBER = "QM-01"
MAX_SECTION_BYTES = 512 * 1024

DOC_KINDS = {
    ItemKind.MANUAL_SECTION: DocKind.QUALITY_MANUAL,
    ItemKind.REGULATION: DocKind.REGULATION,
    ItemKind.PROCESS: DocKind.PROCESS,
    ItemKind.FORM: DocKind.FORM,
}


@dataclass
class ItemIn:
    kind: str
    title: str
    department: Department | None
    writer: User | None
    start_on: date | None
    draft_due: date | None
    final_due: date | None
    number: str = ""
    document: Document | None = None  # an existing document this item revises
    position: int | None = None


# -- who may do what ------------------------------------------------------------------------


def can_manage(user: User) -> bool:
    return user.can(Permission.MANAGE_WRITING_PLANS)


def can_confirm(user: User) -> bool:
    return user.can(Permission.CONFIRM_WRITING_PLANS)


def is_writer(plan: WritingPlan, user: User) -> bool:
    return any(i.writer_id == user.id for i in plan.items)


def can_view(plan: WritingPlan, user: User) -> bool:
    return can_manage(user) or is_writer(plan, user)


def _manage(actor: User) -> None:
    if not can_manage(actor):
        raise Forbidden(_l("Only the quality manager and the quality clerk run writing plans."))


def check_view(plan: WritingPlan, user: User) -> None:
    if not can_view(plan, user):
        raise Forbidden(
            _l("This writing plan is open to the quality center and the plan's writers only."),
            code="not_your_plan",
        )


def _text(value: str | None, what: Any, limit: int = 200, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(_l("%(what)s is required.", what=what))
    if len(value) > limit:
        raise Invalid(_l("%(what)s is too long (at most %(n)d characters).", what=what, n=limit))
    return value


# -- loading ----------------------------------------------------------------------------------


def get_plan(session: Session, plan_id: int) -> WritingPlan:
    plan = session.get(WritingPlan, plan_id)
    if plan is None:
        raise NotFound(_l("There is no writing plan %(id)s.", id=plan_id))
    return plan


def get_item(session: Session, plan: WritingPlan, item_id: int) -> PlanItem:
    item = session.get(PlanItem, item_id)
    if item is None or item.plan_id != plan.id:
        raise NotFound(_l("This writing plan has no such item."))
    return item


def visible_plans(session: Session, user: User) -> list[WritingPlan]:
    stmt = sa.select(WritingPlan).order_by(WritingPlan.id.desc())
    if not can_manage(user):
        stmt = stmt.where(
            WritingPlan.id.in_(sa.select(PlanItem.plan_id).where(PlanItem.writer_id == user.id))
        )
    return list(session.scalars(stmt.limit(200)))


def my_items(session: Session, user: User) -> list[PlanItem]:
    """The user's items in plans being written, soonest due first."""
    return list(
        session.scalars(
            sa.select(PlanItem)
            .join(WritingPlan)
            .where(
                PlanItem.writer_id == user.id,
                WritingPlan.state.in_(list(rules.WRITING_STATES)),
            )
            .order_by(PlanItem.submitted_at.is_not(None), PlanItem.draft_due, PlanItem.id)
        )
    )


# -- plans and items -------------------------------------------------------------------------


def _pattern_regex(session: Session, kind: DocKind, department: Department) -> re.Pattern[str]:
    pattern = documents.pattern_for(session, kind)
    head, _sep, rest = pattern.partition("{seq")
    tail = rest.split("}", 1)[1] if "}" in rest else ""
    return re.compile(
        re.escape(head.format(dept=department.code))
        + r"\d+"
        + re.escape(tail.format(dept=department.code))
    )


def _check_new_number(
    session: Session, number: str, kind: DocKind, department: Department, taken: set[str]
) -> str:
    number = number.strip().upper()
    if not _pattern_regex(session, kind, department).fullmatch(number):
        example = documents.pattern_for(session, kind).format(dept=department.code, seq=1)
        raise Invalid(
            _l(
                "%(number)s does not follow the numbering rules for this kind and "
                "department (for example %(example)s).",
                number=number,
                example=example,
            ),
            code="number_pattern",
        )
    used = session.scalar(sa.select(Document.id).where(Document.number == number))
    other = session.scalar(
        sa.select(PlanItem.id).where(
            PlanItem.number == number, PlanItem.revises_existing.is_(False)
        )
    )
    if used is not None or other is not None or number in taken:
        raise Conflict(
            _l(
                "The number %(number)s is already used by another document or another "
                "item of a writing plan; a number is never reused.",
                number=number,
            ),
            code="duplicate_number",
        )
    return number


def _new_item(
    session: Session, actor: User, plan: WritingPlan, data: ItemIn, taken: set[str], today: date
) -> PlanItem:
    try:
        kind = ItemKind(data.kind)
    except ValueError:
        raise Invalid(
            _l("Choose what the item is: a manual section, regulation, process or form.")
        ) from None
    title = _text(data.title, _l("The title of the item"))
    if data.department is None:
        raise Invalid(_l("Choose the department responsible for %(title)s.", title=title))
    if data.writer is None or not data.writer.active:
        raise Invalid(
            _l("Name the writer of %(title)s (an active user).", title=title), code="writer"
        )
    if data.start_on is None or data.draft_due is None or data.final_due is None:
        raise Invalid(
            _l("%(title)s needs a start date, a draft due date and a final due date.", title=title),
            code="dates",
        )
    problems = rules.date_problems(data.start_on, data.draft_due, data.final_due, today)
    messages = {
        "start_after_draft": _l(
            "%(title)s: the start date is after the draft due date.", title=title
        ),
        "draft_after_final": _l(
            "%(title)s: the draft due date is after the final due date.", title=title
        ),
        "final_in_past": _l("%(title)s: the final due date has already passed.", title=title),
    }
    if problems:
        raise Invalid(messages[problems[0]], code=problems[0])
    number, document, revises = "", None, False
    if kind != ItemKind.MANUAL_SECTION:
        doc_kind = DOC_KINDS[kind]
        if data.document is not None:
            document = data.document
            if document.kind != doc_kind:
                raise Invalid(
                    _l("%(number)s is not of the kind of this item.", number=document.number),
                    code="wrong_kind",
                )
            busy = session.scalar(
                sa.select(PlanItem.id)
                .join(WritingPlan)
                .where(
                    PlanItem.document_id == document.id,
                    WritingPlan.state.not_in([PlanState.FINALISED, PlanState.CANCELLED]),
                )
            )
            if busy is not None or document.number in taken:
                raise Conflict(
                    _l(
                        "%(number)s is already being revised under a writing plan.",
                        number=document.number,
                    ),
                    code="duplicate_number",
                )
            number, revises = document.number, True
        elif data.number.strip():
            number = _check_new_number(session, data.number, doc_kind, data.department, taken)
            # the counter moves past it, so no new document is given the number meanwhile
            documents._reserve_number(session, number, doc_kind, data.department)
        else:
            number = documents.allocate_number(session, doc_kind, data.department)
        taken.add(number)
    item = PlanItem(
        plan=plan,
        position=data.position or len(plan.items) + 1,
        kind=kind,
        title=title,
        number=number,
        document=document,
        revises_existing=revises,
        department=data.department,
        writer=data.writer,
        start_on=data.start_on,
        draft_due=data.draft_due,
        final_due=data.final_due,
    )
    session.add(item)
    session.flush()
    trail.record(
        session,
        actor,
        "add_plan_item",
        "writing_plan",
        plan.id,
        new=f"{item.position}. {kind} {number} {title}; {data.department.code}; "
        f"{data.writer.username}; {data.start_on} → {data.draft_due} → {data.final_due}",
    )
    return item


def create_plan(
    session: Session,
    actor: User,
    *,
    title: str,
    scope: str = "",
    consultant: Consultant | None = None,
    training_on: date | None = None,
    trainer: str = "",
    training_notes: str = "",
    items: list[ItemIn] | None = None,
) -> WritingPlan:
    """A writing plan (BD-PZ-006) in drafting, with its items; refused whole if one is wrong."""
    _manage(actor)
    today = clock.today()
    if training_on is not None and training_on > today:
        raise Invalid(_l("The training cannot be recorded before it is held."), code="future_date")
    plan = WritingPlan(
        title=_text(title, _l("The title")),
        scope=_text(scope, "", 5000, False),
        consultant=consultant,
        training_on=training_on,
        trainer=_text(trainer, "", 200, False),
        training_notes=_text(training_notes, "", 5000, False),
        state=PlanState.DRAFTING,
        created_by_id=actor.id,
    )
    session.add(plan)
    session.flush()
    trail.record(
        session,
        actor,
        "create",
        "writing_plan",
        plan.id,
        new=f"{plan.title}; {consultant.name if consultant else ''}",
    )
    taken: set[str] = set()
    for data in items or []:
        _new_item(session, actor, plan, data, taken, today)
    session.flush()
    return plan


def add_item(session: Session, actor: User, plan: WritingPlan, data: ItemIn) -> PlanItem:
    _manage(actor)
    if plan.state not in rules.PLANNING_STATES:
        raise Conflict(
            _l("Items are added while the plan is being drawn up, before it is confirmed."),
            code="plan_confirmed",
        )
    return _new_item(session, actor, plan, data, set(), clock.today())


def record_training(
    session: Session,
    actor: User,
    plan: WritingPlan,
    *,
    training_on: date | None,
    trainer: str,
    notes: str,
) -> WritingPlan:
    """The consultant's training of the writers (LC-PZ-003 step 1)."""
    _manage(actor)
    if training_on is None:
        raise Invalid(_l("The date of the training is required."), code="dates")
    if training_on > clock.today():
        raise Invalid(_l("The training cannot be recorded before it is held."), code="future_date")
    old = f"{plan.training_on or ''}; {plan.trainer}; {plan.training_notes}"
    plan.training_on = training_on
    plan.trainer = _text(trainer, _l("The trainer"), 200)
    plan.training_notes = _text(notes, "", 5000, False)
    session.flush()
    trail.record(
        session,
        actor,
        "record_training",
        "writing_plan",
        plan.id,
        old=old,
        new=f"{training_on}; {plan.trainer}; {plan.training_notes}",
    )
    return plan


def facts(plan: WritingPlan) -> Facts:
    sections = [i for i in plan.items if i.kind == ItemKind.MANUAL_SECTION]
    return Facts(
        items=len(plan.items),
        manual_sections=len(sections),
        manual_assembled=plan.manual_revision_id is not None,
        undecided_comments=sum(1 for c in plan.comments if c.decision is None),
        unresolved_findings=sum(1 for f in plan.findings if f.resolved_at is None),
        untaken_drafts=sum(1 for i in plan.items if awaits_take_in(i)),
    )


def next_actions(plan: WritingPlan, user: User) -> list[str]:
    if not can_manage(user):
        return []
    return [
        str(a)
        for a in rules.allowed_actions(plan.state, facts(plan))
        if a not in rules.MANAGER_ACTIONS or can_confirm(user)
    ]


REFUSALS = {
    "unknown_action": _l("There is no such step."),
    "out_of_order": _l(
        "This step cannot be taken now: the plan is at “%(state)s”. Take the steps in the "
        "order of the writing process."
    ),
    "no_items": _l("A plan without items cannot be confirmed: add what is to be written first."),
    "not_assembled": _l(
        "Assemble the draft manual from its sections first: it is what is circulated and finalised."
    ),
    "undecided_comments": _l(
        "The plan cannot be finalised: %(n)d circulation comment(s) still lack a decision."
    ),
    "unresolved_findings": _l(
        "The plan cannot be finalised: %(n)d of the consultant's findings are not resolved."
    ),
    "untaken_drafts": _l(
        "The plan cannot be finalised: the submitted text of %(n)d regulation(s), process(es) "
        "or form(s) written on the plan is not yet taken into the controlled draft."
    ),
}


def take_step(
    session: Session,
    actor: User,
    plan: WritingPlan,
    action: str,
    *,
    reason: str = "",
    deadline: date | None = None,
) -> WritingPlan:
    """Move the plan on one step (confirm: the quality manager only; cancel: with reason;
    circulate: with the deadline for the departments' comments)."""
    from qms.writing.labels import STATE_LABELS

    _manage(actor)
    try:
        act = PlanAction(action)
    except ValueError:
        raise Invalid(REFUSALS["unknown_action"], code="unknown_action") from None
    if act in rules.MANAGER_ACTIONS and not can_confirm(actor):
        raise Forbidden(
            _l("Only the quality manager confirms a writing plan."), code="not_quality_manager"
        )
    try:
        new_state = rules.transition(plan.state, act, facts(plan))
    except rules.StepRefused as refused:
        message = REFUSALS[refused.code]
        if refused.code == "out_of_order":
            message = message % {"state": STATE_LABELS[plan.state]}
        elif refused.count:
            message = message % {"n": refused.count}
        raise Conflict(message, code=refused.code) from None
    reason = reason.strip()
    if act == PlanAction.CANCEL and not reason:
        raise Invalid(_l("Say why the plan is cancelled."), code="reason")
    if act == PlanAction.CIRCULATE:
        if deadline is None:
            raise Invalid(_l("Set the deadline for the departments' comments."), code="deadline")
        if deadline < clock.today():
            raise Invalid(_l("The deadline for comments cannot be in the past."), code="deadline")
        plan.circulation_deadline = deadline
    if act == PlanAction.CONFIRM:
        plan.confirmed_by_id = actor.id
        plan.confirmed_at = utcnow()
    old = plan.state
    plan.state = new_state
    session.flush()
    trail.record(
        session,
        actor,
        f"plan_{act}",
        "writing_plan",
        plan.id,
        field="state",
        old=str(old),
        new=str(new_state),
        reason="; ".join(x for x in (reason, str(deadline) if deadline else "") if x),
    )
    if act == PlanAction.CONFIRM:
        _tell_writers(session, plan)
    return plan


def _tell_writers(session: Session, plan: WritingPlan) -> None:
    """Each writer hears by mail what they write and by when (their task list shows it)."""
    from qms.mail.service import queue_mail

    by_writer: dict[int, list[PlanItem]] = {}
    for item in plan.items:
        by_writer.setdefault(item.writer_id, []).append(item)
    for items in by_writer.values():
        lines = "\n".join(
            f"- {i.number + ' ' if i.number else ''}{i.title}: {i.draft_due.isoformat()} / "
            f"{i.final_due.isoformat()}"
            for i in items
        )
        queue_mail(
            session,
            items[0].writer,
            _l("Writing plan %(ref)s: what you write", ref=plan.ref),
            _l(
                "The writing plan %(ref)s %(title)s is confirmed. You write (draft due / "
                "final due):\n%(lines)s",
                ref=plan.ref,
                title=plan.title,
                lines=lines,
            ),
        )


# -- writing ---------------------------------------------------------------------------------


def _writer(actor: User, item: PlanItem, *, managers_too: bool = False) -> None:
    if item.writer_id == actor.id or (managers_too and can_manage(actor)):
        return
    raise Forbidden(_l("Only the writer of this item may do this."), code="not_your_item")


def _writing(plan: WritingPlan) -> None:
    if plan.state not in rules.WRITING_STATES:
        raise Conflict(
            _l("Drafts are written once the plan is confirmed and until it is circulated."),
            code="not_writing",
        )


def current_text(item: PlanItem) -> SectionText | None:
    return item.texts[-1] if item.texts else None


def load_drafts(session: Session, plan: WritingPlan) -> None:
    """The plan's items with their controlled drafts and documents in two queries, for the
    pages that list them."""
    from sqlalchemy.orm import selectinload

    from qms.documents.models import Revision

    session.scalars(
        sa.select(PlanItem)
        .where(PlanItem.plan_id == plan.id)
        .options(
            selectinload(PlanItem.revision).selectinload(Revision.document),
            selectinload(PlanItem.document),
        )
    ).all()


def drafted_on_item(item: PlanItem) -> bool:
    """Whether the item's text is written on the item (versions kept there, edited on the
    item page): a manual section always; a regulation, process or form when its writer may
    not draft controlled documents — the quality center then takes the submitted text into
    the controlled draft. Once started, where it was started decides."""
    if item.kind == ItemKind.MANUAL_SECTION:
        return True
    if item.started_at is None:
        return not item.writer.can(Permission.DRAFT_DOCUMENTS)
    return item.revision_id is None or item.taken_in_at is not None


def awaits_take_in(item: PlanItem) -> bool:
    """A submitted regulation, process or form written on the item, not yet taken in."""
    return (
        item.kind != ItemKind.MANUAL_SECTION
        and item.submitted_at is not None
        and item.taken_in_at is None
        and drafted_on_item(item)
    )


def start_draft(session: Session, actor: User, item: PlanItem) -> PlanItem:
    """Start the item's draft from the template of its kind (5.3). On the item (a manual
    section, or a document whose writer may not draft controlled documents — a revision
    then starts from the effective text); otherwise as a draft of a controlled document —
    a new document under the pre-allocated number, or the next revision of the linked one."""
    _writer(actor, item)
    _writing(item.plan)
    if item.started_at is not None:
        raise Conflict(_l("The draft of this item is already started."), code="started")
    if drafted_on_item(item):
        body = starting_text(DOC_KINDS[item.kind])
        current = item.document.current_revision if item.document is not None else None
        if current is not None:
            body = current.body
        session.add(SectionText(item=item, version=1, body=body, author_id=actor.id))
        what = "text v1" if item.kind != ItemKind.MANUAL_SECTION else "section v1"
    elif item.document is not None:
        revision = documents.revise(
            session,
            actor,
            item.document,
            major_change=True,
            change_summary=str(_l("Revised under writing plan %(ref)s", ref=item.plan.ref)),
        )
        item.revision = revision
        what = f"{item.number} {revision.label}"
    else:
        document = documents.create_document(
            session,
            actor,
            title=item.title,
            kind=DOC_KINDS[item.kind],
            department=item.department,
            body=starting_text(DOC_KINDS[item.kind]),
            change_summary=str(_l("Written under writing plan %(ref)s", ref=item.plan.ref)),
            number=item.number,
            claim_reserved=True,
        )
        item.document = document
        item.revision = document.working_revision
        what = f"{document.number} {document.working_revision.label}"  # type: ignore[union-attr]
    item.started_at = utcnow()
    session.flush()
    trail.record(session, actor, "start_draft", "writing_item", item.id, new=what)
    return item


def save_text(
    session: Session, actor: User, item: PlanItem, *, body: str, base_version: int
) -> SectionText:
    """A new version of the text written on the item (a manual section, or a document whose
    writer may not draft controlled documents); the earlier ones are kept. The writer
    writes; the center may tidy it while consolidating."""
    _writer(actor, item, managers_too=True)
    _writing(item.plan)
    if not drafted_on_item(item):
        raise Conflict(_l("This item is written in the document editor."), code="not_section")
    if item.taken_in_at is not None:
        raise Conflict(
            _l(
                "This text is already taken into the controlled draft %(number)s; it is "
                "edited there now.",
                number=item.number,
            ),
            code="taken_in",
        )
    current = current_text(item)
    if current is None:
        raise Conflict(_l("Start the draft of this section first."), code="not_started")
    if len(body.encode("utf-8")) > MAX_SECTION_BYTES:
        raise Invalid(_l("The text is too long (at most 512 KB)."), code="too_long")
    if base_version != current.version:
        raise Conflict(
            _l(
                "Someone saved version %(n)d of this section after you opened it. Your text "
                "was not saved; open the section again.",
                n=current.version,
            ),
            code="stale",
        )
    if body == current.body:
        return current
    text = SectionText(item=item, version=current.version + 1, body=body, author_id=actor.id)
    session.add(text)
    session.flush()
    trail.record(
        session,
        actor,
        "save_section" if item.kind == ItemKind.MANUAL_SECTION else "save_text",
        "writing_item",
        item.id,
        field="body",
        old=f"v{current.version}",
        new=f"v{text.version}",
    )
    return text


def take_in(session: Session, actor: User, item: PlanItem) -> PlanItem:
    """The quality center takes a submitted text written on the item into control: a new
    document under the item's reserved number, or the next revision of the linked document,
    with the writer's current text as its body and the actor (who may draft) as author."""
    _manage(actor)
    if item.kind == ItemKind.MANUAL_SECTION:
        raise Conflict(
            _l("A manual section is assembled into the manual, not taken in on its own."),
            code="manual_section",
        )
    if item.plan.state in rules.FINAL:
        raise Conflict(_l("This plan is closed."), code="closed")
    if item.taken_in_at is not None:
        raise Conflict(
            _l(
                "This text is already taken into the controlled draft %(number)s.",
                number=item.number,
            ),
            code="taken_in",
        )
    if not drafted_on_item(item):
        raise Conflict(
            _l("This item is written in the document editor; it is already a controlled draft."),
            code="not_on_item",
        )
    text = current_text(item)
    if item.submitted_at is None or text is None:
        raise Conflict(
            _l("The writer has not submitted this text yet; it is taken in once submitted."),
            code="not_submitted",
        )
    summary = str(
        _l(
            "Written under writing plan %(ref)s by %(writer)s",
            ref=item.plan.ref,
            writer=item.writer.display_name,
        )
    )
    if item.document is not None:
        revision = documents.revise(
            session, actor, item.document, major_change=True, change_summary=summary
        )
        revision = documents.save_draft(
            session,
            actor,
            revision,
            body=text.body,
            change_summary=summary,
            base_hash=revision.content_sha256,
        )
    else:
        document = documents.create_document(
            session,
            actor,
            title=item.title,
            kind=DOC_KINDS[item.kind],
            department=item.department,
            body=text.body,
            change_summary=summary,
            number=item.number,
            claim_reserved=True,
        )
        item.document = document
        revision = document.working_revision  # type: ignore[assignment]
    item.revision = revision
    item.taken_in_at = utcnow()
    session.flush()
    trail.record(
        session,
        actor,
        "take_in",
        "writing_item",
        item.id,
        field="revision",
        new=f"{item.number} {revision.label}; v{text.version}",
        reason=summary,
    )
    return item


def submit_draft(session: Session, actor: User, item: PlanItem) -> PlanItem:
    """The writer hands in the draft; the actual date is recorded (BD-PZ-006 实际完成情况)."""
    _writer(actor, item)
    _writing(item.plan)
    if item.started_at is None:
        raise Conflict(_l("Start and write the draft before submitting it."), code="not_started")
    if item.submitted_at is not None:
        raise Conflict(_l("This draft is already submitted."), code="submitted")
    item.submitted_at = utcnow()
    item.actual_on = clock.today()
    session.flush()
    trail.record(
        session,
        actor,
        "submit_draft",
        "writing_item",
        item.id,
        field="actual_on",
        new=item.actual_on.isoformat(),
    )
    return item


def record_delay(session: Session, actor: User, item: PlanItem, *, reason: str) -> PlanItem:
    """The center notes why an item is late (BD-PZ-006: the actual date or the delay)."""
    _manage(actor)
    old = item.delay_reason
    item.delay_reason = _text(reason, _l("The reason for the delay"), 2000)
    session.flush()
    trail.record(
        session,
        actor,
        "record_delay",
        "writing_item",
        item.id,
        field="delay_reason",
        old=old,
        new=item.delay_reason,
        reason=item.delay_reason,
    )
    return item


# -- questions -------------------------------------------------------------------------------


def ask(
    session: Session, actor: User, plan: WritingPlan, *, text: str, item: PlanItem | None = None
) -> Question:
    if not can_view(plan, actor):
        raise Forbidden(_l("Only the plan's writers and the quality center ask here."))
    if plan.state in rules.FINAL:
        raise Conflict(_l("This plan is closed."), code="closed")
    if item is not None and item.plan_id != plan.id:
        raise Invalid(_l("This writing plan has no such item."))
    question = Question(
        plan=plan, item=item, text=_text(text, _l("The question"), 5000), asked_by_id=actor.id
    )
    session.add(question)
    session.flush()
    trail.record(session, actor, "ask", "writing_question", question.id, new=question.text)
    return question


def answer(
    session: Session,
    actor: User,
    question: Question,
    *,
    text: str,
    consultant: Consultant | None = None,
) -> Question:
    """The quality manager answers, or records the consultant's answer naming them."""
    if not can_confirm(actor):
        raise Forbidden(
            _l("The quality manager answers the writers' questions."), code="not_quality_manager"
        )
    if question.answered_at is not None:
        raise Conflict(_l("This question is already answered."), code="answered")
    question.answer = _text(text, _l("The answer"), 5000)
    question.answered_by_id = actor.id
    question.answered_at = utcnow()
    question.consultant = consultant
    session.flush()
    trail.record(
        session,
        actor,
        "answer",
        "writing_question",
        question.id,
        new=question.answer,
        reason=f"consultant: {consultant.name}" if consultant else "",
    )
    return question


def questions_in_order(plan: WritingPlan) -> list[Question]:
    """Unanswered first (oldest first), then the answered, newest answer first."""
    open_ = [q for q in plan.questions if q.answered_at is None]
    done = sorted(
        (q for q in plan.questions if q.answered_at is not None),
        key=lambda q: (q.answered_at, q.id),
        reverse=True,
    )
    return open_ + done


# -- consolidation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    item: PlanItem
    progress: rules.Progress
    days_late: int


def standings(plan: WritingPlan, today: date | None = None) -> list[Standing]:
    today = today or clock.today()
    out = []
    for item in plan.items:
        p = rules.progress(
            started=item.started_at is not None,
            submitted=item.submitted_at is not None,
            draft_due=item.draft_due,
            today=today,
        )
        out.append(Standing(item, p, rules.days_late(item.draft_due, today) if p == "late" else 0))
    return out


def counts(rows: list[Standing]) -> dict[str, int]:
    out = {str(p): 0 for p in rules.Progress}
    for row in rows:
        out[str(row.progress)] += 1
    return out


def _demote(body: str) -> str:
    """A section's headings one level down, under the section's own heading."""
    return "\n".join("#" + line if line.startswith("#") else line for line in body.splitlines())


def assemble_manual(session: Session, actor: User, plan: WritingPlan) -> Any:
    """The manual sections' current drafts, in order, as the next revision of the quality
    manual (QM-01) through the documents service; then its review and approval follow."""
    _manage(actor)
    if plan.state != PlanState.CONSOLIDATING:
        raise Conflict(
            _l("The draft manual is assembled while the plan is being consolidated."),
            code="not_consolidating",
        )
    sections = [i for i in plan.items if i.kind == ItemKind.MANUAL_SECTION]
    if not sections:
        raise Conflict(_l("This plan has no manual sections to assemble."), code="no_sections")
    missing = [i for i in sections if current_text(i) is None]
    if missing:
        raise Conflict(
            _l(
                "These sections have no draft yet: %(names)s.",
                names="、".join(f"{i.position}. {i.title}" for i in missing),
            ),
            code="sections_missing",
        )
    body = "\n\n".join(
        f"## {i.title}\n\n{_demote(current_text(i).body).strip()}"  # type: ignore[union-attr]
        for i in sections
    )
    summary = str(
        _l("Assembled under writing plan %(ref)s %(title)s", ref=plan.ref, title=plan.title)
    )
    manual = session.scalar(sa.select(Document).where(Document.number == MANUAL_NUMBER))
    if manual is None:
        department = session.scalar(sa.select(Department).where(Department.code == "PZ")) or (
            session.get(Department, actor.department_id) if actor.department_id else None
        )
        if department is None:
            raise Invalid(_l("No department is registered to keep the quality manual."))
        manual = documents.create_document(
            session,
            actor,
            title=str(_l("Quality manual")),
            kind=DocKind.QUALITY_MANUAL,
            department=department,
            body=body,
            change_summary=summary,
            number=MANUAL_NUMBER,
        )
        revision = manual.working_revision
    else:
        working = manual.working_revision
        if working is not None and working.id == plan.manual_revision_id:
            revision = working
        else:
            revision = documents.revise(
                session, actor, manual, major_change=True, change_summary=summary
            )
        revision = documents.save_draft(
            session,
            actor,
            revision,
            body=body,
            change_summary=summary,
            base_hash=revision.content_sha256,
        )
    plan.manual_revision = revision
    session.flush()
    trail.record(
        session,
        actor,
        "assemble_manual",
        "writing_plan",
        plan.id,
        new=f"{MANUAL_NUMBER} {revision.label}; {len(sections)} sections",  # type: ignore[union-attr]
    )
    return revision


def record_finding(
    session: Session,
    actor: User,
    plan: WritingPlan,
    *,
    category: str,
    text: str,
    item: PlanItem | None = None,
) -> Finding:
    """What the consultant's check found (completeness, interfaces between departments,
    consistency between levels of documents, records against documents)."""
    _manage(actor)
    if plan.state not in (PlanState.WRITING, PlanState.CONSOLIDATING, PlanState.CIRCULATING):
        raise Conflict(
            _l("The consultant's check is recorded while the draft is consolidated."),
            code="not_consolidating",
        )
    if item is not None and item.plan_id != plan.id:
        raise Invalid(_l("This writing plan has no such item."))
    try:
        cat = FindingCategory(category)
    except ValueError:
        raise Invalid(_l("Choose the kind of finding."), code="category") from None
    finding = Finding(
        plan=plan,
        item=item,
        category=cat,
        text=_text(text, _l("The finding"), 5000),
        recorded_by_id=actor.id,
    )
    session.add(finding)
    session.flush()
    trail.record(
        session,
        actor,
        "record_finding",
        "writing_finding",
        finding.id,
        new=f"{cat}: {finding.text}",
    )
    return finding


def resolve_finding(session: Session, actor: User, finding: Finding, *, note: str) -> Finding:
    _manage(actor)
    if finding.resolved_at is not None:
        raise Conflict(_l("This finding is already resolved."), code="resolved")
    finding.resolution = _text(note, _l("How it was resolved"), 5000)
    finding.resolved_at = utcnow()
    finding.resolved_by_id = actor.id
    session.flush()
    trail.record(
        session,
        actor,
        "resolve_finding",
        "writing_finding",
        finding.id,
        reason=finding.resolution,
    )
    return finding


def add_comment(
    session: Session,
    actor: User,
    plan: WritingPlan,
    *,
    department: Department | None,
    person: str,
    clause: str,
    text: str,
) -> Comment:
    """A department's comment on the circulated draft, as BD-PZ-007 records it."""
    _manage(actor)
    if plan.state != PlanState.CIRCULATING:
        raise Conflict(
            _l("Comments are recorded while the draft is circulated."), code="not_circulating"
        )
    if department is None:
        raise Invalid(_l("Choose the department that made the comment."), code="department")
    comment = Comment(
        plan=plan,
        department=department,
        person=_text(person, _l("Who made the comment"), 100),
        clause=_text(clause, "", 100, False),
        text=_text(text, _l("The comment"), 5000),
        recorded_by_id=actor.id,
    )
    session.add(comment)
    session.flush()
    trail.record(
        session,
        actor,
        "add_comment",
        "writing_comment",
        comment.id,
        new=f"{department.code} {comment.person} {comment.clause}: {comment.text}",
    )
    return comment


def decide_comment(
    session: Session,
    actor: User,
    comment: Comment,
    *,
    decision: str,
    reason: str,
    confirmed_by: str,
) -> Comment:
    """Adopted, partly adopted or not adopted — not adopted only with the reason."""
    _manage(actor)
    if comment.plan.state != PlanState.CIRCULATING:
        raise Conflict(
            _l("Comments are decided while the draft is circulated."), code="not_circulating"
        )
    try:
        value = Decision(decision)
    except ValueError:
        raise Invalid(_l("Choose the decision on the comment."), code="decision") from None
    reason = _text(reason, "", 2000, False)
    if value == Decision.NOT_ADOPTED and not reason:
        raise Invalid(_l("A comment that is not adopted needs the reason."), code="reason_required")
    old = comment.decision
    comment.decision = value
    comment.reason = reason
    comment.confirmed_by = _text(confirmed_by, _l("Who confirmed the decision"), 100)
    comment.decided_by_id = actor.id
    comment.decided_at = utcnow()
    session.flush()
    trail.record(
        session,
        actor,
        "decide_comment",
        "writing_comment",
        comment.id,
        field="decision",
        old=str(old) if old else None,
        new=str(value),
        reason=reason,
    )
    return comment
