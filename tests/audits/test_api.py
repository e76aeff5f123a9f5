"""The audits API with Bearer tokens: a whole audit, each refusal as 4xx JSON with nothing
stored, Idempotency-Key on the creating POSTs, and CSRF for cookie sessions."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.audits.conftest import AUDIT_DAY
from tests.factories import TEST_PASSWORD


@pytest.fixture
def api(app: Any, served_world: Any) -> Any:
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


def step(api: Any, audit_id: int, username: str, **body: Any) -> Any:
    return api("POST", f"/api/v1/audits/{audit_id}/transitions", username, json=body)


def test_a_whole_audit_through_the_api(api: Any, served_world: Any) -> None:
    a = served_world.audit.id
    got = api("GET", f"/api/v1/audits/{a}", "auditor").get_json()
    assert got["state"] == "planned" and got["criteria"][1]["revision"] == "A/0"
    r = step(api, a, "auditor", action="notify", notice_date="2027-03-01")
    assert r.status_code == 200, r.get_json()
    r = step(
        api,
        a,
        "auditor",
        action="open_meeting",
        present=["auditor", "approver"],
        held_on=AUDIT_DAY.isoformat(),
    )
    assert r.get_json()["state"] == "in_progress"
    items = step(api, a, "auditor", action="generate_checklist").get_json()["checklist"]
    for item in items:
        r = step(
            api,
            a,
            "auditor",
            action="fill_item",
            item_id=item["id"],
            result="conforms",
            evidence="抽查记录",
        )
        assert r.status_code == 200, r.get_json()
    r = api(
        "POST",
        f"/api/v1/audits/{a}/findings",
        "auditor",
        json={
            "grade": "general",
            "clause": "8.5",
            "description": "档案缺身份证复印件",
            "evidence": "抽查 5 份，2 份缺",
            "process_number": served_world.process.number,
        },
        headers={"Idempotency-Key": "finding-1"},
    )
    assert r.status_code == 201, r.get_json()
    finding = r.get_json()
    assert finding["nonconformity_id"]
    again = api(
        "POST",
        f"/api/v1/audits/{a}/findings",
        "auditor",
        json={
            "grade": "general",
            "clause": "8.5",
            "description": "档案缺身份证复印件",
            "evidence": "抽查 5 份，2 份缺",
            "process_number": served_world.process.number,
        },
        headers={"Idempotency-Key": "finding-1"},
    )
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    r = step(api, a, "auditor", action="close_meeting", present=["auditor"], held_on="2027-03-17")
    assert r.get_json()["report_due"] == "2027-03-24"
    r = step(
        api,
        a,
        "approver",
        action="acknowledge",
        number=1,
        password=TEST_PASSWORD,
        content_sha256=finding["content_sha256"],
    )
    assert r.status_code == 200, r.get_json()
    step(
        api,
        a,
        "auditor",
        action="edit_report",
        conclusions="基本有效",
        conformity_degree="基本符合",
        diverging_opinions="",
        distribution="总经理",
    )
    step(api, a, "auditor", action="submit_report")
    audit = api("GET", f"/api/v1/audits/{a}", "gm").get_json()
    assert audit["next_actions"] == ["approve_report", "return_report"]
    r = step(
        api,
        a,
        "gm",
        action="approve_report",
        password=TEST_PASSWORD,
        content_sha256=audit["report_sha256"],
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "closed"
    listed = api("GET", "/api/v1/audits", "manager").get_json()
    assert listed["meta"]["total"] == len(served_world.audits)


def test_refusals_are_json_with_the_right_status(api: Any, served_world: Any) -> None:
    a = served_world.audit.id
    r = step(api, a, "auditor", action="notify", notice_date="2027-03-12")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "notice_too_late"
    assert api("GET", f"/api/v1/audits/{a}", "auditor").get_json()["state"] == "planned"
    r = api(
        "POST",
        "/api/v1/audits",
        "manager",
        json={
            "title": "复审",
            "department": "KF",
            "audit_date": "2027-09-01",
            "lead_auditor": "auditor2",
        },
        headers={"Idempotency-Key": "plan-1"},
    )
    assert r.status_code == 422
    assert r.get_json()["error"]["code"] == "auditor_not_independent"
    assert "钱多" in r.get_json()["error"]["message"]
    r = api(
        "POST",
        "/api/v1/audits",
        "staff",
        json={"title": "x", "department": "KF", "audit_date": "2027-09-01"},
    )
    assert r.status_code == 403
    r = api("GET", "/api/v1/audit-programmes", "staff")
    assert r.status_code == 403
    r = step(api, a, "auditor", action="fly")
    assert r.status_code == 422
    r = api(
        "POST",
        f"/api/v1/audits/{a}/findings",
        "auditor",
        json={"grade": "serious", "clause": "8.5", "description": "x"},
    )
    assert r.status_code == 409  # not in fieldwork yet


def test_programme_through_the_api(api: Any, served_world: Any) -> None:
    r = api(
        "POST",
        "/api/v1/audit-programmes",
        "clerk",
        json={"year": 2028},
        headers={"Idempotency-Key": "p-2028"},
    )
    assert r.status_code == 201
    p = r.get_json()
    assert len(p["departments_missing"]) == len(served_world.depts)
    r = api(
        "POST",
        f"/api/v1/audit-programmes/{p['id']}/transitions",
        "clerk",
        json={"action": "submit"},
    )
    assert r.status_code == 200
    r = api(
        "POST",
        f"/api/v1/audit-programmes/{p['id']}/transitions",
        "gm",
        json={
            "action": "approve",
            "password": TEST_PASSWORD,
            "content_sha256": p["content_sha256"],
        },
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "department_missing"
    r = api(
        "POST",
        f"/api/v1/audit-programmes/{p['id']}/transitions",
        "gm",
        json={"action": "approve", "password": "wrong", "content_sha256": p["content_sha256"]},
    )
    assert r.status_code == 409  # the missing departments are named before the password


def test_a_cookie_session_needs_the_csrf_token(app: Any, served_world: Any) -> None:
    from tests.conftest import login

    client = app.test_client()
    assert login(client, "auditor").status_code == 302
    r = client.post(
        f"/api/v1/audits/{served_world.audit.id}/transitions",
        json={"action": "notify"},
        headers={"X-CSRFToken": "forged"},
    )
    assert r.status_code == 400
    with app.app_context():
        from qms.audits.models import Audit
        from qms.db import get_session

        assert get_session().get(Audit, served_world.audit.id).state == "planned"


def test_the_openapi_document_describes_the_audit_endpoints(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/audits",
        "/api/v1/audits/{audit_id}",
        "/api/v1/audits/{audit_id}/findings",
        "/api/v1/audits/{audit_id}/transitions",
        "/api/v1/audit-programmes",
    ):
        assert path in doc["paths"]
    post = doc["paths"]["/api/v1/audits"]["post"]
    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Audit"
    }
    assert date.today()  # the document builds without a request context
