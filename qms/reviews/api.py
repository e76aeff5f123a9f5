"""JSON endpoints of review meetings."""

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
    NUMBER,
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
from qms.auth.models import Department, User
from qms.auth.permissions import Permission
from qms.auth.signatures import seen_hash
from qms.db import get_session
from qms.documents import service as documents
from qms.errors import Invalid, NotFound
from qms.pagination import paginate
from qms.reviews import access, metrics, service
from qms.reviews.lifecycle import ReviewAction
from qms.reviews.models import Defect, Review, ReviewLevel, ReviewType
from qms.web import MAX_ID, permission_required

bp = Blueprint("reviews_api", __name__)


def _load(review_id: int) -> Review:
    review = get_session().get(Review, review_id)
    if review is None or not access.may_see_review(get_session(), current_user, review):
        raise NotFound(_l("There is no review %(id)s.", id=review_id))
    return review


def _user(db: Any, username: Any, what: str) -> User:
    user = db.scalar(sa.select(User).where(User.username == str(username or "")))
    if user is None:
        raise Invalid(_l("Unknown user %(name)s (%(what)s).", name=username, what=what))
    return user


def _whole(data: dict[str, Any], name: str, default: int | None = None) -> int | None:
    """A whole number of the body (0 … 2**31-1), the default when absent, else a 422."""
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise Invalid(_l("%(name)s must be a whole number.", name=name))
    return value


def _texts(data: dict[str, Any], name: str) -> list[str] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise Invalid(_l("%(name)s must be a list of texts.", name=name))
    return value


def _list(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name) or []
    if not isinstance(value, list):
        raise Invalid(_l("%(name)s must be a list.", name=name))
    return value


def _enum(data: dict[str, Any], name: str, choices: type[Any], default: str) -> Any:
    return fields.choice(data, name, choices, default)


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(_l("%(value)s is not a date (YYYY-MM-DD).", value=value)) from None


def _object(db: Any, spec: Any) -> service.ObjectSpec:
    if not isinstance(spec, dict):
        raise Invalid(_l("Name a document as {\"document\", \"revision\", \"pages\"}."))
    document = documents.get_document(db, str(spec.get("document", "")))
    revision = documents.revision_by_label(db, document, str(spec.get("revision", "")))
    return service.ObjectSpec(revision, _whole(spec, "pages") or 1)


def defect_json(d: Defect) -> dict[str, Any]:
    return {
        "number": d.number, "document": d.revision.document.number, "revision": d.revision.label,
        "raised_by": d.raised_by.username, "raised_at": d.raised_at.isoformat(),
        "phase": str(d.phase), "chapter": d.chapter, "section": d.section, "page": d.page,
        "description": d.description, "severity": str(d.severity), "category": str(d.category),
        "author_response": d.author_response, "disposition": str(d.disposition),
        "disposition_reason": d.disposition_reason,
        "owner": d.owner.username if d.owner else None,
        "fix_due": d.fix_due.isoformat() if d.fix_due else None,
        "fixed_in": d.fixed_in_revision.label if d.fixed_in_revision else None,
        "verified_by": d.verified_by.username if d.verified_by else None,
        "verified_at": d.verified_at.isoformat() if d.verified_at else None,
        "open": d.is_open,
    }


