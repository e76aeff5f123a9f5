"""JSON endpoints of procedures and document links."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms.api import page_args, paged
from qms.api.openapi import (
    BOOLEAN,
    DATE,
    PAGE_PARAMS,
    STRING,
    STRINGS,
    array,
    nullable,
    obj,
    op,
    page_of,
    ref,
)
from qms.auth.permissions import Permission
from qms.db import get_session
from qms.documents import visibility
from qms.documents.models import Revision
from qms.errors import NotFound
from qms.pagination import paginate
from qms.procedures import service
from qms.procedures.views import readable_links, readable_procedures
from qms.web import permission_required

bp = Blueprint("procedures_api", __name__)


def _visible(revision: Revision | None, number: str) -> Revision:
    if revision is None:
        raise NotFound(_l("%(number)s has no revision in force.", number=number))
    return visibility.visible_revision(get_session(), current_user, revision, block_history=True)


@bp.route("/procedures")
@permission_required(Permission.READ_DOCUMENTS)
def procedures() -> Any:
    session = get_session()
    page_no, per_page = page_args()
    stmt = service.procedures_select(request.args.get("department") or None,
                                     request.args.get("q", ""))
    page = paginate(session, readable_procedures(stmt), page_no, per_page)
    summaries = service.procedure_summaries(session, page.items)
    for summary in summaries:
        readable_links(session, summary.links)
    return paged(page, [v.as_dict() for v in summaries])


@bp.route("/procedures/<number>")
@permission_required(Permission.READ_DOCUMENTS)
def procedure(number: str) -> Any:
    session = get_session()
    document = service.get_procedure(session, number)
    if not visibility.can_read_document(session, current_user, document):
        raise NotFound(_l("There is no procedure numbered %(number)s.", number=number))
    revision = _visible(document.current_revision, document.number)
    view = service.procedure_view(session, revision)
    readable_links(session, view.links)
    return jsonify(view.as_dict(with_steps=True))


@bp.route("/documents/<number>/links")
@permission_required(Permission.READ_DOCUMENTS)
def document_links(number: str) -> Any:
    session = get_session()
    document = visibility.readable_document(session, current_user, number)
    revision = _visible(document.current_revision, document.number)
    return jsonify(readable_links(session, service.links_for(session, revision)).as_dict())


_NUMBER = [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}]

OPENAPI_PATHS = {
    "/api/v1/procedures": {"get": op(
        "Procedures in force: number, title, lanes, controlling documents with revision and "
        "status", params=[*PAGE_PARAMS,
                          {"name": "department", "in": "query", "schema": {"type": "string"}},
                          {"name": "q", "in": "query", "schema": {"type": "string"}}])},
    "/api/v1/procedures/{number}": {"get": op(
        "One procedure in force, with its steps and forms", 404, params=_NUMBER)},
    "/api/v1/documents/{number}/links": {"get": op(
        "The links of a document's revision in force, both ways", 404, params=_NUMBER)},
}

_TARGET = ref("LinkTarget")
_CONTROL = ref("ControlLink")  # a target, and whether the link is our reading only
_PROCEDURE_FIELDS = {
    "number": STRING, "title": STRING, "revision": STRING, "state": STRING,
    "effective_date": nullable(DATE), "department": STRING, "lanes": STRINGS,
    "controlled_by": array(_CONTROL), "gap": BOOLEAN, "gap_note": nullable(STRING),
    "needs_review": BOOLEAN,
}
OPENAPI_SCHEMAS = {
    "LinkTarget": obj(number=STRING, title=nullable(STRING), kind=nullable(STRING),
                      revision=nullable(STRING), status=nullable(STRING),
                      effective_date=nullable(DATE)),
    "ControlLink": obj(number=STRING, title=nullable(STRING), kind=nullable(STRING),
                       revision=nullable(STRING), status=nullable(STRING),
                       effective_date=nullable(DATE), inferred=BOOLEAN),
    "ProcedureSummary": obj(**_PROCEDURE_FIELDS),
    "Procedure": obj(**_PROCEDURE_FIELDS, steps=array({"type": "object"}),
                     forms=array(_TARGET)),
    "Links": obj(number=STRING, revision=STRING, iso_clauses=STRINGS,
                 gap_note=nullable(STRING), controlled_by=array(_CONTROL),
                 references=array(_TARGET), uses_forms=array(_TARGET),
                 controls=array(_CONTROL), referenced_by=array(_TARGET),
                 used_by=array(_TARGET)),
}
OPENAPI_RESPONSES = {
    "/api/v1/procedures": {"get": page_of(ref("ProcedureSummary"))},
    "/api/v1/procedures/{number}": {"get": ref("Procedure")},
    "/api/v1/documents/{number}/links": {"get": ref("Links")},
}
