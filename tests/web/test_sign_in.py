"""Sign-in (issue 11, item 12): unknown and existing usernames answer alike; the lock is
temporary and configurable; throttling by username and by client address lives in the
database, so it holds across worker processes. Time is driven through app.config["CLOCK"]."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from qms.auth.models import User
from tests.conftest import login, make_test_app
from tests.factories import TEST_PASSWORD


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock(app):
    c = Clock()
    app.config["CLOCK"] = c
    return c


def _error(response) -> str:
    found = re.findall(r'<p class="error" role="alert">(.*?)</p>', response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)
    return found[0]


def _fail(client, username, times):
    return [login(client, username, "wrong-password-123") for _ in range(times)]


def test_unknown_and_known_usernames_get_the_same_answer(app, client, users, clock):
    known = login(client, "admin", "wrong-password-123")
    unknown = login(app.test_client(), "no-such-admin", "wrong-password-123")
    assert known.status_code == unknown.status_code == 401
    assert _error(known) == _error(unknown) == "用户名或密码错误。"


def test_unknown_usernames_cost_a_password_hash_too(app, users, clock, monkeypatch):
    """Same time: a hash is checked whether or not the username exists."""
    from qms.auth import passwords

    with app.app_context():  # a hash made by the product (test users have a cheaper one)
        from qms.auth.models import User
        from qms.db import get_session

        s = get_session()
        s.get(User, users["admin"]).password_hash = passwords.hash_password("Another-pass-987")
        s.commit()
    checked = []
    real = passwords.check_password_hash

    def counting(pwhash, password):
        checked.append(pwhash.split("$")[0])
        return real(pwhash, password)

    monkeypatch.setattr(passwords, "check_password_hash", counting)
    login(app.test_client(), "admin", "wrong-password-123")
    login(app.test_client(), "no-such-admin", "wrong-password-123")
    assert len(checked) == 2
    assert checked[0] == checked[1]  # the same scrypt parameters, so the same cost


def test_unknown_and_known_usernames_lock_alike(app, client, users, clock):
    known = _fail(app.test_client(), "admin", 5)[-1]
    unknown = _fail(app.test_client(), "no-such-admin", 5)[-1]
    assert known.status_code == unknown.status_code == 403
    assert _error(known) == _error(unknown)
    assert "锁定" in _error(known)
    assert "15 分钟" in _error(known)


def test_a_disabled_account_is_named_only_to_whoever_knows_its_password(app, users, clock):
    with app.app_context():
        from qms.db import get_session

        get_session().get(User, users["staff"]).active = False
        get_session().commit()
    wrong = login(app.test_client(), "staff", "wrong-password-123")
    assert wrong.status_code == 401
    assert _error(wrong) == "用户名或密码错误。"
    right = login(app.test_client(), "staff")
    assert right.status_code == 403
    assert "已停用" in _error(right)


def test_lockout_expires_after_fifteen_minutes(app, users, clock):
    _fail(app.test_client(), "admin", 5)
    clock.advance(minutes=14, seconds=59)
    still = login(app.test_client(), "admin")
    assert still.status_code == 403
    assert "1 分钟" in _error(still)
    clock.advance(seconds=1)
    assert login(app.test_client(), "admin").status_code == 302


def test_attempts_while_locked_do_not_extend_the_lock(app, users, clock):
    _fail(app.test_client(), "admin", 5)
    for _ in range(10):
        clock.advance(minutes=1)
        _fail(app.test_client(), "admin", 1)
    clock.advance(minutes=5)
    assert login(app.test_client(), "admin").status_code == 302


def test_failures_spread_beyond_the_window_do_not_lock(app, users, clock):
    for _ in range(8):
        _fail(app.test_client(), "clerk", 1)
        clock.advance(minutes=4)
    assert login(app.test_client(), "clerk").status_code == 302


def test_a_successful_sign_in_starts_the_count_again(app, users, clock):
    _fail(app.test_client(), "clerk", 4)
    assert login(app.test_client(), "clerk").status_code == 302
    _fail(app.test_client(), "clerk", 4)
    assert login(app.test_client(), "clerk").status_code == 302


def test_lockout_minutes_are_configurable(database_url, tmp_path, users, monkeypatch):
    from qms.config import config_for

    monkeypatch.setenv("QMS_LOCKOUT_MINUTES", "5")
    assert config_for("testing").LOCKOUT_MINUTES == 5
    clock = Clock()
    short = make_test_app(database_url, tmp_path, LOCKOUT_MINUTES=5, CLOCK=clock)
    last = _fail(short.test_client(), "admin", 5)[-1]
    assert "5 分钟" in _error(last)
    clock.advance(minutes=5)
    assert login(short.test_client(), "admin").status_code == 302


def test_the_lock_holds_across_two_worker_processes(app, database_url, tmp_path, users, clock):
    other_worker = make_test_app(database_url, tmp_path, CLOCK=clock)
    _fail(app.test_client(), "admin", 3)
    _fail(other_worker.test_client(), "admin", 2)
    assert login(app.test_client(), "admin").status_code == 403
    assert login(other_worker.test_client(), "admin").status_code == 403


def test_the_address_throttle_holds_across_two_worker_processes(
    app, database_url, tmp_path, users, clock
):
    other_worker = make_test_app(database_url, tmp_path, CLOCK=clock)
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for i in range(20):
        worker = app if i % 2 else other_worker
        worker.test_client().post(
            "/login",
            data={"username": f"guess{i}", "password": "wrong-password-123"},
            environ_base=attacker,
        )
    for worker in (app, other_worker):
        refused = worker.test_client().post(
            "/login", data={"username": "clerk", "password": TEST_PASSWORD}, environ_base=attacker
        )
        assert refused.status_code == 429
        assert "网络地址" in _error(refused)
    # Someone else is not affected, and the throttle ends with its window.
    elsewhere = app.test_client().post(
        "/login",
        data={"username": "clerk", "password": TEST_PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert elsewhere.status_code == 302
    clock.advance(minutes=15)
    later = app.test_client().post(
        "/login", data={"username": "clerk", "password": TEST_PASSWORD}, environ_base=attacker
    )
    assert later.status_code == 302


def test_the_administrator_unlocks_with_the_cli(app, users, clock):
    from qms.cli import user_unlock

    _fail(app.test_client(), "admin", 5)
    assert login(app.test_client(), "admin").status_code == 403
    with app.app_context():
        result = CliRunner().invoke(user_unlock, ["admin"])
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), "admin").status_code == 302


def test_the_lock_is_shown_to_the_administrator_with_its_end(app, users, clock):
    _fail(app.test_client(), "reviewer", 5)
    with app.app_context():
        from qms.db import get_session

        user = get_session().get(User, users["reviewer"])
        assert user.locked_until == clock.now + timedelta(minutes=15)


def test_an_administrators_password_reset_lifts_the_lock(app, users, clock, client_as):
    _fail(app.test_client(), "reviewer", 5)
    client_as("admin").post(
        f"/admin/users/{users['reviewer']}",
        data={"action": "reset", "reset-new": "lantern-oyster-quietly-9"},
    )
    assert login(app.test_client(), "reviewer", "lantern-oyster-quietly-9").status_code == 302
