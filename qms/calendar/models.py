"""The administrator's calendar: the years taken over from the shipped data, and their days."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from qms.db import Base, utcnow


class CalendarYear(Base):
    """A year whose days are kept in the database (edited or imported by the administrator);
    a year without a row here follows the shipped data."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    # the State Council's arrangement for the year has been entered (not only statutory days)
    confirmed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    taken_over_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarDay(Base):
    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # rules.HOLIDAY | rules.WORKDAY
    name: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
