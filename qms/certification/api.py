"""JSON endpoints of certification: projects and their steps, certificates, the calendar feed."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload

from qms import clock
from qms.api import fields, json_body, page_args, paged
from qms.api.idempotency import idempotent, idempotent_operation
from qms.api.openapi import (
    BOOLEAN,
    DATE,
    INTEGER,
    PAGE_PARAMS,
    STRING,
    array,
    nullable,
    obj,
    op,
    page_of,
    ref,
)
from qms.auth.permissions import Permission
from qms.certification import service
from qms.certification.models import Certificate, CertificationProject
from qms.certification.rules import CertificateKind, ProjectAction
from qms.db import get_session
from qms.errors import Forbidden, Invalid
from qms.pagination import paginate
from qms.web import MAX_ID, permission_required

bp = Blueprint("certification_api", __name__)


def attachment_dir() -> Any:
    from qms.word.views import attachment_dir as word_attachment_dir

    return word_attachment_dir()


def max_bytes() -> int:
    return int(current_app.config["MAX_CONTENT_LENGTH"])


def _files(data: dict[str, Any]) -> list[service.FileIn]:
    value = data.get("files") or []
    if not isinstance(value, list):
        raise Invalid(_l("%(name)s must be a list.", name="files"))
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise Invalid(_l('Each file is {"filename", "content_base64", "direction"}.'))
        try:
            raw = base64.b64decode(str(item.get("content_base64", "")), validate=True)
        except (binascii.Error, ValueError):
            raise Invalid(_l("content_base64 is not base64.")) from None
        out.append(
            service.FileIn(
                fields.text(item, "filename"), raw, fields.text(item, "direction") or "received"
            )
        )
    return out


def _finding_in(data: dict[str, Any]) -> dict[str, Any]:
    """What the body found, as the findings service takes it."""
    return {
        "department": fields.record_id(data, "department_id") or 0,
        "clause": fields.text(data, "clause"),
        "grade": fields.text(data, "grade") or "major",
        "description": fields.text(data, "description"),
        "evidence": fields.text(data, "evidence"),
        "process_number": fields.text(data, "process") or None,
        "raised_on": fields.day(data, "raised_on"),
    }


def step_json(s: Any) -> dict[str, Any]:
    return {
        "action": str(s.action),
        "state_before": str(s.state_before),
        "state_after": str(s.state_after),
        "on_date": s.on_date.isoformat(),
        "responsible": s.responsible,
        "note": s.note,
        "by": s.actor.username,
        "signed": s.signature_id is not None,
        "files": [
            {
                "filename": f.filename,
                "direction": f.direction,
                "size": f.size,
                "sha256": f.sha256,
                "content_type": f.content_type,
            }
            for f in s.files
        ],
    }


def nc_ref(nc: Any) -> dict[str, Any]:
    return {
        "id": nc.id,
        "number": nc.number,
        "grade": str(nc.grade),
        "state": str(nc.state),
        "source": str(nc.source),
        "source_id": nc.source_id,
    }


def certificates_json(certificates: list[Certificate]) -> list[dict[str, Any]]:
    """Certificates with their audits' findings and due dates, in a fixed number of queries."""
    from qms.certification import findings

    db = get_session()
    found = findings.audit_findings(db, [a.id for c in certificates for a in c.audits])
    due: dict[int, list[service.DueItem]] = {}
    for item in service.due_items(db, clock.today(), certificates):
        due.setdefault(item.certificate.id, []).append(item)
    return [certificate_json(c, found, due.get(c.id, [])) for c in certificates]


def certificate_json(
    c: Certificate, found: dict[int, list[Any]], due: list[service.DueItem]
) -> dict[str, Any]:
    return {
        "id": c.id,
        "number": c.number,
        "body": c.body.name,
        "kind": str(c.kind),
        "standard": c.standard,
        "scope": c.scope,
        "sites": c.sites,
        "decision_date": c.decision_date.isoformat(),
        "grant_date": c.grant_date.isoformat(),
        "expiry_date": c.expiry_date.isoformat(),
        "status": str(c.status),
        "previous_id": c.previous_id,
        "project_id": c.project_id,
        "audits": [
            {
                "id": a.id,
                "kind": a.kind,
                "held_on": a.held_on.isoformat(),
                "on_time": a.on_time,
                "major_nonconformities": a.major_nonconformities,
                "findings": [nc_ref(nc) for nc in found.get(a.id, [])],
            }
            for a in c.audits
        ],
        "due": [{"kind": d.kind, "due": d.due.isoformat()} for d in due],
    }


