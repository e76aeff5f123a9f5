"""Findings of a surveillance or recertification audit on a certificate held go into the
nonconformity register (source certificate_audit), and a major one stays due until it is
corrected and verified, 6 months after its audit (ISO/IEC 17021-1)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from qms import clock
from qms.certification import findings, rules
from tests.certification.test_feed_and_pack import certificate  # noqa: F401 - fixture
from tests.certification.test_findings import _dept_id


def _audit(api, cert_id, **extra):
    held = rules.add_months(clock.today(), -1)
    body = {"kind": "surveillance", "held_on": held.isoformat(), "on_time": True, **extra}
    response = api("clerk", "POST", f"/api/v1/certificates/{cert_id}/audits", body)
    assert response.status_code == 201, response.json
    return response.json["audits"][-1], held


def _finding(app, api, cert_id, audit, **extra):
    body = {
        "audit_id": audit,
        "department_id": _dept_id(app, "GC"),
        "clause": "8.5.1",
        "grade": "major",
        "description": "电梯维保记录缺失两个月",
        "evidence": "监督审核抽查 3 号楼电梯维保记录",
        **extra,
    }
    return api("clerk", "POST", f"/api/v1/certificates/{cert_id}/findings", body)


def _majors_due(api, cert_id):
    got = api("manager", "GET", f"/api/v1/certificates/{cert_id}")
    assert got.status_code == 200
    return [d for d in got.json["due"] if d["kind"] == "major_nonconformities"], got.json


def _close(app, nc_id):
    with app.app_context():
        from qms.db import get_session
        from qms.nonconformity.models import Nonconformity
        from qms.nonconformity.rules import NcState

        s = get_session()
        # the engine's own lifecycle is tested in tests/nonconformity; here only its outcome
        s.get(Nonconformity, nc_id).state = NcState.CLOSED
        s.commit()


def test_pure_outstanding_majors():
    assert findings.majors_outstanding(0, (0, 0)) == 0
    assert findings.majors_outstanding(2, (0, 0)) == 2  # reported, not yet recorded
    assert findings.majors_outstanding(2, (1, 0)) == 2  # one recorded and open, one not
    assert findings.majors_outstanding(2, (0, 2)) == 0  # both corrected and verified
    assert findings.majors_outstanding(1, (1, 1)) == 1  # count below the record: the record


def test_a_major_from_a_surveillance_stays_due_until_closed(app, api, certificate):  # noqa: F811
    cert_id = certificate["id"]
    audit, held = _audit(api, cert_id)
    assert _majors_due(api, cert_id)[0] == []
    made = _finding(app, api, cert_id, audit["id"])
    assert made.status_code == 201, made.json
    assert made.json["source"] == "certificate_audit"
    assert made.json["source_id"] == audit["id"]
    assert made.json["grade"] == "serious"
    due, cert = _majors_due(api, cert_id)
    assert due == [
        {
            "kind": "major_nonconformities",
            "due": rules.major_nonconformity_deadline(held).isoformat(),
        }
    ]
    # the audit's count follows what is recorded, and lists the finding
    assert cert["audits"][-1]["major_nonconformities"] == 1
    assert [f["number"] for f in cert["audits"][-1]["findings"]] == [made.json["number"]]
    minor = _finding(app, api, cert_id, audit["id"], grade="minor", description="标识不清")
    assert minor.status_code == 201
    assert _majors_due(api, cert_id)[1]["audits"][-1]["major_nonconformities"] == 1
    # in the register, with its source
    register = api("manager", "GET", "/api/v1/nonconformities?source=certificate_audit")
    assert register.status_code == 200
    assert {n["number"] for n in register.json["items"]} == {
        made.json["number"],
        minor.json["number"],
    }
    _close(app, made.json["id"])
    assert _majors_due(api, cert_id)[0] == []  # corrected and verified: no longer due


def test_majors_reported_but_not_recorded_are_due(app, api, certificate):  # noqa: F811
    cert_id = certificate["id"]
    audit, _held = _audit(api, cert_id, major_nonconformities=2)
    assert len(_majors_due(api, cert_id)[0]) == 1
    first = _finding(app, api, cert_id, audit["id"])
    _close(app, first.json["id"])
    assert len(_majors_due(api, cert_id)[0]) == 1  # the second one is not recorded yet
    second = _finding(app, api, cert_id, audit["id"], description="消防巡查记录不全")
    _close(app, second.json["id"])
    assert _majors_due(api, cert_id)[0] == []


def test_bad_audit_findings_store_nothing(app, api, certificate):  # noqa: F811
    cert_id = certificate["id"]
    audit, held = _audit(api, cert_id)
    cases = [
        ({"audit_id": None}, 422, "audit_required"),
        ({"audit_id": 999999}, 404, None),
        ({"raised_on": (held - timedelta(days=1)).isoformat()}, 422, "before_audit"),
        ({"evidence": ""}, 422, "evidence_required"),
        ({"clause": "abc"}, 422, None),
        ({"audit_id": "1"}, 422, None),
    ]
    for extra, status, code in cases:
        response = _finding(app, api, cert_id, audit["id"], **extra)
        assert response.status_code == status, (extra, response.json)
        assert response.json["error"]["message"]
        if code:
            assert response.json["error"]["code"] == code
    assert _finding(app, api, cert_id, audit["id"]).status_code == 201
    assert api("staff", "POST", f"/api/v1/certificates/{cert_id}/findings", {}).status_code == 403
    with app.app_context():
        from qms.db import get_session
        from qms.nonconformity.models import Nonconformity

        assert get_session().scalar(sa.select(sa.func.count()).select_from(Nonconformity)) == 1


def test_a_finding_on_the_certificate_page(app, client_as, api, certificate):  # noqa: F811
    from tests.forms import submit_form

    cert_id = certificate["id"]
    audit, _held = _audit(api, cert_id)
    clerk = client_as("clerk")
    url = f"/certification/certificates/{cert_id}"
    page = clerk.get(url)
    assert page.status_code == 200
    assert 'id="audit-finding-form"' in page.get_data(as_text=True)
    fields = {
        "finding-audit": str(audit["id"]),
        "finding-department": str(_dept_id(app, "BA")),
        "finding-clause": "8.5.1",
        "finding-grade": "major",
        "finding-description": "<script>alert(1)</script>夜间巡逻记录缺失",
        "finding-evidence": "监督审核现场抽查",
    }
    done = submit_form(clerk, page, f"{url}/findings", **fields)
    assert done.status_code == 302
    html = clerk.get(url).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;夜间巡逻记录缺失" in html
    assert "<script>alert(1)</script>" not in html
    assert rules.major_nonconformity_deadline(_held).isoformat() in html
    bad = submit_form(
        clerk, clerk.get(url), f"{url}/findings", **(fields | {"finding-evidence": " "})
    )
    assert bad.status_code == 422
    assert "夜间巡逻记录缺失" in bad.get_data(as_text=True)  # the input is kept
    staff = client_as("staff")
    assert staff.get(url).status_code == 403
    assert staff.post(f"{url}/findings", data=fields).status_code in (400, 403)
