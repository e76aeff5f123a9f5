"""Working days as pure functions of a table of exceptions to the Monday–Friday week."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

HOLIDAY = "holiday"  # a weekday off (or a weekend day inside a holiday, harmless)
WORKDAY = "workday"  # a Saturday or Sunday worked in exchange (调休上班)
KINDS = (HOLIDAY, WORKDAY)

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class DayRule:
    day: date
    kind: str
    name: str = ""


class WorkingCalendar:
    """Monday to Friday, minus the holidays, plus the make-up working days."""

    def __init__(self, rules: Iterable[DayRule] = ()) -> None:
        self.holidays: frozenset[date] = frozenset()
        self.make_up_days: frozenset[date] = frozenset()
        holidays, make_up = set(), set()
        for rule in rules:
            if rule.kind == HOLIDAY:
                holidays.add(rule.day)
            elif rule.kind == WORKDAY:
                make_up.add(rule.day)
            else:
                raise ValueError(f"unknown kind of day: {rule.kind!r}")
        self.holidays, self.make_up_days = frozenset(holidays), frozenset(make_up)

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_days:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after start (start itself not counted); n = 0 is start."""
        if n < 0:
            raise ValueError("n must not be negative")
        day = start
        while n:
            day += ONE_DAY
            if self.is_working_day(day):
                n -= 1
        return day

    def next_working_day(self, day: date) -> date:
        """day itself when it is a working day, else the first one after it."""
        while not self.is_working_day(day):
            day += ONE_DAY
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end; negative when end is before start."""
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += ONE_DAY
            count += self.is_working_day(day)
        return count