def review_json(r: Review, full: bool = False) -> dict[str, Any]:
    main = r.main_object
    body: dict[str, Any] = {
        "id": r.id, "ref": r.ref, "title": r.title, "system_version": r.system_version,
        "department": r.department.code, "state": str(r.state), "review_type": str(r.review_type),
        "level": str(r.level), "leader": r.leader.username, "approver": r.approver.username,
        "main": {"document": main.revision.document.number, "revision": main.revision.label,
                 "content_sha256": main.content_sha256} if main else None,
        "meeting_date": r.meeting_date.isoformat() if r.meeting_date else None,
    }
    if full:
        body |= {
            "objects": [{"document": o.revision.document.number, "revision": o.revision.label,
                         "content_sha256": o.content_sha256, "main": o.is_main, "pages": o.pages}
                        for o in r.objects],
            "participants": [{"user": p.user.username, "role": str(p.role),
                              "confirmed": p.confirmed_at is not None,
                              "preparation_minutes": p.preparation_minutes,
                              "attended": p.attended} for p in r.participants],
            "strategy": r.strategy, "deliverables": r.deliverables,
            "regression_criteria": r.regression_criteria,
            "planned_pages_per_hour": r.planned_pages_per_hour,
            "meeting_place": r.meeting_place, "agenda": r.agenda,
            "held_place": r.held_place, "held_agenda": r.held_agenda,
            "meeting_minutes": r.meeting_minutes,
            # what approve_plan and approve_report sign: send back the one you read
            "plan_sha256": service.plan_hash(r), "report_sha256": service.report_hash(r),
            "checklist": [{"id": i.id, "position": i.position, "text": i.text,
                           "checked": i.checked} for i in r.checklist],
            "conclusion": str(r.conclusion) if r.conclusion else None,
            "conclusion_count": r.conclusion_count, "conclusion_notes": r.conclusion_notes,
            "regression_needed": r.regression_needed,
            "previous_review": r.previous_review.ref if r.previous_review else None,
            "defects": [defect_json(d) for d in r.defects],
            "counts": service.counts(r),
            "metrics": metrics.for_review(r).as_dict(),
            "next_actions": [str(a) for a in service.moves_for(r, current_user)],
        }
    return body


@bp.route("/reviews")
@permission_required(Permission.READ_DOCUMENTS)
def list_reviews() -> Any:
    page, per_page = page_args()
    db = get_session()
    stmt = access.readable_reviews(db, current_user, service.visible_reviews(current_user))
    result = paginate(db, stmt.order_by(Review.id.desc()), page, per_page)
    return paged(result, [review_json(r) for r in result.items])


@bp.route("/reviews", methods=["POST"])
@permission_required(Permission.LEAD_REVIEWS)
@idempotent()
def create_review() -> Any:
    data = json_body()
    db = get_session()
    department = db.scalar(sa.select(Department).where(
        Department.code == str(data.get("department", ""))))
    if department is None:
        raise Invalid(_l("Unknown department %(code)s.", code=data.get("department")))
    authors = _texts(data, "authors")
    review = service.create_review(
        db, current_user, title=str(data.get("title", "")), department=department,
        objects=[_object(db, data.get("main")), *[_object(db, a) for a in
                                                   _list(data, "attachments")]],
        reviewers=[_user(db, u, "reviewer") for u in _texts(data, "reviewers") or []],
        approver=_user(db, data.get("approver"), "approver"),
        recorder=_user(db, data["recorder"], "recorder") if data.get("recorder") else None,
        authors=[_user(db, u, "author") for u in authors] if authors is not None else None,
        review_type=_enum(data, "review_type", ReviewType, "first"),
        level=_enum(data, "level", ReviewLevel, "center"),
        system_version=str(data.get("system_version", "")),
        strategy=str(data.get("strategy", "")), deliverables=str(data.get("deliverables", "")),
        regression_criteria=str(data.get("regression_criteria", "")),
        planned_pages_per_hour=_whole(data, "planned_pages_per_hour"),
        meeting_date=_date(data.get("meeting_date")),
        meeting_place=str(data.get("meeting_place", "")), agenda=str(data.get("agenda", "")),
        checklist=_texts(data, "checklist"),
    )
    db.commit()
    return jsonify(review_json(review, full=True)), 201


@bp.route("/reviews/<int:review_id>")
@permission_required(Permission.READ_DOCUMENTS)
def get_review(review_id: int) -> Any:
    return jsonify(review_json(_load(review_id), full=True))


