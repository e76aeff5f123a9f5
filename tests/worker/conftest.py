"""An app in worker mode (QMS_WORKER=1) that mails through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.mail.conftest import Inbox, smtp_server


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker_app(database_url, tmp_path, smtp_server, clock):
    from tests.conftest import make_test_app
    from tests.factories import make_role_users, seed_departments

    _inbox, port = smtp_server
    application = make_test_app(
        database_url, tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=port, WORKER=True, CLOCK=clock
    )
    with application.app_context():
        from qms.db import get_session

        seed_departments(get_session())
        get_session().commit()
        application.config["USERS"] = make_role_users()
    return application


__all__ = ["Inbox", "smtp_server"]
