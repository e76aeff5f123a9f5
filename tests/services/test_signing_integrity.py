"""Signatures that hold under a hostile user with a valid account (issue 11, items 4–6):
only the named approver approves, the quality manager reassigns with a reason, every
signature is bound to the text the signer read, and nobody who changed the text (nor the
approver) reviews it, nor does anyone review and approve the same revision."""

import pytest
import sqlalchemy as sa

from qms.auth.models import Meaning, Signature
from qms.auth.permissions import Role
from qms.documents import service
from qms.documents.lifecycle import RevState
from qms.documents.models import ReviewerAssignment
from qms.errors import Conflict, Forbidden, Invalid
from qms.trail.models import TrailEntry
from tests.factories import TEST_PASSWORD, grant_all_approval, make_document, make_user


@pytest.fixture
def people(db):
    made = {
        "clerk": make_user(db, "clerk1", Role.QUALITY_CLERK, display_name="Clerk One"),
        "reviewer": make_user(db, "reviewer1", Role.REVIEWER, display_name="Reviewer One"),
        "reviewer2": make_user(db, "reviewer2", Role.REVIEWER, display_name="Reviewer Two"),
        "approver": make_user(db, "approver1", Role.APPROVER, display_name="Named Approver"),
        "other": make_user(db, "approver2", Role.APPROVER, display_name="Other Approver"),
        "manager": make_user(db, "manager1", Role.QUALITY_MANAGER, display_name="QM"),
        "staff": make_user(db, "staff1", Role.STAFF),
    }
    for name in ("approver", "other", "manager"):
        grant_all_approval(db, made[name])
    return made


def _doc(db, people, state="reviewed"):
    return make_document(
        db,
        state=state,
        author=people["clerk"],
        reviewer=people["reviewer"],
        approver=people["approver"],
        clerk=people["clerk"],
    )


def _signatures(db, revision, meaning):
    return db.scalars(
        sa.select(Signature).where(
            Signature.object_type == "revision",
            Signature.object_id == str(revision.id),
            Signature.meaning == meaning,
        )
    ).all()


def _approve(db, user, revision, seen=None):
    return service.approve(
        db,
        user,
        revision,
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256 if seen is None else seen,
    )


# -- item 4: only the named approver ---------------------------------------------------------


def test_an_approver_not_named_on_the_submission_is_refused(db, people):
    revision = _doc(db, people).working_revision
    with pytest.raises(Forbidden) as refused:
        _approve(db, people["other"], revision)
    assert refused.value.code == "not_named_approver"
    assert "Named Approver" in str(refused.value.message)
    assert revision.state == RevState.IN_REVIEW
    assert revision.approver_id == people["approver"].id  # not replaced by the intruder
    assert _signatures(db, revision, Meaning.APPROVED) == []
    _approve(db, people["approver"], revision)
    assert revision.state == RevState.APPROVED


def test_only_the_named_approver_may_reject_as_approver(db, people):
    revision = _doc(db, people).working_revision
    with pytest.raises(Forbidden):
        service.reject(db, people["other"], revision, comment="我不同意")
    assert revision.state == RevState.IN_REVIEW


def test_the_quality_manager_reassigns_the_approver_with_a_reason(db, people):
    revision = _doc(db, people).working_revision
    service.reassign_approver(
        db, people["manager"], revision, approver=people["other"], reason="孙经理休假两周"
    )
    assert revision.approver_id == people["other"].id
    entry = db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "reassign"))
    assert (entry.object_type, entry.field) == ("revision", "approver")
    assert (entry.old_value, entry.new_value) == ("approver1", "approver2")
    assert entry.reason == "孙经理休假两周"
    assert entry.actor_id == people["manager"].id
    with pytest.raises(Forbidden) as refused:
        _approve(db, people["approver"], revision)  # the former approver no longer signs
    assert refused.value.code == "not_named_approver"
    assert "Other Approver" in str(refused.value.message)
    _approve(db, people["other"], revision)
    assert revision.state == RevState.APPROVED


def _reassign_refused(db, people, revision, actor, approver, reason="休假"):
    before = revision.approver_id
    with pytest.raises((Forbidden, Invalid, Conflict)) as refused:
        service.reassign_approver(db, actor, revision, approver=approver, reason=reason)
    assert revision.approver_id == before
    assert db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "reassign")) is None
    return refused.value


def test_only_the_quality_manager_reassigns(db, people):
    revision = _doc(db, people).working_revision
    err = _reassign_refused(db, people, revision, people["clerk"], people["other"])
    assert (err.status, err.code) == (403, "not_quality_manager")
    err = _reassign_refused(db, people, revision, people["approver"], people["other"])
    assert err.status == 403


def test_a_reassignment_needs_a_reason(db, people):
    revision = _doc(db, people).working_revision
    err = _reassign_refused(db, people, revision, people["manager"], people["other"], reason=" ")
    assert (err.status, err.code) == (422, "reason_required")


