"""The documents API contract."""

import pytest

from tests.factories import TEST_PASSWORD


@pytest.fixture
def api(app, users):
    """Call the API as a user with a personal token."""
    tokens = {}

    def call(method, path, username, **kw):
        if username not in tokens:
            with app.app_context():
                from qms.auth import service
                from qms.db import get_session

                s = get_session()
                u = service.user_by_username(s, username)
                tokens[username] = service.create_token(s, u, u, "t")
                s.commit()
        headers = {"Authorization": f"Bearer {tokens[username]}"}
        return app.test_client().open(path, method=method, headers=headers, **kw)

    return call


def _create(api, **overrides):
    body = {
        "title": "业主装修管理制度",
        "kind": "regulation",
        "department": "KF",
        "body": "## 总则\n\n装修须申请。",
        "change_summary": "首次发布",
    }
    body.update(overrides)
    return api("POST", "/api/v1/documents", "clerk", json=body)


def _seen(api, number, username, label="A/0"):
    """The content_sha256 a client shows its user before they sign, read from the API."""
    revision = api("GET", f"/api/v1/documents/{number}?revision={label}", username).get_json()
    return revision["content_sha256"]


def _drive_to_effective(api, number):
    assert (
        api(
            "POST",
            f"/api/v1/documents/{number}/transitions",
            "clerk",
            json={
                "action": "submit",
                "reviewers": ["reviewer"],
                "approver": "approver",
                "password": TEST_PASSWORD,
                "content_sha256": _seen(api, number, "clerk"),
            },
        ).status_code
        == 200
    )
    assert (
        api(
            "POST",
            f"/api/v1/documents/{number}/transitions",
            "reviewer",
            json={
                "action": "review",
                "password": TEST_PASSWORD,
                "content_sha256": _seen(api, number, "reviewer"),
            },
        ).status_code
        == 200
    )
    assert (
        api(
            "POST",
            f"/api/v1/documents/{number}/transitions",
            "approver",
            json={
                "action": "approve",
                "password": TEST_PASSWORD,
                "content_sha256": _seen(api, number, "approver"),
            },
        ).status_code
        == 200
    )
    response = api(
        "POST",
        f"/api/v1/documents/{number}/transitions",
        "clerk",
        json={
            "action": "issue",
            "password": TEST_PASSWORD,
            "content_sha256": _seen(api, number, "clerk"),
        },
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_create_answers_201_with_number_revision_status(api):
    response = _create(api)
    assert response.status_code == 201
    assert response.get_json()["number"] == "ZD-KF-001"
    assert response.get_json()["revision"] == "A/0"
    assert response.get_json()["status"] == "draft"


def test_lifecycle_through_the_api(api):
    number = _create(api).get_json()["number"]
    result = _drive_to_effective(api, number)
    assert result["status"] == "effective"
    doc = api("GET", f"/api/v1/documents/{number}", "staff").get_json()
    assert doc["revision"] == "A/0" and doc["status"] == "effective"
    assert [s["meaning"] for s in doc["signatures"]] == [
        "authored",
        "reviewed",
        "approved",
        "issued",
    ]
    assert all(s["status"] == "valid" for s in doc["signatures"])
    listing = api("GET", "/api/v1/documents?status=effective&kind=regulation", "staff")
    assert listing.get_json()["meta"]["total"] == 1
    trail = api("GET", f"/api/v1/documents/{number}/trail", "auditor").get_json()
    assert trail["meta"]["total"] > 5


def test_staff_cannot_see_drafts(api):
    number = _create(api).get_json()["number"]
    assert api("GET", f"/api/v1/documents/{number}?revision=A/0", "staff").status_code == 404
    assert api("GET", "/api/v1/documents", "staff").get_json()["meta"]["total"] == 0
    # a document with no revision the reader may see does not exist for them
    assert api("GET", f"/api/v1/documents/{number}/revisions", "staff").status_code == 404


def test_stale_patch_is_409_and_loses_nothing(api):
    created = _create(api).get_json()
    number, base = created["number"], created["content_sha256"]
    first = api(
        "PATCH",
        f"/api/v1/documents/{number}/draft",
        "clerk",
        json={"body": "甲的版本", "base_hash": base},
    )
    assert first.status_code == 200
    second = api(
        "PATCH",
        f"/api/v1/documents/{number}/draft",
        "clerk",
        json={"body": "乙的版本", "base_hash": base},
    )
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert error["code"] == "stale"
    assert error["details"]["current_body"] == "甲的版本"
    assert error["details"]["your_body"] == "乙的版本"


@pytest.mark.parametrize(
    ("username", "action", "status", "code"),
    [
        # a draft on which the caller is not named does not exist for them
        ("approver", "approve", 404, "not_found"),
        ("staff", "issue", 404, "not_found"),
        # document control sees it: the lifecycle refuses
        ("manager", "approve", 409, "transition_not_allowed"),
    ],
)
def test_refused_transitions(api, username, action, status, code):
    number = _create(api).get_json()["number"]
    response = api(
        "POST",
        f"/api/v1/documents/{number}/transitions",
        username,
        json={
            "action": action,
            "password": TEST_PASSWORD,
            "content_sha256": _seen(api, number, "clerk"),
        },
    )
    assert response.status_code == status
    if code:
        assert response.get_json()["error"]["code"] == code


def test_wrong_password_is_403_and_recorded(api, app):
    number = _create(api).get_json()["number"]
    response = api(
        "POST",
        f"/api/v1/documents/{number}/transitions",
        "clerk",
        json={
            "action": "submit",
            "reviewers": ["reviewer"],
            "approver": "approver",
            "password": "not-my-password",
            "content_sha256": _seen(api, number, "clerk"),
        },
    )
    assert response.status_code == 403
    assert "密码错误" in response.get_json()["error"]["message"]
    with app.app_context():
        import sqlalchemy as sa

        from qms.db import get_session
        from qms.trail.models import TrailEntry

        actions = get_session().scalars(sa.select(TrailEntry.action)).all()
        assert "signature_refused" in actions
        assert "password_failed" in actions
    doc = api("GET", f"/api/v1/documents/{number}?revision=A/0", "clerk").get_json()
    assert doc["status"] == "draft"


def test_approver_without_right_and_self_approval(api):
    number = _create(api, department="GC").get_json()["number"]
    response = api(
        "POST",
        f"/api/v1/documents/{number}/transitions",
        "clerk",
        json={
            "action": "submit",
            "reviewers": ["reviewer"],
            "approver": "approver",
            "password": TEST_PASSWORD,
            "content_sha256": _seen(api, number, "clerk"),
        },
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "no_approval_right"


def test_body_over_2mb_is_413(api):
    response = _create(api, body="字" * (800 * 1024))
    assert response.status_code == 413


def test_html_in_markdown_is_sanitised(api, app, client_as):
    number = _create(
        api, body="## 标题\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>正文"
    ).get_json()["number"]
    page = client_as("clerk").get(f"/documents/{number}").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "onerror" not in page
    assert "正文" in page


def test_unknown_number_is_404(api):
    response = api("GET", "/api/v1/documents/ZD-XX-999", "staff")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_malformed_json_is_400(api):
    response = api(
        "POST", "/api/v1/documents", "clerk", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_json"


def test_unknown_kind_is_422(api):
    response = _create(api, kind="poem")
    assert response.status_code == 422
