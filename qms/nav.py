"""The main navigation: features register entries; each shows only with its permission.
Less frequent pages sit in two groups so the bar stays on one line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms.auth.permissions import Permission


@dataclass(frozen=True)
class NavEntry:
    label: Any
    endpoint: str
    permission: Permission
    order: int = 50
    group: str = ""  # "" (on the bar), "control" or "admin"
    # beyond the permission: whether the page would have anything for this user
    shown: Callable[[Any], bool] | None = None


GROUPS = {"control": (_l("Document control"), 60), "admin": (_l("Administration"), 90)}

NAV: list[NavEntry] = []


def register(*entries: NavEntry) -> None:
    """Add entries once, however often the feature module is imported."""
    for entry in entries:
        if not any(e.endpoint == entry.endpoint for e in NAV):
            NAV.append(entry)


register(
    NavEntry(_l("Audit trail"), "trail.entries", Permission.VIEW_TRAIL, 80, "admin"),
    NavEntry(_l("Users"), "admin.users", Permission.MANAGE_USERS, 90, "admin"),
)


def items_for(user: Any) -> list[dict[str, Any]]:
    """The bar for this user: links, and groups of links, in order."""
    bar: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for entry in sorted(NAV, key=lambda e: e.order):
        if not user.can(entry.permission):
            continue
        if entry.shown is not None and not entry.shown(user):
            continue
        link = {"label": entry.label, "url": url_for(entry.endpoint)}
        if not entry.group:
            bar.append({**link, "order": entry.order})
            continue
        if entry.group not in groups:
            label, order = GROUPS[entry.group]
            groups[entry.group] = {"label": label, "order": order, "links": []}
            bar.append(groups[entry.group])
        groups[entry.group]["links"].append(link)
    return sorted(bar, key=lambda item: item["order"])


def init_app(app: Flask) -> None:
    @app.context_processor
    def _nav() -> dict[str, Any]:
        def nav_items() -> list[dict[str, Any]]:
            return items_for(current_user) if current_user.is_authenticated else []

        return {"nav_items": nav_items}
