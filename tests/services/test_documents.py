"""The rules of document control, one service test each."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from qms.auth.models import Signature
from qms.auth.permissions import Role
from qms.auth.signatures import SignatureStatus, status_of
from qms.documents import service
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind, Document, Revision
from qms.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from qms.trail.models import TrailEntry
from tests.factories import TEST_PASSWORD, grant_all_approval, make_document, make_user


@pytest.fixture
def people(db):
    clerk = make_user(db, "clerk1", Role.QUALITY_CLERK)
    reviewer = make_user(db, "reviewer1", Role.REVIEWER)
    reviewer2 = make_user(db, "reviewer2", Role.REVIEWER)
    approver = make_user(db, "approver1", Role.APPROVER, department="KF")
    grant_all_approval(db, approver)
    staff = make_user(db, "staff1", Role.STAFF)
    return {
        "clerk": clerk,
        "reviewer": reviewer,
        "reviewer2": reviewer2,
        "approver": approver,
        "staff": staff,
    }


def _doc(db, people, state):
    """A document of the clerk's, reviewed by the reviewer and approved by the approver."""
    return make_document(db, state=state, author=people["clerk"], reviewer=people["reviewer"],
                         approver=people["approver"], clerk=people["clerk"])


def _kf(db):
    from qms.auth.models import Department

    return db.scalar(sa.select(Department).where(Department.code == "KF"))


def test_numbers_follow_the_scheme_and_are_never_reused(db, people):
    a = service.create_document(
        db, people["clerk"], title="甲", kind=DocKind.REGULATION, department=_kf(db)
    )
    b = service.create_document(
        db, people["clerk"], title="乙", kind=DocKind.REGULATION, department=_kf(db)
    )
    assert (a.number, b.number) == ("ZD-KF-001", "ZD-KF-002")
    service.cancel(db, people["clerk"], b.working_revision, reason="重复")
    c = service.create_document(
        db, people["clerk"], title="丙", kind=DocKind.REGULATION, department=_kf(db)
    )
    assert c.number == "ZD-KF-003"
    m = service.create_document(
        db, people["clerk"], title="手册", kind=DocKind.QUALITY_MANUAL, department=_kf(db)
    )
    assert m.number == "QM-01"


def test_explicit_number_moves_the_counter_and_duplicates_are_refused(db, people):
    service.create_document(
        db, people["clerk"], title="x", kind=DocKind.FORM, department=_kf(db), number="BD-KF-010"
    )
    nxt = service.create_document(
        db, people["clerk"], title="y", kind=DocKind.FORM, department=_kf(db)
    )
    assert nxt.number == "BD-KF-011"
    with pytest.raises(Conflict):
        service.create_document(
            db,
            people["clerk"],
            title="z",
            kind=DocKind.FORM,
            department=_kf(db),
            number="BD-KF-010",
        )


def test_full_lifecycle_with_signatures_bound_to_content(db, people):
    doc = make_document(
        db,
        state="effective",
        author=people["clerk"],
        reviewer=people["reviewer"],
        approver=people["approver"],
        clerk=people["clerk"],
    )
    rev = doc.current_revision
    assert rev.state == RevState.EFFECTIVE
    assert doc.status == RevState.EFFECTIVE
    assert rev.label == "A/0"
    sigs = db.scalars(sa.select(Signature).where(Signature.object_id == str(rev.id))).all()
    assert [s.meaning for s in sigs] == ["authored", "reviewed", "approved", "issued"]
    assert all(status_of(s, rev.content_sha256) is SignatureStatus.VALID for s in sigs)
    assert doc.next_review_date == date(
        rev.effective_date.year + 2, rev.effective_date.month, rev.effective_date.day
    )


def test_all_reviewers_must_agree_before_approval(db, people):
    doc = make_document(db, state="draft", author=people["clerk"])
    rev = doc.working_revision
    service.submit_for_review(
        db,
        people["clerk"],
        rev,
        reviewers=[people["reviewer"], people["reviewer2"]],
        approver=people["approver"],
        password=TEST_PASSWORD,
        content_sha256=rev.content_sha256,
    )
    service.review(db, people["reviewer"], rev, password=TEST_PASSWORD,
                   content_sha256=rev.content_sha256)
    with pytest.raises(Conflict) as refused:
        service.approve(db, people["approver"], rev, password=TEST_PASSWORD,
                        content_sha256=rev.content_sha256)
    assert "Reviewer2" in str(refused.value.message)
    service.review(db, people["reviewer2"], rev, password=TEST_PASSWORD,
                   content_sha256=rev.content_sha256)
    service.approve(db, people["approver"], rev, password=TEST_PASSWORD,
                    content_sha256=rev.content_sha256)
    assert rev.state == RevState.APPROVED


