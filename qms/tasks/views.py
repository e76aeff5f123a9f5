"""My tasks: everything waiting for the signed-in person, gathered from the providers."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.db import get_session
from qms.home import Panel, panel_provider
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.tasks import notify, providers  # noqa: F401 - registers providers and subscribers
from qms.tasks.registry import tasks_for
from qms.web import permission_required

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

KIND_LABELS = {
    "review": _l("To review"),
    "approve": _l("To approve"),
    "issue": _l("To issue"),
    "acknowledge": _l("To read and acknowledge"),
    "receive": _l("Copies to sign for"),
    "recall": _l("Copies to recall"),
    "periodic_review": _l("Periodic reviews due"),
    "currency_check": _l("Currency checks"),
    "meeting": _l("Review meetings"),
    "defect": _l("Defects to fix or verify"),
}

register_nav(NavEntry(_l("My tasks"), "tasks.mine", Permission.VIEW_OWN_TASKS, 5))


@bp.route("/")
@permission_required(Permission.VIEW_OWN_TASKS)
def mine() -> str:
    tasks = tasks_for(get_session(), current_user)
    return render_template(
        "tasks/mine.html", tasks=tasks, kind_labels=KIND_LABELS, today=clock.today()
    )


@panel_provider
def my_tasks_panel(session: Session, user: User) -> list[Panel]:
    if not user.can(Permission.VIEW_OWN_TASKS):
        return []
    tasks = tasks_for(session, user)
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.kind] = counts.get(task.kind, 0) + 1
    rows = [(KIND_LABELS.get(kind, kind), n) for kind, n in counts.items()]
    overdue = sum(1 for t in tasks if t.overdue)
    return [
        Panel(
            title=_l("My tasks"),
            order=5,
            rows=[(_l("Open tasks"), len(tasks)), (_l("Overdue"), overdue), *rows],
            links=[(_l("My tasks"), "tasks.mine")],
        )
    ]
