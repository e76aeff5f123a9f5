"""Pagination done in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

T = TypeVar("T")

MAX_PER_PAGE = 200


class PageNumbers:
    """Page arithmetic for anything with total, page and per_page."""

    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def as_meta(self) -> dict[str, int]:
        return {
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "pages": self.pages,
        }


@dataclass
class Page(PageNumbers, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


def clamp(page: Any, per_page: Any, default_per_page: int = 50) -> tuple[int, int]:
    try:
        p = max(1, int(page or 1))
    except (TypeError, ValueError):
        p = 1
    try:
        pp = int(per_page or default_per_page)
    except (TypeError, ValueError):
        pp = default_per_page
    return p, min(max(pp, 1), MAX_PER_PAGE)


def paginate(
    session: Session, stmt: sa.Select[Any], page: int, per_page: int, *, scalars: bool = True
) -> Page[Any]:
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    bounded = stmt.limit(per_page).offset((page - 1) * per_page)
    rows: list[Any] = list(session.scalars(bounded)) if scalars else list(session.execute(bounded))
    return Page(rows, int(total or 0), page, per_page)
