"""A NUL character in any text of a JSON request is refused with a clear 422, on SQLite as
on PostgreSQL (which cannot store it and answered 500), and nothing is stored."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from qms.documents.models import Document
from tests.api.test_tokens import _bearer, _make_token


def _documents(app) -> int:
    with app.app_context():
        from qms.db import get_session

        return int(get_session().scalar(sa.select(sa.func.count()).select_from(Document)) or 0)


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "regulation", "department": "KF\x00", "title": "访客管理制度"},
        {"kind": "regulation", "department": "KF", "title": "访客\x00管理制度"},
        {"kind": "regulation", "department": "KF", "title": "访客管理制度", "x\x00": 1},
        {"kind": "regulation", "department": "KF", "title": "访客管理制度", "tags": [["\x00"]]},
    ],
)
def test_a_nul_character_is_refused_and_nothing_is_stored(app, users, body):
    _id, token = _make_token(app, "clerk")
    before = _documents(app)
    response = app.test_client().post("/api/v1/documents", json=body, headers=_bearer(token))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "nul_character" and "空字符" in error["message"]
    assert _documents(app) == before
