"""Periodic review: status for the register, review without and with change, intervals."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from qms import clock
from qms.auth.models import Meaning, Signature
from qms.distribution import periodic
from qms.distribution.models import PeriodicReview, ReviewOutcome
from qms.documents import service
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind
from qms.errors import Conflict, Forbidden, Invalid
from qms.tasks.registry import tasks_for
from qms.trail.models import TrailEntry
from tests.distribution.conftest import department, effective_document
from tests.factories import TEST_PASSWORD, make_document


def test_review_status_for_the_register(db, people):
    document = effective_document(db, people)
    today = clock.today()
    assert document.next_review_date == clock.add_months(today, 24)
    assert periodic.review_status(document, today) is None
    assert periodic.review_status(document, document.next_review_date - timedelta(days=30)) \
        == "due"
    assert periodic.review_status(document, document.next_review_date) == "due"
    assert periodic.review_status(document, document.next_review_date + timedelta(days=1)) \
        == "overdue"
    draft = make_document(db, author=people["clerk"], title="草稿")
    assert periodic.review_status(draft, today) is None


def test_due_reviews_are_listed_and_become_tasks(db, people):
    document = effective_document(db, people)
    document.next_review_date = clock.today() - timedelta(days=3)
    db.flush()
    assert db.scalars(periodic.due_documents(clock.today())).all() == [document]
    tasks = [t for t in tasks_for(db, people["clerk"]) if t.kind == "periodic_review"]
    assert len(tasks) == 1 and tasks[0].overdue
    assert [t for t in tasks_for(db, people["staff"]) if t.kind == "periodic_review"] == []


def test_review_without_change_signs_and_moves_the_date(db, people):
    document = effective_document(db, people)
    document.next_review_date = clock.today() - timedelta(days=3)
    db.flush()
    review = periodic.review_without_change(db, people["clerk"], document,
                                            password=TEST_PASSWORD, comment="仍适用")
    assert review.outcome == ReviewOutcome.NO_CHANGE
    assert document.next_review_date == clock.add_months(clock.today(), 24)
    signature = db.get(Signature, review.signature_id)
    assert signature.meaning == Meaning.REVIEWED
    assert (signature.object_type, signature.object_id) == ("document_review", str(review.id))
    assert signature.content_sha256 == document.current_revision.content_sha256
    entry = db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "periodic_review"))
    assert entry.object_id == document.number and entry.field == "next_review_date"
    assert periodic.review_status(document, clock.today()) is None


def test_a_wrong_password_moves_nothing(db, people):
    document = effective_document(db, people)
    before = document.next_review_date
    db.commit()
    with pytest.raises(Forbidden):
        periodic.review_without_change(db, people["clerk"], document, password="nope")
    db.rollback()
    assert service.get_document(db, document.number).next_review_date == before
    assert db.scalar(sa.select(sa.func.count()).select_from(PeriodicReview)) == 0


def test_review_with_change_starts_a_revision(db, people):
    document = effective_document(db, people)
    with pytest.raises(Invalid):
        periodic.review_with_change(db, people["clerk"], document, comment=" ")
    review = periodic.review_with_change(db, people["clerk"], document,
                                         comment="流程已变", major_change=True)
    assert review.outcome == ReviewOutcome.REVISE
    assert review.new_revision.label == "B/0" and review.new_revision.state == RevState.DRAFT
    assert document.working_revision_id == review.new_revision.id
    with pytest.raises(Conflict):  # one revision in work at a time
        periodic.review_with_change(db, people["clerk"], document, comment="again")


def test_only_document_control_reviews(db, people):
    document = effective_document(db, people)
    with pytest.raises(Forbidden):
        periodic.review_without_change(db, people["staff"], document, password=TEST_PASSWORD)


def test_interval_per_kind_applies_to_new_documents(db, people):
    assert periodic.interval_for_kind(db, DocKind.FORM) == 36
    periodic.set_kind_interval(db, people["clerk"], DocKind.REGULATION, 12)
    document = effective_document(db, people)
    assert document.review_interval_months == 12
    assert document.next_review_date == clock.add_months(clock.today(), 12)
    with pytest.raises(Invalid):
        periodic.set_kind_interval(db, people["clerk"], DocKind.REGULATION, 0)


def test_interval_change_can_reach_existing_documents(db, people):
    document = effective_document(db, people)
    changed = periodic.set_kind_interval(db, people["clerk"], DocKind.REGULATION, 6,
                                         apply_to_existing=True)
    assert changed == 1 and document.review_interval_months == 6
    periodic.review_without_change(db, people["clerk"], document, password=TEST_PASSWORD,
                                   today=date(2030, 1, 31))
    assert document.next_review_date == date(2030, 7, 31)


def test_explicit_interval_is_kept(db, people):
    periodic.set_kind_interval(db, people["clerk"], DocKind.REGULATION, 12)
    document = service.create_document(db, people["clerk"], title="x", kind=DocKind.REGULATION,
                                       department=department(db, "KF"),
                                       review_interval_months=48)
    assert document.review_interval_months == 48
