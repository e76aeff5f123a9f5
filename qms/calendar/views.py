"""The calendar pages: the administrator's year view (the quality manager may look), and a
working-day calculator for everyone signed in. Thin: the rules live in manage.py."""

from __future__ import annotations

import calendar as monthly
from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms import clock
from qms.auth.permissions import Permission
from qms.calendar import labels as _labels  # noqa: F401  (trail words)
from qms.calendar import manage
from qms.calendar.rules import HOLIDAY, KINDS, WORKDAY
from qms.calendar.service import working_calendar
from qms.db import get_session
from qms.errorhandlers import refused
from qms.errors import DomainError, Invalid
from qms.nav import NavEntry
from qms.nav import register as register_nav
from qms.web import permission_required

bp = Blueprint("calendar", __name__, url_prefix="/calendar")

register_nav(
    NavEntry(_l("Working-day calendar"), "calendar.index", Permission.VIEW_CALENDAR, 86, "admin"),
    NavEntry(
        _l("Working-day calculator"), "calendar.calculator", Permission.VIEW_REGISTER, 69, "control"
    ),
)

CALCULATOR_MAX_DAYS = 366


def _names() -> dict[str, list[str]]:
    """Month and weekday names in the reader's language (CLDR, through Babel)."""
    week = [date(2024, 1, 1 + i) for i in range(7)]
    return {
        "month_names": [format_date(date(2024, m, 1), "LLLL") for m in range(1, 13)],
        "weekday_short": [format_date(d, "EEE") for d in week],
        "weekday_names": [format_date(d, "EEEE") for d in week],
    }


def _year_arg() -> int:
    value = request.args.get("year", "")
    if value.isascii() and value.isdigit() and len(value) == 4:
        return int(value)
    return clock.today().year


def _month_grid(year: int, kinds: dict[date, str], names: dict[date, str]) -> list[Any]:
    """Twelve months of weeks (Monday first); each day with its class and title."""
    cal = working_calendar(get_session())
    months = []
    for month in range(1, 13):
        weeks = []
        for week in monthly.Calendar(firstweekday=0).monthdatescalendar(year, month):
            cells: list[dict[str, Any] | None] = []
            for day in week:
                if day.month != month:
                    cells.append(None)
                    continue
                kind = kinds.get(day)
                css = (
                    "cal-holiday"
                    if kind == HOLIDAY
                    else "cal-workday"
                    if kind == WORKDAY
                    else "cal-weekend"
                    if not cal.is_working_day(day)
                    else ""
                )
                cells.append({"day": day, "css": css, "title": names.get(day, "")})
            weeks.append(cells)
        months.append({"month": month, "weeks": weeks})
    return months


def _render_year(year: int, status: int = 200, kept: dict[str, Any] | None = None) -> Any:
    session = get_session()
    view = manage.year_view(session, year)
    kinds = {d.day: d.kind for d in view.days}
    names = {d.day: d.name for d in view.days}
    return render_template(
        "calendar/year.html",
        view=view,
        months=_month_grid(year, kinds, names),
        warnings=manage.unconfirmed_years(session, clock.today()),
        may_edit=current_user.can(Permission.MANAGE_CALENDAR),
        kind_labels=manage.KIND_LABELS,
        kinds=KINDS,
        kept=kept or {},
        calc=_calculate(request.args),
        today=clock.today(),
        **_names(),
    ), status


@bp.route("/")
@permission_required(Permission.VIEW_CALENDAR)
def index() -> Any:
    year = _year_arg()
    manage.check_year(year)
    return _render_year(year)


def _done(year: int, message: str) -> Any:
    get_session().commit()
    flash(message, "success")
    return redirect(url_for("calendar.index", year=year))


def _refused(year: int, err: DomainError, form: str) -> Any:
    message = refused(err)
    flash(message, "error")
    return _render_year(year, err.status, {"form": form, **request.form.to_dict()})


