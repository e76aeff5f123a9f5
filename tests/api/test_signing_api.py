"""Signing through the API with a Bearer token (issue 11, items 4–6): content_sha256 is
required and checked, only the named approver approves, the quality manager reassigns, and
the separation of duties holds."""

import pytest
import sqlalchemy as sa

from qms.trail.models import TrailEntry
from tests.factories import TEST_PASSWORD


@pytest.fixture
def api(app, users):
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


def _revision(api, number, username="clerk"):
    return api("GET", f"/api/v1/documents/{number}?revision=A/0", username).get_json()


def _act(api, number, username, action, seen, **extra):
    body = {"action": action, "password": TEST_PASSWORD, **extra}
    if seen is not None:
        body["content_sha256"] = seen
    return api("POST", f"/api/v1/documents/{number}/transitions", username, json=body)


def _draft(api, body="## 总则\n\n装修须申请。"):
    created = api(
        "POST",
        "/api/v1/documents",
        "clerk",
        json={"title": "业主装修管理制度", "kind": "regulation", "department": "KF", "body": body},
    )
    assert created.status_code == 201, created.get_json()
    return created.get_json()["number"]


def _reviewed(api):
    number = _draft(api)
    seen = _revision(api, number)["content_sha256"]
    submitted = _act(
        api, number, "clerk", "submit", seen, reviewers=["reviewer"], approver="approver"
    )
    assert submitted.status_code == 200, submitted.get_json()
    assert _act(api, number, "reviewer", "review", seen).status_code == 200
    return number, seen


# -- item 5 ------------------------------------------------------------------------------------


def test_approve_without_content_sha256_is_422(api):
    number, _seen = _reviewed(api)
    response = _act(api, number, "approver", "approve", None)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "content_sha256_required"
    assert _revision(api, number)["status"] == "in_review"


@pytest.mark.parametrize("bad", [123, ["x"], {"a": 1}])
def test_a_content_sha256_that_is_not_text_is_422(api, bad):
    number, _seen = _reviewed(api)
    response = _act(api, number, "approver", "approve", bad)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "content_sha256_invalid"


def test_approving_a_text_changed_since_it_was_read_is_409_with_both_hashes(api):
    number, read = _reviewed(api)
    # the clerk edits (back to draft), resubmits, and another reviewer agrees
    edited = api(
        "PATCH",
        f"/api/v1/documents/{number}/draft",
        "clerk",
        json={"body": "## 总则\n\n装修无须申请。", "base_hash": read},
    )
    assert edited.status_code == 200
    now = edited.get_json()["content_sha256"]
    resubmitted = _act(
        api, number, "clerk", "submit", now, reviewers=["leader"], approver="approver"
    )
    assert resubmitted.status_code == 200
    assert _act(api, number, "leader", "review", now).status_code == 200

    response = _act(api, number, "approver", "approve", read)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "content_changed"
    assert error["details"] == {"sent_content_sha256": read, "current_content_sha256": now}
    assert "重新打开" in error["message"]
    revision = _revision(api, number)
    assert revision["status"] == "in_review"
    assert "approved" not in [s["meaning"] for s in revision["signatures"]]
    assert _act(api, number, "approver", "approve", now).status_code == 200


def test_every_signing_action_needs_the_hash(api):
    number = _draft(api)
    response = _act(
        api, number, "clerk", "submit", None, reviewers=["reviewer"], approver="approver"
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "content_sha256_required"
    stale = _act(
        api, number, "clerk", "submit", "f" * 64, reviewers=["reviewer"], approver="approver"
    )
    assert stale.status_code == 409
    assert _revision(api, number)["status"] == "draft"
    assert _revision(api, number)["signatures"] == []


# -- item 4 ------------------------------------------------------------------------------------


def test_an_approver_who_was_not_named_gets_403_naming_the_approver(api):
    number, seen = _reviewed(api)
    # the general manager may approve anything, but a draft he is not named on is not his
    # to see: the same 404 as a number that does not exist
    assert _act(api, number, "gm", "approve", seen).status_code == 404
    # the quality manager sees every draft and holds the approval right: 403, naming whom
    response = _act(api, number, "manager", "approve", seen)
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "not_named_approver"
    assert "孙丽（客户服务中心经理）" in error["message"]
    assert error["details"]["approver"] == "approver"
    assert _revision(api, number)["status"] == "in_review"


def test_the_quality_manager_reassigns_through_the_api(api, app):
    number, seen = _reviewed(api)
    path = f"/api/v1/documents/{number}/approver"
    refused = api("POST", path, "clerk", json={"approver": "gm", "reason": "出差"})
    assert refused.status_code == 403
    missing = api("POST", path, "manager", json={"approver": "gm"})
    assert missing.status_code == 422
    assert missing.get_json()["error"]["code"] == "reason_required"
    reviewer = api("POST", path, "manager", json={"approver": "reviewer", "reason": "出差"})
    assert reviewer.status_code == 422
    assert reviewer.get_json()["error"]["code"] == "reviewer_as_approver"

    response = api("POST", path, "manager", json={"approver": "gm", "reason": "孙经理出差"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "number": number,
        "revision": "A/0",
        "status": "in_review",
        "approver": "gm",
        "previous_approver": "approver",
    }
    with app.app_context():
        from qms.db import get_session

        entries = get_session().scalars(
            sa.select(TrailEntry).where(TrailEntry.action == "reassign")
        )
        assert [(e.old_value, e.new_value, e.reason) for e in entries] == [
            ("approver", "gm", "孙经理出差")
        ]
    # the approver no longer named no longer sees the draft at all
    assert _act(api, number, "approver", "approve", seen).status_code == 404
    assert _act(api, number, "gm", "approve", seen).status_code == 200


def test_the_reassign_endpoint_is_in_the_openapi_document(api, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    body = spec["paths"]["/api/v1/documents/{number}/approver"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["required"] == ["approver", "reason"]
    transition = spec["paths"]["/api/v1/documents/{number}/transitions"]["post"]
    properties = transition["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "content_sha256" in properties


# -- item 6 ------------------------------------------------------------------------------------


def test_reviewer_and_approver_are_two_people(api):
    number = _draft(api)
    seen = _revision(api, number)["content_sha256"]
    response = _act(
        api, number, "clerk", "submit", seen, reviewers=["approver"], approver="approver"
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "reviewer_as_approver"
    assert _revision(api, number)["status"] == "draft"


def test_an_editor_is_not_a_reviewer(api):
    number = _draft(api)
    seen = _revision(api, number)["content_sha256"]
    edited = api(
        "PATCH",
        f"/api/v1/documents/{number}/draft",
        "manager",
        json={"body": "经理改过", "base_hash": seen},
    )
    assert edited.status_code == 200
    seen = edited.get_json()["content_sha256"]
    response = _act(api, number, "clerk", "submit", seen, reviewers=["manager"], approver="gm")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "editor_as_reviewer"
    manager_as_approver = _act(
        api, number, "clerk", "submit", seen, reviewers=["reviewer"], approver="manager"
    )
    assert manager_as_approver.status_code == 403
    assert manager_as_approver.get_json()["error"]["code"] == "editor_as_approver"
    assert _revision(api, number)["status"] == "draft"
