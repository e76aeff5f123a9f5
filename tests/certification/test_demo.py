"""A new user sees the company's certificate and its next surveillance (demo data)."""

import sqlalchemy as sa

from qms import clock
from qms.certification import rules


def test_demo_has_the_certificate_and_its_next_surveillance(app):
    with app.test_request_context():
        from qms.certification import service
        from qms.certification.models import Certificate
        from qms.db import get_session
        from qms.demo import create_demo_data

        s = get_session()
        assert create_demo_data(s) is not None
        s.commit()
        cert = s.scalar(sa.select(Certificate))
        assert cert.number == "01326Q30117R0M"
        assert cert.status == "valid"
        due = service.due_items(s, clock.today())[0]
        assert due.kind == "first_surveillance"
        assert due.due == rules.first_surveillance_due(rules.add_months(clock.today(), -10))
    client = app.test_client()
    import re

    login = client.get("/login")
    assert login.status_code == 200
    with app.app_context():
        from qms.auth import service as auth
        from qms.db import get_session

        s = get_session()
        user = auth.user_by_username(s, "clerk")
        from qms.auth.passwords import hash_password
        from tests.factories import TEST_PASSWORD

        user.password_hash = hash_password(TEST_PASSWORD)
        s.commit()
    from tests.conftest import login as sign_in

    assert sign_in(client, "clerk").status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert "01326Q30117R0M" in home
    assert re.search(r"certification-panel", home)
