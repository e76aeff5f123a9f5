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


# The largest page anyone may ask for: far past any list, small enough that its SQL offset
# fits every database's integer.
MAX_PAGE = 2**31 - 1


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value or "").strip()
    sign = text[:1] if text[:1] in "+-" else ""
    digits = text[len(sign) :]
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 30:
        return None
    return -int(digits) if sign == "-" else int(digits)


def clamp(page: Any, per_page: Any, default_per_page: int = 50) -> tuple[int, int]:
    """The one rule for `page` and `per_page`, on every page and API list: a missing,
    empty, `null` or non-numeric value is the default; numbers are clamped into range
    (page 1 … MAX_PAGE, per_page 1 … MAX_PER_PAGE), so a huge page is an empty page."""
    p = _whole_number(page)
    pp = _whole_number(per_page)
    p = 1 if p is None else min(max(p, 1), MAX_PAGE)
    pp = default_per_page if pp is None else min(max(pp, 1), MAX_PER_PAGE)
    return p, pp


def paginate(
    session: Session, stmt: sa.Select[Any], page: int, per_page: int, *, scalars: bool = True
) -> Page[Any]:
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    bounded = stmt.limit(per_page).offset((page - 1) * per_page)
    rows: list[Any] = list(session.scalars(bounded)) if scalars else list(session.execute(bounded))
    return Page(rows, int(total or 0), page, per_page)