def project_json(p: CertificationProject, full: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": p.id,
        "ref": p.ref,
        "title": p.title,
        "body_id": p.body_id,
        "body": p.body.name,
        "consultant": p.consultant.name if p.consultant else None,
        "standard": p.standard,
        "state": str(p.state),
        "audit_report_on": p.audit_report_on.isoformat() if p.audit_report_on else None,
        "inspection_report_on": (
            p.inspection_report_on.isoformat() if p.inspection_report_on else None
        ),
    }
    if full:
        from qms.reviews.approvers import general_manager

        body |= {
            "scope": p.scope,
            "sites": p.sites,
            "application_text": p.application_text,
            "contract_text": p.contract_text,
            # what sign_application / sign_contract sign: send back the one you read
            "application_sha256": service.application_hash(p),
            "contract_sha256": service.contract_hash(p),
            "steps": [step_json(s) for s in p.steps],
            "next_actions": service.next_actions(p, current_user, general_manager(get_session())),
        }
    return body


@bp.route("/certifications")
@permission_required(Permission.VIEW_CERTIFICATION)
def list_projects() -> Any:
    import sqlalchemy as sa

    page, per_page = page_args()
    db = get_session()
    result = paginate(
        db, sa.select(CertificationProject).order_by(CertificationProject.id.desc()), page, per_page
    )
    return paged(result, [project_json(p) for p in result.items])


@bp.route("/certifications", methods=["POST"])
@permission_required(Permission.MANAGE_CERTIFICATION)
@idempotent()
def create_project() -> Any:
    data = json_body()
    db = get_session()
    consultant = service.optional_consultant(db, fields.record_id(data, "consultant_id"))
    project = service.create_project(
        db,
        current_user,
        title=fields.text(data, "title"),
        body=service.get_body(db, fields.record_id(data, "body_id")),
        consultant=consultant,
        standard=fields.text(data, "standard") or "GB/T 19001-2016 / ISO 9001:2015",
        scope=fields.text(data, "scope"),
        sites=fields.text(data, "sites"),
        application_text=fields.text(data, "application_text"),
        advice=fields.text(data, "advice"),
        advice_on=fields.day(data, "advice_on"),
    )
    db.commit()
    return jsonify(project_json(project, full=True)), 201


@bp.route("/certifications/<int:project_id>")
@permission_required(Permission.VIEW_CERTIFICATION)
def get_project(project_id: int) -> Any:
    return jsonify(project_json(service.get_project(get_session(), project_id), full=True))


def _certificate_in(db: Any, data: Any) -> service.CertificateIn | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise Invalid(_l("certificate must be an object."))
    kind = fields.choice(data, "kind", CertificateKind, "initial")
    previous_id = fields.record_id(data, "previous_id")
    previous = service.get_certificate(db, previous_id) if previous_id else None
    scan = _files({"files": [data["scan"]]})[0] if data.get("scan") else None
    return service.CertificateIn(
        number=fields.text(data, "number"),
        standard=fields.text(data, "standard"),
        scope=fields.text(data, "scope"),
        sites=fields.text(data, "sites"),
        decision_date=fields.day(data, "decision_date"),
        grant_date=fields.day(data, "grant_date"),
        expiry_date=fields.day(data, "expiry_date"),
        kind=kind,
        previous=previous,
        scan=scan,
    )


@bp.route("/certifications/<int:project_id>/transitions", methods=["POST"])
@permission_required(Permission.VIEW_CERTIFICATION)
def transition(project_id: int) -> Any:
    db = get_session()
    project = service.get_project(db, project_id)
    data = json_body()
    action = fields.choice(data, "action", ProjectAction)
    service.take_step(
        db,
        current_user,
        project,
        service.StepIn(
            action=action,
            on_date=fields.day(data, "on_date"),
            responsible=fields.text(data, "responsible"),
            note=fields.text(data, "note"),
            files=_files(data),
            password=fields.text(data, "password"),
            content_sha256=fields.text(data, "content_sha256") or None,
            certificate=_certificate_in(db, data.get("certificate")),
        ),
        attachment_dir=attachment_dir(),
        max_bytes=max_bytes(),
    )
    db.commit()
    return jsonify(project_json(project, full=True))


