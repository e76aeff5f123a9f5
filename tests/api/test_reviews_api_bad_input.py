"""Values of the wrong type in review API bodies are 422 with a message, never a 500
(each found by the OpenAPI fuzzer), and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.web.test_route_matrix import build_world


@pytest.fixture
def leader_api(app: Flask, users: Any) -> Any:
    from qms.auth import service
    from qms.db import get_session

    world = build_world(app)
    with app.app_context():
        s = get_session()
        leader = service.user_by_username(s, "leader")
        token = service.create_token(s, leader, leader, "bad input")
        s.commit()
    client = app.test_client()

    def call(method: str, path: str, body: Any) -> Any:
        return client.open(
            path, method=method, json=body, headers={"Authorization": f"Bearer {token}"}
        )

    call.world = world  # type: ignore[attr-defined]
    return call


def _trail_length(app: Flask) -> int:
    from qms.trail.models import TrailEntry

    with app.extensions["qms.engine"].connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(TrailEntry)) or 0)


STEP_CASES = [
    ({"action": "tick_checklist", "item_id": "abc"}, "item_id"),
    ({"action": "tick_checklist", "item_id": 2**40}, "item_id"),
    ({"action": "conclude", "conclusion": "number", "count": "x"}, "count"),
    ({"action": "log_preparation", "minutes": "an hour"}, "minutes"),
    ({"action": "log_preparation", "minutes": True}, "minutes"),
    ({"action": "record_attendance", "present": 5}, "present"),
    ({"action": "close_meeting", "minutes": [60]}, "minutes"),
]


def test_review_step_with_a_value_of_the_wrong_type(app: Flask, leader_api: Any) -> None:
    # one set of records for every case: building them costs seconds
    before = _trail_length(app)
    for body, says in STEP_CASES:
        response = leader_api(
            "POST", f"/api/v1/reviews/{leader_api.world['review_id']}/transitions", body
        )
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["error"]["code"] == "invalid"
        assert says in response.get_json()["error"]["message"]
    assert _trail_length(app) == before


PLAN_CASES = [
    ({"pages": "ten"}, "pages"),
    ({"planned_pages_per_hour": "fast"}, "planned_pages_per_hour"),
    ({"checklist": [1, 2]}, "checklist"),
    ({"reviewers": 7}, "reviewers"),
    ({"attachments": {"document": "x"}}, "attachments"),
    ({"review_type": "bogus"}, "review_type"),
    ({"level": ["center"]}, "level"),
]


def test_review_plan_with_a_value_of_the_wrong_type(app: Flask, leader_api: Any) -> None:
    from qms.reviews.models import Review

    for change, says in PLAN_CASES:
        body: dict[str, Any] = {
            "title": "复评",
            "department": "KF",
            "main": {"document": leader_api.world["draft"], "revision": "A/0"},
            "reviewers": ["reviewer"],
            "approver": "gm",
            **change,
        }
        if "pages" in change:
            body["main"]["pages"] = body.pop("pages")
        response = leader_api("POST", "/api/v1/reviews", body)
        assert response.status_code == 422, (change, response.get_json())
        assert says in response.get_json()["error"]["message"]
    with app.extensions["qms.engine"].connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Review)) == 1


def test_defect_edit_with_an_unknown_choice(app: Flask, leader_api: Any) -> None:
    world = leader_api.world
    before = _trail_length(app)
    for field in ("severity", "category"):
        for value in ({"a": 1}, ["general"], 3, "bogus"):
            response = leader_api(
                "PATCH",
                f"/api/v1/reviews/{world['review_id']}/defects/{world['defect']}",
                {field: value},
            )
            assert response.status_code == 422, (field, value, response.get_json())
            assert field in response.get_json()["error"]["message"]
    assert _trail_length(app) == before
