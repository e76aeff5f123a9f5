"""The calendar feed parsed back with a real iCalendar library, its token rules; the
evidence pack opened and its manifest's hashes checked."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import icalendar
import pytest
import sqlalchemy as sa

from qms import clock
from qms.certification import rules
from tests.certification.conftest import api_token

FEED = "/api/v1/certification/calendar.ics"


@pytest.fixture
def certificate(app, users, cert_body):
    with app.test_request_context():
        from qms.auth.models import User
        from qms.certification import service
        from qms.db import get_session

        s = get_session()
        manager = s.get(User, users["manager"])
        decision = rules.add_months(clock.today(), -2)
        cert = service.issue_certificate(
            s,
            manager,
            service.get_body(s, cert_body),
            service.CertificateIn(
                number="01326Q30117R0M",
                standard="GB/T 19001-2016 / ISO 9001:2015",
                scope="物业管理服务; 客户服务, 安全",
                sites="",
                decision_date=decision,
                grant_date=decision,
            ),
        )
        s.commit()
        return {"id": cert.id, "decision": decision}


def _events(data: bytes):
    cal = icalendar.Calendar.from_ical(data)
    return [(e.get("summary"), e.decoded("dtstart"), e) for e in cal.walk("VEVENT")]


def test_the_feed_without_a_token_is_401(app, certificate):
    response = app.test_client().get(FEED)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert "Authorization" in response.json["error"]["message"]
    assert app.test_client().get(FEED + "?token=nope").status_code == 401
    bad = app.test_client().get(FEED, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_the_feed_with_an_api_token_parses_back(app, certificate):
    token = api_token(app, "manager")
    response = app.test_client().get(FEED, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    events = _events(response.data)
    by_day = {day: str(summary) for summary, day, _e in events}
    first = rules.first_surveillance_due(certificate["decision"])
    assert first in by_day and "01326Q30117R0M" in by_day[first]
    recert = rules.add_months(certificate["decision"], 36) - __import__("datetime").timedelta(1)
    assert recert in by_day
    event = next(e for _s, day, e in events if day == first)
    triggers = sorted(a.decoded("trigger").days for a in event.walk("VALARM"))
    assert triggers == [-90, -30, -7]
    assert "物业管理服务; 客户服务, 安全" in str(event.get("description"))  # escaped, folded


def test_a_staff_token_gets_nothing(app, certificate, users):
    """A valid token of a role without the calendar is known but not allowed: 403, with
    nothing of the calendar in the answer."""
    token = api_token(app, "staff")
    response = app.test_client().get(FEED, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert b"VCALENDAR" not in response.data
    assert b"01326Q30117R0M" not in response.data


def test_the_feed_token_made_on_the_calendar_page(app, client_as, certificate):
    from tests.forms import submit_form

    clerk = client_as("clerk")
    page = clerk.get("/certification/calendar")
    assert page.status_code == 200
    assert "01326Q30117R0M" in page.get_data(as_text=True)
    made = submit_form(clerk, page, "/certification/calendar")
    html = made.get_data(as_text=True)
    assert made.status_code == 200
    start = html.index('id="feed-url">') + len('id="feed-url">')
    url = html[start : html.index("</code>", start)].replace("&amp;", "&")
    assert "token=" in url
    path = url[url.index("/api/") :]
    feed = app.test_client().get(path)  # no cookie, no header: what Outlook does
    assert feed.status_code == 200
    assert _events(feed.data)
    # a new address stops the old one
    submit_form(clerk, clerk.get("/certification/calendar"), "/certification/calendar")
    assert app.test_client().get(path).status_code == 401


def test_the_evidence_pack(app, client_as, certificate, users):
    from tests.factories import make_document
    from tests.forms import submit_form

    with app.app_context():
        from qms.auth.models import User
        from qms.db import get_session
        from qms.documents.lifecycle import RevState
        from qms.documents.models import DocKind

        s = get_session()
        clerk = s.get(User, users["clerk"])
        manual = make_document(
            s, clerk=clerk, kind=DocKind.QUALITY_MANUAL, title="质量手册", state=RevState.EFFECTIVE
        ).number
        regulation = make_document(
            s, clerk=clerk, kind=DocKind.REGULATION, title="质量管理制度", state=RevState.EFFECTIVE
        ).number
        form = make_document(
            s, clerk=clerk, kind=DocKind.FORM, title="不符合项纠正记录表", state=RevState.EFFECTIVE
        ).number
        s.commit()
    manager = client_as("manager")
    response = submit_form(manager, manager.get("/certification/"), "/certification/evidence-pack")
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype == "application/zip"
    pack = zipfile.ZipFile(io.BytesIO(response.data))
    manifest = json.loads(pack.read("MANIFEST.json"))
    paths = [f["path"] for f in manifest["files"]]
    assert any(manual in p for p in paths)
    assert any(regulation in p for p in paths)
    assert not any(form in p for p in paths)  # forms are not in the pack
    assert "certification/certificates.json" in paths
    for entry in manifest["files"]:
        data = pack.read(entry["path"])
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["size"]
    assert set(pack.namelist()) == {*paths, "MANIFEST.json"}
    certificates = json.loads(pack.read("certification/certificates.json"))
    assert certificates[0]["number"] == "01326Q30117R0M"
    with app.app_context():
        from qms.db import get_session
        from qms.trail.models import TrailEntry

        assert (
            get_session().scalar(sa.select(TrailEntry).where(TrailEntry.action == "evidence_pack"))
            is not None
        )
    auditor = client_as("auditor")
    assert "/certification/evidence-pack" not in auditor.get("/certification/").get_data(
        as_text=True
    )