@bp.route("/certifications/<int:project_id>/findings", methods=["POST"])
@permission_required(Permission.MANAGE_CERTIFICATION)
@idempotent()
def raise_finding(project_id: int) -> Any:
    from qms.certification import findings

    db = get_session()
    project = service.get_project(db, project_id)
    data = json_body()
    nc = findings.raise_finding(
        db,
        current_user,
        project,
        **_finding_in(data),
    )
    db.commit()
    return jsonify(nc_ref(nc)), 201


@bp.route("/certificates")
@permission_required(Permission.VIEW_CERTIFICATION)
def list_certificates() -> Any:
    import sqlalchemy as sa

    page, per_page = page_args()
    db = get_session()
    result = paginate(
        db,
        sa.select(Certificate)
        .options(selectinload(Certificate.audits))
        .order_by(Certificate.id.desc()),
        page,
        per_page,
    )
    return paged(result, certificates_json(list(result.items)))


@bp.route("/certificates/<int:certificate_id>")
@permission_required(Permission.VIEW_CERTIFICATION)
def get_certificate(certificate_id: int) -> Any:
    certificate = service.get_certificate(get_session(), certificate_id)
    return jsonify(certificates_json([certificate])[0])


@bp.route("/certificates/<int:certificate_id>/audits", methods=["POST"])
@permission_required(Permission.MANAGE_CERTIFICATION)
@idempotent()
def record_audit(certificate_id: int) -> Any:
    db = get_session()
    certificate = service.get_certificate(db, certificate_id)
    data = json_body()
    on_time = data.get("on_time", False)
    if not isinstance(on_time, bool):
        raise Invalid(_l("%(name)s must be true or false.", name="on_time"))
    service.record_audit(
        db,
        current_user,
        certificate,
        kind=fields.text(data, "kind"),
        held_on=fields.day(data, "held_on", required=True),
        on_time=on_time,
        major_nonconformities=fields.whole(data, "major_nonconformities") or 0,
        note=fields.text(data, "note"),
    )
    db.commit()
    return jsonify(certificates_json([certificate])[0]), 201


@bp.route("/certificates/<int:certificate_id>/findings", methods=["POST"])
@permission_required(Permission.MANAGE_CERTIFICATION)
@idempotent()
def raise_audit_finding(certificate_id: int) -> Any:
    from qms.certification import findings

    db = get_session()
    certificate = service.get_certificate(db, certificate_id)
    data = json_body()
    audit_id = fields.record_id(data, "audit_id")
    if audit_id is None:
        raise Invalid(_l("Name the audit (audit_id) the body found it at."), code="audit_required")
    nc = findings.raise_audit_finding(
        db,
        current_user,
        service.get_certificate_audit(db, certificate, audit_id),
        **_finding_in(data),
    )
    db.commit()
    return jsonify(nc_ref(nc)), 201


@bp.route("/certification/calendar.ics")
def calendar_feed() -> Any:
    """An API token in the header, or the user's feed token in the URL (what Outlook can
    send); the view checks both itself, so it is not behind permission_required."""
    db = get_session()
    bearer = request.headers.get("Authorization", "").startswith("Bearer ")
    user = current_user if bearer and current_user.is_authenticated else None
    if user is None:
        user = service.user_for_feed_token(db, request.args.get("token", ""))
    if user is None and current_user.is_authenticated and not bearer:
        # a browser session is not a token: the signed-in page offers the download
        raise Forbidden(
            _l(
                "The calendar feed needs a token: an API token in the Authorization "
                "header or your calendar address with its token."
            ),
            code="token_required",
        )
    if user is not None and not user.can(Permission.VIEW_CERTIFICATION):
        raise Forbidden(
            _l("Your role does not include the certification calendar."),
            code="forbidden",
        )
    if user is None:
        response = jsonify(
            {
                "error": {
                    "code": "unauthorized",
                    "message": _(
                        "The calendar needs a token: an API token in the Authorization header or "
                        "your calendar address with its token."
                    ),
                }
            }
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="qms"'
        return response, 401
    return Response(
        feed_bytes(db),
        mimetype="text/calendar",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": "inline; filename=certification.ics",
        },
    )


# who may read it once the token has named the user
calendar_feed.required_permissions = (  # type: ignore[attr-defined]
    Permission.VIEW_CERTIFICATION,
)


