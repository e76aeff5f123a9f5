"""API tokens (issue 11, item 9): named, expiring, listed and revoked in the account page,
the CLI and the API; stored hashed; revoked on reset and deactivation; created only after
the password is entered again; every refusal a 401 with a clear code."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from qms.auth.models import ApiToken, User
from qms.trail.models import TrailEntry
from tests.factories import TEST_PASSWORD


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _make_token(app, username, name="laptop", days=90):
    with app.app_context():
        from qms.auth import service
        from qms.db import get_session

        s = get_session()
        user = service.user_by_username(s, username)
        row, token = service.issue_token(s, user, user, name, days=days)
        s.commit()
        return row.id, token


def _trail(app, action):
    with app.app_context():
        from qms.db import get_session

        return get_session().scalars(sa.select(TrailEntry).where(TrailEntry.action == action)).all()


# -- the API -------------------------------------------------------------------------------


def test_api_creates_a_token_after_the_password_and_shows_it_once(app, client, users):
    _id, first = _make_token(app, "clerk")
    response = client.post(
        "/api/v1/tokens",
        json={"name": "report script", "days": 30, "password": TEST_PASSWORD},
        headers=_bearer(first),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["name"] == "report script"
    assert body["state"] == "active"
    assert response.headers["Cache-Control"] == "no-store"
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)
    new = body["token"]
    assert client.get("/api/v1/me", headers=_bearer(new)).get_json()["username"] == "clerk"
    listed = client.get("/api/v1/tokens", headers=_bearer(new)).get_json()["items"]
    assert {t["name"] for t in listed} == {"laptop", "report script"}
    assert all("token" not in t for t in listed)  # shown once, never listed
    with app.app_context():
        from qms.db import get_session

        row = get_session().get(ApiToken, body["id"])
        assert row.token_sha256 == hashlib.sha256(new.encode()).hexdigest()
        assert new not in row.token_sha256
    assert _trail(app, "create_token")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "x", "password": "not-my-password"}, 403, "wrong_password"),
        ({"name": "x"}, 422, "invalid"),
        ({"name": "x", "password": ""}, 422, "invalid"),
        ({"name": "   ", "password": TEST_PASSWORD}, 422, "invalid"),
        ({"name": "x" * 101, "password": TEST_PASSWORD}, 422, "invalid"),
        ({"name": "x", "password": TEST_PASSWORD, "days": 0}, 422, "invalid"),
        ({"name": "x", "password": TEST_PASSWORD, "days": 367}, 422, "invalid"),
        ({"name": "x", "password": TEST_PASSWORD, "days": "30"}, 422, "invalid"),
        ({"name": "x", "password": TEST_PASSWORD, "days": True}, 422, "invalid"),
        ({"name": 5, "password": TEST_PASSWORD}, 422, "invalid"),
    ],
)
def test_api_refuses_bad_token_requests_and_stores_nothing(app, client, users, body, status, code):
    _id, first = _make_token(app, "clerk")
    response = client.post("/api/v1/tokens", json=body, headers=_bearer(first))
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    with app.app_context():
        from qms.db import get_session

        assert get_session().scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1


def test_a_wrong_password_when_creating_a_token_counts_towards_the_lock(app, client, users):
    _id, first = _make_token(app, "clerk")
    client.post("/api/v1/tokens", json={"name": "x", "password": "nope"}, headers=_bearer(first))
    with app.app_context():
        from qms.db import get_session

        assert get_session().get(User, users["clerk"]).failed_attempts == 1
    assert _trail(app, "create_token_refused")


def test_browser_session_creates_a_token_through_the_api_with_csrf(app, client_as):
    clerk = client_as("clerk")
    response = clerk.post("/api/v1/tokens", json={"name": "x", "password": TEST_PASSWORD})
    assert response.status_code == 201
    forged = clerk.post(
        "/api/v1/tokens",
        json={"name": "y", "password": TEST_PASSWORD},
        headers={"X-CSRFToken": "forged"},
    )
    assert forged.status_code == 400


def test_api_revokes_a_token(app, client, users):
    token_id, token = _make_token(app, "clerk", "old")
    _other_id, other = _make_token(app, "clerk", "current")
    response = client.delete(f"/api/v1/tokens/{token_id}", headers=_bearer(other))
    assert response.status_code == 200
    assert response.get_json()["state"] == "revoked"
    refused = client.get("/api/v1/me", headers=_bearer(token))
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "token_revoked"
    again = client.delete(f"/api/v1/tokens/{token_id}", headers=_bearer(other))
    assert again.status_code == 409
    assert _trail(app, "revoke_token")


def test_nobody_revokes_another_persons_token_but_an_administrator(app, client, users):
    token_id, token = _make_token(app, "clerk")
    _sid, staff = _make_token(app, "staff")
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=_bearer(staff)).status_code == 404
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    _aid, admin = _make_token(app, "admin")
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=_bearer(admin)).status_code == 200
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_unknown_token_id_is_404(app, client, users):
    _id, token = _make_token(app, "clerk")
    assert client.delete("/api/v1/tokens/999", headers=_bearer(token)).status_code == 404


def test_an_expired_token_is_401_token_expired(app, client, users):
    _id, token = _make_token(app, "clerk", days=1)
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    app.config["CLOCK"] = lambda: datetime.now(UTC) + timedelta(days=1, minutes=1)
    response = client.get("/api/v1/me", headers=_bearer(token))
    assert response.status_code == 401
    body = response.get_json()["error"]
    assert body["code"] == "token_expired"
    assert "过期" in body["message"]


def test_tokens_expire_after_qms_token_days_by_default(database_url, tmp_path, users, app):
    from tests.conftest import make_test_app

    short = make_test_app(database_url, tmp_path, TOKEN_DAYS=7)
    _id, token = _make_token(app, "clerk")
    response = short.test_client().post(
        "/api/v1/tokens", json={"name": "x", "password": TEST_PASSWORD}, headers=_bearer(token)
    )
    expires = datetime.fromisoformat(response.get_json()["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)


def test_token_days_come_from_the_environment(monkeypatch):
    from qms.config import config_for

    assert config_for("testing").TOKEN_DAYS == 90
    monkeypatch.setenv("QMS_TOKEN_DAYS", "30")
    assert config_for("testing").TOKEN_DAYS == 30


def test_password_reset_revokes_the_users_tokens(app, client, client_as, users):
    _id, token = _make_token(app, "staff")
    client_as("admin").post(
        f"/admin/users/{users['staff']}",
        data={"action": "reset", "reset-new": "lantern-oyster-quietly-9"},
    )
    response = client.get("/api/v1/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_revoked"


def test_own_password_change_keeps_the_tokens(app, client, client_as, users):
    _id, token = _make_token(app, "staff")
    client_as("staff").post(
        "/account",
        data={"action": "password", "pw-current": TEST_PASSWORD, "pw-new": "lantern-oyster-9x"},
    )
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200


def test_deactivation_revokes_the_users_tokens(app, client, users):
    from qms.cli import user_deactivate

    _id, token = _make_token(app, "staff")
    with app.app_context():
        result = CliRunner().invoke(user_deactivate, ["staff", "--reason", "left"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from qms.db import get_session

        get_session().get(User, users["staff"]).active = True  # even when reactivated
        get_session().commit()
    response = client.get("/api/v1/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_revoked"


# -- the CLI -------------------------------------------------------------------------------


def test_cli_creates_lists_and_revokes_tokens(app, client, users):
    from qms.cli import user_revoke_token, user_token, user_tokens

    runner = CliRunner()
    with app.app_context():
        made = runner.invoke(user_token, ["auditor", "--name", "nightly export", "--days", "10"])
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    with app.app_context():
        listed = runner.invoke(user_tokens, ["auditor"])
    line = listed.output.strip()
    token_id, name, _created, expires, state = line.split("\t")
    assert (name, state) == ("nightly export", "active")
    assert expires == (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d")
    with app.app_context():
        revoked = runner.invoke(user_revoke_token, [token_id])
        assert revoked.exit_code == 0, revoked.output
        again = runner.invoke(user_revoke_token, [token_id])
        assert again.exit_code == 2
        assert "already been revoked" in again.output or "已被撤销" in again.output
        missing = runner.invoke(user_revoke_token, ["999"])
        assert missing.exit_code == 2
        assert "revoked" in runner.invoke(user_tokens, ["auditor"]).output
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_cli_refuses_a_bad_lifetime(app, users):
    from qms.cli import user_token

    with app.app_context():
        result = CliRunner().invoke(user_token, ["auditor", "--days", "0"])
    assert result.exit_code == 2
    with app.app_context():
        from qms.db import get_session

        assert get_session().scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


# -- the account page ----------------------------------------------------------------------


def test_account_page_creates_a_token_only_with_the_password(app, client_as):
    clerk = client_as("clerk")
    refused = clerk.post(
        "/account", data={"action": "token", "tok-name": "phone", "tok-password": "nope"}
    )
    assert refused.status_code == 403
    assert "密码错误，未创建令牌" in refused.get_data(as_text=True)
    missing = clerk.post("/account", data={"action": "token", "tok-name": "phone"})
    assert missing.status_code == 422
    response = clerk.post(
        "/account",
        data={
            "action": "token",
            "tok-name": "phone",
            "tok-days": "14",
            "tok-password": TEST_PASSWORD,
        },
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="new-token"' in page
    assert response.headers["Cache-Control"] == "no-store"
    token = page.split('id="new-token">')[1].split("<")[0]
    assert app.test_client().get("/api/v1/me", headers=_bearer(token)).status_code == 200
    again = clerk.get("/account").get_data(as_text=True)
    assert "phone" in again
    assert token not in again  # shown once
    with app.app_context():
        from qms.db import get_session

        rows = get_session().scalars(sa.select(ApiToken)).all()
        assert len(rows) == 1
        assert (rows[0].expires_at - rows[0].created_at) == timedelta(days=14)


def test_account_page_revokes_a_token(app, client_as, users):
    token_id, token = _make_token(app, "clerk", "old laptop")
    clerk = client_as("clerk")
    page = clerk.get("/account").get_data(as_text=True)
    assert "old laptop" in page
    response = clerk.post("/account", data={"action": "revoke_token", "token_id": str(token_id)})
    assert response.status_code == 302
    assert "已撤销" in clerk.get("/account").get_data(as_text=True)
    assert app.test_client().get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_account_page_does_not_revoke_another_persons_token(app, client_as, users):
    token_id, token = _make_token(app, "clerk")
    staff = client_as("staff")
    response = staff.post("/account", data={"action": "revoke_token", "token_id": str(token_id)})
    assert response.status_code == 404
    bad = staff.post("/account", data={"action": "revoke_token", "token_id": "abc"})
    assert bad.status_code == 404
    assert app.test_client().get("/api/v1/me", headers=_bearer(token)).status_code == 200


def test_openapi_documents_the_token_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/tokens"]) == {"get", "post"}
    assert "delete" in paths["/api/v1/tokens/{token_id}"]
    post = paths["/api/v1/tokens"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "name",
        "password",
    ]
    assert "201" in post["responses"]


def test_the_account_page_shows_when_a_token_was_last_used(app, client, client_as, users):
    _id, token = _make_token(app, "clerk", "report script")
    assert (
        "—" in client_as("clerk").get("/account").get_data(as_text=True).split("report script")[1]
    )
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    with app.app_context():
        from qms.db import get_session

        first = get_session().scalar(sa.select(ApiToken)).last_used_at
    assert first is not None
    app.config["CLOCK"] = lambda: first + timedelta(minutes=30)
    client.get("/api/v1/me", headers=_bearer(token))
    with app.app_context():
        from qms.db import get_session

        assert get_session().scalar(sa.select(ApiToken)).last_used_at == first  # once an hour
    app.config["CLOCK"] = lambda: first + timedelta(hours=2)
    client.get("/api/v1/me", headers=_bearer(token))
    with app.app_context():
        from qms.db import get_session

        assert get_session().scalar(sa.select(ApiToken)).last_used_at == first + timedelta(hours=2)
