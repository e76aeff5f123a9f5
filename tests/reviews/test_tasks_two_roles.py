"""A person with two roles on a review (reviewer and recorder) gets each step of the team
once on the task list, and a step done once is done."""

from flask_babel import lazy_gettext as _l

from qms.reviews import service
from qms.reviews.lifecycle import ReviewState
from qms.reviews.tasks import review_tasks
from tests.factories import TEST_PASSWORD
from tests.reviews.conftest import advance, plan


def _titles(db, user, ref):
    return [str(t.title) for t in review_tasks(db, user) if t.subject == ref]


def test_reviewer_who_records_confirms_and_prepares_once(db, team):
    both = team["reviewer"]
    review = plan(db, team, recorder=both)
    assert sorted(p.role for p in review.participants if p.user_id == both.id) == [
        "recorder",
        "reviewer",
    ]
    advance(db, team, review, ReviewState.PLAN_SUBMITTED)
    service.approve_plan(
        db, team["gm"], review, password=TEST_PASSWORD, content_sha256=service.plan_hash(review)
    )
    assert _titles(db, both, review.ref) == [str(_l("Confirm the review plan"))]
    service.confirm_participation(db, both, review)
    assert _titles(db, both, review.ref) == []

    for user in review.people():
        if user.id not in (both.id, team["leader"].id):
            service.confirm_participation(db, user, review)
    service.publish(db, team["leader"], review)
    assert _titles(db, both, review.ref) == [str(_l("Pre-review the documents and log your time"))]
    assert _titles(db, team["author"], review.ref) == []  # the author does not pre-review
    service.log_preparation(db, both, review, 45)
    assert _titles(db, both, review.ref) == []
    assert _titles(db, team["reviewer2"], review.ref) == [
        str(_l("Pre-review the documents and log your time"))
    ]
