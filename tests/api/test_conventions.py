import json

from click.testing import CliRunner


def _token(app, username):
    with app.app_context():
        from qms.auth import service
        from qms.db import get_session

        s = get_session()
        user = service.user_by_username(s, username)
        token = service.create_token(s, user, user, "test")
        s.commit()
        return token


def test_me_with_a_token(app, client, users):
    token = _token(app, "clerk")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["username"] == "clerk"
    assert "quality_clerk" in body["roles"]
    assert "Set-Cookie" not in response.headers


def test_token_is_stored_hashed(app, users):
    token = _token(app, "staff")
    with app.app_context():
        import sqlalchemy as sa

        from qms.auth.models import ApiToken
        from qms.db import get_session

        stored = get_session().scalars(sa.select(ApiToken.token_sha256)).all()
        assert token not in stored


def test_bad_token_is_401_json(client, users):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_invalid"


def test_unknown_api_route_is_404_json(client, users, app):
    token = _token(app, "staff")
    response = client.get("/api/v1/nothing", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    assert set(response.get_json()["error"]) >= {"code", "message"}


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_when_database_is_unreachable(database_url, tmp_path):
    from tests.conftest import make_test_app

    broken = make_test_app("postgresql://nobody@127.0.0.1:1/none", tmp_path)
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_openapi_describes_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        path = path.replace("{int:", "{").replace("{path:", "{")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in spec["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []


def test_request_over_the_size_limit_is_413(database_url, tmp_path, users):
    from tests.conftest import make_test_app

    small = make_test_app(database_url, tmp_path, MAX_UPLOAD_MB=1)
    with small.app_context():
        from qms.auth import service
        from qms.db import get_session

        s = get_session()
        user = service.user_by_username(s, "clerk")
        token = service.create_token(s, user, user, "t")
        s.commit()
    response = small.test_client().post(
        "/api/v1/me",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code in (405, 413)
    response = small.test_client().post("/login", data={"username": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "1 MB" in response.get_data(as_text=True)


def test_cli_token_prints_a_working_token(app, users):
    from qms.cli import user_token

    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(user_token, ["auditor"], obj=None)
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert json.loads(response.data)["username"] == "auditor"


def test_token_clients_write_with_csrf_on(app, client, users):
    """Regression: nested feature blueprints were not CSRF-exempt, so every Bearer write
    answered 400 csrf. CSRF is on in this suite, as in production."""
    assert app.config["WTF_CSRF_ENABLED"]
    token = _token(app, "clerk")
    response = client.post(
        "/api/v1/documents",
        json={"kind": "regulation", "department": "PZ", "title": "令牌写入"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["number"].startswith("ZD-PZ-")


def test_cookie_session_api_write_still_needs_csrf(app, client_as):
    c = client_as("clerk")
    body = {"kind": "regulation", "department": "PZ", "title": "无令牌"}
    refused = c.post("/api/v1/documents", json=body, headers={"X-CSRFToken": "forged"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf"
    assert c.post("/api/v1/documents", json=body).status_code == 201


ERROR_REF = {"$ref": "#/components/schemas/Error"}


def test_every_json_answer_has_a_documented_schema(client):
    """Clients and the fuzzer check answers against these (issue 13 item 8)."""
    spec = client.get("/api/v1/openapi.json").get_json()
    undocumented = [
        f"{method.upper()} {path} {status} {media}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        for media, content in response.get("content", {"application/json": {}}).items()
        if "schema" not in content
    ]
    assert undocumented == []
    errors = [
        f"{method.upper()} {path} {status}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status[0] in "45"
        and response["content"]["application/json"]["schema"]
        != {"$ref": "#/components/schemas/Error"}
    ]
    assert errors == []
    assert spec["components"]["schemas"]["Error"]["required"] == ["error"]
    assert spec["components"]["schemas"]["PageMeta"]["required"] == [
        "page",
        "pages",
        "per_page",
        "total",
    ]


def test_every_operation_with_a_body_documents_400(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation and "400" not in operation["responses"]
    ]
    assert missing == []


def test_method_not_allowed_says_which_methods_are(app, client, users):
    token = _token(app, "staff")
    response = client.delete("/api/v1/documents", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    page = client.put("/login")
    assert page.status_code == 405
    assert "POST" in page.headers["Allow"]
