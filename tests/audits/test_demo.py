"""The demo data shows the feature working: this year's programme and a finished audit."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from qms import clock


def test_demo_data_has_a_programme_and_a_finished_audit(app: Any) -> None:
    from qms.audits.lifecycle import AuditState, ProgrammeState
    from qms.audits.models import Audit, AuditProgramme
    from qms.db import get_session
    from qms.demo import create_demo_data
    from qms.nonconformity.models import Nonconformity

    with app.test_request_context():
        db = get_session()
        assert create_demo_data(db)
        db.commit()
        programme = db.scalar(sa.select(AuditProgramme))
        assert programme.year == clock.today().year
        assert programme.state == ProgrammeState.APPROVED
        closed = db.scalar(sa.select(Audit).where(Audit.state == AuditState.CLOSED))
        assert closed is not None and closed.department.code == "KF"
        states = sorted(str(nc.state) for nc in db.scalars(sa.select(Nonconformity)))
        assert len(states) == 2
        assert "closed" in states and any(s != "closed" for s in states)
