"""JSON endpoints of nonconformities (on the conventions of qms/api)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

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
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.auth.signatures import seen_hash
from qms.db import get_session
from qms.errors import Invalid, NotFound
from qms.nonconformity import queries, rules, service
from qms.nonconformity.models import CorrectiveAction, Nonconformity
from qms.nonconformity.rules import Grade, NcAction, NcState, Source
from qms.pagination import paginate
from qms.web import permission_required

bp = Blueprint("nonconformity_api", __name__)


def _load(nc_id: int) -> Nonconformity:
    nc = get_session().get(Nonconformity, nc_id)
    if nc is None or not service.can_view(current_user, nc):
        raise NotFound(_l("There is no nonconformity %(id)s.", id=nc_id))
    return nc


def _user(data: dict[str, Any], name: str) -> User | None:
    username = fields.text(data, name)
    if not username:
        return None
    user = get_session().scalars(sa.select(User).where(User.username == username)).first()
    if user is None:
        raise Invalid(_l("Unknown user %(name)s (%(what)s).", name=username, what=name))
    return user


def _action(nc: Nonconformity, data: dict[str, Any]) -> CorrectiveAction:
    action_id = fields.whole(data, "action_id")
    if action_id is None:
        raise Invalid(_l("action_id names the corrective action."))
    return service.get_action(get_session(), nc, action_id)


def action_json(a: CorrectiveAction) -> dict[str, Any]:
    return {
        "id": a.id,
        "round": a.round,
        "description": a.description,
        "owner": a.owner.username,
        "due_on": a.due_on.isoformat(),
        "status": str(a.status),
        "done_on": a.done_on.isoformat() if a.done_on else None,
        "done_note": a.done_note,
        "revision": {
            "document": a.revision.document.number,
            "revision": a.revision.label,
            "state": str(a.revision.state),
        }
        if a.revision
        else None,
    }


def nc_json(
    nc: Nonconformity, *, full: bool = False, overdue: bool | None = None, asker: bool = True
) -> dict[str, Any]:
    """The JSON of a nonconformity; with asker=False, without what the signed-in person may
    do next (a record for the evidence pack)."""
    today = clock.today()
    body: dict[str, Any] = {
        "id": nc.id,
        "number": nc.number,
        "source": str(nc.source),
        "source_id": nc.source_id,
        "source_label": nc.source_label,
        "department": nc.department.code,
        "clause": nc.clause,
        "process_number": nc.process_number,
        "grade": str(nc.grade),
        "description": nc.description,
        "raised_on": nc.raised_on.isoformat(),
        "raised_by": nc.raised_by.username,
        "owner": nc.owner.username if nc.owner else None,
        "state": str(nc.state),
        "cause_due": nc.cause_due.isoformat(),
        "correction_due": nc.correction_due.isoformat(),
        "overdue": service.is_overdue(nc, today) if overdue is None else bool(overdue),
    }
    if full:
        earliest = service.earliest_verification(nc)
        body |= {
            "evidence": nc.evidence,
            "whys": list(nc.whys or []),
            "root_cause": nc.root_cause,
            "correction": nc.correction,
            "plan": nc.plan,
            "round": nc.round,
            "verification_interval_days": nc.verification_interval_days,
            "actions_completed_on": nc.actions_completed_on.isoformat()
            if nc.actions_completed_on
            else None,
            "earliest_verification": earliest.isoformat() if earliest else None,
            "closed_on": nc.closed_on.isoformat() if nc.closed_on else None,
            "actions": [action_json(a) for a in nc.actions],
            "verifications": [
                {
                    "round": v.round,
                    "verifier": v.verifier.username,
                    "verified_on": v.verified_on.isoformat(),
                    "effective": v.effective,
                    "comment": v.comment,
                }
                for v in nc.verifications
            ],
            # what verify_effective / verify_ineffective sign: send back the one you read
            "content_sha256": nc.content_sha256(),
        }
        if asker:
            body["next_actions"] = [
                str(a)
                for a in rules.allowed_actions(nc.state, service.actors_for(current_user, nc))
            ]
    return body


def _choice(value: str, choices: type[Any]) -> str:
    return value if value in {str(c) for c in choices} else ""


@bp.route("/nonconformities")
@permission_required(Permission.READ_DOCUMENTS)
def list_nonconformities() -> Any:
    page, per_page = page_args()
    args = request.args
    filters = {
        "state": _choice(args.get("state", ""), NcState),
        "grade": _choice(args.get("grade", ""), Grade),
        "source": _choice(args.get("source", ""), Source),
        "department": args.get("department", "")[:16],
        "clause": args.get("clause", "")[:20],
        "process": args.get("process", "")[:32],
        "overdue": args.get("overdue") in ("1", "true"),
    }
    db = get_session()
    result = paginate(
        db, queries.register(current_user, filters, clock.today()), page, per_page, scalars=False
    )
    return paged(result, [nc_json(nc, overdue=late) for nc, late in result.items])


@bp.route("/nonconformities", methods=["POST"])
@permission_required(Permission.RAISE_NONCONFORMITIES)
@idempotent()
def raise_nonconformity() -> Any:
    data = json_body()
    db = get_session()
    code = fields.text(data, "department")
    department = db.scalar(sa.select(Department).where(Department.code == code))
    if department is None:
        raise Invalid(_l("Unknown department %(code)s.", code=code), code="department_invalid")
    interval = fields.whole(data, "verification_interval_days")
    nc = service.raise_nonconformity(
        db,
        actor=current_user,
        source=fields.text(data, "source", "other") or "other",
        source_id=fields.whole(data, "source_id"),
        source_label=fields.text(data, "source_label"),
        department=department,
        clause=fields.text(data, "clause"),
        process_number=fields.text(data, "process_number") or None,
        grade=fields.text(data, "grade"),
        description=fields.text(data, "description"),
        evidence=fields.text(data, "evidence"),
        raised_on=fields.day(data, "raised_on"),
        owner=_user(data, "owner"),
        verification_interval_days=interval,
    )
    db.commit()
    return jsonify(nc_json(nc, full=True)), 201


@bp.route("/nonconformities/<int:nc_id>")
@permission_required(Permission.READ_DOCUMENTS)
def get_nonconformity(nc_id: int) -> Any:
    return jsonify(nc_json(_load(nc_id), full=True))


@bp.route("/nonconformities/<int:nc_id>/actions", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
@idempotent()
def add_action(nc_id: int) -> Any:
    nc = _load(nc_id)
    data = json_body()
    db = get_session()
    due_on = fields.day(data, "due_on")
    if due_on is None:
        raise Invalid(_l("Give the due date."), code="due_required")
    owner = _user(data, "owner")
    if owner is None:
        raise Invalid(_l("Name the action's owner."), code="owner_required")
    action = service.add_action(
        db,
        current_user,
        nc,
        description=fields.text(data, "description"),
        owner=owner,
        due_on=due_on,
    )
    db.commit()
    return jsonify(action_json(action)), 201


@bp.route("/nonconformities/<int:nc_id>/transitions", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def transition(nc_id: int) -> Any:
    nc = _load(nc_id)
    data = json_body()
    db = get_session()
    action = fields.text(data, "action")
    me = current_user
    if action == NcAction.RECORD_CAUSE:
        whys = data.get("whys")
        if not isinstance(whys, list) or not all(isinstance(w, str) for w in whys):
            raise Invalid(_l("whys must be a list of texts."))
        service.record_cause_and_plan(
            db,
            me,
            nc,
            whys=whys,
            root_cause=fields.text(data, "root_cause"),
            correction=fields.text(data, "correction"),
            plan=fields.text(data, "plan"),
            reason=fields.text(data, "reason"),
        )
    elif action == NcAction.START_ACTIONS:
        service.start_actions(db, me, nc)
    elif action == NcAction.COMPLETE_ACTION:
        service.complete_action(
            db,
            me,
            nc,
            _action(nc, data),
            note=fields.text(data, "note"),
            done_on=fields.day(data, "done_on"),
        )
    elif action == NcAction.RAISE_DOCUMENT_CHANGE:
        service.raise_document_change(
            db,
            me,
            nc,
            _action(nc, data),
            document_number=fields.text(data, "document") or None,
            major_change=data.get("major_change") is True,
        )
    elif action == NcAction.SUBMIT_FOR_VERIFICATION:
        service.submit_for_verification(db, me, nc)
    elif action in (NcAction.VERIFY_EFFECTIVE, NcAction.VERIFY_INEFFECTIVE):
        service.verify(
            db,
            me,
            nc,
            effective=action == NcAction.VERIFY_EFFECTIVE,
            password=fields.text(data, "password"),
            content_sha256=seen_hash(data),
            comment=fields.text(data, "comment"),
        )
    elif action == NcAction.CLOSE:
        service.close(db, me, nc, reason=fields.text(data, "reason"))
    elif action == NcAction.REOPEN:
        service.reopen(db, me, nc, reason=fields.text(data, "reason"))
    else:
        raise Invalid(
            _l(
                "%(name)s must be one of: %(choices)s.",
                name="action",
                choices=", ".join(str(a) for a in NcAction if a != NcAction.ADD_ACTION),
            ),
            code="unknown_action",
        )
    db.commit()
    return jsonify(nc_json(nc, full=True))


_ID = {"name": "nc_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_FILTERS = [
    {"name": "state", "in": "query", "schema": {"enum": [str(s) for s in NcState]}},
    {"name": "grade", "in": "query", "schema": {"enum": [str(g) for g in Grade]}},
    {"name": "source", "in": "query", "schema": {"enum": [str(s) for s in Source]}},
    {"name": "department", "in": "query", "schema": {"type": "string"}},
    {"name": "clause", "in": "query", "schema": {"type": "string"}},
    {"name": "process", "in": "query", "schema": {"type": "string"}},
    {"name": "overdue", "in": "query", "schema": {"enum": ["1", "true"]}},
]
_TRANSITIONS = [str(a) for a in NcAction if a != NcAction.ADD_ACTION]

OPENAPI_PATHS = {
    "/api/v1/nonconformities": {
        "get": op(
            "Nonconformities the user may see, newest first", params=[*PAGE_PARAMS, *_FILTERS]
        ),
        "post": idempotent_operation(
            op(
                "Raise a nonconformity (quality staff and auditors); evidence is required",
                403,
                404,
                409,
                422,
                ok="201",
                body={
                    "type": "object",
                    "required": ["department", "clause", "grade", "description", "evidence"],
                    "properties": {
                        "source": {"enum": [str(s) for s in Source]},
                        "source_id": {"type": "integer", "minimum": 0},
                        "source_label": {"type": "string"},
                        "department": {"type": "string"},
                        "clause": {"type": "string", "example": "8.5.1"},
                        "process_number": {"type": "string"},
                        "grade": {"enum": [str(g) for g in Grade]},
                        "description": {"type": "string"},
                        "evidence": {"type": "string"},
                        "raised_on": {"type": "string", "format": "date"},
                        "owner": {
                            "type": "string",
                            "description": "username; default: the department head",
                        },
                        "verification_interval_days": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": rules.MAX_VERIFICATION_INTERVAL_DAYS,
                        },
                    },
                },
            )
        ),
    },
    "/api/v1/nonconformities/{nc_id}": {
        "get": op(
            "A nonconformity with its cause, actions, verifications and next steps",
            404,
            params=[_ID],
        ),
    },
    "/api/v1/nonconformities/{nc_id}/actions": {
        "post": idempotent_operation(
            op(
                "Add a corrective action (owner or quality staff); due on or after the day raised",
                403,
                404,
                409,
                422,
                ok="201",
                params=[_ID],
                body={
                    "type": "object",
                    "required": ["description", "owner", "due_on"],
                    "properties": {
                        "description": {"type": "string"},
                        "owner": {"type": "string"},
                        "due_on": {"type": "string", "format": "date"},
                    },
                },
            )
        ),
    },
    "/api/v1/nonconformities/{nc_id}/transitions": {
        "post": op(
            "Take a step: record_cause, start_actions, complete_action, raise_document_change, "
            "submit_for_verification, verify_effective / verify_ineffective (password and "
            "content_sha256), close, reopen",
            403,
            404,
            409,
            422,
            params=[_ID],
            body={
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"enum": _TRANSITIONS},
                    "password": {"type": "string"},
                    "content_sha256": {
                        "type": "string",
                        "description": "verify_*: the content_sha256 of the nonconformity you read",
                    },
                    "comment": {"type": "string"},
                    "reason": {"type": "string"},
                    "whys": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
                    "root_cause": {"type": "string"},
                    "correction": {"type": "string"},
                    "plan": {"type": "string"},
                    "action_id": {"type": "integer"},
                    "note": {"type": "string"},
                    "done_on": {"type": "string", "format": "date"},
                    "document": {"type": "string"},
                    "major_change": {"type": "boolean"},
                },
            },
        ),
    },
}

_NC_FIELDS: dict[str, Any] = {
    "id": INTEGER,
    "number": STRING,
    "source": STRING,
    "source_id": nullable(INTEGER),
    "source_label": STRING,
    "department": STRING,
    "clause": STRING,
    "process_number": nullable(STRING),
    "grade": STRING,
    "description": STRING,
    "raised_on": DATE,
    "raised_by": STRING,
    "owner": nullable(STRING),
    "state": STRING,
    "cause_due": DATE,
    "correction_due": DATE,
    "overdue": BOOLEAN,
}
OPENAPI_SCHEMAS = {
    "CorrectiveAction": obj(
        id=INTEGER,
        round=INTEGER,
        description=STRING,
        owner=STRING,
        due_on=DATE,
        status=STRING,
        done_on=nullable(DATE),
        done_note=STRING,
        revision=nullable(obj(document=STRING, revision=STRING, state=STRING)),
    ),
    "NonconformitySummary": obj(**_NC_FIELDS),
    "Nonconformity": obj(
        **_NC_FIELDS,
        evidence=STRING,
        whys=array(STRING),
        root_cause=STRING,
        correction=STRING,
        plan=STRING,
        round=INTEGER,
        verification_interval_days=INTEGER,
        actions_completed_on=nullable(DATE),
        earliest_verification=nullable(DATE),
        closed_on=nullable(DATE),
        actions=array(ref("CorrectiveAction")),
        verifications=array(
            obj(round=INTEGER, verifier=STRING, verified_on=DATE, effective=BOOLEAN, comment=STRING)
        ),
        content_sha256=STRING,
        next_actions=array(STRING),
    ),
}
OPENAPI_RESPONSES = {
    "/api/v1/nonconformities": {
        "get": page_of(ref("NonconformitySummary")),
        "post": ref("Nonconformity"),
    },
    "/api/v1/nonconformities/{nc_id}": {"get": ref("Nonconformity")},
    "/api/v1/nonconformities/{nc_id}/actions": {"post": ref("CorrectiveAction")},
    "/api/v1/nonconformities/{nc_id}/transitions": {"post": ref("Nonconformity")},
}
