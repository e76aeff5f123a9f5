"""JSON endpoints of people, sign-in and personal API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms.api import json_body
from qms.api.idempotency import idempotent, idempotent_operation
from qms.api.openapi import INTEGER, STRING, STRINGS, nullable, obj, op, ref
from qms.auth import service
from qms.auth.models import ApiToken
from qms.auth.passwords import verify_password
from qms.auth.permissions import Permission
from qms.auth.views import clock
from qms.db import get_session
from qms.errors import FailedAttempt, Forbidden, Invalid, NotFound
from qms.web import permission_required

bp = Blueprint("auth_api", __name__)


@bp.route("/me")
@permission_required(Permission.READ_DOCUMENTS)
def me() -> Any:
    user = current_user
    return jsonify(
        {
            "id": user.id,
            "username": user.username,
            "display_name": user.display_name,
            "department": user.department.code if user.department else None,
            "roles": sorted(user.roles),
            "permissions": sorted(user.permissions),
        }
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def token_json(row: ApiToken, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "created_at": _iso(row.created_at),
        "expires_at": _iso(row.expires_at),
        "last_used_at": _iso(row.last_used_at),
        "revoked_at": _iso(row.revoked_at),
        "state": row.state(now),
    }


@bp.route("/tokens")
@permission_required(Permission.READ_DOCUMENTS)
def tokens() -> Any:
    now = clock()
    rows = service.tokens_of(get_session(), current_user)
    return jsonify({"items": [token_json(r, now) for r in rows]})


@bp.route("/tokens", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
@idempotent(secret_fields=["token"])  # a replay answers without the token: shown once
def create_token() -> Any:
    """Create a token for oneself; the password is asked again (re-authentication)."""
    data = json_body()
    name, password, days = data.get("name"), data.get("password"), data.get("days")
    if not isinstance(name, str) or not isinstance(password, str) or not password:
        raise Invalid(_l("Send the token's name and your password."))
    if days is None:
        days = current_app.config["TOKEN_DAYS"]
    if isinstance(days, bool) or not isinstance(days, int):
        raise Invalid(_l("days is a whole number of days."))
    db = get_session()
    user = current_user._get_current_object()
    if user.is_locked(clock()):
        raise Forbidden(_l("Your account is locked; no token was created."), code="locked")
    if not verify_password(user.password_hash, password):
        raise Forbidden(
            _l("The password is wrong; no token was created."),
            code="wrong_password",
            failed_attempt=FailedAttempt(
                actor_id=user.id,
                action="create_token_refused",
                object_type="user",
                object_id=user.username,
                reason="wrong password",
                count_failed_password=True,
            ),
        )
    row, token = service.issue_token(db, user, user, name, days=days, now=clock())
    db.commit()
    response = jsonify({**token_json(row, clock()), "token": token})
    response.headers["Cache-Control"] = "no-store"
    return response, 201


@bp.route("/tokens/<int:token_id>", methods=["DELETE"])
@permission_required(Permission.READ_DOCUMENTS)
def revoke_token(token_id: int) -> Any:
    """Revoke one of one's own tokens (an administrator may revoke anyone's)."""
    db = get_session()
    row = db.get(ApiToken, token_id)
    if row is None or (
        row.user_id != current_user.id and not current_user.can(Permission.MANAGE_USERS)
    ):
        raise NotFound(_l("No such API token."))
    service.revoke_token(db, current_user, row, "revoked through the API", clock())
    db.commit()
    return jsonify(token_json(row, clock()))


_TOKEN_SCHEMA = {
    "type": "object",
    "required": ["id", "name", "created_at", "expires_at", "state"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": "string", "format": "date-time", "nullable": True},
        "last_used_at": {"type": "string", "format": "date-time", "nullable": True},
        "revoked_at": {"type": "string", "format": "date-time", "nullable": True},
        "state": {"type": "string", "enum": ["active", "expired", "revoked"]},
        "token": {"type": "string", "description": "Only in the answer to its creation"},
    },
}


def _with_schema(operation: dict[str, Any], status: str, schema: dict[str, Any]) -> dict[str, Any]:
    operation["responses"][status]["content"]["application/json"]["schema"] = schema
    return operation


OPENAPI_PATHS = {
    "/api/v1/me": {"get": op("The signed-in user, their roles and permissions")},
    "/api/v1/tokens": {
        "get": _with_schema(
            op("The signed-in user's API tokens (never the tokens themselves)"),
            "200",
            {"type": "object", "properties": {"items": {"type": "array", "items": _TOKEN_SCHEMA}}},
        ),
        "post": _with_schema(
            idempotent_operation(op(
                "Create an API token for oneself after entering the password again; the "
                "answer carries the token once",
                400,
                403,
                422,
                ok="201",
                body={
                    "type": "object",
                    "required": ["name", "password"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 100},
                        "password": {"type": "string", "minLength": 1},
                        "days": {"type": "integer", "minimum": 1, "maximum": 366},
                    },
                },
            )),
            "201",
            _TOKEN_SCHEMA,
        ),
    },
    "/api/v1/tokens/{token_id}": {
        "delete": _with_schema(
            op(
                "Revoke an API token (one's own; an administrator's may be anyone's)",
                404,
                409,
                params=[
                    {
                        "name": "token_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
            ),
            "200",
            _TOKEN_SCHEMA,
        )
    },
}

OPENAPI_SCHEMAS = {
    "Me": obj(
        id=INTEGER,
        username=STRING,
        display_name=STRING,
        department=nullable(STRING),
        roles=STRINGS,
        permissions=STRINGS,
    )
}
OPENAPI_RESPONSES = {"/api/v1/me": {"get": ref("Me")}}
