"""Idempotency-Key on creating API requests (issue 13): a retried POST answers the first
answer again and creates nothing; the same key with another body is refused; a second
request under a key whose first is in flight is refused; keys live 24 hours."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from qms.api.models import IdempotencyKey
from qms.auth.models import ApiToken
from qms.documents.models import Document
from tests.conftest import PG_URL
from tests.factories import TEST_PASSWORD

DOCUMENT = {"kind": "regulation", "department": "PZ", "title": "重试不重号"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def _token(app, username):
    with app.app_context():
        from qms.auth import service
        from qms.db import get_session

        s = get_session()
        user = service.user_by_username(s, username)
        _row, token = service.issue_token(s, user, user, "script", days=30)
        s.commit()
        return token


def _headers(token, key=None):
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def _count(app, model):
    with app.app_context():
        from qms.db import get_session

        return get_session().scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def clerk(app, users):
    return _token(app, "clerk")


def test_the_same_key_twice_creates_one_document_and_answers_alike(app, client, clerk):
    first = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "k-1"))
    again = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "k-1"))
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert first.get_json()["number"].startswith("ZD-PZ-")
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(app, Document) == 1


def test_the_same_json_in_another_key_order_is_the_same_request(app, client, clerk):
    client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "order"))
    reordered = '{"title": "重试不重号", "department": "PZ", "kind": "regulation"}'
    again = client.post(
        "/api/v1/documents",
        data=reordered.encode(),
        headers={**_headers(clerk, "order"), "Content-Type": "application/json"},
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(app, Document) == 1


def test_the_same_key_with_another_body_is_refused_and_creates_nothing(app, client, clerk):
    client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "k-2"))
    other = client.post(
        "/api/v1/documents", json={**DOCUMENT, "title": "另一份"}, headers=_headers(clerk, "k-2")
    )
    assert other.status_code == 422
    error = other.get_json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "已用于另一项不同的请求" in error["message"]
    assert _count(app, Document) == 1


def test_the_same_key_on_another_endpoint_is_another_request(app, client, clerk):
    client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "k-3"))
    token = client.post(
        "/api/v1/tokens",
        json={"name": "x", "password": TEST_PASSWORD},
        headers=_headers(clerk, "k-3"),
    )
    assert token.status_code == 422
    assert token.get_json()["error"]["code"] == "idempotency_key_reused"


def test_without_a_key_every_post_creates_as_before(app, client, clerk):
    for _ in range(2):
        response = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk))
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response.headers
    assert _count(app, Document) == 2
    assert _count(app, IdempotencyKey) == 0


@pytest.mark.parametrize("key", ["", "   ", "k" * 201])
def test_an_empty_or_too_long_key_is_refused_and_creates_nothing(app, client, clerk, key):
    response = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, key))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "idempotency_key_invalid"
    assert "1 至 200 个字符" in error["message"]
    assert _count(app, Document) == 0


def test_a_key_of_200_characters_is_taken(app, client, clerk):
    response = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "k" * 200))
    assert response.status_code == 201


def test_keys_belong_to_their_user(app, client, clerk, users):
    manager = _token(app, "manager")
    mine = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "shared"))
    theirs = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(manager, "shared"))
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.get_json()["number"] != theirs.get_json()["number"]
    assert _count(app, Document) == 2


def test_a_refused_request_does_not_use_up_its_key(app, client, clerk):
    bad = client.post(
        "/api/v1/documents", json={**DOCUMENT, "kind": "nonsense"}, headers=_headers(clerk, "k-4")
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["code"] == "invalid"
    good = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "k-4"))
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good.headers
    assert _count(app, Document) == 1


def test_keys_expire_after_24_hours_and_are_purged(app, client, clerk):
    clock = Clock()
    app.config["CLOCK"] = clock
    first = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "k-5"))
    clock.advance(hours=23, minutes=59)
    again = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "k-5"))
    assert again.headers["Idempotent-Replayed"] == "true"
    clock.advance(minutes=2)
    later = client.post("/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "k-5"))
    assert later.status_code == 201
    assert "Idempotent-Replayed" not in later.headers
    assert later.get_json()["number"] != first.get_json()["number"]
    assert _count(app, Document) == 2
    assert _count(app, IdempotencyKey) == 1  # the expired key was purged


def test_a_new_token_is_not_kept_with_its_key(app, client, clerk):
    body = {"name": "nightly", "password": TEST_PASSWORD}
    first = client.post("/api/v1/tokens", json=body, headers=_headers(clerk, "t-1"))
    again = client.post("/api/v1/tokens", json=body, headers=_headers(clerk, "t-1"))
    assert first.status_code == again.status_code == 201
    secret = first.get_json()["token"]
    assert "token" not in again.get_json()  # shown once: the replay names the same token only
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _count(app, ApiToken) == 2
    with app.app_context():
        from qms.db import get_session

        stored = get_session().scalars(sa.select(IdempotencyKey.response_body)).all()
    assert all(secret not in body for body in stored)


def test_a_retried_defect_is_logged_once(app, client, users):
    from tests.web.test_route_matrix import build_world

    world = build_world(app)
    leader = _token(app, "leader")
    review_id = world["review_id"]
    defect = {"description": "第三条缺少责任人", "severity": "general", "category": "wrong"}
    path = f"/api/v1/reviews/{review_id}/defects"
    first = client.post(path, json=defect, headers=_headers(leader, "d-1"))
    again = client.post(path, json=defect, headers=_headers(leader, "d-1"))
    assert first.status_code == 201, first.get_json()
    assert again.get_json() == first.get_json()
    review = client.get(f"/api/v1/reviews/{review_id}", headers=_headers(leader)).get_json()
    assert [d["description"] for d in review["defects"]].count(defect["description"]) == 1


def test_the_openapi_document_declares_the_header(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/documents", "/api/v1/reviews", "/api/v1/tokens",
                 "/api/v1/reviews/{review_id}/defects"):
        post = spec["paths"][path]["post"]
        assert "Idempotency-Key" in [p["name"] for p in post["parameters"]], path
        assert {"409", "422"} <= set(post["responses"]), path


def test_a_second_request_while_the_first_is_in_flight(app, clerk, monkeypatch):
    """On PostgreSQL the second request meets the first's uncommitted key: 409. SQLite
    lets one writer in at a time, so the second waits and gets the first's answer."""
    from qms.documents import service

    original = service.create_document
    entered, release = threading.Event(), threading.Event()

    def slow_create(*args, **kwargs):
        if not entered.is_set():
            entered.set()
            assert release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "create_document", slow_create)
    answers = {}

    def post(name):
        answers[name] = app.test_client().post(
            "/api/v1/documents", json=DOCUMENT, headers=_headers(clerk, "race")
        )

    first = threading.Thread(target=post, args=("first",))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=post, args=("second",))
    second.start()
    time.sleep(1)  # the second request reaches the key's unique constraint
    release.set()
    first.join(20)
    second.join(20)
    assert answers["first"].status_code == 201
    if PG_URL:
        assert answers["second"].status_code == 409
        error = answers["second"].get_json()["error"]
        assert error["code"] == "idempotency_key_in_flight"
        assert "仍在处理中" in error["message"]
    else:
        assert answers["second"].get_json() == answers["first"].get_json()
    assert _count(app, Document) == 1