def test_reassigning_to_the_same_approver_is_refused(db, people):
    revision = _doc(db, people).working_revision
    err = _reassign_refused(db, people, revision, people["manager"], people["approver"])
    assert (err.status, err.code) == (422, "same_approver")


def test_the_new_approver_needs_the_approval_right(db, people):
    revision = _doc(db, people).working_revision
    no_right = make_user(db, "approver3", Role.APPROVER, display_name="No Right")
    err = _reassign_refused(db, people, revision, people["manager"], no_right)
    assert (err.status, err.code) == (403, "no_approval_right")
    assert "No Right" in str(err.message)


def test_the_new_approver_may_not_be_a_reviewer_or_the_author(db, people):
    revision = _doc(db, people).working_revision
    grant_all_approval(db, people["reviewer"])
    err = _reassign_refused(db, people, revision, people["manager"], people["reviewer"])
    assert (err.status, err.code) == (422, "reviewer_as_approver")
    err = _reassign_refused(db, people, revision, people["manager"], people["clerk"])
    assert (err.status, err.code) == (403, "self_approval")


def test_only_a_revision_in_review_gets_another_approver(db, people):
    revision = _doc(db, people, state="approved").working_revision
    err = _reassign_refused(db, people, revision, people["manager"], people["other"])
    assert (err.status, err.code) == (409, "transition_not_allowed")


# -- item 5: a signature is bound to the text the signer read ----------------------------------


def _edit_and_resubmit(db, people, revision, body):
    service.save_draft(
        db,
        people["clerk"],
        revision,
        body=body,
        change_summary="改",
        base_hash=revision.content_sha256,
    )
    service.submit_for_review(
        db,
        people["clerk"],
        revision,
        reviewers=[people["reviewer2"]],
        approver=people["approver"],
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )
    service.review(
        db,
        people["reviewer2"],
        revision,
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )


def test_an_approval_of_a_text_changed_since_it_was_opened_is_refused(db, people):
    revision = _doc(db, people).working_revision
    opened = revision.content_sha256  # what the approver's page showed
    _edit_and_resubmit(db, people, revision, "## 总则\n\n投诉一律不予受理。\n")
    assert revision.state == RevState.IN_REVIEW and revision.content_sha256 != opened
    with pytest.raises(Conflict) as refused:
        _approve(db, people["approver"], revision, seen=opened)
    err = refused.value
    assert (err.status, err.code) == (409, "content_changed")
    assert err.details == {
        "sent_content_sha256": opened,
        "current_content_sha256": revision.content_sha256,
    }
    assert "reload" in str(err.message).lower() or "重新" in str(err.message)
    assert revision.state == RevState.IN_REVIEW
    assert _signatures(db, revision, Meaning.APPROVED) == []
    _approve(db, people["approver"], revision)  # after reading the new text
    assert revision.state == RevState.APPROVED


def test_a_signature_without_the_hash_is_refused(db, people):
    revision = _doc(db, people).working_revision
    with pytest.raises(Invalid) as refused:
        _approve(db, people["approver"], revision, seen="")
    assert (refused.value.status, refused.value.code) == (422, "content_sha256_required")
    assert revision.state == RevState.IN_REVIEW


STATE_BEFORE = {
    "submit": "draft",
    "review": "in_review",
    "issue": "approved",
    "withdraw": "effective",
}


def _sign_step(db, people, step, document, revision, seen):
    if step == "submit":
        return service.submit_for_review(
            db,
            people["clerk"],
            revision,
            reviewers=[people["reviewer"]],
            approver=people["approver"],
            password=TEST_PASSWORD,
            content_sha256=seen,
        )
    if step == "review":
        return service.review(
            db, people["reviewer"], revision, password=TEST_PASSWORD, content_sha256=seen
        )
    if step == "issue":
        return service.issue(
            db, people["clerk"], revision, password=TEST_PASSWORD, content_sha256=seen
        )
    return service.withdraw(
        db, people["clerk"], document, reason="作废", password=TEST_PASSWORD, content_sha256=seen
    )


@pytest.mark.parametrize("step", list(STATE_BEFORE))
def test_every_signing_step_refuses_a_stale_or_missing_hash(db, people, step):
    document = _doc(db, people, state=STATE_BEFORE[step])
    revision = document.working_revision or document.current_revision
    before = db.scalar(sa.select(sa.func.count()).select_from(Signature))
    with pytest.raises(Conflict) as refused:
        _sign_step(db, people, step, document, revision, "0" * 64)
    assert refused.value.code == "content_changed"
    assert refused.value.details["current_content_sha256"] == revision.content_sha256
    with pytest.raises(Invalid) as missing:
        _sign_step(db, people, step, document, revision, "")
    assert missing.value.code == "content_sha256_required"
    assert db.scalar(sa.select(sa.func.count()).select_from(Signature)) == before
    assert revision.state == RevState(STATE_BEFORE[step])


# -- item 6: separation of duties -------------------------------------------------------------


