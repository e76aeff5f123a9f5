"""The administrator's calendar: a year's holidays and make-up working days, changed day by
day or imported whole, each change in the audit trail with its reason.

A year the administrator has not touched follows the shipped data (data/cn-YYYY.csv). The
first change takes it over: its shipped days are copied into the database (one trail entry),
and from then on the database is the truth for that year.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import User
from qms.calendar.models import CalendarDay, CalendarYear
from qms.calendar.rules import HOLIDAY, KINDS, WORKDAY, DayRule
from qms.calendar.service import shipped_years
from qms.errors import Conflict, Invalid, NotFound
from qms.trail.service import record, record_changes

FIRST_YEAR, LAST_YEAR = 2000, 2100
NAME_MAX = 100
SOURCE_MAX = 200
REASON_MAX = 500
IMPORT_MAX_BYTES = 64 * 1024

KIND_LABELS = {HOLIDAY: _l("Holiday"), WORKDAY: _l("Make-up working day")}


@dataclass(frozen=True)
class YearView:
    year: int
    source: str
    confirmed: bool  # the State Council's arrangement entered, not only statutory days
    taken_over: bool  # kept in the database (edited or imported by the administrator)
    shipped: bool  # the product ships data for this year
    days: tuple[DayRule, ...]

    @property
    def holidays(self) -> int:
        return sum(d.kind == HOLIDAY for d in self.days)

    @property
    def make_up_days(self) -> int:
        return sum(d.kind == WORKDAY for d in self.days)


def check_year(year: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise NotFound(
            _l(
                "The calendar covers the years %(first)d to %(last)d.",
                first=FIRST_YEAR,
                last=LAST_YEAR,
            )
        )
    return year


def year_view(session: Session, year: int) -> YearView:
    check_year(year)
    shipped = shipped_years().get(year)
    kept = session.get(CalendarYear, year)
    if kept is not None:
        rows = session.scalars(
            sa.select(CalendarDay)
            .where(
                CalendarDay.day >= date(year, 1, 1),
                CalendarDay.day <= date(year, 12, 31),
            )
            .order_by(CalendarDay.day)
        )
        days = tuple(DayRule(r.day, r.kind, r.name) for r in rows)
        return YearView(year, kept.source, kept.confirmed, True, shipped is not None, days)
    if shipped is not None:
        return YearView(
            year,
            shipped.source,
            shipped.confirmed,
            False,
            True,
            tuple(sorted(shipped.days, key=lambda d: d.day)),
        )
    return YearView(year, "", False, False, False, ())


def unconfirmed_years(session: Session, today: date) -> list[YearView]:
    """This year and next, where the State Council's arrangement has not been entered."""
    views = [year_view(session, y) for y in (today.year, today.year + 1)]
    return [v for v in views if not v.confirmed]


# -- checks --------------------------------------------------------------------------------


def parse_day(value: object, year: int | None = None) -> date:
    try:
        day = date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise Invalid(
            _l("%(value)s is not a date (YYYY-MM-DD).", value=value), code="bad_date"
        ) from None
    if year is not None and day.year != year:
        raise Invalid(
            _l("%(day)s is not in %(year)d.", day=day.isoformat(), year=year), code="not_in_year"
        )
    return day


def calculation_start(value: object) -> date:
    """A calculator's start date: a date inside the years the calendar covers."""
    day = parse_day(value)
    if not FIRST_YEAR <= day.year <= LAST_YEAR - 1:
        raise Invalid(
            _l(
                "The calendar covers the years %(first)d to %(last)d.",
                first=FIRST_YEAR,
                last=LAST_YEAR,
            ),
            code="out_of_range",
        )
    return day


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise Invalid(
            _l("The kind of day must be a holiday or a make-up working day."), code="bad_kind"
        )
    return kind


def _check_rule(day: date, kind: str, name: str) -> None:
    _kind(kind)
    if kind == WORKDAY and day.weekday() < 5:
        raise Invalid(
            _l(
                "%(day)s is a weekday, and weekdays are working days already: a "
                "make-up working day is a Saturday or a Sunday.",
                day=day.isoformat(),
            ),
            code="make_up_on_weekday",
        )
    if len(name) > NAME_MAX:
        raise Invalid(_l("The name may have at most %(n)d characters.", n=NAME_MAX))


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Give the reason for the change."), code="reason_required")
    if len(reason) > REASON_MAX:
        raise Invalid(_l("The reason may have at most %(n)d characters.", n=REASON_MAX))
    return reason


