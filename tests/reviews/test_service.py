"""Review operations through the real services: the flow, bad input, the gate, carry-over."""

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from qms.auth.models import Signature
from qms.auth.permissions import Role
from qms.documents import service as documents
from qms.documents.lifecycle import RevState
from qms.errors import Conflict, Forbidden, Invalid
from qms.reviews import service
from qms.reviews.lifecycle import ReviewState
from qms.reviews.models import Category, Disposition, Phase, Review, ReviewType, Severity
from qms.trail.models import TrailEntry
from tests.factories import TEST_PASSWORD, make_document, make_user
from tests.reviews.conftest import advance, plan, raise_defect


def test_a_plan_pins_the_revision_and_starts_from_the_checklist_template(db, team):
    review = plan(db, team)
    main = review.main_object
    assert main.revision_id == team["revision"].id
    assert main.content_sha256 == team["revision"].content_sha256
    assert review.state == ReviewState.PLANNING
    assert len(review.checklist) >= 5  # the regulation template plus the common items
    roles = {(p.user.username, p.role) for p in review.participants}
    assert ("author1", "author") in roles
    assert ("leader1", "leader") in roles
    assert db.scalar(sa.select(TrailEntry).where(TrailEntry.object_type == "review",
                                                 TrailEntry.action == "create")) is not None


def test_the_whole_flow_signs_plan_and_report(db, team):
    review = plan(db, team)
    advance(db, team, review, ReviewState.PRE_REVIEW)
    service.log_preparation(db, team["reviewer"], review, 45)
    pre = raise_defect(db, team, review, Severity.SERIOUS, Category.MISSING, chapter="3")
    assert pre.phase == Phase.PRE_REVIEW
    advance(db, team, review, ReviewState.MEETING)
    live = service.add_defect(db, team["recorder"], review, description="含糊",
                              severity=Severity.SUGGESTION, category=Category.AMBIGUOUS,
                              raised_by=team["reviewer2"])
    assert (live.phase, live.raised_by_id) == (Phase.MEETING, team["reviewer2"].id)
    service.respond(db, team["author"], live, "会改")
    service.dispose(db, team["leader"], live, Disposition.REJECTED, "超出范围")
    advance(db, team, review, ReviewState.FOLLOW_UP)
    sigs = db.scalars(sa.select(Signature).where(Signature.object_type.in_(
        ["review_plan", "review_report"]))).all()
    assert sorted(s.object_type for s in sigs) == ["review_plan", "review_report"]
    assert all(s.meaning == "approved" and s.user_id == team["gm"].id for s in sigs)
    service.track(db, team["leader"], pre, owner=team["author"], fix_due=None)
    service.mark_fixed(db, team["author"], pre)
    service.verify(db, team["reviewer2"], pre)
    service.decide_regression(db, team["leader"], review, needed=False, lessons="早做预审")
    service.archive(db, team["leader"], review)
    assert review.state == ReviewState.ARCHIVED


# -- bad input ----------------------------------------------------------------------------

def test_the_author_cannot_lead(db, team):
    team["author"].role_rows[0].role = Role.REVIEW_LEADER
    db.flush()
    with pytest.raises(Invalid) as err:
        plan(db, team, leader=team["author"])
    assert err.value.code == "author_as_leader"


def test_team_of_fewer_than_two_or_more_than_seven_is_refused(db, team):
    extra = [make_user(db, f"rv{i}", Role.REVIEWER) for i in range(6)]
    with pytest.raises(Invalid) as err:
        plan(db, team, reviewers=[team["reviewer"], *extra])  # 1+7+1+1 = 10
    assert err.value.code == "team_size"
    smallest = plan(db, team, reviewers=[team["reviewer"]], authors=[], recorder=None)
    assert len(smallest.people()) == 2


def test_a_team_of_one_is_refused(db, team):
    with pytest.raises(Invalid) as err:
        service._check_team(team["leader"], [], [], None)
    assert err.value.code == "team_size"


