"""QMS: document control and ISO 9001 quality management."""

from __future__ import annotations

from typing import Any

from flask import Flask

from qms.config import PROJECT_ROOT, Config, config_for


def create_app(config: Config | str | None = None, **overrides: Any) -> Flask:
    """Wire the application together; no migrations, no side effects beyond that."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=None,
    )
    from qms.web import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route is added
    cfg = config if isinstance(config, Config) else config_for(config)
    app.config.from_object(cfg)
    app.config.update(overrides)
    if "MAX_UPLOAD_MB" in overrides:
        app.config["MAX_CONTENT_LENGTH"] = int(overrides["MAX_UPLOAD_MB"]) * 1024 * 1024

    from qms import db
    from qms.extensions import csrf, login_manager

    db.init_app(app, overrides.get("ENGINE"))
    csrf.init_app(app)
    login_manager.init_app(app)

    from qms import i18n

    i18n.init_app(app)

    from qms.auth import views as auth_views

    auth_views.init_app(app)

    from qms import errorhandlers, nav

    errorhandlers.init_app(app)
    nav.init_app(app)

    from qms import links

    links.init_app(app)

    from qms import security

    security.init_app(app)

    _register_blueprints(app)

    from qms import pagecache

    pagecache.init_app(app)  # after every other before-request hook
    return app


def _register_blueprints(app: Flask) -> None:
    import importlib
    import importlib.util

    from qms import main
    from qms.api import make_api_blueprint
    from qms.auth.api import bp as auth_api
    from qms.auth.views import admin_bp
    from qms.auth.views import bp as auth_bp
    from qms.trail.views import bp as trail_bp

    for blueprint in (main.bp, auth_bp, admin_bp, trail_bp):
        app.register_blueprint(blueprint)
    api_children = [auth_api]
    for name in FEATURES:
        app.register_blueprint(importlib.import_module(f"qms.{name}.views").bp)
        if importlib.util.find_spec(f"qms.{name}.api") is not None:
            api_children.append(importlib.import_module(f"qms.{name}.api").bp)
    app.register_blueprint(make_api_blueprint(api_children))


# Feature packages, each with views.py (and api.py when it has JSON endpoints).
FEATURES: list[str] = [
    "documents",
    "procedures",
    "search",
    "reviews",
    "word",
    "distribution",
    "tasks",
    "mail",
    "calendar",
    "certification",
    "nonconformity",
    "audits",
    "writing",
]
