"""Local dates: effective dates and review dates are calendar days in the company's zone."""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo


def local_zone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("QMS_TIMEZONE", "Asia/Shanghai"))


def today() -> date:
    return datetime.now(local_zone()).date()


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    import calendar

    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def now() -> datetime:
    """Now, in UTC; tests move time through app.config["CLOCK"] instead of sleeping."""
    from flask import current_app, has_app_context

    from qms.db import utcnow

    if has_app_context():
        moved = current_app.config.get("CLOCK")
        if callable(moved):
            value: datetime = moved()
            return value
    return utcnow()
