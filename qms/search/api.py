"""JSON search: GET /api/v1/search?q=&kind=&department=&status=&page=."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask_login import current_user

from qms.api.openapi import (
    BOOLEAN,
    DATE,
    INTEGER,
    NUMBER,
    PAGE_PARAMS,
    STRING,
    STRINGS,
    array,
    nullable,
    obj,
    op,
    ref,
)
from qms.auth.permissions import Permission
from qms.db import get_session
from qms.errors import Invalid
from qms.search import service
from qms.search.views import search_args
from qms.web import permission_required

bp = Blueprint("search_api", __name__)


@bp.route("/search")
@permission_required(Permission.READ_DOCUMENTS)
def search() -> Any:
    a = search_args()
    result = service.search(get_session(), current_user._get_current_object(), a.pop("q"), **a)
    if result.refused is not None:  # over the limits of a query: nothing was searched
        raise Invalid(result.refused, code="query_too_long",
                      details={"max_chars": service.MAX_QUERY_CHARS,
                               "max_phrases": service.MAX_PHRASES,
                               "max_terms": service.MAX_TERMS})
    return jsonify(result.as_json())


def _param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description,
            "schema": schema or {"type": "string"}}


OPENAPI_PATHS = {
    "/api/v1/search": {"get": op(
        "Full-text search of controlled documents (effective revisions unless asked)",
        422,
        params=[
            _param("q", "Words, a quoted phrase or a document number (traditional or "
                        "simplified Chinese). At most 200 characters, 12 separate words or "
                        "phrases and 64 different index terms; a longer query is refused "
                        "with 422 (code query_too_long)."),
            _param("kind", "Document kind"),
            _param("department", "Department code"),
            _param("status", "Revision status; anything but effective searches every revision"),
            _param("all", "1 to include superseded, obsolete and (if permitted) draft revisions"),
            *PAGE_PARAMS,
        ])},
}

OPENAPI_SCHEMAS = {
    "SearchHit": obj(
        number=STRING, title=STRING, revision=STRING, status=STRING, status_label=STRING,
        kind=STRING, kind_label=STRING, department=STRING, department_name=STRING,
        effective_date=nullable(DATE), score=NUMBER,
        snippet={"type": "string", "description": "HTML: escaped text with <mark> around hits"},
        document_id=INTEGER, revision_id=INTEGER, marked=BOOLEAN),
    "SearchResult": obj(
        query=STRING, items=array(ref("SearchHit")), meta=ref("PageMeta"),
        facets={"type": "object", "additionalProperties": array(
            obj(value=STRING, label=STRING, count=INTEGER))},
        notes=STRINGS, did_you_mean=STRINGS, approximate=BOOLEAN, all_revisions=BOOLEAN),
}
OPENAPI_RESPONSES = {"/api/v1/search": {"get": ref("SearchResult")}}
