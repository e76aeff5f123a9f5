"""Server-side session invalidation (issue 11, item 8): a copy of a session cookie saved
before sign-out, a password change, an administrator's reset or a deactivation is refused
afterwards — by every worker process, since the session lives in the database."""

import sqlalchemy as sa

from qms.auth.models import User, UserSession
from tests.conftest import login, make_test_app
from tests.factories import TEST_PASSWORD

NEW_PASSWORD = "lantern-oyster-quietly-9"


def _saved_cookie(client):
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _replay(app, cookie_value):
    """A fresh browser that presents the saved cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie_value)
    return thief


def _signed_in(client):
    response = client.get("/account")
    return response.status_code == 200


def test_a_fresh_copy_of_the_cookie_works_while_the_session_is_open(app, client_as):
    staff = client_as("staff")
    assert _signed_in(_replay(app, _saved_cookie(staff)))


def test_sign_out_refuses_a_saved_copy_of_the_cookie(app, client_as):
    staff = client_as("staff")
    saved = _saved_cookie(staff)
    assert staff.post("/logout").status_code == 302
    replayed = _replay(app, saved)
    response = replayed.get("/account")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    api = _replay(app, saved).get("/api/v1/me")
    assert api.status_code == 401
    assert api.get_json()["error"]["code"] == "unauthorized"


def test_sign_out_in_one_worker_holds_in_another(app, client_as, database_url, tmp_path):
    staff = client_as("staff")
    saved = _saved_cookie(staff)
    other_worker = make_test_app(database_url, tmp_path)
    assert _signed_in(_replay(other_worker, saved))
    staff.post("/logout")
    assert not _signed_in(_replay(other_worker, saved))


def test_password_change_ends_every_other_session(app, client_as):
    staff = client_as("staff")
    laptop = client_as("staff")  # the same person signed in elsewhere
    saved = _saved_cookie(staff)
    response = staff.post(
        "/account",
        data={"action": "password", "pw-current": TEST_PASSWORD, "pw-new": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert _signed_in(staff)  # the browser that changed it stays signed in
    assert not _signed_in(laptop)
    assert not _signed_in(_replay(app, saved))
    assert login(app.test_client(), "staff", NEW_PASSWORD).status_code == 302


def test_a_refused_password_change_ends_nothing(app, client_as):
    staff = client_as("staff")
    laptop = client_as("staff")
    response = staff.post(
        "/account",
        data={"action": "password", "pw-current": TEST_PASSWORD, "pw-new": "password123"},
    )
    assert response.status_code == 422
    assert "常见" in response.get_data(as_text=True)
    assert _signed_in(laptop)


def test_administrators_reset_ends_the_users_sessions(app, client_as, users):
    staff = client_as("staff")
    saved = _saved_cookie(staff)
    admin = client_as("admin")
    response = admin.post(
        f"/admin/users/{users['staff']}", data={"action": "reset", "reset-new": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert not _signed_in(staff)
    assert not _signed_in(_replay(app, saved))
    assert _signed_in(admin)  # the administrator's own session is untouched


def test_administrator_resetting_their_own_password_stays_signed_in(app, client_as, users):
    admin = client_as("admin")
    elsewhere = client_as("admin")
    admin.post(
        f"/admin/users/{users['admin']}", data={"action": "reset", "reset-new": NEW_PASSWORD}
    )
    assert _signed_in(admin)
    assert not _signed_in(elsewhere)


def test_deactivation_ends_the_users_sessions(app, client_as, users):
    staff = client_as("staff")
    saved = _saved_cookie(staff)
    admin = client_as("admin")
    response = admin.post(
        f"/admin/users/{users['staff']}",
        data={
            "action": "save",
            "display_name": "Staff",
            "department": "PZ",
            "roles": ["staff"],
            "reason": "left the company",
        },  # "active" unchecked
    )
    assert response.status_code == 302
    with app.app_context():
        from qms.db import get_session

        assert get_session().get(User, users["staff"]).active is False
        sessions = (
            get_session()
            .scalars(sa.select(UserSession).where(UserSession.user_id == users["staff"]))
            .all()
        )
        assert sessions
        assert all(s.ended_at is not None for s in sessions)
        assert {s.end_reason for s in sessions} == {"deactivated"}
    # Even once reactivated, the old cookie stays dead.
    with app.app_context():
        from qms.db import get_session

        get_session().get(User, users["staff"]).active = True
        get_session().commit()
    assert not _signed_in(_replay(app, saved))


def test_a_cookie_without_a_server_session_is_refused(app, client_as, users):
    """A cookie forged with the secret key but no session row (or an old-style cookie
    from before this change) signs nobody in."""
    c = app.test_client()
    with c.session_transaction() as sess:
        sess["_user_id"] = str(users["admin"])
        sess["_fresh"] = True
    assert c.get("/account").status_code == 302
    with c.session_transaction() as sess:
        sess["sid"] = "made-up"
    assert c.get("/account").status_code == 302


def test_idle_expiry_ends_the_server_session(app, client_as):
    import time

    staff = client_as("staff")
    saved = _saved_cookie(staff)
    with staff.session_transaction() as sess:
        sess["last_seen"] = time.time() - 31 * 60
    assert staff.get("/").status_code == 302
    assert not _signed_in(_replay(app, saved))


def test_ended_sessions_are_dropped_after_ninety_days(app, users):
    from datetime import timedelta

    with app.app_context():
        from qms.auth import service
        from qms.db import get_session, utcnow

        db = get_session()
        user = db.get(User, users["staff"])
        old = service.start_session(db, user, utcnow() - timedelta(days=200))
        service.end_session(db, old, "signed_out", utcnow() - timedelta(days=91))
        recent = service.start_session(db, user, utcnow() - timedelta(days=10))
        service.end_session(db, recent, "signed_out", utcnow() - timedelta(days=9))
        service.start_session(db, user)
        db.commit()
        reasons = sorted(
            (s.ended_at is None, s.end_reason) for s in db.scalars(sa.select(UserSession))
        )
        assert reasons == [(False, "signed_out"), (True, "")]
