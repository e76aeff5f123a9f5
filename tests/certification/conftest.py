from __future__ import annotations

import base64
from datetime import date
from typing import Any

import pytest

PDF = b"%PDF-1.4\n% a scan\n"


def pdf_file(name: str = "scan.pdf", direction: str = "received") -> dict[str, str]:
    return {
        "filename": name,
        "content_base64": base64.b64encode(PDF).decode(),
        "direction": direction,
    }


def api_token(app: Any, username: str) -> str:
    with app.app_context():
        from qms.auth import service
        from qms.db import get_session

        s = get_session()
        user = service.user_by_username(s, username)
        token = service.create_token(s, user, user, "test")
        s.commit()
        return token


@pytest.fixture
def cert_body(app: Any, users: dict[str, int]) -> int:
    with app.test_request_context():
        from qms.auth.models import User
        from qms.certification import service
        from qms.db import get_session

        s = get_session()
        manager = s.get(User, users["manager"])
        body = service.create_body(
            s, manager, name="华信质量认证有限公司", accreditation_number="CNCA-R-2002-117"
        )
        s.commit()
        return body.id


@pytest.fixture
def api(app: Any, users: dict[str, int]) -> Any:
    """A JSON client per user, with a Bearer token (CSRF stays on for cookie sessions)."""
    tokens: dict[str, str] = {}

    def call(
        username: str,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        if username not in tokens:
            tokens[username] = api_token(app, username)
        client = app.test_client()
        return client.open(
            path,
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {tokens[username]}", **(headers or {})},
        )

    return call


def today() -> date:
    from qms import clock

    with_app = clock.today()
    return with_app
