"""Review fixtures: a team, a document under review, and a helper that drives a review
through the real services to a given step."""

from __future__ import annotations

from typing import Any

import pytest

from qms.auth.permissions import Role
from qms.reviews import approvers, service
from qms.reviews.lifecycle import ReviewState
from qms.reviews.models import Category, Conclusion, Review, Severity
from tests.factories import TEST_PASSWORD, make_document, make_user


@pytest.fixture
def team(db) -> dict[str, Any]:
    people = {
        "leader": make_user(db, "leader1", Role.REVIEW_LEADER, display_name="Leader One"),
        "reviewer": make_user(db, "reviewer1", Role.REVIEWER, display_name="Reviewer One"),
        "reviewer2": make_user(db, "reviewer2", Role.REVIEWER, display_name="Reviewer Two"),
        "author": make_user(db, "author1", Role.QUALITY_CLERK, display_name="Author One"),
        "recorder": make_user(db, "recorder1", Role.QUALITY_CLERK, display_name="Recorder"),
        "gm": make_user(db, "gm1", Role.APPROVER, department="ZJ", display_name="GM"),
        "doc_approver": make_user(db, "approver1", Role.APPROVER, department="KF"),
    }
    approvers.name_general_manager(db, None, people["gm"])
    document = make_document(db, state="reviewed", author=people["author"],
                             reviewer=people["reviewer"], approver=people["doc_approver"])
    people["document"] = document
    people["revision"] = document.working_revision
    return people


def plan(db, team, **kw: Any) -> Review:
    args: dict[str, Any] = {
        "title": "客户服务体系", "department": team["document"].department,
        "objects": [service.ObjectSpec(team["revision"], pages=kw.pop("pages", 10))],
        "reviewers": [team["reviewer"], team["reviewer2"]], "approver": team["gm"],
        "recorder": team["recorder"], "planned_pages_per_hour": 5,
    }
    args.update(kw)
    return service.create_review(db, team["leader"], **args)


STEPS = [ReviewState.PLAN_SUBMITTED, ReviewState.PLAN_APPROVED, ReviewState.PRE_REVIEW,
         ReviewState.MEETING, ReviewState.REPORTING, ReviewState.REPORT_SUBMITTED,
         ReviewState.FOLLOW_UP]


def advance(db, team, review: Review, to: ReviewState, before_report=None) -> Review:
    """Drive the review forward with the real services (ticking the checklist and concluding
    on the way to the report)."""
    leader, gm = team["leader"], team["gm"]
    order = [ReviewState.PLANNING, *STEPS]
    for step in STEPS[order.index(review.state):]:
        if review.state == to:
            break
        if step == ReviewState.PLAN_SUBMITTED:
            service.submit_plan(db, leader, review)
        elif step == ReviewState.PLAN_APPROVED:
            service.approve_plan(db, gm, review, password=TEST_PASSWORD,
                                 content_sha256=service.plan_hash(review))
        elif step == ReviewState.PRE_REVIEW:
            for user in review.people():
                if user.id != leader.id:
                    service.confirm_participation(db, user, review)
            service.publish(db, leader, review)
        elif step == ReviewState.MEETING:
            service.start_meeting(db, leader, review, place="会议室 A")
        elif step == ReviewState.REPORTING:
            service.close_meeting(db, leader, review, minutes=60)
        elif step == ReviewState.REPORT_SUBMITTED:
            if before_report:
                before_report(review)
            for item in review.checklist:
                service.tick(db, leader, review, item.id, True)
            for d in review.defects:
                if d.disposition == "open":
                    service.dispose(db, leader, d, "accepted")
            if review.conclusion is None:
                service.conclude(db, leader, review, Conclusion.MINOR)
            service.submit_report(db, leader, review)
        elif step == ReviewState.FOLLOW_UP:
            service.approve_report(db, gm, review, password=TEST_PASSWORD,
                                   content_sha256=service.report_hash(review))
    assert review.state == to
    return review


def raise_defect(db, team, review, severity=Severity.GENERAL, category=Category.WRONG,
                 who="reviewer", **kw):
    return service.add_defect(db, team[who], review, description=kw.pop("description", "错字"),
                              severity=severity, category=category, **kw)