def feed_bytes(db: Any) -> bytes:
    from qms.certification import ics
    from qms.certification.labels import DUE_LABELS
    from qms.db import utcnow

    events = [
        (
            f"cert-{i.certificate.id}-{i.kind}-{i.due.isoformat()}",
            i.due,
            f"{DUE_LABELS[i.kind]} · {i.certificate.number}",
            f"{i.certificate.body.name} {i.certificate.number} {i.certificate.standard}\n"
            f"{i.certificate.scope}",
        )
        for i in service.due_items(db, clock.today())
    ]
    return ics.calendar(events, host=request.host or "qms", stamp=utcnow())


_ID = {
    "name": "project_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
_CERT_ID = {
    "name": "certificate_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
_FINDING_PROPERTIES = {
    "department_id": {"type": "integer", "minimum": 1},
    "clause": STRING,
    "grade": {"enum": ["major", "minor"]},
    "process": STRING,
    "description": STRING,
    "evidence": STRING,
    "raised_on": DATE,
}
_FILE = {
    "type": "object",
    "required": ["filename", "content_base64"],
    "properties": {
        "filename": STRING,
        "content_base64": STRING,
        "direction": {"enum": ["received", "sent"]},
    },
}
_CERT_IN = {
    "type": "object",
    "properties": {
        "number": STRING,
        "standard": STRING,
        "scope": STRING,
        "sites": STRING,
        "decision_date": DATE,
        "grant_date": DATE,
        "expiry_date": DATE,
        "kind": {"enum": [str(k) for k in CertificateKind]},
        "previous_id": {"type": "integer", "minimum": 1},
        "scan": _FILE,
    },
}

OPENAPI_PATHS = {
    "/api/v1/certifications": {
        "get": op("Certification projects (handbook 5.1), newest first", 403, params=PAGE_PARAMS),
        "post": idempotent_operation(
            op(
                "Start a certification project with the consultant's advice (quality manager or "
                "clerk)",
                403,
                409,
                422,
                ok="201",
                body={
                    "type": "object",
                    "required": ["title", "body_id", "scope"],
                    "properties": {
                        "title": STRING,
                        "body_id": {"type": "integer", "minimum": 1},
                        "consultant_id": {"type": "integer", "minimum": 1},
                        "standard": STRING,
                        "scope": STRING,
                        "sites": STRING,
                        "application_text": STRING,
                        "advice": STRING,
                        "advice_on": DATE,
                    },
                },
            )
        ),
    },
    "/api/v1/certifications/{project_id}": {
        "get": op(
            "A certification project with its steps and next actions", 403, 404, params=[_ID]
        ),
    },
    "/api/v1/certifications/{project_id}/transitions": {
        "post": op(
            "Take the next step (sign_application and sign_contract: the general "
            "manager, with password and the content_sha256 read; certify: with the "
            "certificate)",
            403,
            404,
            409,
            413,
            422,
            params=[_ID],
            body={
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"enum": [str(a) for a in ProjectAction]},
                    "on_date": DATE,
                    "responsible": STRING,
                    "note": STRING,
                    "password": STRING,
                    "content_sha256": {
                        "type": "string",
                        "description": "application_sha256 / contract_sha256 you read",
                    },
                    "files": {"type": "array", "items": _FILE},
                    "certificate": _CERT_IN,
                },
            },
        ),
    },
    "/api/v1/certifications/{project_id}/findings": {
        "post": idempotent_operation(
            op(
                "Record a nonconformity the body found (document review, pre-audit, audit): it "
                "goes into the nonconformity register with source certification; an open major "
                "one blocks accepting documents, planning the audit or inspection and the "
                "decision",
                403,
                404,
                409,
                422,
                ok="201",
                params=[_ID],
                body={
                    "type": "object",
                    "required": ["department_id", "clause", "description", "evidence"],
                    "properties": _FINDING_PROPERTIES,
                },
            )
        ),
    },
    "/api/v1/certificates": {
        "get": op(
            "Certificates, earlier ones included, with their next due dates",
            403,
            params=PAGE_PARAMS,
        ),
    },
    "/api/v1/certificates/{certificate_id}": {
        "get": op(
            "A certificate with its audits, their findings and its due dates",
            403,
            404,
            params=[_CERT_ID],
        ),
    },
    "/api/v1/certificates/{certificate_id}/audits": {
        "post": idempotent_operation(
            op(
                "Record a surveillance or recertification audit held; whether it was on time "
                "is computed, and one recorded as on time after its limit is refused",
                403,
                404,
                409,
                422,
                ok="201",
                params=[_CERT_ID],
                body={
                    "type": "object",
                    "required": ["kind", "held_on"],
                    "properties": {
                        "kind": {"enum": ["surveillance", "recertification"]},
                        "held_on": DATE,
                        "on_time": BOOLEAN,
                        "major_nonconformities": {"type": "integer", "minimum": 0},
                        "note": STRING,
                    },
                },
            )
        ),
    },
    "/api/v1/certificates/{certificate_id}/findings": {
        "post": idempotent_operation(
            op(
                "Record a nonconformity the body found at one of the certificate's audits: "
                "it goes into the nonconformity register with source certificate_audit; a "
                "major one stays due until corrected and verified, 6 months after its audit",
                403,
                404,
                409,
                422,
                ok="201",
                params=[_CERT_ID],
                body={
                    "type": "object",
                    "required": ["audit_id", "department_id", "clause", "description", "evidence"],
                    "properties": {
                        "audit_id": {"type": "integer", "minimum": 1},
                        **_FINDING_PROPERTIES,
                    },
                },
            )
        ),
    },
    "/api/v1/certification/calendar.ics": {
        "get": op(
            "The certification due dates as iCalendar, with alarms 90, 30 and 7 days "
            "before (an API token in the Authorization header, or ?token= the user's "
            "calendar feed token; 401 without a token, 403 for a role without the "
            "certification calendar)",
            403,
            params=[
                {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}}
            ],
            content_type="text/calendar",
        ),
    },
}

