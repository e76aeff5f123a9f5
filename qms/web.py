"""What every HTML view and API endpoint shares: permission checks and loading objects."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user

from qms.auth.permissions import Permission

F = TypeVar("F", bound=Callable[..., Any])


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


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def form_errors(form: Any) -> str:
    """A form's errors in one line a clerk reads: each field's label and its first error."""
    return "; ".join(
        f"{form[name].label.text}: {errors[0]}" for name, errors in form.errors.items()
    )
