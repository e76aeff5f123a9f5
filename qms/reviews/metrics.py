"""Review data (IEEE 1028 style): time, defects by type and category, density, rate, and
time to close. Figures describe documents and reviews, never people: nothing here is
grouped by who raised, owned or fixed a defect."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from qms.reviews.models import Category, Disposition, Phase, Review, Severity

# Rejected, duplicate and withdrawn entries are not defects of the document.
COUNTED = (Disposition.ACCEPTED, Disposition.OPEN)


@dataclass
class Figures:
    reviews: int = 0
    pages: int = 0
    preparation_minutes: int = 0
    meeting_minutes: int = 0
    defects: int = 0
    by_severity: dict[str, int] = field(default_factory=lambda: {str(s): 0 for s in Severity})
    by_category: dict[str, int] = field(default_factory=lambda: {str(c): 0 for c in Category})
    found_pre_review: int = 0
    found_meeting: int = 0
    closed: int = 0
    days_to_close: list[float] = field(default_factory=list)
    planned_pages_per_hour: int | None = None

    @property
    def defects_per_page(self) -> float | None:
        return round(self.defects / self.pages, 2) if self.pages else None

    @property
    def pages_per_hour(self) -> float | None:
        """Meeting rate: pages covered per hour of meeting."""
        if not self.meeting_minutes:
            return None
        return round(self.pages / (self.meeting_minutes / 60), 1)

    @property
    def mean_days_to_close(self) -> float | None:
        if not self.days_to_close:
            return None
        return round(sum(self.days_to_close) / len(self.days_to_close), 1)

    @property
    def max_days_to_close(self) -> float | None:
        return round(max(self.days_to_close), 1) if self.days_to_close else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "reviews": self.reviews, "pages": self.pages,
            "preparation_minutes": self.preparation_minutes,
            "meeting_minutes": self.meeting_minutes, "defects": self.defects,
            "by_severity": self.by_severity, "by_category": self.by_category,
            "defects_per_page": self.defects_per_page, "pages_per_hour": self.pages_per_hour,
            "planned_pages_per_hour": self.planned_pages_per_hour,
            "found_pre_review": self.found_pre_review, "found_meeting": self.found_meeting,
            "closed": self.closed, "mean_days_to_close": self.mean_days_to_close,
            "max_days_to_close": self.max_days_to_close,
        }


def for_review(review: Review) -> Figures:
    figures = Figures(reviews=1, planned_pages_per_hour=review.planned_pages_per_hour)
    figures.pages = sum(o.pages for o in review.objects)
    figures.preparation_minutes = sum(p.preparation_minutes or 0 for p in review.participants)
    figures.meeting_minutes = review.meeting_minutes or 0
    for defect in review.defects:
        if defect.disposition not in COUNTED:
            continue
        if defect.phase == Phase.CARRIED_OVER:
            continue  # counted in the review that found it
        figures.defects += 1
        figures.by_severity[str(defect.severity)] += 1
        figures.by_category[str(defect.category)] += 1
        if defect.phase == Phase.PRE_REVIEW:
            figures.found_pre_review += 1
        else:
            figures.found_meeting += 1
        if defect.verified_at is not None:
            figures.closed += 1
            seconds = (defect.verified_at - defect.raised_at).total_seconds()
            figures.days_to_close.append(seconds / 86400)
    return figures


def across(reviews: Iterable[Review]) -> tuple[Figures, list[tuple[Review, Figures]]]:
    total = Figures()
    rows: list[tuple[Review, Figures]] = []
    for review in reviews:
        f = for_review(review)
        rows.append((review, f))
        total.reviews += 1
        total.pages += f.pages
        total.preparation_minutes += f.preparation_minutes
        total.meeting_minutes += f.meeting_minutes
        total.defects += f.defects
        for k, v in f.by_severity.items():
            total.by_severity[k] += v
        for k, v in f.by_category.items():
            total.by_category[k] += v
        total.found_pre_review += f.found_pre_review
        total.found_meeting += f.found_meeting
        total.closed += f.closed
        total.days_to_close += f.days_to_close
    return total, rows


# -- SVG charts rendered on the server ------------------------------------------------------

def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, unit: str = "",
              reference: float | None = None, reference_label: str = "") -> Markup:
    """A horizontal bar chart as inline SVG; an optional reference line (the plan)."""
    width, label_w, row_h, top = 560, 170, 26, 30
    plot_w = width - label_w - 70
    height = top + row_h * max(len(bars), 1) + 24
    peak = max([v for _l, v in bars] + [reference or 0, 1e-9])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="0" y="18" font-weight="600" font-size="14">{escape(title)}</text>']
    for i, (label, value) in enumerate(bars):
        y = top + i * row_h
        w = plot_w * value / peak if peak else 0
        shown = f"{value:g}{unit}"
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" '
                     f'font-size="12">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
                     f'fill="#1d4e89"><title>{escape(label)}: {escape(shown)}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="12">'
                     f'{escape(shown)}</text>')
    if reference is not None and peak:
        x = label_w + plot_w * reference / peak
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 20}" '
                     f'stroke="#b42318" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="11" fill="#b42318" '
                     f'text-anchor="middle">{escape(reference_label)} {reference:g}{unit}</text>')
    if not bars:
        parts.append(f'<text x="{label_w}" y="{top + 16}" font-size="12" fill="#616e7c">—</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
