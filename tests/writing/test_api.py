"""The writing-plan API with a Bearer token per role: create with items (Idempotency-Key),
read, take steps; each bad input refused with a clear 4xx and nothing stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from qms import clock
from tests.certification.conftest import api  # noqa: F401 - fixture


def _day(n):
    return (clock.today() + timedelta(days=n)).isoformat()


def _item(**kw):
    body = {
        "kind": "manual_section",
        "title": "第4章 客户服务",
        "department": "KF",
        "writer": "staff",
        "start_on": _day(0),
        "draft_due": _day(10),
        "final_due": _day(20),
    }
    body.update(kw)
    return body


def _plan_body(*items):
    return {"title": "质量手册 B/0 换版", "scope": "QM-01", "items": list(items or [_item()])}


def _counts(app):
    with app.app_context():
        from qms.db import get_session
        from qms.writing.models import PlanItem, WritingPlan

        s = get_session()
        return tuple(
            s.scalar(sa.select(sa.func.count()).select_from(t)) for t in (WritingPlan, PlanItem)
        )


def test_create_read_and_confirm(app, users, api):  # noqa: F811
    body = _plan_body(_item(), _item(kind="regulation", title="业主档案管理制度", writer="clerk"))
    first = api("clerk", "POST", "/api/v1/writing-plans", body, {"Idempotency-Key": "wp-1"})
    again = api("clerk", "POST", "/api/v1/writing-plans", body, {"Idempotency-Key": "wp-1"})
    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"]
    plan = first.json
    assert plan["state"] == "drafting"
    assert [i["kind"] for i in plan["items"]] == ["manual_section", "regulation"]
    assert plan["items"][1]["number"].startswith("ZD-KF-")
    assert plan["next_actions"] == ["cancel"]  # the clerk does not confirm
    # the clerk may not confirm: 403; the manager may
    url = f"/api/v1/writing-plans/{plan['id']}/transitions"
    assert api("clerk", "POST", url, {"action": "confirm"}).status_code == 403
    done = api("manager", "POST", url, {"action": "confirm"})
    assert done.status_code == 200 and done.json["state"] == "confirmed"
    # a step out of order: 409 with the reason
    refused = api("manager", "POST", url, {"action": "finalise"})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "out_of_order"
    # the writer reads their plan; a staff member of another plan may not
    assert api("staff", "GET", f"/api/v1/writing-plans/{plan['id']}").status_code == 200
    listed = api("staff", "GET", "/api/v1/writing-plans").json
    assert [p["id"] for p in listed["items"]] == [plan["id"]]
    assert api("approver", "GET", f"/api/v1/writing-plans/{plan['id']}").status_code == 403
    assert api("approver", "GET", "/api/v1/writing-plans").json["items"] == []


@pytest.mark.parametrize(
    ("item", "status", "code"),
    [
        (_item(draft_due=_day(30), final_due=_day(20)), 422, "draft_after_final"),
        (_item(start_on=_day(-9), draft_due=_day(-5), final_due=_day(-1)), 422, "final_in_past"),
        ({k: v for k, v in _item().items() if k != "writer"}, 422, "writer"),
        (_item(writer="nobody"), 422, "writer"),
        (_item(kind="chapter"), 422, None),
        (_item(kind="regulation", writer="clerk", number="ZD-KF-1X"), 422, "number_pattern"),
        (_item(draft_due="2027-02-30"), 422, None),
    ],
)
def test_bad_items_are_refused_and_nothing_is_stored(app, users, api, item, status, code):  # noqa: F811
    before = _counts(app)
    response = api("clerk", "POST", "/api/v1/writing-plans", _plan_body(_item(), item))
    assert response.status_code == status, response.json
    assert response.json["error"]["message"]
    if code:
        assert response.json["error"]["code"] == code
    assert _counts(app) == before


def test_a_number_already_used_is_a_conflict(app, users, api):  # noqa: F811
    made = api(
        "clerk",
        "POST",
        "/api/v1/writing-plans",
        _plan_body(_item(kind="form", title="回访记录表", writer="clerk", number="BD-KF-050")),
    )
    assert made.status_code == 201
    before = _counts(app)
    again = api(
        "clerk",
        "POST",
        "/api/v1/writing-plans",
        _plan_body(_item(kind="form", title="另一表单", writer="clerk", number="BD-KF-050")),
    )
    assert again.status_code == 409
    assert "BD-KF-050" in again.json["error"]["message"]
    assert _counts(app) == before


def test_confirming_a_plan_without_items_is_a_conflict(app, users, api):  # noqa: F811
    plan = api("clerk", "POST", "/api/v1/writing-plans", {"title": "空计划"}).json
    response = api(
        "manager", "POST", f"/api/v1/writing-plans/{plan['id']}/transitions", {"action": "confirm"}
    )
    assert response.status_code == 409
    assert response.json["error"]["code"] == "no_items"


def test_roles(app, users, api):  # noqa: F811
    for who in ("staff", "reviewer", "auditor", "gm"):
        assert api(who, "POST", "/api/v1/writing-plans", _plan_body()).status_code == 403
    assert api("clerk", "GET", "/api/v1/writing-plans/999999").status_code == 404
    plan = api("clerk", "POST", "/api/v1/writing-plans", _plan_body()).json
    url = f"/api/v1/writing-plans/{plan['id']}/transitions"
    assert api("staff", "POST", url, {"action": "cancel"}).status_code == 403
    bad = api("clerk", "POST", url, {"action": "cancel"})
    assert bad.status_code == 422  # a reason is required
    assert api("clerk", "POST", url, {"action": "cancel", "reason": "推迟"}).status_code == 200


def test_the_openapi_document_describes_the_writing_plans(app, users, api):  # noqa: F811
    doc = api("clerk", "GET", "/api/v1/openapi.json").json
    paths = doc["paths"]
    assert set(paths["/api/v1/writing-plans"]) == {"get", "post"}
    assert "/api/v1/writing-plans/{plan_id}" in paths
    assert "/api/v1/writing-plans/{plan_id}/transitions" in paths
    assert "WritingPlan" in doc["components"]["schemas"]


def _staff_regulation(app, users):
    """A plan being written whose regulation the staff member writes on the plan."""
    with app.test_request_context():
        from qms.auth.models import User
        from qms.db import get_session
        from tests.writing.conftest import item_in, make_plan

        s = get_session()
        u = {n: s.get(User, i) for n, i in users.items()}
        plan = make_plan(
            s,
            u,
            "writing",
            items=[
                item_in(s, u, title="第1章 质量方针", writer=u["reviewer"]),
                item_in(s, u, kind="regulation", title="客户回访制度", writer=u["staff"]),
                item_in(s, u, kind="form", title="回访记录表", writer=u["clerk"]),
            ],
        )
        s.commit()
        return plan.id, [i.id for i in plan.items]


def _write_and_submit(app, users, item_id, text):
    with app.test_request_context():
        from qms.auth.models import User
        from qms.db import get_session
        from qms.writing import service
        from qms.writing.models import PlanItem

        s = get_session()
        item = s.get(PlanItem, item_id)
        writer = s.get(User, item.writer_id)
        service.start_draft(s, writer, item)
        service.save_text(s, writer, item, body=text, base_version=1)
        service.submit_draft(s, writer, item)
        s.commit()


def _document_count(app):
    with app.app_context():
        from qms.db import get_session
        from qms.documents.models import Document

        return get_session().scalar(sa.select(sa.func.count()).select_from(Document))


def test_the_plan_shows_where_each_draft_lives(app, users, api):  # noqa: F811
    plan_id, _items = _staff_regulation(app, users)
    items = api("clerk", "GET", f"/api/v1/writing-plans/{plan_id}").json["items"]
    assert [i["draft"] for i in items] == ["on_item", "on_item", "document"]
    assert [i["taken_in"] for i in items] == [False, False, False]


def test_the_clerk_takes_in_a_submitted_text(app, users, api):  # noqa: F811
    plan_id, items = _staff_regulation(app, users)
    url = f"/api/v1/writing-plans/{plan_id}/items/{items[1]}/take-in"
    before = _document_count(app)
    early = api("clerk", "POST", url)
    assert early.status_code == 409 and early.json["error"]["code"] == "not_submitted"
    _write_and_submit(app, users, items[1], "## 总则\n\n每月回访。")
    assert api("staff", "POST", url).status_code == 403  # the writer does not take it in
    assert _document_count(app) == before
    done = api("clerk", "POST", url)
    assert done.status_code == 200, done.json
    item = done.json["items"][1]
    assert item["draft"] == "on_item" and item["taken_in"] is True
    assert item["document_number"] == item["number"] and item["revision_label"] == "A/0"
    document = api("clerk", "GET", f"/api/v1/documents/{item['number']}?revision=A/0").json
    assert "每月回访。" in str(document)
    again = api("clerk", "POST", url)
    assert again.status_code == 409 and again.json["error"]["code"] == "taken_in"
    assert _document_count(app) == before + 1


def test_taking_in_a_section_or_an_unknown_item_is_refused(app, users, api):  # noqa: F811
    plan_id, items = _staff_regulation(app, users)
    _write_and_submit(app, users, items[0], "方针")
    section = api("clerk", "POST", f"/api/v1/writing-plans/{plan_id}/items/{items[0]}/take-in")
    assert section.status_code == 409 and section.json["error"]["code"] == "manual_section"
    missing = api("clerk", "POST", f"/api/v1/writing-plans/{plan_id}/items/999999/take-in")
    assert missing.status_code == 404
    editor = api("clerk", "POST", f"/api/v1/writing-plans/{plan_id}/items/{items[2]}/take-in")
    assert editor.status_code == 409 and editor.json["error"]["code"] == "not_on_item"


def test_the_openapi_document_describes_the_take_in(app, users, api):  # noqa: F811
    doc = api("clerk", "GET", "/api/v1/openapi.json").json
    assert "post" in doc["paths"]["/api/v1/writing-plans/{plan_id}/items/{item_id}/take-in"]
    item = doc["components"]["schemas"]["WritingPlan"]["properties"]["items"]["items"]
    assert item["properties"]["draft"] == {"enum": ["on_item", "document"]}
