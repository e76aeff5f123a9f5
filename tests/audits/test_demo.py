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


def test_the_evidence_pack_holds_the_audits_and_closed_nonconformities(app: Any) -> None:
    """The auditor's pack: the approved programme, the closed audit's report (a Word file
    that opens), and the closed nonconformity with its verification; the open one is not."""
    import io
    import json
    import zipfile

    import docx

    from qms.auth.models import User
    from qms.certification.evidence import build_pack
    from qms.db import get_session
    from qms.demo import create_demo_data
    from qms.nonconformity.models import Nonconformity

    with app.test_request_context():
        db = get_session()
        assert create_demo_data(db)
        db.commit()
        manager = db.scalar(sa.select(User).where(User.username == "manager"))
        data, manifest = build_pack(db, manager, today=clock.today(), attachment_dir=None)
        pack = zipfile.ZipFile(io.BytesIO(data))
        paths = [f["path"] for f in manifest["files"]]
        assert manifest["not_included"] == []
        assert f"audits/programme-{clock.today().year}.json" in paths
        reports = [p for p in paths if p.startswith("audits/report-")]
        assert len(reports) == 1
        text = "\n".join(
            p.text for p in docx.Document(io.BytesIO(pack.read(reports[0]))).paragraphs
        )
        assert text.strip()
        closed = db.scalar(sa.select(Nonconformity).where(Nonconformity.state == "closed"))
        still_open = db.scalar(sa.select(Nonconformity).where(Nonconformity.state != "closed"))
        assert f"nonconformities/{closed.number}.json" in paths
        assert f"nonconformities/{still_open.number}.json" not in paths
        record = json.loads(pack.read(f"nonconformities/{closed.number}.json"))
        assert record["state"] == "closed" and record["verifications"]
