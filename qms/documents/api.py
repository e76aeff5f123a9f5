"""JSON endpoints of controlled documents."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from qms import clock
from qms.api import json_body, page_args
from qms.api.idempotency import idempotent, idempotent_operation
from qms.api.openapi import (
    DATE,
    INTEGER,
    PAGE_PARAMS,
    STRING,
    TIMESTAMP,
    array,
    nullable,
    obj,
    op,
    page_of,
    ref,
)
from qms.auth.models import Department
from qms.auth.permissions import Permission
from qms.auth.signatures import STATUS_LABELS, status_of
from qms.db import get_session
from qms.documents import queries, service, transitions, visibility
from qms.documents.integrity import current_content_hashes
from qms.documents.models import Confidentiality, DocKind, Document, Family, Revision
from qms.errors import Invalid, NotFound
from qms.web import permission_required

bp = Blueprint("documents_api", __name__)


def _row(r: Any, *, with_work: bool) -> dict[str, Any]:
    return {
        "number": r.number,
        "title": r.title,
        "kind": str(r.kind),
        "department": r.department_code,
        "status": str(r.status),
        "revision": r.current_label,
        # that a revision is in work is for those who keep the register
        "revision_in_work": r.working_label if with_work else None,
        "effective_date": r.effective_date.isoformat() if r.effective_date else None,
        "next_review_date": r.next_review_date.isoformat() if r.next_review_date else None,
    }


def _revision_json(
    session: Any, document: Document, revision: Revision, with_body: bool = True
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": document.number,
        "title": revision.title,
        "kind": str(document.kind),
        "family": str(document.family),
        "department": document.department.code,
        "revision": revision.label,
        "status": str(revision.state),
        "effective_date": revision.effective_date.isoformat() if revision.effective_date else None,
        "change_summary": revision.change_summary,
        "content_sha256": revision.content_sha256,
        "version": revision.version,
    }
    if with_body:
        data["body"] = revision.body
        from qms.auth.signatures import signatures_for

        # Statuses from the content as stored now, not from the stored hash.
        current = current_content_hashes(session, [revision.id]).get(revision.id, "")
        statuses = [
            (s, status_of(s, current)) for s in signatures_for(session, "revision", [revision.id])
        ]
        data["signatures"] = [
            {
                "name": s.printed_name,
                "meaning": str(s.meaning),
                "signed_at": s.signed_at.isoformat(),
                "status": str(status),
                "status_text": str(STATUS_LABELS[status]),
            }
            for s, status in statuses
        ]
    return data


def _visible(session: Any, revision: Revision) -> bool:
    return visibility.can_view(session, current_user, revision)


def _document(session: Any, number: str) -> Document:
    """The document if this reader may read it; the same 404 as a missing number if not."""
    return visibility.readable_document(session, current_user, number)


@bp.route("/documents", methods=["GET"])
@permission_required(Permission.READ_DOCUMENTS)
def list_documents() -> Any:
    session = get_session()
    register = current_user.can(Permission.VIEW_REGISTER)
    flt = queries.filter_from_args(
        request.args,
        register=register,
        today=clock.today(),
        reader=visibility.reader_for(session, current_user),
    )
    page, per_page = page_args()
    result = queries.register_page(session, flt, page, per_page)
    return jsonify(
        {"items": [_row(r, with_work=register) for r in result.items], "meta": result.as_meta()}
    )


@bp.route("/documents", methods=["POST"])
@permission_required(Permission.DRAFT_DOCUMENTS)
@idempotent()
def create_document() -> Any:
    session = get_session()
    data = json_body()
    try:
        kind = DocKind(str(data.get("kind", "")))
        family = Family(str(data.get("family", "standard")))
        confidentiality = Confidentiality(str(data.get("confidentiality", "internal")))
    except ValueError:
        raise Invalid(
            _("Unknown kind, family or confidentiality."),
            details={"kind": [k.value for k in DocKind], "family": [f.value for f in Family]},
        ) from None
    department = session.scalar(
        sa.select(Department).where(Department.code == str(data.get("department", "")))
    )
    if department is None:
        raise Invalid(_("Unknown department code."))
    document = service.create_document(
        session,
        current_user,
        title=str(data.get("title", "")),
        kind=kind,
        department=department,
        family=family,
        confidentiality=confidentiality,
        body=str(data.get("body", "")),
        change_summary=str(data.get("change_summary", "")),
    )
    session.commit()
    revision = document.working_revision
    if revision is None:  # create_document always starts a draft
        raise RuntimeError("new document without a draft")
    return jsonify(
        {
            "number": document.number,
            "revision": revision.label,
            "status": str(revision.state),
            "content_sha256": revision.content_sha256,
        }
    ), 201


@bp.route("/documents/<number>", methods=["GET"])
@permission_required(Permission.READ_DOCUMENTS)
def get_document(number: str) -> Any:
    session = get_session()
    document = _document(session, number)
    label = request.args.get("revision")
    if label:
        revision = service.revision_by_label(session, document, label)
    elif document.current_revision is not None:
        revision = document.current_revision
    else:
        raise NotFound(
            _(
                "%(number)s has no effective revision; ask for one with ?revision=.",
                number=document.number,
            ),
            code="no_effective_revision",
        )
    visibility.visible_revision(session, current_user, revision)
    return jsonify(_revision_json(session, document, revision))


@bp.route("/documents/<number>/revisions", methods=["GET"])
@permission_required(Permission.READ_DOCUMENTS)
def list_revisions(number: str) -> Any:
    session = get_session()
    document = _document(session, number)
    hist = queries.history(session, document)
    return jsonify(
        {
            "items": [
                _revision_json(session, document, r, with_body=False)
                for r in hist.revisions
                if _visible(session, r)
            ]
        }
    )


@bp.route("/documents/<number>/draft", methods=["PATCH"])
@permission_required(Permission.DRAFT_DOCUMENTS)
def patch_draft(number: str) -> Any:
    session = get_session()
    document = _document(session, number)
    data = json_body()
    revision = transitions._target(document, data.get("revision_id"))
    visibility.visible_revision(session, current_user, revision)
    if "base_hash" not in data or "body" not in data:
        raise Invalid(_("Send body and base_hash (the content_sha256 you started from)."))
    service.save_draft(
        session,
        current_user,
        revision,
        body=str(data["body"]),
        change_summary=str(data.get("change_summary", revision.change_summary)),
        base_hash=str(data["base_hash"]),
        title=str(data["title"]) if data.get("title") else None,
    )
    session.commit()
    return jsonify(_revision_json(session, document, revision, with_body=False))


@bp.route("/documents/<number>/transitions", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
@idempotent()  # "revise" creates a revision
def post_transition(number: str) -> Any:
    session = get_session()
    document = _document(session, number)
    revision = transitions.apply(session, current_user, document, json_body())
    session.commit()
    return jsonify(
        {
            "number": document.number,
            "revision": revision.label,
            "status": str(revision.state),
            "document_status": str(document.status),
        }
    )


@bp.route("/documents/<number>/approver", methods=["POST"])
@permission_required(Permission.REASSIGN_APPROVERS)
def reassign_approver(number: str) -> Any:
    session = get_session()
    document = _document(session, number)
    data = json_body()
    previous = document.working_revision.approver if document.working_revision else None
    previous_name = previous.username if previous else None
    revision = transitions.reassign(session, current_user, document, data)
    session.commit()
    return jsonify(
        {
            "number": document.number,
            "revision": revision.label,
            "status": str(revision.state),
            "approver": revision.approver.username if revision.approver else None,
            "previous_approver": previous_name,
        }
    )


@bp.route("/documents/<number>/trail", methods=["GET"])
@permission_required(Permission.READ_DOCUMENTS)
def document_trail(number: str) -> Any:
    from qms.pagination import paginate
    from qms.trail import access

    session = get_session()
    document = _document(session, number)
    page, per_page = page_args()
    result = paginate(
        session, queries.document_trail_select(session, current_user, document), page, per_page
    )
    return jsonify(
        {
            "items": [
                access.as_json(line) for line in access.lines(session, current_user, result.items)
            ],
            "meta": result.as_meta(),
        }
    )


_NUMBER = [{"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}]
OPENAPI_PATHS = {
    "/api/v1/documents": {
        "get": op(
            "The register: documents with their current revision and status",
            400,
            params=PAGE_PARAMS
            + [
                {"name": n, "in": "query", "schema": {"type": "string"}}
                for n in ("status", "kind", "department", "q")
            ],
        ),
        "post": idempotent_operation(op(
            "Create a document; answers 201 with number, revision and status",
            400,
            403,
            413,
            422,
            ok="201",
            body={
                "type": "object",
                "required": ["title", "kind", "department"],
                "properties": {
                    "title": {"type": "string"},
                    "kind": {"type": "string", "enum": [k.value for k in DocKind]},
                    "department": {"type": "string", "description": "department code"},
                    "family": {"type": "string", "enum": [f.value for f in Family]},
                    "confidentiality": {
                        "type": "string",
                        "enum": [c.value for c in Confidentiality],
                    },
                    "body": {"type": "string"},
                    "change_summary": {"type": "string"},
                },
            },
        )),
    },
    "/api/v1/documents/{number}": {
        "get": op(
            "The effective revision, or ?revision=LABEL; 404 for a document or revision "
            "the caller may not see",
            404,
            params=[*_NUMBER, {"name": "revision", "in": "query", "schema": {"type": "string"}}],
        ),
    },
    "/api/v1/documents/{number}/revisions": {
        "get": op("Every revision the caller may see", 404, params=_NUMBER)
    },
    "/api/v1/documents/{number}/draft": {
        "patch": op(
            "Save the draft; 409 when base_hash is stale",
            400,
            403,
            404,
            409,
            413,
            422,
            params=_NUMBER,
            body={
                "type": "object",
                "required": ["body", "base_hash"],
                "properties": {
                    "body": {"type": "string"},
                    "change_summary": {"type": "string"},
                    "base_hash": {"type": "string"},
                    "title": {"type": "string"},
                },
            },
        )
    },
    "/api/v1/documents/{number}/transitions": {
        "post": idempotent_operation(op(
            "Apply a lifecycle action",
            400,
            403,
            404,
            409,
            422,
            params=_NUMBER,
            body={
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"type": "string", "enum": list(transitions.ACTIONS)},
                    "revision_id": {
                        "type": "integer",
                        "description": "The revision in work the client shows; 409 when "
                        "another revision is in work now",
                    },
                    "content_sha256": {
                        "type": "string",
                        "pattern": "^[0-9a-f]{64}$",
                        "description": "Required by the signing actions (submit, review, "
                        "approve, issue, withdraw): the content_sha256 of the text the "
                        "signer read. Missing: 422 content_sha256_required. Another text "
                        "now: 409 content_changed with details.sent_content_sha256 and "
                        "details.current_content_sha256; nothing is signed.",
                    },
                    "comment": {"type": "string"},
                    "password": {"type": "string"},
                    "meaning": {"type": "string"},
                    "effective_date": {"type": "string", "format": "date"},
                    "reviewers": {"type": "array", "items": {"type": "string"}},
                    "approver": {"type": "string"},
                    "major": {"type": "boolean"},
                },
            },
        ))
    },
    "/api/v1/documents/{number}/approver": {
        "post": op(
            "Name another approver of the revision in review (quality manager only); "
            "the trail keeps the old and new approver and the reason",
            400,
            403,
            404,
            409,
            422,
            params=_NUMBER,
            body={
                "type": "object",
                "required": ["approver", "reason"],
                "properties": {
                    "approver": {"type": "string", "description": "username"},
                    "reason": {"type": "string", "minLength": 1},
                    "revision_id": {"type": "integer"},
                },
            },
        )
    },
    "/api/v1/documents/{number}/trail": {
        "get": op("The document's audit trail", 404, params=_NUMBER + PAGE_PARAMS)
    },
}

_REVISION_FIELDS: dict[str, Any] = {
    "number": STRING,
    "title": STRING,
    "kind": STRING,
    "family": STRING,
    "department": STRING,
    "revision": STRING,
    "status": STRING,
    "effective_date": nullable(DATE),
    "change_summary": STRING,
    "content_sha256": STRING,
    "version": INTEGER,
}
OPENAPI_SCHEMAS = {
    "DocumentRow": obj(
        number=STRING,
        title=STRING,
        kind=STRING,
        department=STRING,
        status=STRING,
        revision=nullable(STRING),
        revision_in_work=nullable(STRING),
        effective_date=nullable(DATE),
        next_review_date=nullable(DATE),
    ),
    "RevisionSummary": obj(**_REVISION_FIELDS),
    "Revision": obj(
        **_REVISION_FIELDS,
        body=STRING,
        signatures=array(obj(name=STRING, meaning=STRING, signed_at=TIMESTAMP, status=STRING)),
    ),
    "CreatedDocument": obj(number=STRING, revision=STRING, status=STRING, content_sha256=STRING),
    "TransitionResult": obj(number=STRING, revision=STRING, status=STRING, document_status=STRING),
    "ReassignResult": obj(
        number=STRING,
        revision=STRING,
        status=STRING,
        approver=nullable(STRING),
        previous_approver=nullable(STRING),
    ),
    "TrailEntry": obj(
        seq=INTEGER,
        at_utc=TIMESTAMP,
        actor=STRING,
        action=STRING,
        object_type=STRING,
        object_id=STRING,
        field=STRING,
        old_value=STRING,
        new_value=STRING,
        reason=STRING,
        entry_hash=STRING,
    ),
}
OPENAPI_RESPONSES = {
    "/api/v1/documents": {
        "get": page_of(ref("DocumentRow")),
        "post": ref("CreatedDocument"),
    },
    "/api/v1/documents/{number}": {"get": ref("Revision")},
    "/api/v1/documents/{number}/revisions": {"get": obj(items=array(ref("RevisionSummary")))},
    "/api/v1/documents/{number}/draft": {"patch": ref("RevisionSummary")},
    "/api/v1/documents/{number}/transitions": {"post": ref("TransitionResult")},
    "/api/v1/documents/{number}/trail": {"get": page_of(ref("TrailEntry"))},
    "/api/v1/documents/{number}/approver": {"post": ref("ReassignResult")},
}