def test_transition_not_allowed(db, people):
    doc = make_document(db, state="draft", author=people["clerk"])
    with pytest.raises(Conflict) as refused:
        service.approve(db, people["approver"], doc.working_revision, password=TEST_PASSWORD,
                        content_sha256=doc.working_revision.content_sha256)
    assert refused.value.code == "transition_not_allowed"


def test_wrong_password_when_signing(db, people):
    doc = _doc(db, people, "in_review")
    with pytest.raises(Forbidden) as refused:
        service.review(db, people["reviewer"], doc.working_revision, password="wrong-password",
                       content_sha256=doc.working_revision.content_sha256)
    assert refused.value.failed_attempt is not None


def test_approver_without_the_right(db, people):
    other = make_user(db, "approver_gc", Role.APPROVER, department="GC")
    doc = make_document(db, state="draft", author=people["clerk"])
    with pytest.raises(Forbidden) as refused:
        service.submit_for_review(
            db,
            people["clerk"],
            doc.working_revision,
            reviewers=[people["reviewer"]],
            approver=other,
            password=TEST_PASSWORD,
            content_sha256=doc.working_revision.content_sha256,
        )
    assert refused.value.code == "no_approval_right"


def test_self_approval_is_refused(db, people):
    author = make_user(db, "head", Role.APPROVER, Role.QUALITY_CLERK)
    grant_all_approval(db, author)
    doc = make_document(db, state="draft", author=author)
    with pytest.raises(Forbidden) as refused:
        service.submit_for_review(
            db,
            author,
            doc.working_revision,
            reviewers=[people["reviewer"]],
            approver=author,
            password=TEST_PASSWORD,
            content_sha256=doc.working_revision.content_sha256,
        )
    assert refused.value.code == "self_approval"
    service.submit_for_review(
        db,
        author,
        doc.working_revision,
        reviewers=[people["reviewer"]],
        approver=people["approver"],
        password=TEST_PASSWORD,
        content_sha256=doc.working_revision.content_sha256,
    )
    service.review(db, people["reviewer"], doc.working_revision, password=TEST_PASSWORD,
                   content_sha256=doc.working_revision.content_sha256)
    with pytest.raises(Forbidden) as refused:
        service.approve(db, author, doc.working_revision, password=TEST_PASSWORD,
                        content_sha256=doc.working_revision.content_sha256)
    assert refused.value.code == "self_approval"


def test_reject_sends_back_to_draft_with_comment(db, people):
    doc = _doc(db, people, "in_review")
    rev = doc.working_revision
    with pytest.raises(Invalid):
        service.reject(db, people["reviewer"], rev, comment=" ")
    service.reject(db, people["reviewer"], rev, comment="第3条职责不清")
    assert rev.state == RevState.DRAFT
    sigs = db.scalars(sa.select(Signature).where(Signature.object_id == str(rev.id))).all()
    assert all(s.voided_at is not None for s in sigs)


def test_editing_under_review_returns_to_draft_and_voids_signatures(db, people):
    doc = _doc(db, people, "reviewed")
    rev = doc.working_revision
    service.save_draft(
        db,
        people["clerk"],
        rev,
        body=rev.body + "\n补充一条。",
        change_summary="补充",
        base_hash=rev.content_sha256,
    )
    assert rev.state == RevState.DRAFT
    sigs = db.scalars(sa.select(Signature).where(Signature.object_id == str(rev.id))).all()
    assert sigs and all(s.voided_at is not None for s in sigs)
    assert all(a.decision == "pending" for a in rev.reviews)


def test_an_approved_revision_is_never_updated(db, people):
    doc = _doc(db, people, "approved")
    rev = doc.working_revision
    with pytest.raises(Conflict) as refused:
        service.save_draft(
            db, people["clerk"], rev, body="改", change_summary="", base_hash=rev.content_sha256
        )
    assert refused.value.code == "frozen"


