"""Locale selection (Chinese by default, English complete) and local-time display."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, request, session
from flask_babel import format_datetime, get_locale
from flask_babel.speaklater import LazyString
from flask_login import current_user
from markupsafe import Markup, escape

from qms.extensions import babel


def _lazy_text_as_html(self: LazyString) -> Markup:
    """A lazily translated message is text, not markup: escape it.

    Flask-Babel's lazy strings answer ``__html__`` with their raw text, so Jinja's
    autoescape, ``Markup.format``/``Markup.join``, ``markupsafe.escape`` and the session's
    flash serializer all took ``_l("... %(title)s", title=...)`` as safe markup and sent
    a user's text to the browser unescaped (stored XSS in My tasks, reflected XSS in the
    search notes). Every message formatted with user data is escaped here, once, for all.
    """
    return escape(str(self))


LazyString.__html__ = _lazy_text_as_html


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    chosen = session.get("lang") if request else None
    if chosen in languages:
        return str(chosen)
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return str(current_user.locale)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def local_time(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Stored UTC, shown in the configured local time zone."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def init_app(app: Flask) -> None:
    from qms.config import PROJECT_ROOT

    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(PROJECT_ROOT / "qms" / "translations"),
    )
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.add_extension("jinja2.ext.i18n")
