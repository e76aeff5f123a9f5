"""A user's task list is gathered from providers that features register here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from qms.auth.models import User


@dataclass
class Task:
    kind: str  # review, approve, issue, acknowledge, recall, periodic_review, defect, meeting …
    title: Any  # what to do, in the user's language
    url: str
    subject: str = ""  # document number, review id …
    due: date | None = None
    overdue: bool = False
    note: str = ""  # a line under the title: what changed in a revision to read


TaskProvider = Callable[[Session, User], list[Task]]
PROVIDERS: list[TaskProvider] = []


def task_provider(fn: TaskProvider) -> TaskProvider:
    if fn not in PROVIDERS:
        PROVIDERS.append(fn)
    return fn


def tasks_for(session: Session, user: User) -> list[Task]:
    tasks: list[Task] = []
    for provider in PROVIDERS:
        tasks.extend(provider(session, user))
    tasks.sort(key=lambda t: (not t.overdue, t.due or date.max, t.kind))
    return tasks
