"""Password policy and hashing (scrypt, through werkzeug)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

from qms.errors import Invalid

MIN_LENGTH = 10


def check_policy(password: str, username: str) -> None:
    if len(password) < MIN_LENGTH:
        raise Invalid(_l("The password must have at least %(n)d characters.", n=MIN_LENGTH))
    if username and username.casefold() in password.casefold():
        raise Invalid(_l("The password must not contain the username."))


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    return bool(password_hash) and check_password_hash(password_hash or "", password)
