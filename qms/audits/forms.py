"""Reading the audit pages' plain forms: each value checked, a clear refusal otherwise."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from qms.auth.models import User
from qms.errors import Invalid
from qms.web import parse_id


def invalid(message: Any) -> Invalid:
    return Invalid(message, code="invalid_input")


def whole(value: Any, name: str) -> int:
    number = parse_id(value)
    if number is None:
        raise Invalid(_l("%(name)s must be a whole number.", name=name), code="invalid_input")
    return number


def day(value: Any, name: str, *, required: bool = True) -> Any:
    if value in (None, ""):
        if required:
            raise Invalid(_l("Give the date (%(name)s).", name=name), code="date_required")
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid(
            _l("%(value)s is not a date (YYYY-MM-DD).", value=value), code="invalid_date"
        ) from None


def month(value: Any, default: int) -> int:
    """1 … 12 from "YYYY-MM" or "M"; the default when absent or wrong."""
    text = str(value or "")
    m = re.fullmatch(r"(?:(\d{4})-)?(\d{1,2})", text)
    if m and 1 <= int(m.group(2)) <= 12:
        return int(m.group(2))
    return default


def ids(values: Iterable[Any]) -> list[int]:
    out = []
    for v in values:
        number = parse_id(v)
        if number is None:
            raise Invalid(_l("%(value)s is not a whole number.", value=v), code="invalid_input")
        out.append(number)
    return out


def optional_id(value: Any) -> int | None:
    return ids([value])[0] if value not in (None, "") else None


def user(session: Any, value: Any) -> User | None:
    number = optional_id(value)
    if number is None:
        return None
    found = session.get(User, number)
    if found is None:
        raise Invalid(_l("There is no user %(id)s.", id=number), code="invalid_input")
    return found


def users(session: Any, values: Iterable[Any]) -> list[User]:
    wanted = ids(v for v in values if v not in (None, ""))
    found = {u.id: u for u in session.scalars(sa.select(User).where(User.id.in_(wanted or [0])))}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise Invalid(_l("There is no user %(id)s.", id=missing[0]), code="invalid_input")
    return [found[i] for i in wanted]


def numbers(text: str) -> list[str]:
    """Document numbers separated by commas, spaces or new lines."""
    return [n for n in re.split(r"[\s,，、;；]+", text or "") if n]
