"""Ids posted in forms go through one parser (qms.web.parse_id): a number the database
cannot hold, or text, names no record; it is never an integer overflow (500)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from qms.web import MAX_ID, parse_id
from tests.web.test_route_matrix import build_world, table_fingerprint


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (" 7 ", 7),
        (12, 12),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        (str(2**64), None),
        ("0", None),
        ("-3", None),
        ("abc", None),
        ("１２", None),
        ("", None),
        (None, None),
        (True, None),
        (3.0, None),
    ],
)
def test_parse_id(raw: Any, expected: int | None) -> None:
    assert parse_id(raw) == expected


@pytest.mark.parametrize("right_id", ["abc", str(2**31), str(2**64), ""])
def test_revoking_an_approval_right_that_is_not_there(
    app: Flask, client_as: Any, right_id: str
) -> None:
    from qms.documents.models import ApprovalRight

    client = client_as("admin")
    with app.extensions["qms.engine"].connect() as conn:
        rights = conn.scalar(sa.select(sa.func.count()).select_from(ApprovalRight))
    response = client.post(
        "/documents/approval-matrix", data={"action": "revoke", "right_id": right_id}
    )
    assert response.status_code == 404
    with app.extensions["qms.engine"].connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(ApprovalRight)) == rights


def test_defect_owner_that_is_not_a_person(app: Flask, users: Any, client_as: Any) -> None:
    world = build_world(app)
    client = client_as("leader")
    before = table_fingerprint(app)
    for owner in (str(2**64), str(2**31), "abc"):
        response = client.post(
            f"/reviews/{world['review_id']}/defects/{world['defect']}",
            data={"op": "track", "owner": owner, "fix_due": "2026-12-31"},
        )
        assert response.status_code < 500, owner
    assert table_fingerprint(app) == before
    page = client.get(f"/reviews/{world['review_id']}", follow_redirects=True)
    assert page.status_code == 200