def _edited_by_manager(db, people):
    """A draft of the clerk's that the quality manager also edited (not its author)."""
    document = _doc(db, people, state="draft")
    revision = document.working_revision
    service.save_draft(
        db,
        people["manager"],
        revision,
        body=revision.body + "\n经理补充一条。\n",
        change_summary="经理补充",
        base_hash=revision.content_sha256,
    )
    return revision


def test_editors_are_everyone_who_changed_the_text(db, people):
    revision = _edited_by_manager(db, people)
    assert service.editors_of(db, revision) == {people["clerk"].id, people["manager"].id}


def test_an_editor_is_not_named_reviewer(db, people):
    revision = _edited_by_manager(db, people)
    with pytest.raises(Invalid) as refused:
        service.submit_for_review(
            db,
            people["clerk"],
            revision,
            reviewers=[people["manager"]],
            approver=people["approver"],
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
    assert refused.value.code == "editor_as_reviewer"
    assert "QM" in str(refused.value.message)
    assert revision.state == RevState.DRAFT


def test_an_editor_is_not_named_approver(db, people):
    revision = _edited_by_manager(db, people)
    with pytest.raises(Forbidden) as refused:
        service.submit_for_review(
            db,
            people["clerk"],
            revision,
            reviewers=[people["reviewer"]],
            approver=people["manager"],
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
    assert refused.value.code == "editor_as_approver"
    assert revision.state == RevState.DRAFT


def test_one_person_is_not_named_both_reviewer_and_approver(db, people):
    revision = _doc(db, people, state="draft").working_revision
    with pytest.raises(Invalid) as refused:
        service.submit_for_review(
            db,
            people["clerk"],
            revision,
            reviewers=[people["reviewer"], people["approver"]],
            approver=people["approver"],
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
    assert refused.value.code == "reviewer_as_approver"
    assert "Named Approver" in str(refused.value.message)
    assert revision.state == RevState.DRAFT
    assert _signatures(db, revision, Meaning.AUTHORED) == []


def test_who_reviewed_an_earlier_round_is_not_named_approver(db, people):
    revision = _doc(db, people).working_revision  # reviewer1 signed 'reviewed'
    grant_all_approval(db, people["reviewer"])
    service.reject(db, people["approver"], revision, comment="补充附件")
    with pytest.raises(Invalid) as refused:
        service.submit_for_review(
            db,
            people["clerk"],
            revision,
            reviewers=[people["reviewer2"]],
            approver=people["reviewer"],
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
    assert refused.value.code == "reviewer_as_approver"


def _submitted_before_the_rule(db, people, extra_reviewer):
    """A revision submitted before these rules existed: someone is on it who would now be
    refused at submission. The signing step refuses them too."""
    revision = _doc(db, people, state="in_review").working_revision
    revision.reviews.append(ReviewerAssignment(reviewer=extra_reviewer))
    db.flush()
    return revision


def test_an_editor_who_is_reviewer_cannot_sign_the_review(db, people):
    revision = _doc(db, people, state="draft").working_revision
    service.submit_for_review(
        db,
        people["clerk"],
        revision,
        reviewers=[people["reviewer"]],
        approver=people["approver"],
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )
    # the manager changed the text in an earlier round (recorded in the trail)
    service.save_draft(
        db,
        people["manager"],
        revision,
        body="经理改过的正文",
        change_summary="",
        base_hash=revision.content_sha256,
    )
    service.submit_for_review(
        db,
        people["clerk"],
        revision,
        reviewers=[people["reviewer"]],
        approver=people["approver"],
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )
    revision.reviews.append(ReviewerAssignment(reviewer=people["manager"]))  # legacy data
    db.flush()
    with pytest.raises(Forbidden) as refused:
        service.review(
            db,
            people["manager"],
            revision,
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
    assert refused.value.code == "editor_as_reviewer"
    assert _signatures(db, revision, Meaning.REVIEWED) == []


def test_the_approver_cannot_sign_as_reviewer_and_a_reviewer_cannot_approve(db, people):
    revision = _submitted_before_the_rule(db, people, people["approver"])
    with pytest.raises(Forbidden) as refused:
        service.review(
            db,
            people["approver"],
            revision,
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
    assert refused.value.code == "approver_as_reviewer"
    service.review(
        db,
        people["reviewer"],
        revision,
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )
    with pytest.raises(Forbidden) as refused:
        _approve(db, people["approver"], revision)
    assert refused.value.code == "reviewer_as_approver"
    assert revision.state == RevState.IN_REVIEW
    assert _signatures(db, revision, Meaning.APPROVED) == []


def test_an_editor_named_approver_before_the_rule_cannot_approve(db, people):
    revision = _doc(db, people).working_revision
    # the approver once saved this text (an edit recorded in the trail) — from before the rule
    from qms.trail import service as trail

    trail.record(
        db,
        people["approver"],
        "update",
        "revision",
        f"{revision.document.number} {revision.label}",
        field="body",
        old="",
        new="x",
    )
    with pytest.raises(Forbidden) as refused:
        _approve(db, people["approver"], revision)
    assert refused.value.code == "editor_as_approver"
    assert revision.state == RevState.IN_REVIEW