def test_a_defect_against_a_revision_not_under_review_is_refused(db, team):
    other = make_document(db, state="effective", title="另一份", author=team["author"],
                          reviewer=team["reviewer"], approver=team["doc_approver"])
    review = plan(db, team, objects=[service.ObjectSpec(team["revision"], 10),
                                     service.ObjectSpec(other.current_revision, 2)])
    advance(db, team, review, ReviewState.PRE_REVIEW)
    with pytest.raises(Conflict) as err:
        raise_defect(db, team, review, revision_id=other.current_revision.id)
    assert err.value.code == "revision_not_under_review"
    stranger = make_document(db, state="in_review", title="无关", author=team["author"],
                             reviewer=team["reviewer"], approver=team["doc_approver"])
    with pytest.raises(Invalid) as err:
        raise_defect(db, team, review, revision_id=stranger.working_revision.id)
    assert err.value.code == "revision_not_under_review"


def test_a_fix_date_before_the_defect_was_raised_is_refused(db, team):
    review = plan(db, team)
    advance(db, team, review, ReviewState.MEETING)
    defect = raise_defect(db, team, review)
    service.dispose(db, team["leader"], defect, "accepted")
    with pytest.raises(Invalid) as err:
        service.track(db, team["leader"], defect, owner=team["author"],
                      fix_due=defect.raised_at.date() - timedelta(days=1))
    assert err.value.code == "fix_date_before_raised"


def test_verification_by_the_defects_author_is_refused(db, team):
    review = plan(db, team)
    advance(db, team, review, ReviewState.PRE_REVIEW)
    defect = raise_defect(db, team, review, who="reviewer")
    advance(db, team, review, ReviewState.FOLLOW_UP)
    service.track(db, team["leader"], defect, owner=team["author"], fix_due=None)
    service.mark_fixed(db, team["author"], defect)
    with pytest.raises(Forbidden) as err:
        service.verify(db, team["reviewer"], defect)  # raised it
    assert err.value.code == "self_verification"
    with pytest.raises(Forbidden):
        service.verify(db, team["author"], defect)  # owns the fix
    service.verify(db, team["leader"], defect)
    assert defect.verified_by_id == team["leader"].id


def test_a_report_with_unticked_checklist_items_is_not_approved(db, team):
    review = plan(db, team)
    advance(db, team, review, ReviewState.REPORT_SUBMITTED)
    item = review.checklist[0]
    # The report was submitted complete; an unticked item makes it unapprovable.
    item.checked = False
    db.flush()
    with pytest.raises(Conflict) as err:
        service.approve_report(db, team["gm"], review, password=TEST_PASSWORD,
                               content_sha256=service.report_hash(review))
    assert err.value.code == "checklist_incomplete"
    assert item.text in str(err.value.message)


def test_plan_approval_needs_the_password_and_the_named_approver(db, team):
    review = plan(db, team)
    service.submit_plan(db, team["leader"], review)
    with pytest.raises(Forbidden):
        service.approve_plan(db, team["gm"], review, password="wrong",
                             content_sha256=service.plan_hash(review))
    with pytest.raises(Forbidden):
        service.approve_plan(db, team["doc_approver"], review, password=TEST_PASSWORD,
                             content_sha256=service.plan_hash(review))


def test_publishing_waits_for_the_team_to_confirm(db, team):
    review = plan(db, team)
    advance(db, team, review, ReviewState.PLAN_APPROVED)
    service.confirm_participation(db, team["reviewer"], review)
    with pytest.raises(Conflict) as err:
        service.publish(db, team["leader"], review)
    assert err.value.code == "team_not_confirmed"
    assert "Reviewer Two" in str(err.value.message)


def test_a_rejection_needs_a_reason(db, team):
    review = plan(db, team)
    advance(db, team, review, ReviewState.MEETING)
    defect = raise_defect(db, team, review)
    with pytest.raises(Invalid):
        service.dispose(db, team["leader"], defect, "rejected", "")


# -- the gate ---------------------------------------------------------------------------

