"""The daily jobs' log: one row per kind of job, with the day it last ran."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from qms.db import Base


class DailyJobRun(Base):
    __tablename__ = "daily_job_run"

    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    last_run_on: Mapped[date | None]  # the company's calendar day
    last_run_at: Mapped[datetime | None]
    last_result: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
