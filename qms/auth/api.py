"""JSON endpoints of people and sign-in."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask_login import current_user

from qms.api.openapi import INTEGER, STRING, STRINGS, nullable, obj, op, ref
from qms.auth.permissions import Permission
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


OPENAPI_PATHS = {"/api/v1/me": {"get": op("The signed-in user, their roles and permissions")}}
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
