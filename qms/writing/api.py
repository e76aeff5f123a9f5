"""JSON endpoints of the writing plans (handbook 5.3): list, create with items, read with
items, questions, findings and comments, and take a step."""

from __future__ import annotations

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
    array,
    nullable,
    obj,
    op,
    page_of,
    ref,
)
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.certification import service as certification
from qms.db import get_session
from qms.errors import Invalid
from qms.pagination import paginate
from qms.web import MAX_ID, permission_required
from qms.writing import service
from qms.writing.models import PlanItem, WritingPlan
from qms.writing.rules import Decision, FindingCategory, ItemKind, PlanAction

bp = Blueprint("writing_api", __name__)


def _day(value: Any) -> str | None:
    return value.isoformat() if value else None


def _when(value: Any) -> str | None:
    return value.isoformat() if value else None


def item_json(i: PlanItem) -> dict[str, Any]:
    return {
        "id": i.id,
        "position": i.position,
        "kind": str(i.kind),
        "title": i.title,
        "number": i.number or None,
        "revises_existing": i.revises_existing,
        "document_number": i.document.number if i.document else None,
        "revision_label": i.revision.label if i.revision else None,
        "department": i.department.code,
        "writer": i.writer.username,
        "start_on": i.start_on.isoformat(),
        "draft_due": i.draft_due.isoformat(),
        "final_due": i.final_due.isoformat(),
        "started": i.started_at is not None,
        "submitted": i.submitted_at is not None,
        "actual_on": _day(i.actual_on),
        "delay_reason": i.delay_reason,
        "section_version": i.texts[-1].version if i.texts else None,
        # where the text is written: on the plan (a manual section, or a writer without
        # the drafting right) or in a controlled draft; taken_in once the center made it one
        "draft": "on_item" if service.drafted_on_item(i) else "document",
        "taken_in": i.taken_in_at is not None,
    }


def plan_json(p: WritingPlan, full: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": p.id,
        "ref": p.ref,
        "title": p.title,
        "state": str(p.state),
        "consultant": p.consultant.name if p.consultant else None,
    }
    if full:
        progress = {s.item.id: str(s.progress) for s in service.standings(p)}
        body |= {
            "scope": p.scope,
            "training_on": _day(p.training_on),
            "trainer": p.trainer,
            "training_notes": p.training_notes,
            "circulation_deadline": _day(p.circulation_deadline),
            "manual_revision": (
                f"{p.manual_revision.document.number} {p.manual_revision.label}"
                if p.manual_revision
                else None
            ),
            "items": [item_json(i) | {"progress": progress[i.id]} for i in p.items],
            "questions": [
                {
                    "id": q.id,
                    "item_id": q.item_id,
                    "text": q.text,
                    "asked_by": q.asked_by.username,
                    "asked_at": _when(q.asked_at),
                    "answer": q.answer or None,
                    "answered_by": q.answered_by.username if q.answered_by else None,
                    "consultant": q.consultant.name if q.consultant else None,
                    "answered_at": _when(q.answered_at),
                }
                for q in service.questions_in_order(p)
            ],
            "findings": [
                {
                    "id": f.id,
                    "item_id": f.item_id,
                    "category": str(f.category),
                    "text": f.text,
                    "resolved": f.resolved_at is not None,
                    "resolution": f.resolution,
                }
                for f in p.findings
            ],
            "comments": [
                {
                    "id": c.id,
                    "department": c.department.code,
                    "person": c.person,
                    "clause": c.clause,
                    "text": c.text,
                    "decision": str(c.decision) if c.decision else None,
                    "reason": c.reason,
                    "confirmed_by": c.confirmed_by,
                }
                for c in p.comments
            ],
            "next_actions": service.next_actions(p, current_user),
        }
    return body


def _plan(plan_id: int) -> WritingPlan:
    plan = service.get_plan(get_session(), plan_id)
    service.check_view(plan, current_user)
    return plan


@bp.route("/writing-plans")
@permission_required(Permission.VIEW_OWN_TASKS)
def list_plans() -> Any:
    page, per_page = page_args()
    db = get_session()
    stmt = sa.select(WritingPlan).order_by(WritingPlan.id.desc())
    if not service.can_manage(current_user):
        stmt = stmt.where(
            WritingPlan.id.in_(
                sa.select(PlanItem.plan_id).where(PlanItem.writer_id == current_user.id)
            )
        )
    result = paginate(db, stmt, page, per_page)
    return paged(result, [plan_json(p) for p in result.items])


