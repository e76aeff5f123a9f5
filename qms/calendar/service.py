"""The working calendar as the company uses it: shipped years, unless taken over."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.calendar.models import CalendarDay, CalendarYear
from qms.calendar.rules import KINDS, DayRule, WorkingCalendar

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class ShippedYear:
    year: int
    source: str  # the notice it was read from
    confirmed: bool  # the State Council's arrangement, not only statutory days
    days: tuple[DayRule, ...]


def parse_year_file(text: str, year: int) -> ShippedYear:
    """A year's file: comment lines (`# source`, `# confirmed: yes|no`), then CSV rows
    day,kind,name. Every day must fall in the year and have a known kind."""
    comments = [line[1:].strip() for line in text.splitlines() if line.startswith("#")]
    confirmed = any(c.lower() == "confirmed: yes" for c in comments)
    source = next((c for c in comments if not c.lower().startswith("confirmed:")), "")
    rows = csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#"))
    days = []
    for row in rows:
        day = date.fromisoformat(row["day"])
        if day.year != year or row["kind"] not in KINDS:
            raise ValueError(f"calendar {year}: bad row {row}")
        days.append(DayRule(day, row["kind"], row.get("name") or ""))
    return ShippedYear(year, source, confirmed, tuple(days))


@functools.cache
def shipped_years() -> dict[int, ShippedYear]:
    years = {}
    for path in sorted(DATA_DIR.glob("cn-*.csv")):
        year = int(path.stem.removeprefix("cn-"))
        years[year] = parse_year_file(path.read_text(encoding="utf-8"), year)
    return years


def working_calendar(session: Session) -> WorkingCalendar:
    """Shipped years the administrator has not taken over, plus the database's days."""
    taken = set(session.scalars(sa.select(CalendarYear.year)))
    rules = [
        rule
        for year, shipped in shipped_years().items()
        if year not in taken
        for rule in shipped.days
    ]
    rules += [DayRule(d.day, d.kind, d.name) for d in session.scalars(sa.select(CalendarDay))]
    return WorkingCalendar(rules)


def add_working_days(session: Session, start: date, n: int) -> date:
    """The n-th working day after start, by the company's calendar."""
    return working_calendar(session).add_working_days(start, n)


def working_days_between(session: Session, start: date, end: date) -> int:
    return working_calendar(session).working_days_between(start, end)
