"""Statements per audit page, as a bound that does not grow with the audits listed."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.web.test_documents_pages import count_queries

PAGES = [
    "/audits/",
    "/audits/programmes/{programme}",
    "/audits/programmes/{programme}/calendar?month=6",
    "/audits/results",
    "/api/v1/audits",
]
MAX = 40


def _more_audits(app: Any, programme_id: int, n: int) -> None:
    from qms.audits import service
    from qms.audits.models import AuditProgramme
    from qms.auth.models import Department, User
    from qms.db import get_session

    with app.test_request_context():
        s = get_session()
        manager = s.query(User).filter_by(username="manager").one()
        auditor = s.query(User).filter_by(username="auditor").one()
        programme = s.get(AuditProgramme, programme_id)
        kf = s.query(Department).filter_by(code="KF").one()
        for i in range(n):
            audit = service.plan_audit(
                s,
                manager,
                programme,
                department=kf,
                title=f"专项内审{i}",
                audit_date=date(2027, 6, 1 + i),
                lead_auditor=auditor,
                clauses=["8.5", "9.1"],
            )
            service.notify(s, auditor, audit, notice_date=date(2027, 5, 1))
        s.commit()


@pytest.mark.parametrize("path", PAGES)
def test_pages_ask_a_fixed_number_of_statements(
    app: Any, client_as: Any, served_world: Any, path: str
) -> None:
    url = path.format(programme=served_world.programme.id)
    client = client_as("manager")
    client.get(url)  # warm: the session's first statements
    with count_queries(app) as before:
        assert client.get(url).status_code == 200
    _more_audits(app, served_world.programme.id, 6)
    with count_queries(app) as after:
        assert client.get(url).status_code == 200
    assert after["n"] <= before["n"] + 1, (before["n"], after["n"])
    assert after["n"] <= MAX
