"""Browse, filter and export the audit trail (read-only: there is no edit or delete)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, render_template, request
from flask_login import current_user

from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.csvexport import csv_response
from qms.db import get_session, new_session
from qms.pagination import Page, clamp, paginate
from qms.trail import access, labels, service
from qms.trail.models import TrailEntry
from qms.web import permission_required

bp = Blueprint("trail", __name__, url_prefix="/trail")

EXPORT_BATCH = 1000


@bp.app_context_processor
def _trail_words() -> dict[str, Any]:
    """The trail in words on every page that lists entries (see qms.trail.labels)."""

    def trail_names(entries: Any) -> dict[tuple[str, str], str]:
        return labels.object_names(get_session(), current_user, entries)

    return {
        "trail_names": trail_names,
        "trail_action": labels.action_label,
        "trail_object": labels.object_text,
        "trail_object_label": labels.object_label,
        "trail_field": labels.field_label,
        "trail_value": labels.value_markup,
        "trail_reason": labels.reason_markup,
        "trail_actor": labels.actor_text,
    }


def _date(value: str | None) -> datetime | None:
    try:
        return datetime.strptime(value or "", "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def _filter() -> service.TrailFilter:
    args = request.args
    date_to = _date(args.get("to"))
    return service.TrailFilter(
        actor=args.get("actor", "").strip(),
        object_type=args.get("object_type", "").strip(),
        object_id=args.get("object_id", "").strip(),
        action=args.get("action", "").strip(),
        date_from=_date(args.get("from")),
        date_to=date_to + timedelta(days=1) if date_to else None,
    )


@bp.route("/")
@permission_required(Permission.VIEW_TRAIL)
def entries() -> str:
    db = get_session()
    page, per_page = clamp(request.args.get("page"), request.args.get("per_page"))
    result = paginate(db, service.filtered(_filter()), page, per_page)
    # every entry stays listed (the sequence is complete); content a reader may not see
    # is withheld by the rule of the record it is about
    lines = Page(
        access.lines(db, current_user, result.items), result.total, result.page, result.per_page
    )
    object_types = db.scalars(
        sa.select(TrailEntry.object_type).distinct().order_by(TrailEntry.object_type)
    ).all()
    actions = db.scalars(sa.select(TrailEntry.action).distinct().order_by(TrailEntry.action)).all()
    return render_template(
        "trail/entries.html",
        page=lines,
        object_types=object_types,
        actions=actions,
        args=request.args,
    )


@bp.route("/export.csv")
@permission_required(Permission.VIEW_TRAIL)
def export() -> Any:
    stmt = service.filtered(_filter())
    user_id = current_user.id

    def rows() -> Iterator[list[Any]]:
        # The response streams after the view returns, so it reads with a session of its own.
        with new_session() as db:
            user = db.get(User, user_id)
            last: int | None = None
            while True:
                batch = stmt.limit(EXPORT_BATCH)
                if last is not None:
                    batch = batch.where(TrailEntry.seq < last)
                entries = db.scalars(batch).all()
                if not entries:
                    return
                for line in access.lines(db, user, entries):
                    yield access.csv_row(line)
                last = entries[-1].seq
                db.expunge_all()

    return csv_response("audit-trail.csv", service.CSV_HEADER, rows())
