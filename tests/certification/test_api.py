"""The certification API: a project from advice to certificate with a Bearer token, and each
bad input refused with a clear 4xx and nothing stored."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qms import clock
from qms.certification import rules
from tests.certification.conftest import pdf_file
from tests.factories import TEST_PASSWORD

STEPS_TO_INSPECTED = [
    "prepare_application",
    "sign_application",
    "submit_application",
    "return_application",
    "correct_application",
    "sign_application",
    "submit_application",
    "accept_application",
    "sign_contract",
    "receive_commissions",
    "report_nonconformities",
    "correct_documents",
    "accept_documents",
    "pre_audit",
    "plan_audit",
    "hold_audit",
    "plan_inspection",
    "hold_inspection",
]


def _new_project(api, body_id, **extra):
    response = api(
        "manager",
        "POST",
        "/api/v1/certifications",
        {
            "title": "质量管理体系初次认证",
            "body_id": body_id,
            "scope": "物业管理服务",
            "application_text": "申请书正文",
            "advice": "顾问建议先完成内审",
            **extra,
        },
    )
    assert response.status_code == 201, response.json
    return response.json


def _step(api, project, action, **extra):
    who = "gm" if action in ("sign_application", "sign_contract") else "clerk"
    body = {"action": action, **extra}
    if who == "gm":
        current = api("gm", "GET", f"/api/v1/certifications/{project['id']}").json
        key = "application_sha256" if action == "sign_application" else "contract_sha256"
        body |= {"password": TEST_PASSWORD, "content_sha256": current[key]}
    return api(who, "POST", f"/api/v1/certifications/{project['id']}/transitions", body)


def _to_inspected(api, project):
    for action in STEPS_TO_INSPECTED:
        extra = {"files": [pdf_file(f"{action}.pdf")]} if action == "receive_commissions" else {}
        response = _step(api, project, action, responsible="周宁", **extra)
        assert response.status_code == 200, (action, response.json)
    return response.json


def _certificate(**over):
    today = clock.today()
    return {
        "number": "01326Q30117R0M",
        "standard": "GB/T 19001-2016 / ISO 9001:2015",
        "scope": "物业管理服务",
        "sites": "总部",
        "decision_date": today.isoformat(),
        "grant_date": today.isoformat(),
        "scan": pdf_file("certificate.pdf"),
        **over,
    }


def _counts(app):
    with app.app_context():
        import sqlalchemy as sa

        from qms.certification.models import Certificate, ProjectStep
        from qms.db import get_session

        s = get_session()
        return (
            s.scalar(sa.select(sa.func.count()).select_from(Certificate)),
            s.scalar(sa.select(sa.func.count()).select_from(ProjectStep)),
        )


def test_from_advice_to_certificate(app, api, cert_body):
    project = _new_project(api, cert_body)
    assert project["state"] == "advice"
    state = _to_inspected(api, project)
    assert state["state"] == "inspected"
    assert any(s["files"] and s["files"][0]["sha256"] for s in state["steps"])
    assert sum(s["signed"] for s in state["steps"]) == 3  # twice the application, the contract

    # a decision without both reports is refused, and nothing is stored
    before = _counts(app)
    refused = _step(api, project, "certify", certificate=_certificate())
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "reports_missing"
    assert _counts(app) == before
    assert _step(api, project, "receive_audit_report").status_code == 200
    refused = _step(api, project, "certify", certificate=_certificate())
    assert refused.json["error"]["code"] == "reports_missing"
    assert _step(api, project, "receive_inspection_report").status_code == 200

    done = _step(api, project, "certify", certificate=_certificate())
    assert done.status_code == 200, done.json
    assert done.json["state"] == "certified"
    certificates = api("auditor", "GET", "/api/v1/certificates").json["items"]
    assert len(certificates) == 1
    cert = certificates[0]
    assert cert["expiry_date"] == rules.add_months(clock.today(), 36).isoformat()
    assert cert["status"] == "valid"
    assert cert["due"][0]["kind"] == "first_surveillance"
    assert cert["due"][0]["due"] == rules.add_months(clock.today(), 12).isoformat()


@pytest.fixture
def inspected(app, api, cert_body):
    project = _new_project(api, cert_body)
    _to_inspected(api, project)
    assert _step(api, project, "receive_audit_report").status_code == 200
    assert _step(api, project, "receive_inspection_report").status_code == 200
    return project


@pytest.mark.parametrize(
    ("over", "status", "code"),
    [
        (
            {"grant_date": (clock.today() - timedelta(days=1)).isoformat()},
            422,
            "grant_before_decision",
        ),
        (
            {"expiry_date": (clock.today() + timedelta(days=365 * 3 + 10)).isoformat()},
            422,
            "wrong_expiry",
        ),
        ({"number": ""}, 422, "invalid"),
    (
        {"decision_date": (clock.today() - timedelta(days=1)).isoformat(),
         "grant_date": clock.today().isoformat()},
        422,
        "decision_before_reports",
    ),
        (
            {"scan": {"filename": "virus.exe", "content_base64": "TVqQAAMAAAAEAAAA"}},
            422,
            "file_type",
        ),
    ],
)
def test_bad_certificates_are_refused_and_nothing_stored(app, api, inspected, over, status, code):
    before = _counts(app)
    response = _step(api, inspected, "certify", certificate=_certificate(**over))
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    assert _counts(app) == before
    assert api("clerk", "GET", f"/api/v1/certifications/{inspected['id']}").json["state"] == (
        "inspected"
    )


def test_a_certificate_number_used_twice_by_one_body(app, api, inspected, cert_body):
    with app.test_request_context():
        from qms.auth.models import User
        from qms.certification import service
        from qms.db import get_session

        s = get_session()
        manager = s.scalar(__import__("sqlalchemy").select(User).where(User.username == "manager"))
        service.issue_certificate(
            s,
            manager,
            service.get_body(s, cert_body),
            service.CertificateIn(
                number="01326Q30117R0M",
                standard="GB/T 19001-2016",
                scope="物业",
                sites="",
                decision_date=clock.today(),
                grant_date=clock.today(),
            ),
        )
        s.commit()
    before = _counts(app)
    response = _step(api, inspected, "certify", certificate=_certificate())
    assert response.status_code == 409
    assert response.json["error"]["code"] == "duplicate_number"
    assert "01326Q30117R0M" in response.json["error"]["message"]
    assert _counts(app) == before


def test_a_step_out_of_order_is_refused(app, api, cert_body):
    project = _new_project(api, cert_body)
    before = _counts(app)
    response = _step(api, project, "sign_contract")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "out_of_order"
    response = _step(api, project, "hold_audit")
    assert response.status_code == 409 and response.json["error"]["code"] == "out_of_order"
    assert _counts(app) == before


def test_only_the_general_manager_signs(api, cert_body):
    project = _new_project(api, cert_body)
    assert _step(api, project, "prepare_application").status_code == 200
    response = api(
        "manager",
        "POST",
        f"/api/v1/certifications/{project['id']}/transitions",
        {
            "action": "sign_application",
            "password": TEST_PASSWORD,
            "content_sha256": project["application_sha256"],
        },
    )
    assert response.status_code == 403
    wrong = api(
        "gm",
        "POST",
        f"/api/v1/certifications/{project['id']}/transitions",
        {
            "action": "sign_application",
            "password": "wrong-password",
            "content_sha256": project["application_sha256"],
        },
    )
    assert wrong.status_code == 403
    stale = api(
        "gm",
        "POST",
        f"/api/v1/certifications/{project['id']}/transitions",
        {"action": "sign_application", "password": TEST_PASSWORD, "content_sha256": "0" * 64},
    )
    assert stale.status_code == 409 and stale.json["error"]["code"] == "content_changed"
    state = api("gm", "GET", f"/api/v1/certifications/{project['id']}").json
    assert state["state"] == "application"
    assert "sign_application" in state["next_actions"]


def test_readers_and_writers(api, cert_body):
    project = _new_project(api, cert_body)
    assert api("auditor", "GET", f"/api/v1/certifications/{project['id']}").status_code == 200
    assert api("staff", "GET", "/api/v1/certifications").status_code == 403
    response = api(
        "auditor",
        "POST",
        "/api/v1/certifications",
        {"title": "x", "body_id": cert_body, "scope": "y"},
    )
    assert response.status_code == 403
    response = api(
        "auditor",
        "POST",
        f"/api/v1/certifications/{project['id']}/transitions",
        {"action": "prepare_application"},
    )
    assert response.status_code == 403


def test_create_is_idempotent(app, api, cert_body):
    body = {"title": "复评认证", "body_id": cert_body, "scope": "物业管理服务"}
    first = api(
        "manager",
        "POST",
        "/api/v1/certifications",
        body,
        headers={"Idempotency-Key": "cert-create-1"},
    )
    again = api(
        "manager",
        "POST",
        "/api/v1/certifications",
        body,
        headers={"Idempotency-Key": "cert-create-1"},
    )
    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"]
    assert api("manager", "GET", "/api/v1/certifications").json["meta"]["total"] == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"title": "x", "body_id": 999999, "scope": "y"}, 422),
        ({"title": "", "body_id": None, "scope": "y"}, 422),
        ({"title": "x", "body_id": "1", "scope": "y"}, 422),
        ({"title": "x", "scope": "y", "advice_on": "2026-13-01"}, 422),
    ],
)
def test_bad_projects(api, cert_body, body, status):
    response = api("manager", "POST", "/api/v1/certifications", body)
    assert response.status_code == status, response.json
    assert api("manager", "GET", "/api/v1/certifications").json["meta"]["total"] == 0