_PROJECT_FIELDS: dict[str, Any] = {
    "id": INTEGER,
    "ref": STRING,
    "title": STRING,
    "body_id": INTEGER,
    "body": STRING,
    "consultant": nullable(STRING),
    "standard": STRING,
    "state": STRING,
    "audit_report_on": nullable(DATE),
    "inspection_report_on": nullable(DATE),
}
OPENAPI_SCHEMAS = {
    "CertificationFinding": obj(
        id=INTEGER,
        number=STRING,
        grade=STRING,
        state=STRING,
        source=STRING,
        source_id=nullable(INTEGER),
    ),
    "CertificationProjectSummary": obj(**_PROJECT_FIELDS),
    "CertificationProject": obj(
        **_PROJECT_FIELDS,
        scope=STRING,
        sites=STRING,
        application_text=STRING,
        contract_text=STRING,
        application_sha256=STRING,
        contract_sha256=STRING,
        steps=array(
            obj(
                action=STRING,
                state_before=STRING,
                state_after=STRING,
                on_date=DATE,
                responsible=STRING,
                note=STRING,
                by=STRING,
                signed=BOOLEAN,
                files=array(
                    obj(
                        filename=STRING,
                        direction=STRING,
                        size=INTEGER,
                        sha256=STRING,
                        content_type=STRING,
                    )
                ),
            )
        ),
        next_actions=array(STRING),
    ),
    "Certificate": obj(
        id=INTEGER,
        number=STRING,
        body=STRING,
        kind=STRING,
        standard=STRING,
        scope=STRING,
        sites=STRING,
        decision_date=DATE,
        grant_date=DATE,
        expiry_date=DATE,
        status=STRING,
        previous_id=nullable(INTEGER),
        project_id=nullable(INTEGER),
        audits=array(
            obj(
                id=INTEGER,
                kind=STRING,
                held_on=DATE,
                on_time=BOOLEAN,
                major_nonconformities=INTEGER,
                findings=array(ref("CertificationFinding")),
            )
        ),
        due=array(obj(kind=STRING, due=DATE)),
    ),
}
OPENAPI_RESPONSES = {
    "/api/v1/certifications": {
        "get": page_of(ref("CertificationProjectSummary")),
        "post": ref("CertificationProject"),
    },
    "/api/v1/certifications/{project_id}": {"get": ref("CertificationProject")},
    "/api/v1/certifications/{project_id}/transitions": {"post": ref("CertificationProject")},
    "/api/v1/certificates": {"get": page_of(ref("Certificate"))},
    "/api/v1/certifications/{project_id}/findings": {"post": ref("CertificationFinding")},
    "/api/v1/certificates/{certificate_id}": {"get": ref("Certificate")},
    "/api/v1/certificates/{certificate_id}/audits": {"post": ref("Certificate")},
    "/api/v1/certificates/{certificate_id}/findings": {"post": ref("CertificationFinding")},
    "/api/v1/certification/calendar.ics": {"get": STRING},
}
