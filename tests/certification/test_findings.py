"""Findings of the body go into the nonconformity register with source "certification"; an
open major one blocks marking the next stage ready (issue 15, part 5)."""

from __future__ import annotations

import sqlalchemy as sa

from tests.certification.test_api import _new_project, _step

TO_REVIEW = [
    "prepare_application",
    "sign_application",
    "submit_application",
    "accept_application",
    "sign_contract",
    "receive_commissions",
]


def _dept_id(app, code="KF"):
    with app.app_context():
        from qms.auth.models import Department
        from qms.db import get_session

        return get_session().scalar(sa.select(Department.id).where(Department.code == code))


def test_an_open_major_finding_blocks_the_next_stage(app, api, cert_body):
    project = _new_project(api, cert_body)
    for action in [*TO_REVIEW, "report_nonconformities"]:
        assert _step(api, project, action).status_code == 200, action
    url = f"/api/v1/certifications/{project['id']}/findings"
    finding = api(
        "clerk",
        "POST",
        url,
        {
            "department_id": _dept_id(app),
            "clause": "7.5.3",
            "grade": "major",
            "description": "文件控制程序未规定外来文件的识别",
            "evidence": "检查组文件审查意见第3条",
        },
    )
    assert finding.status_code == 201, finding.json
    assert finding.json["source"] == "certification"
    assert finding.json["source_id"] == project["id"]
    assert finding.json["grade"] == "serious"  # 17021 "major" is the engine's "serious"
    minor = api(
        "clerk",
        "POST",
        url,
        {
            "department_id": _dept_id(app),
            "clause": "7.5",
            "grade": "minor",
            "description": "记录格式不统一",
            "evidence": "检查组意见第5条",
        },
    )
    assert minor.status_code == 201
    assert _step(api, project, "correct_documents").status_code == 200  # correcting is allowed
    refused = _step(api, project, "accept_documents")
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "open_major_finding"
    assert finding.json["number"] in refused.json["error"]["message"]
    with app.app_context():
        from qms.db import get_session
        from qms.nonconformity.models import Nonconformity
        from qms.nonconformity.rules import NcState

        s = get_session()
        # the engine's own lifecycle is tested in tests/nonconformity; here only its outcome
        s.get(Nonconformity, finding.json["id"]).state = NcState.CLOSED
        s.commit()
    assert _step(api, project, "accept_documents").status_code == 200  # a minor one does not block


def test_bad_findings_store_nothing(app, api, cert_body):
    project = _new_project(api, cert_body)
    url = f"/api/v1/certifications/{project['id']}/findings"
    for body in (
        {"department_id": _dept_id(app), "clause": "x", "description": "d", "evidence": "e"},
        {"department_id": _dept_id(app), "clause": "8.5", "description": "d", "evidence": ""},
    ):
        response = api("clerk", "POST", url, body)
        assert response.status_code == 422, response.json
    assert api("auditor", "POST", url, {}).status_code == 403
    with app.app_context():
        from qms.db import get_session
        from qms.nonconformity.models import Nonconformity

        assert get_session().scalar(sa.select(sa.func.count()).select_from(Nonconformity)) == 0


def test_a_finding_on_the_project_page(app, client_as, api, cert_body):
    from tests.forms import submit_form

    project = _new_project(api, cert_body)
    clerk = client_as("clerk")
    url = f"/certification/projects/{project['id']}"
    action = f"{url}/findings"
    done = submit_form(
        clerk,
        clerk.get(url),
        action,
        **{
            "finding-department": str(_dept_id(app)),
            "finding-clause": "8.5.1",
            "finding-grade": "major",
            "finding-description": "服务提供控制不足",
            "finding-evidence": "审核发现",
        },
    )
    assert done.status_code == 302
    html = clerk.get(url).get_data(as_text=True)
    assert "服务提供控制不足" in html
    bad = submit_form(
        clerk,
        clerk.get(url),
        action,
        **{
            "finding-department": str(_dept_id(app)),
            "finding-clause": "abc",
            "finding-grade": "major",
            "finding-description": "条款错误",
            "finding-evidence": "e",
        },
    )
    assert bad.status_code == 422
    assert "条款错误" in bad.get_data(as_text=True)  # the input is kept
