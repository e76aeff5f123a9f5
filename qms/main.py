"""Home page per role, health check, language switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from qms.auth.permissions import Permission
from qms.db import get_session
from qms.web import permission_required, public, safe_next

bp = Blueprint("main", __name__)


@bp.route("/")
@permission_required(Permission.READ_DOCUMENTS)
def home() -> str:
    from qms.home import home_panels

    panels = home_panels(get_session(), current_user)
    return render_template("home.html", panels=panels)


@bp.route("/lang/<code>", methods=["POST"])
@public
def set_language(code: str) -> Any:
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.form.get("next")) or url_for("main.home"))


@bp.route("/favicon.ico")
@public
def favicon() -> Any:
    """Browsers ask for /favicon.ico whatever the page links; answer with the SVG icon."""
    icon = Path(current_app.static_folder or "static") / "favicon.svg"
    response = Response(icon.read_bytes(), mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@bp.route("/healthz")
@public
def healthz() -> Any:
    try:
        get_session().execute(sa.text("SELECT 1"))
    except Exception:
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})
