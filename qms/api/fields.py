"""Reading one field of a JSON body, with the same refusal (422) in every feature's API."""

from __future__ import annotations

import enum
from datetime import date
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l

from qms.errors import Invalid
from qms.web import MAX_ID

E = TypeVar("E", bound=enum.Enum)


def text(data: dict[str, Any], name: str, default: str = "") -> str:
    """A text field; missing or null is the default."""
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise Invalid(_l("%(name)s must be a text.", name=name))
    return value


def texts(data: dict[str, Any], name: str) -> list[str]:
    """A list of texts; missing or null is an empty list."""
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise Invalid(_l("%(name)s must be a list of texts.", name=name))
    return value


def whole(data: dict[str, Any], name: str) -> int | None:
    """A whole number within the database's range of ids; missing or null is None."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise Invalid(_l("%(name)s must be a whole number.", name=name))
    return value


def choice(data: dict[str, Any], name: str, choices: type[E], default: str = "") -> E:
    """One of an enum's values; missing, null or empty is the default."""
    value = data.get(name) or default
    if not isinstance(value, str) or value not in {str(c.value) for c in choices}:
        raise Invalid(
            _l(
                "%(name)s must be one of: %(choices)s.",
                name=name,
                choices=", ".join(str(c.value) for c in choices),
            )
        )
    return choices(value)


def record_id(data: dict[str, Any], name: str) -> int | None:
    """The id of a record: a whole number from 1; missing or null is None."""
    value = whole(data, name)
    if value == 0:
        raise Invalid(_l("%(name)s must be a whole number.", name=name))
    return value


def day(data: dict[str, Any], name: str, required: bool = False) -> date | None:
    """A date as YYYY-MM-DD; missing, null or empty is None unless required."""
    value = data.get(name)
    if value in (None, ""):
        if required:
            raise Invalid(_l("Give the date (%(name)s).", name=name), code="date_required")
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(
            _l("%(value)s is not a date (YYYY-MM-DD).", value=value), code="invalid_date"
        ) from None
