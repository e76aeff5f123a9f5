"""Certification (handbook 5.1): the general manager signs the application (one wrong
password on purpose), the clerk records the inspection report and the decision (one grant
date before the decision on purpose, kept on the page), and the certificate with its next
surveillance is on the clerk's home page."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from qms import clock
from qms.certification import rules
from tests.factories import TEST_PASSWORD
from tests.journeys.conftest import WRONG_PASSWORD, flash

NUMBER = "01326Q30117R0M"


def _project(live_app, upto: list[str]) -> int:
    from qms.auth.models import User
    from qms.certification import service
    from qms.db import get_session

    with live_app.test_request_context():
        s = get_session()
        u = {user.username: user for user in s.scalars(sa.select(User))}
        project = service.get_project(s, _project.id) if getattr(_project, "id", None) else None
        if project is None:
            body = service.create_body(s, u["manager"], name="华信质量认证有限公司")
            project = service.create_project(
                s,
                u["manager"],
                title="质量管理体系初次认证",
                body=body,
                consultant=None,
                standard="GB/T 19001-2016 / ISO 9001:2015",
                scope="物业管理服务",
                application_text="申请认证范围：物业管理服务。",
            )
            _project.id = project.id
        for action in upto:
            step = service.StepIn(action=action)
            who = u["clerk"]
            if action.startswith("sign_"):
                who = u["gm"]
                step.password = TEST_PASSWORD
                step.content_sha256 = service.signed_hash(project, rules.ProjectAction(action))
            service.take_step(
                s,
                who,
                project,
                step,
                attachment_dir=Path(live_app.config["DATA_DIR"]) / "attachments",
                max_bytes=2**20,
            )
        s.commit()
        return project.id


def test_from_application_to_certificate(people, live_app, zh, last_page):
    _project.id = None
    project_id = _project(live_app, ["prepare_application"])
    base = people.base
    url = f"{base}/certification/projects/{project_id}"

    gm = people.sign_in("gm")
    gm.goto(url)
    gm.select_option("#step", "sign_application")
    gm.fill("#password", "not-my-password")
    gm.click("#step-form button[type=submit]")
    assert zh(WRONG_PASSWORD) in gm.locator(".error").first.inner_text()
    gm.fill("#password", TEST_PASSWORD)
    gm.click("#step-form button[type=submit]")
    assert "申请书已签署" in gm.locator("#project-state").inner_text()

    _project(
        live_app,
        [
            "submit_application",
            "accept_application",
            "sign_contract",
            "receive_commissions",
            "accept_documents",
            "plan_audit",
            "hold_audit",
            "plan_inspection",
            "hold_inspection",
            "receive_audit_report",
        ],
    )
    clerk = people.sign_in("clerk")
    clerk.goto(url)
    clerk.select_option("#step", "receive_inspection_report")
    clerk.fill("#responsible", "检验机构 王工")
    clerk.click("#step-form button[type=submit]")
    assert flash(clerk)

    today = clock.today()
    clerk.select_option("#step", "certify")
    clerk.fill("#number", NUMBER)
    clerk.fill("#decision_date", today.isoformat())
    clerk.fill("#grant_date", (today - __import__("datetime").timedelta(days=1)).isoformat())
    clerk.click("#step-form button[type=submit]")
    assert zh("The grant date cannot be before the certification decision.") in (
        clerk.locator(".error").first.inner_text()
    )
    assert clerk.input_value("#number") == NUMBER  # what was typed is kept
    clerk.fill("#grant_date", today.isoformat())
    clerk.click("#step-form button[type=submit]")
    assert "已获认证" in clerk.locator("#project-state").inner_text()

    clerk.goto(f"{base}/")
    panel = clerk.locator("#certification-panel").inner_text()
    assert NUMBER in panel
    assert rules.first_surveillance_due(today).isoformat() in panel
    last_page(clerk, "certification")
