"""JSON API of Word copies: the .docx of a revision."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask_login import current_user

from qms.api.openapi import op
from qms.auth.permissions import Permission
from qms.db import get_session
from qms.web import permission_required
from qms.word import service
from qms.word.views import DOCX_MIME, attachment_dir, block_history, docx_response

bp = Blueprint("word_api", __name__)


@bp.route("/documents/<number>/export.docx")
@permission_required(Permission.READ_DOCUMENTS)
def export(number: str) -> Any:
    db = get_session()
    revision = service.revision_for_copy(db, current_user, number, request.args.get("revision"),
                                         block_history=block_history())
    data, filename = service.controlled_copy(db, current_user, revision,
                                             request.args.get("copy") or None, attachment_dir())
    return docx_response(data, filename)


OPENAPI_PATHS = {
    "/api/v1/documents/{number}/export.docx": {"get": op(
        "The revision as a Word file: the effective one unless `revision` names another; "
        "`copy` (document control only) makes it a controlled copy with that copy number",
        403, 404, 409, 422,
        params=[
            {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "revision", "in": "query", "schema": {"type": "string"},
             "description": "revision label such as A/0"},
            {"name": "copy", "in": "query", "schema": {"type": "string"},
             "description": "copy number of a controlled copy"},
        ],
        content_type=DOCX_MIME)},
}

OPENAPI_RESPONSES = {
    "/api/v1/documents/{number}/export.docx": {"get": {"type": "string", "format": "binary"}},
}
