"""What every JSON endpoint shares: token auth, CSRF for cookie sessions, errors as
{"error": {"code", "message"}}, pagination, and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from qms.api.openapi import build_document
from qms.errors import DomainError
from qms.extensions import csrf
from qms.pagination import Page, clamp
from qms.web import public

core_bp = Blueprint("api_core", __name__)


def make_api_blueprint(children: list[Blueprint]) -> Blueprint:
    """The /api/v1 blueprint of one app, with every feature's endpoints under it."""
    api = Blueprint("api", __name__, url_prefix="/api/v1")
    api.before_request(_csrf_for_cookie_sessions)
    api.register_blueprint(core_bp)
    for child in children:
        api.register_blueprint(child)
    # Flask-WTF matches the request's own blueprint, so each nested one is exempted by
    # itself; _csrf_for_cookie_sessions then protects the cookie sessions among them.
    for blueprint in (api, core_bp, *children):
        csrf.exempt(blueprint)
    return api


def _csrf_for_cookie_sessions() -> None:
    # Token clients are not exposed to CSRF; a browser session writing through the API is.
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return
    if not current_user.is_authenticated:
        return  # nobody to act for: the endpoint answers 401, not a CSRF refusal
    csrf.protect()


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong."""
    data = request.get_json(silent=True)
    if data is None:
        raise DomainError(_("The request body is not valid JSON."), status=400, code="bad_json")
    if not isinstance(data, dict):
        raise DomainError(_("The request body must be a JSON object."), status=400, code="bad_json")
    if _holds_nul(data):
        # no database keeps it (PostgreSQL refuses it outright), and no person types it
        raise DomainError(_("The request holds a NUL character (\\u0000); no text may hold it."),
                          status=422, code="nul_character")
    return data


def _holds_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 64:
        return False
    if isinstance(value, dict):
        return any(_holds_nul(k, depth + 1) or _holds_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v, depth + 1) for v in value)
    return False


def page_args() -> tuple[int, int]:
    return clamp(request.args.get("page"), request.args.get("per_page"))


def paged(page: Page[Any], items: list[Any]) -> Any:
    return jsonify({"items": items, "meta": page.as_meta()})


@core_bp.route("/openapi.json")
@public
def openapi() -> Any:
    return jsonify(build_document())


def token_auth_used() -> bool:
    return bool(g.get("token_auth"))