@bp.route("/reviews/<int:review_id>/defects", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
@idempotent()
def add_defect(review_id: int) -> Any:
    review = _load(review_id)
    data = json_body()
    db = get_session()
    revision_id = None
    if data.get("revision"):
        main = review.main_object
        number = str(data.get("document") or (main.revision.document.number if main else ""))
        revision_id = documents.revision_by_label(
            db, documents.get_document(db, number), str(data["revision"])).id
    defect = service.add_defect(
        db, current_user, review, description=str(data.get("description", "")),
        severity=_choice(data, "severity", "general"), category=_choice(data, "category", "wrong"),
        revision_id=revision_id,
        raised_by=_user(db, data["raised_by"], "raised_by") if data.get("raised_by") else None,
        chapter=str(data.get("chapter", "")), section=str(data.get("section", "")),
        page=str(data.get("page", "")))
    db.commit()
    return jsonify(defect_json(defect)), 201


def _choice(data: dict[str, Any], name: str, default: str) -> Any:
    from qms.reviews.models import Category, Severity

    enum = {"severity": Severity, "category": Category}[name]
    try:
        return enum(data.get(name) or default)
    except ValueError:
        raise Invalid(_l("%(value)s is not a valid %(name)s.", value=data.get(name),
                         name=name)) from None


@bp.route("/reviews/<int:review_id>/defects/<int:number>", methods=["PATCH"])
@permission_required(Permission.READ_DOCUMENTS)
def update_defect(review_id: int, number: int) -> Any:
    review = _load(review_id)
    defect = service.get_defect(review, number)
    data = json_body()
    db = get_session()
    edits = {k: data[k] for k in ("description", "severity", "category", "chapter", "section",
                                  "page") if k in data}
    if edits:
        service.edit_defect(db, current_user, defect, **edits)
    if "author_response" in data:
        service.respond(db, current_user, defect, str(data["author_response"]))
    if "disposition" in data:
        service.dispose(db, current_user, defect, str(data["disposition"]),
                        str(data.get("reason", "")))
    if "owner" in data or "fix_due" in data:
        owner = _user(db, data.get("owner") or (defect.owner.username if defect.owner else ""),
                      "owner")
        service.track(db, current_user, defect, owner=owner, fix_due=_date(data.get("fix_due")))
    if data.get("fixed"):
        revision = None
        if data.get("fixed_in"):
            revision = documents.revision_by_label(db, defect.revision.document,
                                                   str(data["fixed_in"]))
        service.mark_fixed(db, current_user, defect, revision)
    if data.get("verified"):
        service.verify(db, current_user, defect)
    db.commit()
    return jsonify(defect_json(defect))


@bp.route("/reviews/<int:review_id>/transitions", methods=["POST"])
@permission_required(Permission.READ_DOCUMENTS)
def transition(review_id: int) -> Any:
    """A step of the review, or work inside a step (tick, conclude, log time, decide)."""
    review = _load(review_id)
    data = json_body()
    db = get_session()
    action = str(data.get("action", ""))
    if action == ReviewAction.TICK_CHECKLIST:
        service.tick(db, current_user, review, _whole(data, "item_id") or 0,
                     bool(data.get("checked", True)),
                     str(data["note"]) if data.get("note") is not None else None)
    elif action == ReviewAction.CONCLUDE:
        service.conclude(db, current_user, review, str(data.get("conclusion", "")),
                         _whole(data, "count"), str(data.get("notes", "")))
    elif action == ReviewAction.LOG_PREPARATION:
        service.log_preparation(db, current_user, review, _whole(data, "minutes") or 0)
    elif action == ReviewAction.DECIDE_REGRESSION:
        service.decide_regression(db, current_user, review, needed=bool(data.get("needed")),
                                  reason=str(data.get("reason", "")),
                                  lessons=str(data.get("lessons", "")))
    elif action == ReviewAction.RECORD_ATTENDANCE:
        ids = [_user(db, u, "present").id for u in _texts(data, "present") or []]
        service.record_attendance(db, current_user, review, ids)
    else:
        service.apply_move(db, current_user, review, action,
                           password=str(data.get("password", "")),
                           content_sha256=seen_hash(data),
                           reason=str(data.get("reason", "")),
                           minutes=_whole(data, "minutes"))
    db.commit()
    return jsonify(review_json(review, full=True))


_ID = {"name": "review_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_NO = {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}}
_OBJ = {"type": "object", "properties": {"document": {"type": "string"},
                                         "revision": {"type": "string"},
                                         "pages": {"type": "integer", "minimum": 1}}}
_DEFECT_FIELDS: dict[str, Any] = {
    "description": {"type": "string"}, "severity": {"enum": ["serious", "general", "suggestion"]},
    "category": {"enum": ["missing", "wrong", "ambiguous", "inconsistent", "not_per_standard",
                          "editorial"]},
    "chapter": {"type": "string"}, "section": {"type": "string"}, "page": {"type": "string"},
    "raised_by": {"type": "string"}, "document": {"type": "string"},
    "revision": {"type": "string"}}
_DEFECT = {"type": "object", "properties": _DEFECT_FIELDS}

OPENAPI_PATHS = {
    "/api/v1/reviews": {
        "get": op("Reviews the user may see, newest first", params=PAGE_PARAMS),
        "post": idempotent_operation(op(
                   "Draft a review plan (review leader or quality manager)", 403, 404, 409, 422,
                   ok="201", body={"type": "object", "required": ["title", "department", "main",
                                                                  "reviewers", "approver"],
                                   "properties": {
                                       "title": {"type": "string"},
                                       "department": {"type": "string"}, "main": _OBJ,
                                       "attachments": {"type": "array", "items": _OBJ},
                                       "reviewers": {"type": "array",
                                                     "items": {"type": "string"}},
                                       "approver": {"type": "string"},
                                       "recorder": {"type": "string"},
                                       "review_type": {"enum": ["first", "regression",
                                                                "partial", "phase"]},
                                       "level": {"enum": ["department", "center", "company"]},
                                       "authors": {"type": "array", "items": {"type": "string"}},
                                       "system_version": {"type": "string"},
                                       "strategy": {"type": "string"},
                                       "deliverables": {"type": "string"},
                                       "regression_criteria": {"type": "string"},
                                       "planned_pages_per_hour": {"type": "integer",
                                                                  "minimum": 1},
                                       "meeting_date": {"type": "string", "format": "date"},
                                       "meeting_place": {"type": "string"},
                                       "agenda": {"type": "string"},
                                       "checklist": {"type": "array",
                                                     "items": {"type": "string"}},
                                   }})),
    },
    "/api/v1/reviews/{review_id}": {
        "get": op("A review with its team, checklist, defect log, counts and metrics", 404,
                  params=[_ID]),
    },
    "/api/v1/reviews/{review_id}/defects": {
        "post": idempotent_operation(op(
            "Log a defect against a revision under this review", 403, 404, 409, 422,
            ok="201", params=[_ID], body=_DEFECT)),
    },
    "/api/v1/reviews/{review_id}/defects/{number}": {
        "patch": op("Edit, respond to, dispose of, track, fix or verify a defect", 403, 404, 409,
                    422, params=[_ID, _NO], body={"type": "object", "properties": {
                        **_DEFECT_FIELDS, "author_response": {"type": "string"},
                        "disposition": {"enum": ["open", "accepted", "rejected", "duplicate",
                                                 "withdrawn"]},
                        "reason": {"type": "string"}, "owner": {"type": "string"},
                        "fix_due": {"type": "string", "format": "date"},
                        "fixed": {"type": "boolean"}, "fixed_in": {"type": "string"},
                        "verified": {"type": "boolean"}}}),
    },
    "/api/v1/reviews/{review_id}/transitions": {
        "post": op("Take a step of the review (submit_plan, approve_plan with password, …) or "
                   "work inside one (tick_checklist, conclude, log_preparation, "
                   "decide_regression, record_attendance)", 403, 404, 409, 422,
                   params=[_ID], body={"type": "object", "required": ["action"],
                                       "properties": {
                                           "action": {"enum": [str(a) for a in ReviewAction]},
                                           "password": {"type": "string"},
                                           "content_sha256": {
                                               "type": "string",
                                               "description": "approve_plan / approve_report: "
                                               "the plan_sha256 / report_sha256 you read"},
                                           "reason": {"type": "string"},
                                           "minutes": {"type": "integer", "minimum": 0},
                                           "item_id": {"type": "integer"},
                                           "checked": {"type": "boolean"},
                                           "note": {"type": "string"},
                                           "conclusion": {"enum": ["none", "minor", "major",
                                                                   "number"]},
                                           "count": {"type": "integer", "minimum": 1},
                                           "notes": {"type": "string"},
                                           "needed": {"type": "boolean"},
                                           "lessons": {"type": "string"},
                                           "present": {"type": "array",
                                                       "items": {"type": "string"}}}}),
    },
}

_COUNTS = {"type": "object", "additionalProperties": INTEGER}
_REVIEW_FIELDS: dict[str, Any] = {
    "id": INTEGER, "ref": STRING, "title": STRING, "system_version": STRING,
    "department": STRING, "state": STRING, "review_type": STRING, "level": STRING,
    "leader": STRING, "approver": STRING,
    "main": nullable(obj(document=STRING, revision=STRING, content_sha256=STRING)),
    "meeting_date": nullable(DATE),
}
OPENAPI_SCHEMAS = {
    "Defect": obj(
        number=INTEGER, document=STRING, revision=STRING, raised_by=STRING,
        raised_at=TIMESTAMP, phase=STRING, chapter=STRING, section=STRING, page=STRING,
        description=STRING, severity=STRING, category=STRING, author_response=STRING,
        disposition=STRING, disposition_reason=STRING, owner=nullable(STRING),
        fix_due=nullable(DATE), fixed_in=nullable(STRING), verified_by=nullable(STRING),
        verified_at=nullable(TIMESTAMP), open=BOOLEAN),
    "ReviewSummary": obj(**_REVIEW_FIELDS),
    "Review": obj(
        **_REVIEW_FIELDS,
        objects=array(obj(document=STRING, revision=STRING, content_sha256=STRING,
                          main=BOOLEAN, pages=INTEGER)),
        participants=array(obj(user=STRING, role=STRING, confirmed=BOOLEAN,
                               preparation_minutes=nullable(INTEGER),
                               attended=nullable(BOOLEAN))),
        strategy=STRING, deliverables=STRING, regression_criteria=STRING,
        planned_pages_per_hour=nullable(NUMBER), meeting_place=STRING, agenda=STRING,
        held_place=STRING, held_agenda=STRING, meeting_minutes=nullable(INTEGER),
        plan_sha256=STRING, report_sha256=STRING,
        checklist=array(obj(id=INTEGER, position=INTEGER, text=STRING, checked=BOOLEAN)),
        conclusion=nullable(STRING), conclusion_count=nullable(INTEGER),
        conclusion_notes=STRING, regression_needed=nullable(BOOLEAN),
        previous_review=nullable(STRING), defects=array(ref("Defect")),
        counts=obj(defects=INTEGER, severity=_COUNTS, disposition=_COUNTS, open=INTEGER,
                   checklist_ticked=INTEGER, checklist_total=INTEGER),
        metrics={"type": "object"}, next_actions=array(STRING)),
}
OPENAPI_RESPONSES = {
    "/api/v1/reviews": {"get": page_of(ref("ReviewSummary")), "post": ref("Review")},
    "/api/v1/reviews/{review_id}": {"get": ref("Review")},
    "/api/v1/reviews/{review_id}/defects": {"post": ref("Defect")},
    "/api/v1/reviews/{review_id}/defects/{number}": {"patch": ref("Defect")},
    "/api/v1/reviews/{review_id}/transitions": {"post": ref("Review")},
}