def _items(db: Any, data: dict[str, Any]) -> list[service.ItemIn]:
    value = data.get("items") or []
    if not isinstance(value, list):
        raise Invalid(_l("%(name)s must be a list.", name="items"))
    out = []
    for raw in value:
        if not isinstance(raw, dict):
            raise Invalid(_l("Each item is an object."))
        department = None
        code = fields.text(raw, "department")
        if code:
            department = db.scalar(sa.select(Department).where(Department.code == code))
            if department is None:
                raise Invalid(_l("There is no department %(code)s.", code=code))
        writer = None
        username = fields.text(raw, "writer")
        if username:
            writer = db.scalar(sa.select(User).where(User.username == username))
            if writer is None:
                raise Invalid(_l("There is no user %(name)s.", name=username), code="writer")
        revises = fields.text(raw, "revises")
        document = service.documents.get_document(db, revises) if revises else None
        kind = fields.choice(raw, "kind", ItemKind)
        out.append(
            service.ItemIn(
                kind=kind,
                title=fields.text(raw, "title"),
                department=department,
                writer=writer,
                start_on=fields.day(raw, "start_on"),
                draft_due=fields.day(raw, "draft_due"),
                final_due=fields.day(raw, "final_due"),
                number=fields.text(raw, "number"),
                document=document,
                position=fields.whole(raw, "position"),
            )
        )
    return out


@bp.route("/writing-plans", methods=["POST"])
@permission_required(Permission.MANAGE_WRITING_PLANS)
@idempotent()
def create_plan() -> Any:
    data = json_body()
    db = get_session()
    consultant = certification.optional_consultant(db, fields.record_id(data, "consultant_id"))
    plan = service.create_plan(
        db,
        current_user,
        title=fields.text(data, "title"),
        scope=fields.text(data, "scope"),
        consultant=consultant,
        training_on=fields.day(data, "training_on"),
        trainer=fields.text(data, "trainer"),
        training_notes=fields.text(data, "training_notes"),
        items=_items(db, data),
    )
    db.commit()
    return jsonify(plan_json(plan, full=True)), 201


@bp.route("/writing-plans/<int:plan_id>")
@permission_required(Permission.VIEW_OWN_TASKS)
def get_plan(plan_id: int) -> Any:
    return jsonify(plan_json(_plan(plan_id), full=True))


@bp.route("/writing-plans/<int:plan_id>/transitions", methods=["POST"])
@permission_required(Permission.MANAGE_WRITING_PLANS)
def transition(plan_id: int) -> Any:
    db = get_session()
    plan = _plan(plan_id)
    data = json_body()
    action = fields.choice(data, "action", PlanAction)
    service.take_step(
        db,
        current_user,
        plan,
        action,
        reason=fields.text(data, "reason"),
        deadline=fields.day(data, "deadline"),
    )
    db.commit()
    return jsonify(plan_json(plan, full=True))


@bp.route("/writing-plans/<int:plan_id>/items/<int:item_id>/take-in", methods=["POST"])
@permission_required(Permission.MANAGE_WRITING_PLANS)
def take_in(plan_id: int, item_id: int) -> Any:
    """The quality center takes a submitted text written on the plan into its controlled
    draft."""
    db = get_session()
    plan = _plan(plan_id)
    item = service.get_item(db, plan, item_id)
    service.take_in(db, current_user, item)
    db.commit()
    return jsonify(plan_json(plan, full=True))


