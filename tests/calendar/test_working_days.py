"""The working-day calendar: weekends, the 2026 holidays and their make-up working days."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from qms.calendar.models import CalendarDay, CalendarYear
from qms.calendar.rules import HOLIDAY, WORKDAY, DayRule, WorkingCalendar
from qms.calendar.service import (
    add_working_days,
    parse_year_file,
    shipped_years,
    working_calendar,
    working_days_between,
)

D = date


@pytest.fixture(scope="module")
def cn() -> WorkingCalendar:
    return WorkingCalendar(shipped_years()[2026].days)


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (D(2026, 12, 7), 0, D(2026, 12, 7)),  # a Monday, no days added
        (D(2026, 12, 7), 3, D(2026, 12, 10)),  # Mon + 3 = Thu
        (D(2026, 12, 10), 3, D(2026, 12, 15)),  # Thu + 3 skips the weekend
        (D(2026, 12, 12), 1, D(2026, 12, 14)),  # from a Saturday, Monday is the first
        # National Day: Sep 30 (Wed) + 1 jumps Oct 1–7 and lands on Thu Oct 8
        (D(2026, 9, 30), 1, D(2026, 10, 8)),
        # ... and Sat Oct 10 is a make-up working day: Oct 8, 9, 10
        (D(2026, 9, 30), 3, D(2026, 10, 10)),
        # a serious nonconformity raised on Sep 28 (Mon): 10 working days
        # Sep 29, 30, Oct 8, 9, 10 (Sat, worked), 12, 13, 14, 15, 16
        (D(2026, 9, 28), 10, D(2026, 10, 16)),
        # Sunday Sep 20 is worked: Fri Sep 18 + 1 = Sun Sep 20
        (D(2026, 9, 18), 1, D(2026, 9, 20)),
        # Spring Festival: Feb 13 (Fri) + 1 = Sat Feb 14 (worked), + 2 = Tue Feb 24
        (D(2026, 2, 13), 1, D(2026, 2, 14)),
        (D(2026, 2, 13), 2, D(2026, 2, 24)),
    ],
)
def test_add_working_days_across_holidays(
    cn: WorkingCalendar, start: date, n: int, due: date
) -> None:
    assert cn.add_working_days(start, n) == due


def test_what_is_a_working_day(cn: WorkingCalendar) -> None:
    assert not cn.is_working_day(D(2026, 10, 5))  # a Monday inside National Day
    assert cn.is_working_day(D(2026, 10, 10))  # a Saturday worked in exchange
    assert not cn.is_working_day(D(2026, 10, 11))  # an ordinary Sunday
    assert cn.next_working_day(D(2026, 10, 1)) == D(2026, 10, 8)
    assert cn.next_working_day(D(2026, 10, 8)) == D(2026, 10, 8)


def test_working_days_between(cn: WorkingCalendar) -> None:
    assert cn.working_days_between(D(2026, 9, 30), D(2026, 10, 10)) == 3
    assert cn.working_days_between(D(2026, 10, 10), D(2026, 9, 30)) == -3
    assert cn.working_days_between(D(2026, 12, 7), D(2026, 12, 7)) == 0
    for n in range(0, 40):
        start = D(2026, 9, 15)
        assert cn.working_days_between(start, cn.add_working_days(start, n)) == n


def test_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        WorkingCalendar([DayRule(D(2026, 1, 1), "vacation")])
    with pytest.raises(ValueError, match="negative"):
        WorkingCalendar().add_working_days(D(2026, 1, 1), -1)
    with pytest.raises(ValueError, match="bad row"):
        parse_year_file("day,kind,name\n2027-01-01,holiday,元旦\n", 2026)


def test_shipped_2026_is_the_state_councils_arrangement() -> None:
    year = shipped_years()[2026]
    assert year.confirmed
    holidays = [r.day for r in year.days if r.kind == HOLIDAY]
    workdays = [r.day for r in year.days if r.kind == WORKDAY]
    assert len(holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert all(day.weekday() >= 5 for day in workdays)  # make-up days are weekend days
    assert len(workdays) == 6


def test_the_administrators_year_replaces_the_shipped_one(db: Any) -> None:
    assert add_working_days(db, D(2026, 9, 30), 1) == D(2026, 10, 8)
    # the administrator takes 2026 over, with National Day only on Oct 1
    db.add(CalendarYear(year=2026, source="测试", confirmed=True))
    db.add(CalendarDay(day=D(2026, 10, 1), kind=HOLIDAY, name="国庆节"))
    db.flush()
    assert add_working_days(db, D(2026, 9, 30), 1) == D(2026, 10, 2)
    assert not working_calendar(db).is_working_day(D(2026, 10, 10))  # no make-up day kept
    assert working_days_between(db, D(2026, 9, 30), D(2026, 10, 5)) == 2
