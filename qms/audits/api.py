"""JSON endpoints of internal audits and the annual audit programme."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, jsonify
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms.api import fields, json_body, page_args, paged
from qms.api.idempotency import idempotent, idempotent_operation
from qms.api.openapi import (
    BOOLEAN,
    DATE,
    INTEGER,
    PAGE_PARAMS,
    STRING,
    STRINGS,
    TIMESTAMP,
    array,
    nullable,
    obj,
    op,
    page_of,
    ref,
)
from qms.audits import service
from qms.audits.lifecycle import AuditAction, ProgrammeAction
from qms.audits.links import _people_of_audits
from qms.audits.models import Audit, AuditFinding, AuditProgramme, Grade, Result
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.auth.signatures import seen_hash
from qms.db import get_session
from qms.errors import Forbidden, Invalid, NotFound
from qms.pagination import paginate
from qms.web import permission_required

bp = Blueprint("audits_api", __name__)


def _load(audit_id: int) -> Audit:
    audit = get_session().get(Audit, audit_id)
    if audit is None or not service.may_see(get_session(), current_user, audit):
        raise NotFound(_l("There is no audit %(id)s.", id=audit_id))
    return audit


def _programme(programme_id: int) -> AuditProgramme:
    programme = get_session().get(AuditProgramme, programme_id)
    if programme is None or not _people_of_audits(current_user):
        raise NotFound(_l("There is no audit programme %(id)s.", id=programme_id))
    return programme


def _user(db: Any, username: str, what: str) -> User:
    user = db.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise Invalid(
            _l("Unknown user %(name)s (%(what)s).", name=username, what=what), code="unknown_user"
        )
    return user


def finding_json(f: AuditFinding) -> dict[str, Any]:
    return {
        "number": f.number,
        "grade": str(f.grade),
        "criterion": f.criterion,
        "clause": f.clause,
        "process_number": f.process_number,
        "description": f.description,
        "evidence": f.evidence,
        "raised_by": f.raised_by.username,
        "raised_at": f.raised_at.isoformat(),
        "acknowledged_by": f.acknowledged_by.username if f.acknowledged_by else None,
        "acknowledged_at": f.acknowledged_at.isoformat() if f.acknowledged_at else None,
        "nonconformity_id": f.nonconformity_id,
        "content_sha256": service.finding_hash(f),
    }


def audit_json(a: Audit, full: bool = False, add: Any = None) -> dict[str, Any]:
    db = get_session()
    body: dict[str, Any] = {
        "id": a.id,
        "ref": a.ref,
        "title": a.title,
        "programme_year": a.programme.year,
        "department": a.department.code,
        "state": str(a.state),
        "status": str(service.status(db, a, add=add)),
        "audit_date": a.audit_date.isoformat(),
        "lead_auditor": a.lead_auditor.username if a.lead_auditor else None,
    }
    if full:
        body |= {
            "objectives": a.objectives,
            "scope": a.scope,
            "place": a.place,
            "team": [m.user.username for m in a.team],
            "criteria": [
                {
                    "id": c.id,
                    "clause": c.clause or None,
                    "document": c.document.number if c.document else None,
                    "revision": c.revision.label if c.revision else None,
                }
                for c in a.criteria
            ],
            "later_revisions": [
                {
                    "criterion_id": x.criterion.id,
                    "document": x.revision.document.number,
                    "revision": x.revision.label,
                }
                for x in service.later_revisions(db, a)
            ],
            "notice_date": a.notice_date.isoformat() if a.notice_date else None,
            "closing_date": a.closing_date.isoformat() if a.closing_date else None,
            "report_due": a.report_due.isoformat() if a.report_due else None,
            "report_late": service.report_late(a),
            "checklist": [
                {
                    "id": i.id,
                    "position": i.position,
                    "source": i.source,
                    "clause": i.clause,
                    "question": i.question,
                    "result": str(i.result),
                    "evidence": i.evidence,
                }
                for i in a.checklist
            ],
            "findings": [finding_json(f) for f in a.findings],
            "conclusions": a.conclusions,
            "conformity_degree": a.conformity_degree,
            "diverging_opinions": a.diverging_opinions,
            "distribution": a.distribution,
            # what approve_report signs: send back the one you read
            "report_sha256": service.report_hash(a),
            "next_actions": [str(m) for m in service.moves_for(db, current_user, a)],
        }
    return body


def programme_json(p: AuditProgramme) -> dict[str, Any]:
    db = get_session()
    return {
        "id": p.id,
        "year": p.year,
        "state": str(p.state),
        "notes": p.notes,
        "audits": [a.id for a in p.audits],
        "departments_missing": [d.code for d in service.uncovered(db, p)],
        "content_sha256": service.programme_hash(p),
    }


@bp.route("/audits")
@permission_required(Permission.READ_DOCUMENTS)
def list_audits() -> Any:
    page, per_page = page_args()
    db = get_session()
    stmt = sa.select(Audit)
    if not _people_of_audits(current_user):
        stmt = stmt.where(Audit.department_id == (current_user.department_id or 0))
    result = paginate(db, stmt.order_by(Audit.audit_date.desc(), Audit.id.desc()), page, per_page)
    add = service.working_days(db)
    return paged(result, [audit_json(a, add=add) for a in result.items])


@bp.route("/audits", methods=["POST"])
@permission_required(Permission.MANAGE_AUDITS)
@idempotent()
def create_audit() -> Any:
    data = json_body()
    db = get_session()
    year = fields.whole(data, "programme_year")
    day = fields.day(data, "audit_date", required=True) or date.min
    programme = db.scalar(
        sa.select(AuditProgramme).where(AuditProgramme.year == (year or day.year))
    )
    if programme is None:
        raise Invalid(
            _l("There is no audit programme for %(year)s.", year=year or day.year),
            code="no_programme",
        )
    department = db.scalar(
        sa.select(Department).where(Department.code == fields.text(data, "department"))
    )
    if department is None:
        raise Invalid(
            _l("Unknown department %(code)s.", code=data.get("department")),
            code="unknown_department",
        )
    lead = fields.text(data, "lead_auditor")
    audit = service.plan_audit(
        db,
        current_user,
        programme,
        department=department,
        title=fields.text(data, "title"),
        audit_date=day,
        objectives=fields.text(data, "objectives"),
        scope=fields.text(data, "scope"),
        place=fields.text(data, "place"),
        lead_auditor=_user(db, lead, "lead_auditor") if lead else None,
        team=[_user(db, u, "team") for u in fields.texts(data, "team")],
        clauses=fields.texts(data, "clauses"),
        documents=fields.texts(data, "documents"),
    )
    db.commit()
    return jsonify(audit_json(audit, full=True)), 201


@bp.route("/audits/<int:audit_id>")
@permission_required(Permission.READ_DOCUMENTS)
def get_audit(audit_id: int) -> Any:
    return jsonify(audit_json(_load(audit_id), full=True))


@bp.route("/audits/<int:audit_id>/findings", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
@idempotent()
def add_finding(audit_id: int) -> Any:
    audit = _load(audit_id)
    data = json_body()
    db = get_session()
    finding = service.raise_finding(
        db,
        current_user,
        audit,
        grade=fields.text(data, "grade"),
        description=fields.text(data, "description"),
        evidence=fields.text(data, "evidence"),
        criterion=fields.text(data, "criterion"),
        clause=fields.text(data, "clause"),
        process_number=fields.text(data, "process_number"),
        item_id=fields.whole(data, "item_id") or None,
    )
    db.commit()
    return jsonify(finding_json(finding)), 201


WORK = ("acknowledge", "edit_report", "fill_item", "generate_checklist", "move_pin")


@bp.route("/audits/<int:audit_id>/transitions", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def transition(audit_id: int) -> Any:
    """A step of the audit, or work inside one (acknowledge a finding, fill an item …)."""
    audit = _load(audit_id)
    data = json_body()
    db = get_session()
    action = fields.text(data, "action")
    if action == "acknowledge":
        service.acknowledge(
            db,
            current_user,
            audit,
            fields.whole(data, "number") or 0,
            password=fields.text(data, "password"),
            content_sha256=seen_hash(data),
        )
    elif action == "edit_report":
        service.edit_report(
            db,
            current_user,
            audit,
            conclusions=fields.text(data, "conclusions"),
            conformity_degree=fields.text(data, "conformity_degree"),
            diverging_opinions=fields.text(data, "diverging_opinions"),
            distribution=fields.text(data, "distribution"),
        )
    elif action == "fill_item":
        service.edit_item(
            db,
            current_user,
            audit,
            fields.whole(data, "item_id") or 0,
            result=data.get("result") and fields.text(data, "result"),
            evidence=fields.text(data, "evidence") if "evidence" in data else None,
        )
    elif action == "generate_checklist":
        service.generate_checklist(db, current_user, audit)
    elif action == "move_pin":
        service.move_pin(
            db,
            current_user,
            audit,
            fields.whole(data, "criterion_id") or 0,
            reason=fields.text(data, "reason"),
        )
    else:
        present = [_user(db, u, "present").id for u in fields.texts(data, "present")]
        service.apply_move(
            db,
            current_user,
            audit,
            action,
            password=fields.text(data, "password"),
            content_sha256=seen_hash(data),
            reason=fields.text(data, "reason"),
            present=present,
            held_on=fields.day(data, "held_on"),
            notice_date=fields.day(data, "notice_date"),
        )
    db.commit()
    return jsonify(audit_json(audit, full=True))


@bp.route("/audit-programmes")
@permission_required(Permission.READ_DOCUMENTS)
def list_programmes() -> Any:
    page, per_page = page_args()
    db = get_session()
    if not _people_of_audits(current_user):
        raise Forbidden(
            _l("Audit programmes are for the planners, auditors and the general manager.")
        )
    result = paginate(
        db, sa.select(AuditProgramme).order_by(AuditProgramme.year.desc()), page, per_page
    )
    return paged(result, [programme_json(p) for p in result.items])


@bp.route("/audit-programmes", methods=["POST"])
@permission_required(Permission.MANAGE_AUDITS)
@idempotent()
def create_programme() -> Any:
    data = json_body()
    db = get_session()
    year = fields.whole(data, "year")
    if year is None:
        raise Invalid(_l("Give the year."), code="year_required")
    programme = service.create_programme(
        db, current_user, year=year, notes=fields.text(data, "notes")
    )
    db.commit()
    return jsonify(programme_json(programme)), 201


@bp.route("/audit-programmes/<int:programme_id>")
@permission_required(Permission.READ_DOCUMENTS)
def get_programme(programme_id: int) -> Any:
    return jsonify(programme_json(_programme(programme_id)))


@bp.route("/audit-programmes/<int:programme_id>/transitions", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def programme_transition(programme_id: int) -> Any:
    programme = _programme(programme_id)
    data = json_body()
    db = get_session()
    action = fields.text(data, "action")
    if action == ProgrammeAction.SUBMIT:
        service.submit_programme(db, current_user, programme)
    elif action == ProgrammeAction.APPROVE:
        service.approve_programme(
            db,
            current_user,
            programme,
            password=fields.text(data, "password"),
            content_sha256=seen_hash(data),
            comment=fields.text(data, "reason"),
        )
    elif action == ProgrammeAction.RETURN:
        service.return_programme(db, current_user, programme, reason=fields.text(data, "reason"))
    else:
        raise Invalid(
            _l("%(action)s is not a step of a programme.", action=action), code="bad_action"
        )
    db.commit()
    return jsonify(programme_json(programme))


_ID = {"name": "audit_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_PID = {"name": "programme_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_S = {"type": "string"}
_LIST = {"type": "array", "items": {"type": "string"}}

OPENAPI_PATHS = {
    "/api/v1/audits": {
        "get": op("Internal audits the user may see, latest first", params=PAGE_PARAMS),
        "post": idempotent_operation(
            op(
                "Plan an audit in its year's programme (quality manager or clerk)",
                403,
                404,
                409,
                422,
                ok="201",
                body={
                    "type": "object",
                    "required": ["title", "department", "audit_date"],
                    "properties": {
                        "title": _S,
                        "department": _S,
                        "audit_date": {"type": "string", "format": "date"},
                        "programme_year": {"type": "integer"},
                        "objectives": _S,
                        "scope": _S,
                        "place": _S,
                        "lead_auditor": _S,
                        "team": _LIST,
                        "clauses": {"type": "array", "items": {"enum": list(service.ISO_CLAUSES)}},
                        "documents": _LIST,
                    },
                },
            )
        ),
    },
    "/api/v1/audits/{audit_id}": {
        "get": op("An audit with its criteria, checklist, findings and report", 404, params=[_ID]),
    },
    "/api/v1/audits/{audit_id}/findings": {
        "post": idempotent_operation(
            op(
                "Raise a finding (the audit team, between the opening meeting and the report); a "
                "nonconformity is recorded on BD-PZ-008",
                403,
                404,
                409,
                422,
                ok="201",
                params=[_ID],
                body={
                    "type": "object",
                    "required": ["grade", "description"],
                    "properties": {
                        "grade": {"enum": [str(g) for g in Grade]},
                        "description": _S,
                        "evidence": _S,
                        "criterion": _S,
                        "clause": {"enum": list(service.ISO_CLAUSES)},
                        "process_number": _S,
                        "item_id": {"type": "integer"},
                    },
                },
            )
        ),
    },
    "/api/v1/audits/{audit_id}/transitions": {
        "post": op(
            "Take a step of the audit (notify, open_meeting, close_meeting, "
            "submit_report, approve_report with password and content_sha256, "
            "return_report, cancel) or work inside one (acknowledge with password and "
            "content_sha256, edit_report, fill_item, generate_checklist, move_pin)",
            403,
            404,
            409,
            422,
            params=[_ID],
            body={
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"enum": [str(a) for a in AuditAction] + list(WORK)},
                    "password": _S,
                    "content_sha256": {
                        "type": "string",
                        "description": "approve_report: report_sha256; acknowledge: "
                        "the finding's content_sha256",
                    },
                    "reason": _S,
                    "present": _LIST,
                    "held_on": {"type": "string", "format": "date"},
                    "notice_date": {"type": "string", "format": "date"},
                    "number": {"type": "integer"},
                    "item_id": {"type": "integer"},
                    "criterion_id": {"type": "integer"},
                    "result": {"enum": [str(r) for r in Result]},
                    "evidence": _S,
                    "conclusions": _S,
                    "conformity_degree": _S,
                    "diverging_opinions": _S,
                    "distribution": _S,
                },
            },
        ),
    },
    "/api/v1/audit-programmes": {
        "get": op("Annual audit programmes, latest year first", 403, params=PAGE_PARAMS),
        "post": idempotent_operation(
            op(
                "Create the audit programme of a year",
                403,
                409,
                422,
                ok="201",
                body={
                    "type": "object",
                    "required": ["year"],
                    "properties": {"year": {"type": "integer"}, "notes": _S},
                },
            )
        ),
    },
    "/api/v1/audit-programmes/{programme_id}": {
        "get": op(
            "An audit programme, its audits and the departments it misses", 404, params=[_PID]
        ),
    },
    "/api/v1/audit-programmes/{programme_id}/transitions": {
        "post": op(
            "submit, approve (general manager, with password and content_sha256) or "
            "return a programme",
            403,
            404,
            409,
            422,
            params=[_PID],
            body={
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"enum": [str(a) for a in ProgrammeAction]},
                    "password": _S,
                    "content_sha256": _S,
                    "reason": _S,
                },
            },
        ),
    },
}

_AUDIT_FIELDS: dict[str, Any] = {
    "id": INTEGER,
    "ref": STRING,
    "title": STRING,
    "programme_year": INTEGER,
    "department": STRING,
    "state": STRING,
    "status": STRING,
    "audit_date": DATE,
    "lead_auditor": nullable(STRING),
}
OPENAPI_SCHEMAS = {
    "AuditFinding": obj(
        number=INTEGER,
        grade=STRING,
        criterion=STRING,
        clause=STRING,
        process_number=STRING,
        description=STRING,
        evidence=STRING,
        raised_by=STRING,
        raised_at=TIMESTAMP,
        acknowledged_by=nullable(STRING),
        acknowledged_at=nullable(TIMESTAMP),
        nonconformity_id=nullable(INTEGER),
        content_sha256=STRING,
    ),
    "AuditSummary": obj(**_AUDIT_FIELDS),
    "Audit": obj(
        **_AUDIT_FIELDS,
        objectives=STRING,
        scope=STRING,
        place=STRING,
        team=STRINGS,
        criteria=array(
            obj(
                id=INTEGER,
                clause=nullable(STRING),
                document=nullable(STRING),
                revision=nullable(STRING),
            )
        ),
        later_revisions=array(obj(criterion_id=INTEGER, document=STRING, revision=STRING)),
        notice_date=nullable(DATE),
        closing_date=nullable(DATE),
        report_due=nullable(DATE),
        report_late=BOOLEAN,
        checklist=array(
            obj(
                id=INTEGER,
                position=INTEGER,
                source=STRING,
                clause=STRING,
                question=STRING,
                result=STRING,
                evidence=STRING,
            )
        ),
        findings=array(ref("AuditFinding")),
        conclusions=STRING,
        conformity_degree=STRING,
        diverging_opinions=STRING,
        distribution=STRING,
        report_sha256=STRING,
        next_actions=STRINGS,
    ),
    "AuditProgramme": obj(
        id=INTEGER,
        year=INTEGER,
        state=STRING,
        notes=STRING,
        audits=array(INTEGER),
        departments_missing=STRINGS,
        content_sha256=STRING,
    ),
}
OPENAPI_RESPONSES = {
    "/api/v1/audits": {"get": page_of(ref("AuditSummary")), "post": ref("Audit")},
    "/api/v1/audits/{audit_id}": {"get": ref("Audit")},
    "/api/v1/audits/{audit_id}/findings": {"post": ref("AuditFinding")},
    "/api/v1/audits/{audit_id}/transitions": {"post": ref("Audit")},
    "/api/v1/audit-programmes": {
        "get": page_of(ref("AuditProgramme")),
        "post": ref("AuditProgramme"),
    },
    "/api/v1/audit-programmes/{programme_id}": {"get": ref("AuditProgramme")},
    "/api/v1/audit-programmes/{programme_id}/transitions": {"post": ref("AuditProgramme")},
}
