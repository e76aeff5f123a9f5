from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from qms import clock


def dept(s: Any, code: str) -> Any:
    from qms.auth.models import Department

    return s.scalar(sa.select(Department).where(Department.code == code))


def item_in(s: Any, u: dict[str, Any], **kw: Any) -> Any:
    """A manual section for the staff member of KF, draft in 10 days, final in 20."""
    from qms.writing.service import ItemIn

    today = clock.today()
    values: dict[str, Any] = {
        "kind": "manual_section",
        "title": "第4章 质量管理体系",
        "department": dept(s, "KF"),
        "writer": u["staff"],
        "start_on": today,
        "draft_due": today + timedelta(days=10),
        "final_due": today + timedelta(days=20),
    }
    values.update(kw)
    return ItemIn(**values)


def make_plan(s: Any, u: dict[str, Any], state: str = "drafting", **kw: Any) -> Any:
    """A plan with two manual sections (staff, reviewer) and a new regulation (clerk),
    driven through the services to `state`."""
    from qms.writing import service

    items = kw.pop("items", None)
    if items is None:
        items = [
            item_in(s, u, title="第1章 质量方针", writer=u["staff"]),
            item_in(s, u, title="第2章 组织与职责", writer=u["reviewer"]),
            item_in(s, u, kind="regulation", title="客户回访制度", writer=u["clerk"]),
        ]
    plan = service.create_plan(
        s, u["clerk"], title="质量手册 B/0 换版", scope="QM-01 及配套制度", items=items, **kw
    )
    order = ["confirmed", "writing", "consolidating", "circulating"]
    actions = {
        "confirmed": "confirm",
        "writing": "start_writing",
        "consolidating": "consolidate",
        "circulating": "circulate",
    }
    if state in order:
        for step in order[: order.index(state) + 1]:
            if step == "circulating":
                for item in plan.items:
                    if item.kind == "manual_section" and not item.texts:
                        service.start_draft(s, item.writer, item)
                service.assemble_manual(s, u["clerk"], plan)
                service.take_step(
                    s, u["clerk"], plan, "circulate", deadline=clock.today() + timedelta(days=7)
                )
            else:
                who = u["manager"] if step == "confirmed" else u["clerk"]
                service.take_step(s, who, plan, actions[step])
    s.flush()
    return plan


@pytest.fixture
def world(app: Any, users: dict[str, int]) -> Any:
    """A test_request_context with the session and the users by name."""
    with app.test_request_context():
        from qms.auth.models import User
        from qms.db import get_session

        s = get_session()
        u = {n: s.get(User, i) for n, i in users.items()}
        yield s, u
