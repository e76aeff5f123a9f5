import pytest

from qms.auth.passwords import check_policy, hash_password, verify_password
from qms.errors import Invalid


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("short", "clerk"),
        ("123456789", "clerk"),
        ("myclerkpassword", "clerk"),
        ("CLERK-is-my-name", "clerk"),
    ],
)
def test_policy_refuses(password, username, app):
    with app.test_request_context(), pytest.raises(Invalid):
        check_policy(password, username)


def test_policy_accepts_ten_characters(app):
    with app.test_request_context():
        check_policy("abcdefghij", "clerk")


def test_hash_is_scrypt_and_verifies():
    h = hash_password("a long passphrase")
    assert h.startswith("scrypt:")
    assert verify_password(h, "a long passphrase")
    assert not verify_password(h, "a long passphrasE")
    assert not verify_password("", "anything")
