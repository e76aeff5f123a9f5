"""What every HTML view and API endpoint shares: permission checks and loading objects."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit

from flask import abort
from flask_login import current_user
from werkzeug.routing import IntegerConverter, Map

from qms.auth.permissions import Permission

F = TypeVar("F", bound=Callable[..., Any])

# Ids are 32-bit integer columns on PostgreSQL: a larger number names no record.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: a number above MAX_ID matches no route, so it is a 404
    instead of an integer overflow in the database."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def parse_id(value: Any) -> int | None:
    """An id sent in a form or a JSON body: a whole number 1 … MAX_ID, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


def permission_required(*permissions: Permission) -> Callable[[F], F]:
    """Sign-in plus every named permission; the mark is checked by a test on every route."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                from qms.extensions import login_manager

                return login_manager.unauthorized()
            for permission in permissions:
                if not current_user.can(permission):
                    abort(403)
            return view(*args, **kwargs)

        wrapped.required_permissions = permissions  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Marks a view that anyone may open (sign-in page, health check)."""
    view.public = True  # type: ignore[attr-defined]
    return view


@overload
def safe_next(target: str | None, default: str) -> str: ...
@overload
def safe_next(target: str | None, default: None = None) -> str | None: ...
def safe_next(target: str | None, default: str | None = None) -> str | None:
    """The redirect target taken from a request, if it is a path on this site; else default.

    Every redirect whose target comes from the request goes through here. Accepted: a
    relative path starting with one "/". Refused: schemes (javascript:, https:), "//host"
    and "/\\host" (backslashes count as slashes in browsers), and any control character:
    browsers drop tabs and newlines, so "/\t/evil.example" would be followed as
    "//evil.example", and a newline in a Location header is a server error."""
    if not target or len(target) > 2000:
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default
    cleaned = target.replace("\\", "/")
    if not cleaned.startswith("/") or cleaned.startswith("//"):
        return default
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return default
    return cleaned


def form_errors(form: Any) -> str:
    """A form's errors in one line a clerk reads: each field's label and its first error."""
    return "; ".join(
        f"{form[name].label.text}: {errors[0]}" for name, errors in form.errors.items()
    )
