"""Each person's task list follows the document through review, approval and issue."""

from qms.auth.permissions import Role
from qms.distribution import copies, reading
from qms.documents import service
from qms.tasks.registry import tasks_for
from tests.factories import TEST_PASSWORD, make_document


def _kinds(db, user):
    return [(t.kind, t.subject) for t in tasks_for(db, user)]


def test_tasks_follow_the_revision_through_its_lifecycle(db, people):
    reading.save_rule(db, people["clerk"], kind=None, department=None, roles=[Role.STAFF],
                      departments=[], people=[])
    document = make_document(db, state="in_review", author=people["clerk"],
                             reviewer=people["reviewer"], approver=people["approver"])
    revision = document.working_revision
    number = document.number
    assert _kinds(db, people["reviewer"]) == [("review", number)]
    assert _kinds(db, people["approver"]) == []  # waits for the reviewers

    service.review(db, people["reviewer"], revision, password=TEST_PASSWORD,
                   content_sha256=revision.content_sha256)
    assert _kinds(db, people["reviewer"]) == []
    assert _kinds(db, people["approver"]) == [("approve", number)]

    service.approve(db, people["approver"], revision, password=TEST_PASSWORD,
                    content_sha256=revision.content_sha256)
    assert _kinds(db, people["approver"]) == []
    assert _kinds(db, people["clerk"]) == [("issue", number)]
    assert _kinds(db, people["staff"]) == []

    service.issue(db, people["clerk"], revision, password=TEST_PASSWORD,
                  content_sha256=revision.content_sha256)
    assert _kinds(db, people["clerk"]) == []
    assert _kinds(db, people["staff"]) == [("acknowledge", number)]


def test_copy_holders_sign_for_receipt_and_clerks_recall(db, people):
    document = make_document(db, state="effective", author=people["clerk"],
                             reviewer=people["reviewer"], approver=people["approver"],
                             clerk=people["clerk"])
    copy = copies.issue_copy(db, people["clerk"], document.current_revision,
                             holder_user=people["staff"])
    assert _kinds(db, people["staff"]) == [("receive", document.number)]
    copies.confirm_receipt(db, people["staff"], copy)
    assert _kinds(db, people["staff"]) == []
    service.withdraw(db, people["clerk"], document, reason="作废", password=TEST_PASSWORD,
                     content_sha256=document.current_revision.content_sha256)
    recall = [t for t in tasks_for(db, people["clerk"]) if t.kind == "recall"]
    assert len(recall) == 1 and recall[0].subject == document.number
    assert _kinds(db, people["staff"]) == []


def test_my_tasks_page_and_home_panel(app, client_as, users):
    from qms.auth.models import User
    from qms.db import get_session

    with app.test_request_context():
        db = get_session()
        clerk, reviewer, approver = (db.get(User, users[n]) for n in ("clerk", "reviewer",
                                                                      "approver"))
        document = make_document(db, state="in_review", author=clerk, reviewer=reviewer,
                                 approver=approver)
        db.commit()
        number = document.number
    page = client_as("reviewer").get("/tasks/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-kind="review" data-subject="{number}"' in html
    assert f"/documents/{number}" in html
    assert 'id="no-tasks"' in client_as("staff").get("/tasks/").get_data(as_text=True)
    home = client_as("reviewer").get("/").get_data(as_text=True)
    assert "/tasks/" in home
