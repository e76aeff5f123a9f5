"""Password policy and hashing (scrypt, through werkzeug).

Strength is estimated by zxcvbn (Dropbox's estimator, maintained on PyPI): it knows the
common-password lists, dictionary words, names, keyboard patterns, dates and sequences,
and the person's own username and name, so "Passw0rd!2024" is refused however long it is."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from qms.errors import Invalid

MIN_LENGTH = 10
MAX_LENGTH = 256
# zxcvbn's scale: 0 too guessable … 4 very unguessable. 3 resists an offline attack on a
# slow hash for long enough; below it the password is refused.
MIN_SCORE = 3
# zxcvbn refuses longer input; the part beyond it only makes a password stronger.
_ESTIMATED_CHARS = 72

# zxcvbn's warnings, in the user's language (the library's own texts are English only).
_WARNINGS = {
    "Straight rows of keys are easy to guess.": _l("Straight rows of keys are easy to guess."),
    "Short keyboard patterns are easy to guess.": _l("Short keyboard patterns are easy to guess."),
    'Repeats like "aaa" are easy to guess.': _l('Repeats like "aaa" are easy to guess.'),
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': _l(
        'Repeats like "abcabcabc" are only slightly harder to guess than "abc".'
    ),
    'Sequences like "abc" or "6543" are easy to guess.': _l(
        'Sequences like "abc" or "6543" are easy to guess.'
    ),
    "Recent years are easy to guess.": _l("Recent years are easy to guess."),
    "Dates are often easy to guess.": _l("Dates are often easy to guess."),
    "This is a top-10 common password.": _l("This is a top-10 common password."),
    "This is a top-100 common password.": _l("This is a top-100 common password."),
    "This is a very common password.": _l("This is a very common password."),
    "This is similar to a commonly used password.": _l(
        "This is similar to a commonly used password."
    ),
    "A word by itself is easy to guess.": _l("A word by itself is easy to guess."),
    "Names and surnames by themselves are easy to guess.": _l(
        "Names and surnames by themselves are easy to guess."
    ),
    "Common names and surnames are easy to guess.": _l(
        "Common names and surnames are easy to guess."
    ),
}

ADVICE = _l(
    "Choose a passphrase of three or four unrelated words, or a longer mix of words and "
    "numbers; avoid names, dates, keyboard patterns and common passwords."
)


def weakness(password: str, user_inputs: Iterable[str] = ()) -> str | None:
    """Why the password is refused, in the user's language, with how to choose a better
    one; None when it is strong enough."""
    if not password.strip():
        return _("The password must not be empty or only spaces.")
    if len(password) < MIN_LENGTH:
        return (
            _("The password must have at least %(n)d characters.", n=MIN_LENGTH) + " " + str(ADVICE)
        )
    if len(password) > MAX_LENGTH:
        return _("The password must have at most %(n)d characters.", n=MAX_LENGTH)
    inputs = [i.strip() for i in user_inputs if i and i.strip()]
    if any(i.casefold() in password.casefold() for i in inputs[:1]):
        return _("The password must not contain the username.") + " " + str(ADVICE)
    score, warning = _estimate(password, tuple(inputs))
    if score >= MIN_SCORE:
        return None
    reason = _WARNINGS.get(warning)
    text = str(reason) if reason else _("This password is easy to guess.")
    return text + " " + str(ADVICE)


def _estimate(password: str, user_inputs: tuple[str, ...]) -> tuple[int, str]:
    result = zxcvbn(password[:_ESTIMATED_CHARS], user_inputs=list(user_inputs))
    return int(result["score"]), str(result["feedback"].get("warning") or "")


def check_policy(password: str, username: str, *other_inputs: str) -> None:
    """Refuse a password that is empty, short, contains the username or is easy to guess.
    The username comes first; the person's name and e-mail may follow."""
    problem = weakness(password, (username, *other_inputs))
    if problem is not None:
        raise Invalid(problem, code="weak_password")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    return bool(password_hash) and check_password_hash(password_hash or "", password)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not-a-password-of-anyone")


def burn_password_check(password: str) -> None:
    """Spend the time a real check takes, so that an unknown username answers as slowly
    as a known one."""
    check_password_hash(_dummy_hash(), password)
