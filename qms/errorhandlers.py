"""Errors as the user sees them: a page inside the layout, or JSON under /api/."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from qms.db import get_session
from qms.errors import DomainError, FailedAttempt

log = logging.getLogger("qms")


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        401: _("Sign in or send a valid API token."),
        403: _("You do not have the right to do this."),
        404: _("There is no such page or record."),
        405: _("This action is not available here."),
        409: _("This conflicts with the current state of the record."),
        413: _("The upload is too large."),
        422: _("Some of the data is not valid."),
        500: _("Something went wrong on our side. Nothing was saved; please try again."),
        503: _("The service is temporarily unavailable."),
    }


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Any:
    if wants_json():
        body: dict[str, Any] = {"code": code, "message": message}
        if details:
            body["details"] = details
        return jsonify({"error": body}), status
    return render_template(
        "errors/error.html", status=status, message=message, details=details or {}
    ), status


def record_failed_attempt(attempt: FailedAttempt) -> None:
    """After the refused operation is rolled back, keep a trail entry of the attempt."""
    from qms.auth import service as auth_service
    from qms.auth.models import User
    from qms.trail import service as trail

    db = get_session()
    actor = db.get(User, attempt.actor_id) if attempt.actor_id else None
    trail.record(
        db, actor, attempt.action, attempt.object_type, attempt.object_id, reason=attempt.reason
    )
    if attempt.count_failed_password and actor is not None:
        auth_service.register_failed_password(
            db,
            actor,
            f"signature on {attempt.object_type}",
            auth_service.SignInPolicy.from_config(current_app.config),
        )
    db.commit()


def refused(err: DomainError) -> str:
    """Roll back the refused operation, keep the trail of a refused signature, and return
    the message for the user. Views that show the refusal in their own form call this."""
    get_session().rollback()
    if err.failed_attempt is not None:
        record_failed_attempt(err.failed_attempt)
    return str(err.message)


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(err: DomainError) -> Any:
        message = refused(err)
        return error_response(err.status, err.code, message, err.details)

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError) -> Any:
        get_session().rollback()
        return error_response(
            400,
            "csrf",
            _(
                "The form has expired or did not come from this site. "
                "Reload the page and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Any:
        get_session().rollback()
        status = err.code or 500
        message = _messages().get(status) or err.description or ""
        if status == 413:
            message = _(
                "The upload is larger than the limit of %(mb)d MB.", mb=app.config["MAX_UPLOAD_MB"]
            )
        code = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            409: "conflict",
            413: "too_large",
            422: "invalid",
        }.get(status, "error")
        response = error_response(status, code, message)
        allow = dict(err.get_headers()).get("Allow")
        if allow:  # a 405 says which methods the URL does accept
            body, status = response
            return body, status, {"Allow": allow}
        return response

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> Any:
        log.exception("unexpected error")
        try:
            get_session().rollback()
        except Exception:
            log.exception("rollback failed")
        return error_response(500, "server_error", _messages()[500])
