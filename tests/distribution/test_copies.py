"""Controlled copies: issue, receipt, the recall list after a supersede or withdrawal."""

import pytest
import sqlalchemy as sa

from qms.distribution import copies
from qms.distribution.models import ControlledCopy, Medium, RecallOutcome
from qms.documents import service
from qms.documents.lifecycle import RevState
from qms.errors import Conflict, Forbidden, Invalid
from qms.trail.models import TrailEntry
from tests.distribution.conftest import department, effective_document, make_next_effective
from tests.factories import TEST_PASSWORD, make_document


def _outstanding(db):
    return db.scalars(copies.outstanding_recalls()).all()


def test_copies_are_numbered_per_revision_and_trailed(db, people):
    document = effective_document(db, people)
    rev = document.current_revision
    first = copies.issue_copy(db, people["clerk"], rev, holder_department=department(db, "KF"))
    second = copies.issue_copy(db, people["clerk"], rev, holder_user=people["staff"],
                               medium=Medium.ELECTRONIC)
    assert (first.copy_number, second.copy_number) == (1, 2)
    assert first.holder_name == "客户服务中心"
    assert first.issued_by_id == people["clerk"].id and first.issued_at is not None
    entries = db.scalars(sa.select(TrailEntry).where(TrailEntry.action == "issue_copy")).all()
    assert [e.object_id for e in entries] == [f"{document.number} A/0 #1",
                                              f"{document.number} A/0 #2"]


def test_a_copy_needs_a_holder_and_document_control(db, people):
    rev = effective_document(db, people).current_revision
    with pytest.raises(Invalid):
        copies.issue_copy(db, people["clerk"], rev)
    with pytest.raises(Forbidden):
        copies.issue_copy(db, people["staff"], rev, holder_user=people["staff"])


def test_no_copy_of_a_draft_or_an_obsolete_revision(db, people):
    draft = make_document(db, author=people["clerk"]).working_revision
    with pytest.raises(Conflict) as refused:
        copies.issue_copy(db, people["clerk"], draft, holder_user=people["staff"])
    assert refused.value.code == "revision_not_issued"
    document = effective_document(db, people, title="保安管理制度")
    old = document.current_revision
    make_next_effective(db, people, document)
    assert old.state == RevState.SUPERSEDED
    with pytest.raises(Conflict) as refused:
        copies.issue_copy(db, people["clerk"], old, holder_user=people["staff"])
    assert refused.value.code == "revision_not_current"
    assert old.label in str(refused.value)
    assert db.scalar(sa.select(sa.func.count()).select_from(ControlledCopy)) == 0


def test_receipt_is_confirmed_by_the_holder_once(db, people):
    rev = effective_document(db, people).current_revision
    copy = copies.issue_copy(db, people["clerk"], rev, holder_user=people["staff"])
    with pytest.raises(Forbidden):
        copies.confirm_receipt(db, people["staff2"], copy)
    copies.confirm_receipt(db, people["staff"], copy)
    assert copy.received_at is not None and copy.received_by_id == people["staff"].id
    with pytest.raises(Conflict):
        copies.confirm_receipt(db, people["staff"], copy)
    dept_copy = copies.issue_copy(db, people["clerk"], rev, holder_department=department(db, "KF"))
    copies.confirm_receipt(db, people["staff"], dept_copy)  # a member of the holding department


def test_recall_list_after_a_supersede(db, people):
    document = effective_document(db, people)
    old = document.current_revision
    kept_back = copies.issue_copy(db, people["clerk"], old, holder_department=department(db, "KF"))
    personal = copies.issue_copy(db, people["clerk"], old, holder_user=people["staff"])
    assert _outstanding(db) == []

    new = make_next_effective(db, people, document)
    new_copy = copies.issue_copy(db, people["clerk"], new, holder_user=people["staff"])

    listed = _outstanding(db)
    assert [c.id for c in listed] == [kept_back.id, personal.id]
    # the reason is kept as a code and read in the reader's language
    assert all(c.recall_reason.endswith("|B/0") for c in listed)
    assert all("B/0" in copies.recall_reason_text(c.recall_reason) for c in listed)
    assert "superseded" not in copies.recall_reason_text(listed[0].recall_reason)
    assert new_copy.recall_requested_at is None

    copies.record_recall(db, people["clerk"], kept_back, RecallOutcome.RETURNED, "收回")
    copies.record_recall(db, people["clerk"], personal, RecallOutcome.DESTROYED)
    assert _outstanding(db) == []
    assert kept_back.recalled_by_id == people["clerk"].id
    actions = db.scalars(sa.select(TrailEntry.action).where(
        TrailEntry.object_type == "controlled_copy")).all()
    assert actions.count("request_recall") == 2 and actions.count("recall_copy") == 2


def test_recalling_twice_is_refused_and_changes_nothing(db, people):
    rev = effective_document(db, people).current_revision
    copy = copies.issue_copy(db, people["clerk"], rev, holder_user=people["staff"])
    copies.record_recall(db, people["clerk"], copy, RecallOutcome.RETURNED)
    first_time = copy.recalled_at
    with pytest.raises(Conflict) as refused:
        copies.record_recall(db, people["clerk"], copy, RecallOutcome.DESTROYED)
    assert refused.value.code == "already_recalled"
    assert f"{rev.document.number} A/0 #1" in str(refused.value)
    assert copy.recall_outcome == RecallOutcome.RETURNED and copy.recalled_at == first_time


def test_withdrawal_recalls_every_outstanding_copy(db, people):
    document = effective_document(db, people)
    rev = document.current_revision
    a = copies.issue_copy(db, people["clerk"], rev, holder_user=people["staff"])
    b = copies.issue_copy(db, people["clerk"], rev, holder_department=department(db, "BA"))
    copies.record_recall(db, people["clerk"], b, RecallOutcome.RETURNED)
    service.withdraw(db, people["clerk"], document, reason="不再适用", password=TEST_PASSWORD,
                     content_sha256=document.current_revision.content_sha256)
    assert [c.id for c in _outstanding(db)] == [a.id]
    assert a.recall_reason.startswith("withdrawn|")
    assert "不再适用" in copies.recall_reason_text(a.recall_reason)


def test_recall_mails_the_holder_and_the_clerk(db, people):
    from qms.mail.models import MailMessage

    document = effective_document(db, people)
    copies.issue_copy(db, people["clerk"], document.current_revision, holder_user=people["staff"])
    make_next_effective(db, people, document)
    subjects = {(m.to_address, m.subject) for m in db.scalars(sa.select(MailMessage))}
    assert any(to == "staff1@example.com" and document.number in s for to, s in subjects)
    assert any(to == "clerk1@example.com" and document.number in s for to, s in subjects)
