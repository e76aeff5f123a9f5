"""The nonconformities API with a Bearer token, CSRF on for cookie sessions: raise (with
Idempotency-Key), add actions, each transition; bad input answers 4xx JSON, stores nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from qms import clock
from tests.factories import TEST_PASSWORD


@pytest.fixture
def api(app: Any, users: Any) -> Any:
    tokens: dict[str, str] = {}

    def call(method: str, path: str, username: str, **kw: Any) -> Any:
        if username not in tokens:
            with app.app_context():
                from qms.auth import service
                from qms.db import get_session

                s = get_session()
                u = service.user_by_username(s, username)
                tokens[username] = service.create_token(s, u, u, "t")
                s.commit()
        headers = {"Authorization": f"Bearer {tokens[username]}", **kw.pop("headers", {})}
        return app.test_client().open(path, method=method, headers=headers, **kw)

    return call


def _count(app: Any, name: str) -> int:
    from qms.nonconformity import models

    with app.app_context():
        from qms.db import get_session

        model = getattr(models, name)
        return get_session().scalar(sa.select(sa.func.count()).select_from(model)) or 0


BODY = {
    "source": "internal_audit",
    "source_label": "2026年第二次内审",
    "department": "KF",
    "clause": "8.2.1",
    "grade": "serious",
    "description": "投诉回复超过承诺时限",
    "evidence": "2026年11月投诉12件，其中4件超过3个工作日答复",
    "verification_interval_days": 0,
}


def test_a_nonconformity_through_the_api(app: Any, api: Any) -> None:
    raised_on = (clock.today() - timedelta(days=30)).isoformat()
    key = {"Idempotency-Key": "nc-1"}
    created = api(
        "POST",
        "/api/v1/nonconformities",
        "auditor",
        headers=key,
        json={**BODY, "raised_on": raised_on},
    )
    assert created.status_code == 201, created.get_json()
    nc = created.get_json()
    assert nc["number"].startswith("NC-") and nc["owner"] == "approver"
    assert nc["state"] == "open"
    again = api(
        "POST",
        "/api/v1/nonconformities",
        "auditor",
        headers=key,
        json={**BODY, "raised_on": raised_on},
    )
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["number"] == nc["number"]
    assert _count(app, "Nonconformity") == 1
    base = f"/api/v1/nonconformities/{nc['id']}"

    def step(username: str, **body: Any) -> Any:
        return api("POST", f"{base}/transitions", username, json=body)

    assert (
        step(
            "approver",
            action="record_cause",
            whys=["未设提醒", "系统无时限字段"],
            root_cause="答复时限未纳入系统",
            plan="系统增加时限提醒",
        ).status_code
        == 200
    )
    # a due date before the day raised
    early = (clock.today() - timedelta(days=31)).isoformat()
    refused = api(
        "POST",
        f"{base}/actions",
        "approver",
        json={"description": "增加提醒", "owner": "staff", "due_on": early},
    )
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "due_before_raised"
    assert _count(app, "CorrectiveAction") == 0
    added = api(
        "POST",
        f"{base}/actions",
        "approver",
        json={"description": "增加提醒", "owner": "staff", "due_on": clock.today().isoformat()},
    )
    assert added.status_code == 201
    action_id = added.get_json()["id"]
    assert step("approver", action="start_actions").status_code == 200
    # closing with the action open
    refused = step("manager", action="close")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "actions_open"
    assert (
        step("staff", action="complete_action", action_id=action_id, note="已上线").status_code
        == 200
    )
    assert step("approver", action="submit_for_verification").status_code == 200

    seen = api("GET", base, "auditor").get_json()
    assert seen["next_actions"] == ["verify_effective", "verify_ineffective"]
    # the action owner may not verify
    refused = step(
        "staff",
        action="verify_effective",
        password=TEST_PASSWORD,
        content_sha256=seen["content_sha256"],
    )
    assert refused.status_code == 403
    # a wrong password, and a text changed since it was read
    refused = step(
        "auditor",
        action="verify_effective",
        password="wrong",
        content_sha256=seen["content_sha256"],
    )
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "signature_refused"
    refused = step(
        "auditor", action="verify_effective", password=TEST_PASSWORD, content_sha256="0" * 64
    )
    assert refused.status_code == 409
    assert _count(app, "Verification") == 0
    verified = step(
        "auditor",
        action="verify_effective",
        password=TEST_PASSWORD,
        content_sha256=seen["content_sha256"],
        comment="抽查均及时",
    )
    assert verified.status_code == 200
    closed = step("manager", action="close", reason="验证有效")
    assert closed.status_code == 200 and closed.get_json()["state"] == "closed"
    listed = api("GET", "/api/v1/nonconformities?state=closed", "auditor").get_json()
    assert [i["number"] for i in listed["items"]] == [nc["number"]]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"evidence": ""}, "evidence_required"),
        ({"evidence": None}, "evidence_required"),
        ({"grade": "minor"}, "invalid"),
        ({"department": "XX"}, "department_invalid"),
        ({"clause": "<script>"}, "clause_invalid"),
        ({"verification_interval_days": -1}, None),
        ({"raised_on": "2026-13-01"}, None),
    ],
)
def test_bad_input_is_refused_with_nothing_stored(
    app: Any, api: Any, change: dict[str, Any], code: str | None
) -> None:
    answer = api("POST", "/api/v1/nonconformities", "auditor", json={**BODY, **change})
    assert answer.status_code == 422
    if code:
        assert answer.get_json()["error"]["code"] == code
    assert _count(app, "Nonconformity") == 0


def test_staff_may_not_raise_and_see_only_their_department(app: Any, api: Any) -> None:
    assert api("POST", "/api/v1/nonconformities", "staff", json=BODY).status_code == 403
    made = api(
        "POST", "/api/v1/nonconformities", "auditor", json={**BODY, "department": "PZ"}
    ).get_json()
    assert api("GET", f"/api/v1/nonconformities/{made['id']}", "staff").status_code == 404
    assert api("GET", "/api/v1/nonconformities", "staff").get_json()["items"] == []


def test_a_cookie_session_needs_the_csrf_token(app: Any, users: Any, client_as: Any) -> None:
    client = client_as("auditor")
    # a forged cross-site request carries no valid token
    answer = client.post("/api/v1/nonconformities", json=BODY, headers={"X-CSRFToken": "x"})
    assert answer.status_code == 400
    assert _count(app, "Nonconformity") == 0
    # the page's own script sends it: accepted
    assert client.post("/api/v1/nonconformities", json=BODY).status_code == 201
