"""Metrics on a known data set; the .docx record read back; the CSV defect log."""

import io
from datetime import timedelta

from docx import Document as DocxDocument

from qms.reviews import export, metrics, service
from qms.reviews.lifecycle import ReviewState
from qms.reviews.models import Category, Severity
from tests.reviews.conftest import advance, plan, raise_defect


def _known_review(db, team):
    review = plan(db, team, pages=10)  # plan: 5 pages per hour
    advance(db, team, review, ReviewState.PRE_REVIEW)
    service.log_preparation(db, team["reviewer"], review, 60)
    service.log_preparation(db, team["reviewer2"], review, 30)
    serious = raise_defect(db, team, review, Severity.SERIOUS, Category.MISSING)
    raise_defect(db, team, review, Severity.GENERAL, Category.WRONG, who="reviewer2")
    advance(db, team, review, ReviewState.MEETING)
    raise_defect(db, team, review, Severity.SUGGESTION, Category.AMBIGUOUS)
    rejected = raise_defect(db, team, review, Severity.GENERAL, Category.EDITORIAL)
    service.dispose(db, team["leader"], rejected, "rejected", "原文正确")
    service.close_meeting(db, team["leader"], review, minutes=60)
    advance(db, team, review, ReviewState.FOLLOW_UP)
    service.track(db, team["leader"], serious, owner=team["author"], fix_due=None)
    service.mark_fixed(db, team["author"], serious)
    service.verify(db, team["leader"], serious)
    serious.verified_at = serious.raised_at + timedelta(days=2)
    db.flush()
    return review


def test_metrics_on_a_known_data_set(db, team):
    review = _known_review(db, team)
    f = metrics.for_review(review)
    assert f.pages == 10
    assert f.preparation_minutes == 90
    assert f.meeting_minutes == 60
    assert f.defects == 3  # the rejected one is not a defect of the document
    assert f.by_severity == {"serious": 1, "general": 1, "suggestion": 1}
    assert f.by_category["missing"] == 1 and f.by_category["editorial"] == 0
    assert f.defects_per_page == 0.3
    assert (f.pages_per_hour, f.planned_pages_per_hour) == (10.0, 5)
    assert (f.found_pre_review, f.found_meeting) == (2, 1)
    assert (f.closed, f.mean_days_to_close, f.max_days_to_close) == (1, 2.0, 2.0)

    total, _rows = metrics.across([review, review])
    assert (total.reviews, total.pages, total.defects, total.defects_per_page) == (2, 20, 6, 0.3)
    assert "raised_by" not in f.as_dict()  # figures never name people


def test_charts_are_server_rendered_svg_with_escaped_labels():
    svg = metrics.bar_chart("<b>", [("a<script>", 3), ("b", 1)], reference=2,
                            reference_label="plan")
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg


def test_the_docx_record_reads_back(db, team):
    review = _known_review(db, team)
    data = export.record_docx(db, review)
    doc = DocxDocument(io.BytesIO(data))
    overall, defects, checks = doc.tables
    overall_text = {row.cells[0].text: row.cells[1].text for row in overall.rows}
    assert review.ref in overall_text.values()
    assert "客户服务体系" in overall_text.values()
    assert any(team["document"].number in v for v in overall_text.values())
    assert len(defects.rows) == 1 + 4
    assert defects.rows[1].cells[3].text == "错字"
    assert len(checks.rows) == 1 + len(review.checklist)
    assert all(row.cells[2].text == "☑" for row in checks.rows[1:])
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "GM" in text  # both signatures by the general manager are printed


def test_csv_rows_follow_the_header(db, team):
    review = _known_review(db, team)
    rows = [export.csv_row(d) for d in review.defects]
    assert all(len(r) == len(export.CSV_HEADER) for r in rows)
    assert rows[0][export.CSV_HEADER.index("type")] == "serious"
    assert rows[0][export.CSV_HEADER.index("verified_by")] == "Leader One"
