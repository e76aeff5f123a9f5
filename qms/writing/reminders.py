"""The writing plan where people look: each writer's items on their task list and home
page, the quality manager's open questions, and the daily chase of late items by mail —
once per item for each deadline missed (draft due, then final due), never daily."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.home import Panel, panel_provider
from qms.tasks.registry import Task, task_provider
from qms.writing import rules
from qms.writing.models import ChaseSent, PlanItem, Question, WritingPlan


@task_provider
def writing_tasks(session: Session, user: User) -> list[Task]:
    from qms.writing.service import my_items

    today = clock.today()
    out = []
    for item in my_items(session, user):
        if item.submitted_at is not None:
            continue
        out.append(
            Task(
                "writing",
                _l("Write %(title)s (writing plan %(ref)s)", title=item.title, ref=item.plan.ref),
                url_for("writing.item", plan_id=item.plan_id, plan_item_id=item.id),
                item.number or item.plan.ref,
                item.draft_due,
                item.draft_due < today,
            )
        )
    if user.can(Permission.CONFIRM_WRITING_PLANS):
        rows = session.execute(
            sa.select(Question.plan_id, sa.func.count())
            .join(WritingPlan)
            .where(
                Question.answered_at.is_(None),
                WritingPlan.state.not_in(list(rules.FINAL)),
            )
            .group_by(Question.plan_id)
        ).all()
        for plan_id, n in rows:
            out.append(
                Task(
                    "writing",
                    _l("Answer %(n)d question(s) of writing plan BX-%(id)04d", n=n, id=plan_id),
                    url_for("writing.plan", plan_id=plan_id) + "#questions",
                    f"BX-{plan_id:04d}",
                )
            )
    return out


@panel_provider
def writing_panel(session: Session, user: User) -> list[Panel]:
    """A writer's home: what they write and by when."""
    from qms.writing.service import my_items

    items = my_items(session, user)
    if not items:
        return []
    return [
        Panel(
            title=_l("What I write"),
            order=25,
            template="writing/_panel.html",
            context={"items": items[:8], "today": clock.today()},
        )
    ]


def chase_late_items(session: Session, today: date) -> str:
    """The daily job: mail each writer whose item missed its draft due date (and again,
    once, its final due date);
    a task shows it as overdue meanwhile."""
    from qms.mail.service import queue_mail

    items = session.scalars(
        sa.select(PlanItem)
        .join(WritingPlan)
        .where(
            WritingPlan.state.in_(list(rules.WRITING_STATES)),
            PlanItem.submitted_at.is_(None),
            PlanItem.draft_due < today,
        )
        .order_by(PlanItem.id)
    ).all()
    sent = 0
    for item in items:
        stage = rules.overdue_stage(
            submitted=False, draft_due=item.draft_due, final_due=item.final_due, today=today
        )
        if stage is None:
            continue
        done = session.scalar(
            sa.select(ChaseSent.id).where(ChaseSent.item_id == item.id, ChaseSent.stage == stage)
        )
        if done is not None:
            continue
        due = item.final_due if stage == "final" else item.draft_due
        session.add(ChaseSent(item_id=item.id, stage=stage, sent_on=today))
        queue_mail(
            session,
            item.writer,
            _l(
                "Late: %(title)s (writing plan %(ref)s)",
                title=item.title,
                ref=item.plan.ref,
            ),
            _l(
                "Your %(what)s of %(title)s was due on %(date)s and has not been submitted. "
                "Please submit it or tell the quality management center when it will be in.",
                what=_l("final text") if stage == "final" else _l("draft"),
                title=item.title,
                date=due.isoformat(),
            ),
        )
        from qms.trail import service as trail

        trail.record(
            session, None, "chase", "writing_item", item.id, new=f"{stage} due {due.isoformat()}"
        )
        sent += 1
    session.flush()
    return f"{sent} late writing-plan item(s) chased"