def test_the_gate_refuses_approval_until_the_defects_are_verified(db, team):
    revision = team["revision"]
    review = plan(db, team)
    advance(db, team, review, ReviewState.PRE_REVIEW)
    serious = raise_defect(db, team, review, Severity.SERIOUS, description="缺少时限")
    suggestion = raise_defect(db, team, review, Severity.SUGGESTION, description="可加示例")
    advance(db, team, review, ReviewState.FOLLOW_UP)
    assert suggestion.disposition == Disposition.ACCEPTED

    with pytest.raises(Conflict) as err:
        documents.approve(db, team["doc_approver"], revision, password=TEST_PASSWORD,
                          content_sha256=revision.content_sha256)
    assert err.value.code == "open_review_defects"
    assert f"{review.ref}#{serious.number}" in str(err.value.message)
    assert f"#{suggestion.number}" not in str(err.value.message)  # suggestions do not block
    assert revision.state == RevState.IN_REVIEW

    service.track(db, team["leader"], serious, owner=team["author"], fix_due=None)
    service.mark_fixed(db, team["author"], serious)
    with pytest.raises(Conflict):  # fixed but not verified still blocks
        documents.approve(db, team["doc_approver"], revision, password=TEST_PASSWORD,
                          content_sha256=revision.content_sha256)
    service.verify(db, team["leader"], serious)
    documents.approve(db, team["doc_approver"], revision, password=TEST_PASSWORD,
                      content_sha256=revision.content_sha256)
    assert revision.state == RevState.APPROVED


def test_rejected_defects_do_not_block(db, team):
    review = plan(db, team)
    advance(db, team, review, ReviewState.MEETING)
    defect = raise_defect(db, team, review, Severity.SERIOUS)
    service.dispose(db, team["leader"], defect, "rejected", "误解")
    advance(db, team, review, ReviewState.FOLLOW_UP)  # the report is approved
    documents.approve(db, team["doc_approver"], team["revision"], password=TEST_PASSWORD,
                      content_sha256=team["revision"].content_sha256)


# -- carry-over ----------------------------------------------------------------------------

def test_a_regression_review_of_the_next_revision_starts_with_the_open_defects(db, team):
    first = plan(db, team)
    advance(db, team, first, ReviewState.PRE_REVIEW)
    open_one = raise_defect(db, team, first, Severity.GENERAL, description="流程缺一步")
    closed_one = raise_defect(db, team, first, Severity.SERIOUS, description="时限错误")
    rejected = raise_defect(db, team, first, Severity.GENERAL, description="误报")
    advance(db, team, first, ReviewState.MEETING)
    service.dispose(db, team["leader"], rejected, "rejected", "误解")
    advance(db, team, first, ReviewState.FOLLOW_UP)
    service.track(db, team["leader"], closed_one, owner=team["author"], fix_due=None)
    service.mark_fixed(db, team["author"], closed_one)
    service.verify(db, team["leader"], closed_one)
    service.track(db, team["leader"], open_one, owner=team["author"], fix_due=None)
    service.decide_regression(db, team["leader"], first, needed=True, reason="复核流程")
    service.archive(db, team["leader"], first)

    # The revision goes back to draft and is resubmitted (same document, content changed).
    revision = team["revision"]
    documents.save_draft(db, team["author"], revision, body=revision.body + "\n补充。\n",
                         change_summary="按评审修改", base_hash=revision.content_sha256)
    # (a different reviewer: re-assigning the same one trips reviewer_assignment's unique key)
    documents.submit_for_review(db, team["author"], revision, reviewers=[team["reviewer2"]],
                                approver=team["doc_approver"], password=TEST_PASSWORD,
                                content_sha256=revision.content_sha256)
    second = plan(db, team, review_type=ReviewType.REGRESSION)
    assert second.previous_review_id == first.id
    carried = list(second.defects)
    assert [d.description for d in carried] == ["流程缺一步"]
    assert carried[0].phase == Phase.CARRIED_OVER
    assert carried[0].disposition == Disposition.ACCEPTED
    assert carried[0].owner_id == team["author"].id
    assert open_one.carried_to_id == carried[0].id
    assert not open_one.is_open  # tracked in the regression review now
    assert [d.number for d in service.blocking_defects(db, revision.id)] == [carried[0].number]


# -- one person, two roles ------------------------------------------------------------------

TWO_ROLES = [
    ("leader", "reviewer"), ("leader", "recorder"), ("reviewer", "recorder"),
    ("leader", "author"), ("reviewer", "author"), ("recorder", "author"),
]