_ID = {
    "name": "plan_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
_ITEM_ID = {
    "name": "item_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
_ITEM_IN = {
    "type": "object",
    "required": ["kind", "title", "department", "writer", "start_on", "draft_due", "final_due"],
    "properties": {
        "kind": {"enum": [str(k) for k in ItemKind]},
        "title": STRING,
        "position": {"type": "integer", "minimum": 1, "maximum": 999},
        "number": {"type": "string", "description": "a new document's number; empty: the next"},
        "revises": {"type": "string", "description": "the number of an existing document"},
        "department": {"type": "string", "description": "department code"},
        "writer": {"type": "string", "description": "username"},
        "start_on": DATE,
        "draft_due": DATE,
        "final_due": DATE,
    },
}

OPENAPI_PATHS = {
    "/api/v1/writing-plans": {
        "get": op(
            "Writing plans (handbook 5.3, BD-PZ-006): all for the quality center, a writer's "
            "own plans for anyone else",
            params=PAGE_PARAMS,
        ),
        "post": idempotent_operation(
            op(
                "Draw up a writing plan with its items (quality manager or clerk); refused "
                "whole when an item is wrong",
                403,
                404,
                409,
                422,
                ok="201",
                body={
                    "type": "object",
                    "required": ["title"],
                    "properties": {
                        "title": STRING,
                        "scope": STRING,
                        "consultant_id": {"type": "integer", "minimum": 1},
                        "training_on": DATE,
                        "trainer": STRING,
                        "training_notes": STRING,
                        "items": {"type": "array", "items": _ITEM_IN},
                    },
                },
            )
        ),
    },
    "/api/v1/writing-plans/{plan_id}": {
        "get": op(
            "A writing plan with its items, questions, the consultant's findings and the "
            "circulation comments (the quality center and the plan's writers)",
            403,
            404,
            params=[_ID],
        ),
    },
    "/api/v1/writing-plans/{plan_id}/transitions": {
        "post": op(
            "Take the plan's next step (confirm: the quality manager; circulate: with the "
            "deadline; cancel: with the reason)",
            403,
            404,
            409,
            422,
            params=[_ID],
            body={
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"enum": [str(a) for a in PlanAction]},
                    "reason": STRING,
                    "deadline": DATE,
                },
            },
        ),
    },
    "/api/v1/writing-plans/{plan_id}/items/{item_id}/take-in": {
        "post": op(
            "Take a submitted regulation, process or form written on the plan into its "
            "controlled draft: a new document under the item's number, or the next revision "
            "of the linked one (quality manager or clerk)",
            403,
            404,
            409,
            params=[_ID, _ITEM_ID],
        ),
    },
}

_PLAN_FIELDS: dict[str, Any] = {
    "id": INTEGER,
    "ref": STRING,
    "title": STRING,
    "state": STRING,
    "consultant": nullable(STRING),
}
OPENAPI_SCHEMAS = {
    "WritingPlanSummary": obj(**_PLAN_FIELDS),
    "WritingPlan": obj(
        **_PLAN_FIELDS,
        scope=STRING,
        training_on=nullable(DATE),
        trainer=STRING,
        training_notes=STRING,
        circulation_deadline=nullable(DATE),
        manual_revision=nullable(STRING),
        items=array(
            obj(
                id=INTEGER,
                position=INTEGER,
                kind={"enum": [str(k) for k in ItemKind]},
                title=STRING,
                number=nullable(STRING),
                revises_existing=BOOLEAN,
                document_number=nullable(STRING),
                revision_label=nullable(STRING),
                department=STRING,
                writer=STRING,
                start_on=DATE,
                draft_due=DATE,
                final_due=DATE,
                started=BOOLEAN,
                submitted=BOOLEAN,
                actual_on=nullable(DATE),
                delay_reason=STRING,
                section_version=nullable(INTEGER),
                draft={"enum": ["on_item", "document"]},
                taken_in=BOOLEAN,
                progress=STRING,
            )
        ),
        questions=array(
            obj(
                id=INTEGER,
                item_id=nullable(INTEGER),
                text=STRING,
                asked_by=STRING,
                asked_at=nullable(STRING),
                answer=nullable(STRING),
                answered_by=nullable(STRING),
                consultant=nullable(STRING),
                answered_at=nullable(STRING),
            )
        ),
        findings=array(
            obj(
                id=INTEGER,
                item_id=nullable(INTEGER),
                category={"enum": [str(c) for c in FindingCategory]},
                text=STRING,
                resolved=BOOLEAN,
                resolution=STRING,
            )
        ),
        comments=array(
            obj(
                id=INTEGER,
                department=STRING,
                person=STRING,
                clause=STRING,
                text=STRING,
                decision=nullable({"enum": [str(d) for d in Decision]}),
                reason=STRING,
                confirmed_by=STRING,
            )
        ),
        next_actions=array(STRING),
    ),
}
OPENAPI_RESPONSES = {
    "/api/v1/writing-plans": {
        "get": page_of(ref("WritingPlanSummary")),
        "post": ref("WritingPlan"),
    },
    "/api/v1/writing-plans/{plan_id}": {"get": ref("WritingPlan")},
    "/api/v1/writing-plans/{plan_id}/transitions": {"post": ref("WritingPlan")},
    "/api/v1/writing-plans/{plan_id}/items/{item_id}/take-in": {"post": ref("WritingPlan")},
}