@bp.route("/<int:year>/days", methods=["POST"])
@permission_required(Permission.MANAGE_CALENDAR)
def add_day(year: int) -> Any:
    f = request.form
    try:
        row = manage.add_day(
            get_session(),
            current_user,
            year,
            f.get("day", ""),
            f.get("kind", ""),
            f.get("name", ""),
            f.get("reason", ""),
        )
    except DomainError as err:
        return _refused(year, err, "add")
    return _done(year, _("%(day)s added to the calendar.", day=row.day.isoformat()))


@bp.route("/<int:year>/days/<day>/change", methods=["POST"])
@permission_required(Permission.MANAGE_CALENDAR)
def change_day(year: int, day: str) -> Any:
    f = request.form
    try:
        manage.change_day(
            get_session(),
            current_user,
            year,
            day,
            f.get("kind", ""),
            f.get("name", ""),
            f.get("reason", ""),
        )
    except DomainError as err:
        return _refused(year, err, f"change:{day}")
    return _done(year, _("%(day)s changed.", day=day))


@bp.route("/<int:year>/days/<day>/remove", methods=["POST"])
@permission_required(Permission.MANAGE_CALENDAR)
def remove_day(year: int, day: str) -> Any:
    try:
        manage.remove_day(get_session(), current_user, year, day, request.form.get("reason", ""))
    except DomainError as err:
        return _refused(year, err, f"change:{day}")
    return _done(year, _("%(day)s removed from the calendar.", day=day))


@bp.route("/<int:year>/arrangement", methods=["POST"])
@permission_required(Permission.MANAGE_CALENDAR)
def arrangement(year: int) -> Any:
    f = request.form
    try:
        manage.set_arrangement(
            get_session(),
            current_user,
            year,
            f.get("source", ""),
            f.get("confirmed") == "yes",
            f.get("reason", ""),
        )
    except DomainError as err:
        return _refused(year, err, "arrangement")
    return _done(year, _("The source of %(year)d saved.", year=year))


@bp.route("/<int:year>/import", methods=["POST"])
@permission_required(Permission.MANAGE_CALENDAR)
def import_year(year: int) -> Any:
    f = request.form
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise Invalid(_l("Choose a CSV file to import."), code="no_file")
        data = upload.stream.read(manage.IMPORT_MAX_BYTES + 1)
        count = manage.import_year(
            get_session(),
            current_user,
            year,
            data,
            f.get("source", ""),
            f.get("confirmed") == "yes",
            f.get("reason", ""),
        )
    except DomainError as err:
        return _refused(year, err, "import")
    return _done(year, _("%(count)d days imported for %(year)d.", count=count, year=year))


def _calculate(args: Any) -> dict[str, Any]:
    """The calculator's answer for ?start=&n=, or its error; empty when not asked."""
    start_text, n_text = args.get("start", ""), args.get("n", "")
    if not start_text and not n_text:
        return {"start": clock.today().isoformat(), "n": "3"}
    result: dict[str, Any] = {"start": start_text, "n": n_text}
    try:
        start = manage.calculation_start(start_text)
    except DomainError as err:
        return result | {"error": str(err.message)}
    if not (n_text.isascii() and n_text.isdigit()) or int(n_text) > CALCULATOR_MAX_DAYS:
        return result | {
            "error": _(
                "The number of working days must be a whole number from 0 to %(n)d.",
                n=CALCULATOR_MAX_DAYS,
            )
        }
    n = int(n_text)
    session = get_session()
    cal = working_calendar(session)
    due = cal.add_working_days(start, n)
    unknown = sorted(
        {y for y in range(start.year, due.year + 1) if not manage.year_view(session, y).confirmed}
    )
    return result | {"due": due, "weekday": due.weekday(), "unconfirmed": unknown}


@bp.route("/working-days")
@permission_required(Permission.READ_DOCUMENTS)
def calculator() -> Any:
    calc = _calculate(request.args)
    return render_template("calendar/calculator.html", calc=calc, **_names()), (
        422 if calc.get("error") else 200
    )
