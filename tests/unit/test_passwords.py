import pytest

from qms.auth.passwords import check_policy, hash_password, verify_password, weakness
from qms.demo import DEMO_USERS
from qms.errors import Invalid
from tests.factories import TEST_PASSWORD


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("short", "clerk"),
        ("123456789", "clerk"),
        ("myclerkpassword", "clerk"),
        ("CLERK-is-my-name", "clerk"),
        ("abcdefghij", "clerk"),  # ten characters, but a sequence
        ("password123", "clerk"),  # on every list of common passwords
        ("Passw0rd!2024", "clerk"),  # a common password dressed up
        ("qwertyuiop12", "clerk"),  # a keyboard row
        ("1111111111111", "clerk"),
        ("iloveyou2025", "clerk"),
        ("          ", "clerk"),
        ("\t\t\t\t\t\t\t\t\t\t\t\t", "clerk"),
        ("", "clerk"),
        ("x" * 300, "clerk"),
    ],
)
def test_policy_refuses(password, username, app):
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        check_policy(password, username)
    assert refused.value.status == 422


@pytest.mark.parametrize(
    "password", [TEST_PASSWORD, "a-good-password", "Tr0ub4dor&3x", "墨水-晚霞-柚子-2031"]
)
def test_policy_accepts_hard_to_guess_passwords(password, app):
    with app.test_request_context():
        check_policy(password, "clerk")


def test_demo_passwords_pass_the_policy(app, monkeypatch):
    """The generated demo password is accepted for every demo user (qms init), even when
    the random string happens to contain a short username such as "gm"."""
    import secrets

    from qms.demo import demo_password

    draws = iter(["abcGMdefghijklmn", "x7Kp2vQ9mZr4Lw8T"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(draws))
    with app.test_request_context():
        password = demo_password()
        assert password == "x7Kp2vQ9mZr4Lw8T"
        for username, display_name, _role, _dept in DEMO_USERS:
            check_policy(password, username, display_name)


def test_the_message_says_why_and_how_in_chinese(app):
    with app.test_request_context():
        message = weakness("password123", ["clerk"])
    assert "常见" in message  # why: a very common password
    assert "三四个互不相关的词语" in message  # how to choose a better one


def test_the_message_is_english_for_an_english_user(app):
    with app.test_request_context(headers={"Cookie": "x=y"}):
        from flask import session

        session["lang"] = "en"
        message = weakness("abcdefghijk", ["clerk"])
    assert 'Sequences like "abc"' in message
    assert "three or four unrelated words" in message


def test_whitespace_only_says_so(app):
    with app.test_request_context():
        assert "空格" in weakness(" " * 12, ["clerk"])


def test_the_persons_name_counts_against_the_password(app):
    with app.test_request_context():
        assert weakness("ZhengXiao2024!", ["staff"]) is None
        assert weakness("ZhengXiao2024!", ["staff", "ZhengXiao"]) is not None


def test_hash_is_scrypt_and_verifies():
    h = hash_password("a long passphrase")
    assert h.startswith("scrypt:")
    assert verify_password(h, "a long passphrase")
    assert not verify_password(h, "a long passphrasE")
    assert not verify_password("", "anything")
