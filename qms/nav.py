"""The main navigation: features register entries; each shows only with its permission."""

from __future__ import annotations

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


NAV: list[NavEntry] = [
    NavEntry(_l("Audit trail"), "trail.entries", Permission.VIEW_TRAIL, 80),
    NavEntry(_l("Users"), "admin.users", Permission.MANAGE_USERS, 90),
]


def init_app(app: Flask) -> None:
    @app.context_processor
    def _nav() -> dict[str, Any]:
        def nav_items() -> list[dict[str, Any]]:
            if not current_user.is_authenticated:
                return []
            return [
                {"label": e.label, "url": url_for(e.endpoint)}
                for e in sorted(NAV, key=lambda e: e.order)
                if current_user.can(e.permission)
            ]

        return {"nav_items": nav_items}
