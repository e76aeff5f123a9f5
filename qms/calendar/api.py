"""JSON endpoints of the working-day calendar: a year's days for anyone signed in, the
administrator's changes, and the working-day calculator."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms import clock
from qms.api import fields, json_body
from qms.api.openapi import BOOLEAN, DATE, INTEGER, STRING, array, obj, op, ref
from qms.auth.permissions import Permission
from qms.calendar import manage
from qms.calendar.rules import KINDS, DayRule
from qms.calendar.service import working_calendar
from qms.db import get_session
from qms.errors import Invalid
from qms.web import permission_required

bp = Blueprint("calendar_api", __name__)

MAX_WORKING_DAYS = 366


def year_json(view: manage.YearView) -> dict[str, Any]:
    return {
        "year": view.year,
        "source": view.source,
        "confirmed": view.confirmed,
        "taken_over": view.taken_over,
        "shipped": view.shipped,
        "days": [{"day": d.day.isoformat(), "kind": d.kind, "name": d.name} for d in view.days],
    }


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise Invalid(_l("%(name)s must be true or false.", name=name))
    return value


def _rules(data: dict[str, Any], year: int) -> list[DayRule]:
    days = data.get("days")
    if not isinstance(days, list):
        raise Invalid(_l('days must be a list of {"day", "kind", "name"}.'))
    rules = []
    for item in days:
        if not isinstance(item, dict):
            raise Invalid(_l('days must be a list of {"day", "kind", "name"}.'))
        kind = fields.text(item, "kind")
        if kind not in KINDS:
            raise Invalid(_l("The kind of day must be a holiday or a make-up working day."))
        rules.append(
            DayRule(manage.parse_day(item.get("day"), year), kind, fields.text(item, "name"))
        )
    return rules


@bp.route("/calendar/<int:year>", methods=["GET", "PUT"])
@permission_required(Permission.READ_DOCUMENTS)
def year(year: int) -> Any:
    """One rule for both methods, so a year beyond the integer range is a 404 for either."""
    db = get_session()
    if request.method == "PUT":
        if not current_user.can(Permission.MANAGE_CALENDAR):
            abort(403)
        data = json_body()
        manage.check_year(year)
        manage.replace_year(
            db,
            current_user,
            year,
            _rules(data, year),
            fields.text(data, "source"),
            _flag(data, "confirmed"),
            fields.text(data, "reason"),
        )
        db.commit()
    return jsonify(year_json(manage.year_view(db, year)))


@bp.route("/calendar/<int:year>/days", methods=["POST"])
@permission_required(Permission.MANAGE_CALENDAR)
def add_day(year: int) -> Any:
    data = json_body()
    db = get_session()
    row = manage.add_day(
        db,
        current_user,
        year,
        fields.text(data, "day"),
        fields.text(data, "kind"),
        fields.text(data, "name"),
        fields.text(data, "reason"),
    )
    db.commit()
    return jsonify({"day": row.day.isoformat(), "kind": row.kind, "name": row.name}), 201


@bp.route("/calendar/working-days")
@permission_required(Permission.READ_DOCUMENTS)
def working_days() -> Any:
    start = manage.calculation_start(request.args.get("start") or clock.today().isoformat())
    n_text = request.args.get("n") or "0"
    if not (n_text.isascii() and n_text.isdigit()) or int(n_text) > MAX_WORKING_DAYS:
        raise Invalid(
            _l(
                "The number of working days must be a whole number from 0 to %(n)d.",
                n=MAX_WORKING_DAYS,
            )
        )
    db = get_session()
    due = working_calendar(db).add_working_days(start, int(n_text))
    unconfirmed = [
        y for y in range(start.year, due.year + 1) if not manage.year_view(db, y).confirmed
    ]
    return jsonify(
        {
            "start": start.isoformat(),
            "n": int(n_text),
            "due": due.isoformat(),
            "unconfirmed_years": unconfirmed,
        }
    )


_YEAR = {
    "name": "year",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 2000, "maximum": 2100},
}
_DAY_FIELDS: dict[str, Any] = {
    "day": {"type": "string", "format": "date"},
    "kind": {"enum": list(KINDS)},
    "name": {"type": "string", "maxLength": manage.NAME_MAX},
}

OPENAPI_PATHS = {
    "/api/v1/calendar/{year}": {
        "get": op(
            "A year's public holidays and make-up working days, and whether the State "
            "Council's arrangement is entered (confirmed)",
            404,
            params=[_YEAR],
        ),
        "put": op(
            "Replace a year's days (administrator); the reason goes to the audit trail",
            403,
            404,
            409,
            422,
            params=[_YEAR],
            body={
                "type": "object",
                "required": ["days", "reason"],
                "properties": {
                    "days": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["day", "kind"],
                            "properties": _DAY_FIELDS,
                        },
                    },
                    "source": {"type": "string", "maxLength": manage.SOURCE_MAX},
                    "confirmed": {"type": "boolean"},
                    "reason": {"type": "string", "maxLength": manage.REASON_MAX},
                },
            },
        ),
    },
    "/api/v1/calendar/{year}/days": {
        "post": op(
            "Add a holiday or a make-up working day to a year (administrator)",
            403,
            404,
            409,
            422,
            ok="201",
            params=[_YEAR],
            body={
                "type": "object",
                "required": ["day", "kind", "reason"],
                "properties": {
                    **_DAY_FIELDS,
                    "reason": {"type": "string", "maxLength": manage.REASON_MAX},
                },
            },
        ),
    },
    "/api/v1/calendar/working-days": {
        "get": op(
            "The date n working days after start (start not counted)",
            422,
            params=[
                {
                    "name": "start",
                    "in": "query",
                    "description": "default: today",
                    "schema": {"type": "string", "format": "date"},
                },
                {
                    "name": "n",
                    "in": "query",
                    "description": "default: 0",
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_WORKING_DAYS},
                },
            ],
        ),
    },
}

OPENAPI_SCHEMAS = {
    "CalendarDay": obj(day=DATE, kind=STRING, name=STRING),
    "CalendarYear": obj(
        year=INTEGER,
        source=STRING,
        confirmed=BOOLEAN,
        taken_over=BOOLEAN,
        shipped=BOOLEAN,
        days=array(ref("CalendarDay")),
    ),
    "WorkingDays": obj(start=DATE, n=INTEGER, due=DATE, unconfirmed_years=array(INTEGER)),
}

OPENAPI_RESPONSES = {
    "/api/v1/calendar/{year}": {"get": ref("CalendarYear"), "put": ref("CalendarYear")},
    "/api/v1/calendar/{year}/days": {"post": ref("CalendarDay")},
    "/api/v1/calendar/working-days": {"get": ref("WorkingDays")},
}