def _source(source: str) -> str:
    source = (source or "").strip()
    if len(source) > SOURCE_MAX:
        raise Invalid(_l("The source may have at most %(n)d characters.", n=SOURCE_MAX))
    return source


# -- changes -------------------------------------------------------------------------------


def _take_over(session: Session, actor: User, year: int, reason: str) -> CalendarYear:
    """The year's row, copying the shipped days into the database on the first change."""
    kept = session.get(CalendarYear, year)
    if kept is not None:
        return kept
    shipped = shipped_years().get(year)
    kept = CalendarYear(
        year=year,
        source=shipped.source[:SOURCE_MAX] if shipped else "",
        confirmed=bool(shipped and shipped.confirmed),
    )
    session.add(kept)
    for rule in shipped.days if shipped else ():
        session.add(CalendarDay(day=rule.day, kind=rule.kind, name=rule.name))
    session.flush()
    record(
        session,
        actor,
        "take_over",
        "calendar_year",
        year,
        field="days",
        new=len(shipped.days) if shipped else 0,
        reason=reason,
    )
    return kept


def _row(session: Session, year: int, day: date) -> CalendarDay | None:
    if session.get(CalendarYear, year) is not None:
        return session.get(CalendarDay, day)
    shipped = shipped_years().get(year)
    for rule in shipped.days if shipped else ():
        if rule.day == day:
            return CalendarDay(day=rule.day, kind=rule.kind, name=rule.name)  # not added
    return None


def _kept_row(session: Session, day: date) -> CalendarDay:
    row = session.get(CalendarDay, day)
    if row is None:
        raise NotFound(_l("%(day)s is not in the calendar.", day=day.isoformat()))
    return row


def add_day(
    session: Session, actor: User, year: int, day_text: object, kind: str, name: str, reason: str
) -> CalendarDay:
    check_year(year)
    day = parse_day(day_text, year)
    name = (name or "").strip()
    _check_rule(day, kind, name)
    reason = _reason(reason)
    existing = _row(session, year, day)
    if existing is not None:
        raise Conflict(
            _l(
                "%(day)s is already in the calendar (%(name)s): change that day instead.",
                day=day.isoformat(),
                name=existing.name or existing.kind,
            ),
            code="duplicate_day",
        )
    _take_over(session, actor, year, reason)
    row = CalendarDay(day=day, kind=kind, name=name)
    session.add(row)
    session.flush()
    record_changes(
        session,
        actor,
        "create",
        "calendar_day",
        day.isoformat(),
        {"kind": (None, kind), "name": (None, name or None)},
        reason=reason,
    )
    return row


def change_day(
    session: Session, actor: User, year: int, day_text: object, kind: str, name: str, reason: str
) -> CalendarDay:
    check_year(year)
    day = parse_day(day_text, year)
    name = (name or "").strip()
    _check_rule(day, kind, name)
    reason = _reason(reason)
    if _row(session, year, day) is None:
        raise NotFound(_l("%(day)s is not in the calendar.", day=day.isoformat()))
    _take_over(session, actor, year, reason)
    row = _kept_row(session, day)
    if (row.kind, row.name) == (kind, name):
        raise Invalid(_l("Nothing was changed."), code="unchanged")
    changes = {"kind": (row.kind, kind), "name": (row.name, name)}
    row.kind, row.name = kind, name
    record_changes(
        session, actor, "update", "calendar_day", day.isoformat(), changes, reason=reason
    )
    return row


def remove_day(session: Session, actor: User, year: int, day_text: object, reason: str) -> None:
    check_year(year)
    day = parse_day(day_text, year)
    reason = _reason(reason)
    if _row(session, year, day) is None:
        raise NotFound(_l("%(day)s is not in the calendar.", day=day.isoformat()))
    _take_over(session, actor, year, reason)
    row = _kept_row(session, day)
    record_changes(
        session,
        actor,
        "delete",
        "calendar_day",
        day.isoformat(),
        {"kind": (row.kind, None), "name": (row.name or None, None)},
        reason=reason,
    )
    session.delete(row)
    session.flush()