@pytest.mark.parametrize(("first", "second"), TWO_ROLES)
def test_every_combination_of_two_roles_is_either_refused_at_planning_or_works(
    db, team, first, second
):
    """Regression: a reviewer who was also the recorder and logged preparation time made
    approving the report a 500 (report_hash compared None with a number)."""
    person = team["reviewer"]
    kw: dict[str, Any] = {"leader": team["leader"], "reviewers": [team["reviewer2"]],
                          "recorder": team["recorder"], "authors": [team["author"]]}
    slot = {"leader": "leader", "reviewer": "reviewers", "recorder": "recorder",
            "author": "authors"}
    for role in (first, second):
        if role == "reviewer":
            kw["reviewers"] = [person, team["reviewer2"]]
        elif role == "author":
            kw["authors"] = [person]
        else:
            kw[slot[role]] = person
    if "leader" in (first, second):
        person.role_rows[0].role = Role.REVIEW_LEADER
        db.flush()
    if "author" in (first, second):
        with pytest.raises(Invalid) as err:
            plan(db, team, **kw)
        assert "起草人" in str(err.value.message)  # says the author may not take that role
        return
    review = plan(db, team, **kw)
    team = {**team, "leader": kw["leader"]}
    advance(db, team, review, ReviewState.PRE_REVIEW)
    service.log_preparation(db, person, review, 30)
    service.log_preparation(db, team["reviewer2"], review, 45)
    advance(db, team, review, ReviewState.FOLLOW_UP)
    assert review.state == ReviewState.FOLLOW_UP
    assert len(service.report_hash(review)) == 64


def test_the_checklist_starts_from_the_effective_checklist_form(db, team):
    """The template is the company's form BD-PZ-001, the kind's special checks after its
    document-content items; without the form, the built-in items."""
    from pathlib import Path

    from qms.reviews.checklists import form_items

    without_form = [i.text for i in plan(db, team).checklist]
    source = (Path(__file__).resolve().parents[2] / "documents" / "BD-PZ-001.md").read_text()
    body = source.split("---", 2)[2]
    form = make_document(db, state="effective", kind="form", department="PZ", body=body,
                         author=team["author"], approver=team["doc_approver"])
    assert form.number == "BD-PZ-001"
    assert form.current_revision is not None
    items = [i.text for i in plan(db, team).checklist]
    rows = form_items(body)
    assert len(rows) == 6 + 9 + 5  # the empty tenth content row is left for the leader
    assert items[0] == "评审计划已经总经理批准并发布"
    assert items[14] == "用语规范，无错别字和歧义"
    assert items[-1] == "评审材料已归档并标明状态"
    special = [t for t in items if t not in {text for _s, text in rows}]
    assert special and items.index(special[0]) == 15  # after the content section
    assert items != without_form


def test_plan_and_report_signatures_hold_through_the_whole_flow_and_catch_a_database_edit(
    db, team
):
    """The meeting's place and agenda no longer rewrite the signed plan: a whole review,
    meeting and follow-up included, leaves both signatures matching; a raw UPDATE shows."""
    from qms.auth.signatures import check_signatures
    from qms.reviews.integrity import review_plan_content, review_report_content

    hashers = {"review_plan": review_plan_content, "review_report": review_report_content}
    review = plan(db, team, meeting_place="会议室 B", agenda="逐章评审")
    advance(db, team, review, ReviewState.PRE_REVIEW)
    service.log_preparation(db, team["reviewer"], review, 40)
    defect = raise_defect(db, team, review, Severity.SERIOUS)
    advance(db, team, review, ReviewState.MEETING)  # starts the meeting in 会议室 A
    assert (review.meeting_place, review.place) == ("会议室 B", "会议室 A")
    advance(db, team, review, ReviewState.FOLLOW_UP)
    service.track(db, team["leader"], defect, owner=team["author"], fix_due=None)
    service.mark_fixed(db, team["author"], defect)
    service.verify(db, team["reviewer2"], defect)
    db.commit()
    assert list(check_signatures(db, hashers)) == []
    db.execute(sa.update(Review).where(Review.id == review.id).values(title="改过的名称"))
    db.commit()
    problems = list(check_signatures(db, hashers))
    assert {p.signature.object_type for p in problems} == {"review_plan", "review_report"}
