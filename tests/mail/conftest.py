"""A real SMTP server (aiosmtpd) on a free local port, and an app that mails through it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def smtp_app(database_url, tmp_path, smtp_server):
    from tests.conftest import make_test_app
    from tests.factories import seed_departments

    _inbox, port = smtp_server
    application = make_test_app(database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    with application.app_context():
        from qms.db import get_session

        seed_departments(get_session())
        get_session().commit()
    return application


@pytest.fixture
def smtp_db(smtp_app):
    with smtp_app.test_request_context():
        from qms.db import get_session

        yield get_session()