def set_arrangement(
    session: Session, actor: User, year: int, source: str, confirmed: bool, reason: str
) -> CalendarYear:
    """Whether the year's days are the State Council's arrangement, and where they come from."""
    check_year(year)
    source, reason = _source(source), _reason(reason)
    before = year_view(session, year)
    if (before.source, before.confirmed) == (source, confirmed):
        raise Invalid(_l("Nothing was changed."), code="unchanged")
    kept = _take_over(session, actor, year, reason)
    changes = {"source": (kept.source, source), "confirmed": (kept.confirmed, confirmed)}
    kept.source, kept.confirmed = source, confirmed
    record_changes(session, actor, "update", "calendar_year", year, changes, reason=reason)
    return kept


def parse_rows(text: str, year: int) -> list[DayRule]:
    """CSV rows day,kind,name (comment lines starting with # are skipped), every one checked:
    in the year, a known kind, a make-up day on a weekend, no day twice."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if not reader.fieldnames or not {"day", "kind"} <= {f.strip() for f in reader.fieldnames}:
        raise Invalid(_l("The file must be CSV with the columns day,kind,name."), code="bad_csv")
    rules: dict[date, DayRule] = {}
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        try:
            day = parse_day(row.get("day"), year)
            kind, name = row.get("kind", ""), row.get("name", "")
            _check_rule(day, kind, name)
        except Invalid as err:
            raise Invalid(
                _l("Line %(n)d: %(message)s", n=number, message=str(err.message)), code=err.code
            ) from None
        if day in rules:
            raise Conflict(
                _l("Line %(n)d: %(day)s is in the file twice.", n=number, day=day.isoformat()),
                code="duplicate_day",
            )
        rules[day] = DayRule(day, kind, name)
    if not rules:
        raise Invalid(_l("The file holds no days."), code="bad_csv")
    return sorted(rules.values(), key=lambda r: r.day)


def import_year(
    session: Session,
    actor: User,
    year: int,
    data: bytes | str,
    source: str,
    confirmed: bool,
    reason: str,
) -> int:
    """Replace the year's days by the file's; returns how many days the year now has."""
    check_year(year)
    if isinstance(data, bytes):
        if len(data) > IMPORT_MAX_BYTES:
            raise Invalid(
                _l("The file is larger than %(n)d KB.", n=IMPORT_MAX_BYTES // 1024),
                code="too_large",
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid(_l("The file is not UTF-8 text."), code="bad_csv") from None
    else:
        text = data
    rules = parse_rows(text, year)
    return replace_year(session, actor, year, rules, source, confirmed, reason)


def replace_year(
    session: Session,
    actor: User,
    year: int,
    rules: list[DayRule],
    source: str,
    confirmed: bool,
    reason: str,
) -> int:
    check_year(year)
    source, reason = _source(source), _reason(reason)
    for rule in rules:
        if rule.day.year != year:
            raise Invalid(
                _l("%(day)s is not in %(year)d.", day=rule.day.isoformat(), year=year),
                code="not_in_year",
            )
        _check_rule(rule.day, rule.kind, rule.name)
    if len({r.day for r in rules}) != len(rules):
        raise Conflict(_l("A day is listed twice."), code="duplicate_day")
    before = year_view(session, year)
    kept = session.get(CalendarYear, year)
    if kept is None:
        kept = CalendarYear(year=year)
        session.add(kept)
    session.execute(
        sa.delete(CalendarDay).where(
            CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
        )
    )
    for rule in rules:
        session.add(CalendarDay(day=rule.day, kind=rule.kind, name=rule.name))
    kept.source, kept.confirmed = source, confirmed
    session.flush()
    record(
        session,
        actor,
        "import_calendar",
        "calendar_year",
        year,
        field="days",
        old=len(before.days),
        new=len(rules),
        reason=reason,
    )
    record_changes(
        session,
        actor,
        "update",
        "calendar_year",
        year,
        {"source": (before.source, source), "confirmed": (before.confirmed, confirmed)},
        reason=reason,
    )
    return len(rules)