def test_stale_save_is_refused_with_both_texts(db, people):
    doc = make_document(db, state="draft", author=people["clerk"])
    rev = doc.working_revision
    base = rev.content_sha256
    service.save_draft(
        db, people["clerk"], rev, body="第一人的修改", change_summary="", base_hash=base
    )
    with pytest.raises(Conflict) as refused:
        service.save_draft(
            db, people["clerk"], rev, body="第二人的修改", change_summary="", base_hash=base
        )
    assert refused.value.code == "stale"
    assert refused.value.details["current_body"] == "第一人的修改"
    assert refused.value.details["your_body"] == "第二人的修改"
    assert rev.body == "第一人的修改"


def test_body_over_two_megabytes(db, people):
    doc = make_document(db, state="draft", author=people["clerk"])
    rev = doc.working_revision
    with pytest.raises(TooLarge):
        service.save_draft(
            db,
            people["clerk"],
            rev,
            body="字" * (700 * 1024),
            change_summary="",
            base_hash=rev.content_sha256,
        )


def test_lock_holds_off_other_editors_until_broken(db, people):
    other = make_user(db, "clerk2", Role.QUALITY_CLERK)
    doc = make_document(db, state="draft", author=people["clerk"])
    rev = doc.working_revision
    service.acquire_lock(db, people["clerk"], rev)
    with pytest.raises(Conflict) as refused:
        service.acquire_lock(db, other, rev)
    assert refused.value.code == "locked"
    with pytest.raises(Invalid):
        service.break_lock(db, other, rev, reason="")
    service.break_lock(db, other, rev, reason="原编辑人休假")
    service.acquire_lock(db, other, rev)
    assert rev.lock_owner_id == other.id
    assert db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "break_lock")).reason


def test_revise_keeps_the_effective_revision_until_the_new_one_is_issued(db, people):
    doc = _doc(db, people, "effective")
    first = doc.current_revision
    new = service.revise(db, people["clerk"], doc, major_change=False, change_summary="小改")
    assert new.label == "A/1"
    assert doc.current_revision is first and first.state == RevState.EFFECTIVE
    with pytest.raises(Conflict):
        service.revise(db, people["clerk"], doc, major_change=True)
    service.save_draft(
        db,
        people["clerk"],
        new,
        body=new.body + "\n新增条款。",
        change_summary="小改",
        base_hash=new.content_sha256,
    )
    service.submit_for_review(
        db,
        people["clerk"],
        new,
        reviewers=[people["reviewer"]],
        approver=people["approver"],
        password=TEST_PASSWORD,
        content_sha256=new.content_sha256,
    )
    service.review(db, people["reviewer"], new, password=TEST_PASSWORD,
                   content_sha256=new.content_sha256)
    service.approve(db, people["approver"], new, password=TEST_PASSWORD,
                    content_sha256=new.content_sha256)
    service.issue(db, people["clerk"], new, password=TEST_PASSWORD,
                  content_sha256=new.content_sha256)
    assert first.state == RevState.SUPERSEDED
    assert new.state == RevState.EFFECTIVE
    assert doc.current_revision is new
    effective = db.scalar(
        sa.select(sa.func.count())
        .select_from(Revision)
        .where(Revision.document_id == doc.id, Revision.state == RevState.EFFECTIVE)
    )
    assert effective == 1


def test_future_effective_date_is_honoured(db, people):
    doc = _doc(db, people, "effective")
    first = doc.current_revision
    new = service.revise(db, people["clerk"], doc, major_change=True, change_summary="大改")
    assert new.label == "B/0"
    service.submit_for_review(
        db,
        people["clerk"],
        new,
        reviewers=[people["reviewer"]],
        approver=people["approver"],
        password=TEST_PASSWORD,
        content_sha256=new.content_sha256,
    )
    service.review(db, people["reviewer"], new, password=TEST_PASSWORD,
                   content_sha256=new.content_sha256)
    service.approve(db, people["approver"], new, password=TEST_PASSWORD,
                    content_sha256=new.content_sha256)
    today = date(2026, 11, 27)
    service.issue(
        db,
        people["clerk"],
        new,
        password=TEST_PASSWORD,
        effective_date=today + timedelta(days=5),
        today=today,
        content_sha256=new.content_sha256,
    )
    assert new.state == RevState.APPROVED and first.state == RevState.EFFECTIVE
    assert service.activate_due(db, today + timedelta(days=4)) == []
    assert service.activate_due(db, today + timedelta(days=5)) == [new]
    assert new.state == RevState.EFFECTIVE and first.state == RevState.SUPERSEDED


