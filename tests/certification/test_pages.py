"""The certification pages with their real forms (CSRF on): each bad input refused with a
clear message in the user's language, nothing stored, the input kept; query-count bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from qms import clock
from qms.certification import rules
from tests.factories import TEST_PASSWORD
from tests.forms import submit_form
from tests.web.test_documents_pages import count_queries


def _db_counts(app):
    with app.app_context():
        from qms.certification.models import Certificate, CertificateAudit, ProjectStep
        from qms.db import get_session

        s = get_session()
        return tuple(
            s.scalar(sa.select(sa.func.count()).select_from(t))
            for t in (Certificate, ProjectStep, CertificateAudit)
        )


def _project(app, users, body_id, state="advice"):
    """A project driven through the services up to `state`."""
    with app.test_request_context():
        from qms.auth.models import User
        from qms.certification import service
        from qms.db import get_session

        s = get_session()
        u = {n: s.get(User, i) for n, i in users.items()}
        project = service.create_project(
            s,
            u["manager"],
            title="初次认证",
            body=service.get_body(s, body_id),
            consultant=None,
            standard="GB/T 19001-2016 / ISO 9001:2015",
            scope="物业管理服务",
            application_text="申请书",
        )
        path = {
            "inspected": [
                "prepare_application",
                "sign_application",
                "submit_application",
                "accept_application",
                "sign_contract",
                "receive_commissions",
                "accept_documents",
                "plan_audit",
                "hold_audit",
                "plan_inspection",
                "hold_inspection",
            ]
        }.get(state, [])
        for action in path:
            who = u["gm"] if action.startswith("sign_") else u["clerk"]
            step = service.StepIn(action=action)
            if action.startswith("sign_"):
                step.password = TEST_PASSWORD
                step.content_sha256 = service.signed_hash(project, rules.ProjectAction(action))
            service.take_step(
                s,
                who,
                project,
                step,
                attachment_dir=__import__("pathlib").Path(app.config["DATA_DIR"]) / "attachments",
                max_bytes=2**20,
            )
        s.commit()
        return project.id


def test_start_a_project_and_take_steps_on_the_page(app, client_as, cert_body):
    manager = client_as("manager")
    page = manager.get("/certification/projects/new")
    assert page.status_code == 200
    done = submit_form(
        manager,
        page,
        "/certification/projects/new",
        title="初次认证",
        body=str(cert_body),
        scope="物业管理服务",
        advice="先做内审",
        application_text="申请书正文",
    )
    assert done.status_code == 302
    url = done.headers["Location"]
    page = manager.get(url)
    html = page.get_data(as_text=True)
    assert "初次认证" in html and "先做内审" in html
    action = url.split("?")[0]
    done = submit_form(
        manager, page, action, step="prepare_application", responsible="周宁", note="申请资料齐备"
    )
    assert done.status_code == 302
    # the general manager signs the application on the same page, with the password
    gm = client_as("gm")
    page = gm.get(action)
    assert "sign_application" in page.get_data(as_text=True)
    refused = submit_form(gm, page, action, step="sign_application", password="wrong-pass")
    assert refused.status_code == 403
    assert "密码" in refused.get_data(as_text=True)
    signed = submit_form(
        gm, gm.get(action), action, step="sign_application", password=TEST_PASSWORD
    )
    assert signed.status_code == 302
    assert "申请书已签署" in gm.get(action).get_data(as_text=True)


def test_a_step_out_of_order_on_the_page(app, client_as, users, cert_body):
    project_id = _project(app, users, cert_body)
    clerk = client_as("clerk")
    url = f"/certification/projects/{project_id}"
    page = clerk.get(url)
    before = _db_counts(app)
    # a forged choice the page does not offer is refused by the form, nothing stored
    response = clerk.post(url, data={"step": "hold_audit", "note": "跳步"})
    assert response.status_code == 422
    assert _db_counts(app) == before
    # the service refuses a step out of order with words, when it reaches it
    with app.test_request_context():
        from qms.auth.models import User
        from qms.certification import service
        from qms.db import get_session
        from qms.errors import Conflict

        s = get_session()
        with pytest.raises(Conflict) as refused:
            service.take_step(
                s,
                s.get(User, users["clerk"]),
                service.get_project(s, project_id),
                service.StepIn(action="hold_audit"),
                attachment_dir=None,
                max_bytes=1,
            )
        assert refused.value.code == "out_of_order"
        s.rollback()
    assert page.status_code == 200


def test_decision_without_both_reports_on_the_page(app, client_as, users, cert_body):
    project_id = _project(app, users, cert_body, "inspected")
    clerk = client_as("clerk")
    url = f"/certification/projects/{project_id}"
    page = clerk.get(url)
    html = page.get_data(as_text=True)
    assert 'value="certify"' not in html  # not offered before both reports
    done = submit_form(clerk, page, url, step="receive_audit_report", note="检查报告")
    assert done.status_code == 302
    before = _db_counts(app)
    today = clock.today().isoformat()
    response = clerk.post(
        url, data={"step": "certify", "number": "RZ-1", "decision_date": today, "grant_date": today}
    )
    assert response.status_code == 422  # still not a choice: the inspection report is missing
    assert _db_counts(app) == before


@pytest.fixture
def ready(app, client_as, users, cert_body):
    project_id = _project(app, users, cert_body, "inspected")
    clerk = client_as("clerk")
    url = f"/certification/projects/{project_id}"
    for action in ("receive_audit_report", "receive_inspection_report"):
        assert submit_form(clerk, clerk.get(url), url, step=action).status_code == 302
    return clerk, url


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"grant_date": -1}, "发证日期不能早于认证决定日期"),
        ({"expiry_date": 400}, "有效期应为认证决定日期后三年"),
    ],
)
def test_bad_certificate_on_the_page(app, ready, fields, message):
    clerk, url = ready
    today = clock.today()
    typed = {
        "step": "certify",
        "number": "01326Q30117R0M",
        "decision_date": today.isoformat(),
        "grant_date": today.isoformat(),
    }
    for name, days in fields.items():
        typed[name] = (
            today + timedelta(days=days)
            if name == "grant_date"
            else rules.add_months(today, 36) + timedelta(days=days)
        ).isoformat()
    before = _db_counts(app)
    response = submit_form(clerk, clerk.get(url), url, **typed)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'value="01326Q30117R0M"' in html  # the input is kept
    assert _db_counts(app) == before


def test_certify_on_the_page_and_a_duplicate_number(app, ready, cert_body):
    clerk, url = ready
    today = clock.today().isoformat()
    done = submit_form(
        clerk,
        clerk.get(url),
        url,
        step="certify",
        number="01326Q30117R0M",
        decision_date=today,
        grant_date=today,
    )
    assert done.status_code == 302, __import__("re").findall(
        r'class="error"[^>]*>([^<]*)', done.get_data(as_text=True)
    )
    assert "已获认证" in clerk.get(url).get_data(as_text=True)
    page = clerk.get("/certification/certificates/new")
    before = _db_counts(app)
    response = submit_form(
        clerk,
        page,
        "/certification/certificates/new",
        body=str(cert_body),
        number="01326Q30117R0M",
        cert_scope="物业",
        decision_date=today,
        grant_date=today,
    )
    assert response.status_code == 409
    assert "已经颁发过编号为 01326Q30117R0M 的证书" in response.get_data(as_text=True)
    assert _db_counts(app) == before


def test_a_late_surveillance_cannot_be_recorded_as_on_time(app, client_as, users, cert_body):
    decision = rules.add_months(clock.today(), -14)
    with app.test_request_context():
        from qms.auth.models import User
        from qms.certification import service
        from qms.db import get_session

        s = get_session()
        cert = service.issue_certificate(
            s,
            s.get(User, users["manager"]),
            service.get_body(s, cert_body),
            service.CertificateIn(
                number="RZ-LATE",
                standard="GB/T 19001-2016",
                scope="物业",
                sites="",
                decision_date=decision,
                grant_date=decision,
            ),
        )
        s.commit()
        cert_id = cert.id
    clerk = client_as("clerk")
    url = f"/certification/certificates/{cert_id}"
    page = clerk.get(url)
    held = clock.today().isoformat()
    before = _db_counts(app)
    response = submit_form(
        clerk,
        page,
        url,
        {"form": "audit"},
        **{
            "audit-kind": "surveillance",
            "audit-held_on": held,
            "audit-on_time": "y",
            "audit-note": "监督审核",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    due = rules.first_surveillance_due(decision).isoformat()
    assert f"该审核应于 {due} 前完成" in html
    assert "监督审核" in html
    assert _db_counts(app) == before
    # recorded as late, it is kept as late
    response = submit_form(
        clerk,
        clerk.get(url),
        url,
        {"form": "audit"},
        **{"audit-kind": "surveillance", "audit-held_on": held, "audit-note": "逾期监督审核"},
    )
    assert response.status_code == 302
    assert "否，逾期" in clerk.get(url).get_data(as_text=True)


def test_registers_on_the_page(app, client_as):
    clerk = client_as("clerk")
    page = clerk.get("/certification/bodies")
    done = submit_form(
        clerk,
        page,
        "/certification/bodies",
        {"form": "body"},
        **{"body-name": "华信质量认证有限公司", "body-accreditation_number": "CNCA-R-1"},
    )
    assert done.status_code == 302
    again = submit_form(
        clerk,
        clerk.get("/certification/bodies"),
        "/certification/bodies",
        {"form": "body"},
        **{"body-name": "华信质量认证有限公司"},
    )
    assert again.status_code == 409
    assert "已经登记" in again.get_data(as_text=True)
    done = submit_form(
        clerk,
        clerk.get("/certification/bodies"),
        "/certification/bodies",
        {"form": "consultant"},
        **{"consultant-name": "张顾问", "consultant-organisation": "某咨询公司"},
    )
    assert done.status_code == 302
    html = clerk.get("/certification/bodies").get_data(as_text=True)
    assert "张顾问" in html and "CNCA-R-1" in html
    auditor = client_as("auditor")
    assert auditor.get("/certification/bodies").status_code == 200
    assert "body-name" not in auditor.get("/certification/bodies").get_data(as_text=True)


def _many(app, users, body_id, n):
    with app.test_request_context():
        from qms.auth.models import User
        from qms.certification import service
        from qms.db import get_session

        s = get_session()
        manager = s.get(User, users["manager"])
        body = service.get_body(s, body_id)
        start = s.scalar(
            sa.select(sa.func.count()).select_from(
                __import__("qms.certification.models", fromlist=["Certificate"]).Certificate
            )
        )
        for i in range(start, start + n):
            decision = clock.today() - timedelta(days=30 + i)
            cert = service.issue_certificate(
                s,
                manager,
                body,
                service.CertificateIn(
                    number=f"RZ-{i}",
                    standard="GB/T 19001-2016",
                    scope="物业",
                    sites="",
                    decision_date=decision,
                    grant_date=decision,
                ),
            )
            service.record_audit(
                s,
                manager,
                cert,
                kind="surveillance",
                held_on=clock.today(),
                on_time=True,
                major_nonconformities=1,
            )
            service.create_project(
                s,
                manager,
                title=f"项目 {i}",
                body=body,
                consultant=None,
                standard="GB/T 19001-2016",
                scope="物业",
            )
        s.commit()


# the home page holds every feature's panels; the others are certification's own
@pytest.mark.parametrize(
    ("url", "bound"),
    [
        ("/certification/", 12),
        ("/certification/calendar", 10),
        ("/", 35),
        ("/api/v1/certificates", 8),
        ("/api/v1/certifications", 8),
    ],
)
def test_query_counts_do_not_grow(app, client_as, users, cert_body, url, bound):
    clerk = client_as("clerk")
    counts = []
    for n in (1, 6):
        _many(app, users, cert_body, n)
        with count_queries(app) as counter:
            assert clerk.get(url).status_code == 200
        counts.append(counter["n"])
    assert counts[0] == counts[1], counts
    assert counts[1] <= bound, counts
