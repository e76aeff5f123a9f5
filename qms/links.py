"""Whether a link may be offered: the target route's own checks, asked before the link is
drawn. Templates ask `may_open(endpoint, **values)`; a link or button is shown only when
the page it leads to would let this person through.

Two layers, as the routes have them: the permissions the view's `permission_required`
names (read from the view itself, so the rule is never written twice), then, for routes
that also check the object (a draft nobody named you on, a copy of a superseded
revision), the object rule the feature registers here with `object_rule`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g
from flask_login import current_user

ObjectRule = Callable[..., bool]

_OBJECT_RULES: dict[str, ObjectRule] = {}
# the same rule over many objects in a fixed number of statements (a register page)
_BATCH_RULES: dict[str, Callable[..., list[bool]]] = {}


def object_rule(endpoint: str) -> Callable[[ObjectRule], ObjectRule]:
    """Register the object check of a route: called with the signed-in user and the
    link's values (`rule(user, **values) -> bool`); it must not raise."""

    def decorate(rule: ObjectRule) -> ObjectRule:
        _OBJECT_RULES[endpoint] = rule
        return rule

    return decorate


def batch_rule(endpoint: str) -> Callable[[Callable[..., list[bool]]], Callable[..., list[bool]]]:
    """Register the object check over many links at once:
    `rule(user, [values, ...]) -> [bool, ...]`, the same answers as the single rule."""

    def decorate(rule: Callable[..., list[bool]]) -> Callable[..., list[bool]]:
        _BATCH_RULES[endpoint] = rule
        return rule

    return decorate


def _key(endpoint: str, values: dict[str, Any]) -> tuple[Any, ...]:
    return (endpoint, *sorted((k, str(v)) for k, v in values.items() if v is not None))


def prime_links(endpoint: str, arg: str, rows: Any) -> str:
    """Answer `may_open(endpoint, arg=row.arg)` for every row of a list at once, so a
    long list costs a fixed number of statements. Returns "" (for use in a template)."""
    rule = _BATCH_RULES.get(endpoint)
    if rule is None or not current_user.is_authenticated:
        return ""
    values = [{arg: getattr(row, arg)} for row in rows]
    cache: dict[tuple[Any, ...], bool] = g.setdefault("qms_may_open", {})
    for one, answer in zip(values, rule(current_user, values), strict=True):
        cache[_key(endpoint, one)] = bool(answer)
    return ""


def may_open(endpoint: str, **values: Any) -> bool:
    """Whether the current user would get through the route's checks (not 403/404/409)."""
    view = current_app.view_functions.get(endpoint)
    if view is None:
        return False
    if getattr(view, "public", False):
        return True
    if not current_user.is_authenticated:
        return False
    permissions = getattr(view, "required_permissions", None)
    if permissions is None:
        return False  # a view that declares nobody is offered to nobody
    if not all(current_user.can(p) for p in permissions):
        return False
    rule = _OBJECT_RULES.get(endpoint)
    if rule is None:
        return True
    # the same link is often drawn many times on one page (a register, a copy list)
    cache: dict[tuple[Any, ...], bool] = g.setdefault("qms_may_open", {})
    key = _key(endpoint, values)
    if key not in cache:
        cache[key] = bool(rule(current_user, **values))
    return cache[key]


def init_app(app: Flask) -> None:
    app.jinja_env.globals["may_open"] = may_open
    app.jinja_env.globals["prime_links"] = prime_links