def test_second_effective_revision_is_impossible(db, people):
    doc = _doc(db, people, "effective")
    rev = doc.current_revision
    with pytest.raises(Conflict):
        service.issue(db, people["clerk"], rev, password=TEST_PASSWORD,
                      content_sha256=rev.content_sha256)
    # and the database refuses it even if the code were bypassed
    extra = Revision(
        document_id=doc.id,
        major=9,
        minor=0,
        label="I/0",
        state=RevState.EFFECTIVE,
        title="x",
        body="",
        content_sha256="0" * 64,
        author_id=people["clerk"].id,
    )
    db.add(extra)
    with pytest.raises(sa.exc.IntegrityError):
        db.flush()
    db.rollback()


def test_withdrawal_needs_reason_and_signature(db, people):
    doc = _doc(db, people, "effective")
    with pytest.raises(Invalid):
        service.withdraw(db, people["clerk"], doc, reason="", password=TEST_PASSWORD,
                         content_sha256=doc.current_revision.content_sha256)
    with pytest.raises(Forbidden):
        service.withdraw(db, people["staff"], doc, reason="不再适用", password=TEST_PASSWORD,
                         content_sha256=doc.current_revision.content_sha256)
    service.withdraw(db, people["clerk"], doc, reason="业务已取消", password=TEST_PASSWORD,
                     content_sha256=doc.current_revision.content_sha256)
    assert doc.status == RevState.OBSOLETE
    assert doc.current_revision is None
    last = db.scalar(sa.select(Revision).where(Revision.document_id == doc.id))
    assert last.state == RevState.OBSOLETE and last.end_reason == "业务已取消"


def test_unknown_document_number(db):
    with pytest.raises(NotFound):
        service.get_document(db, "ZD-XX-999")


def test_drafts_are_visible_only_to_those_involved(db, people):
    doc = _doc(db, people, "in_review")
    rev = doc.working_revision
    assert service.can_view(db, people["reviewer"], rev)
    assert service.can_view(db, people["approver"], rev)
    assert service.can_view(db, people["clerk"], rev)
    assert not service.can_view(db, people["staff"], rev)
    assert not service.can_view(db, make_user(db, "reviewer9", Role.REVIEWER), rev)


def test_every_step_is_in_the_trail(db, people):
    doc = _doc(db, people, "effective")
    ref = f"{doc.number} A/0"
    states = db.scalars(
        sa.select(TrailEntry.new_value)
        .where(TrailEntry.object_id == ref, TrailEntry.field == "state")
        .order_by(TrailEntry.seq)
    ).all()
    assert states == ["in_review", "approved", "effective"]
    assert db.scalar(sa.select(sa.func.count()).select_from(Document)) == 1


def test_resubmission_after_rejection_to_the_same_reviewer(db, people):
    doc = make_document(db, state="in_review", author=people["clerk"],
                        reviewer=people["reviewer"], approver=people["approver"])
    rev = doc.working_revision
    service.reject(db, people["reviewer"], rev, comment="补充附件")
    service.submit_for_review(db, people["clerk"], rev,
                              reviewers=[people["reviewer"], people["reviewer2"]],
                              approver=people["approver"], password=TEST_PASSWORD,
                              content_sha256=rev.content_sha256)
    db.flush()
    assert rev.state == RevState.IN_REVIEW
    assert sorted(a.decision for a in rev.reviews) == ["pending", "pending"]
    service.review(db, people["reviewer"], rev, password=TEST_PASSWORD,
                   content_sha256=rev.content_sha256)
    service.review(db, people["reviewer2"], rev, password=TEST_PASSWORD,
                   content_sha256=rev.content_sha256)
    service.approve(db, people["approver"], rev, password=TEST_PASSWORD,
                    content_sha256=rev.content_sha256)
    assert rev.state == RevState.APPROVED
