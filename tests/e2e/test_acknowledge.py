"""Staff acknowledge a new revision from their task list (阅知)."""

import sqlalchemy as sa

from tests.e2e.conftest import sign_in
from tests.factories import TEST_PASSWORD


def _setup(live_app):
    from qms.auth.models import User
    from qms.auth.permissions import Role
    from qms.db import get_session
    from qms.distribution import reading
    from qms.documents import service
    from tests.factories import make_document

    with live_app.test_request_context():
        db = get_session()
        who = {u.username: u for u in db.scalars(sa.select(User))}
        reading.save_rule(db, who["clerk"], kind=None, department=None, roles=[Role.STAFF],
                          departments=[], people=[])
        document = make_document(db, state="effective", author=who["clerk"],
                                 reviewer=who["reviewer"], approver=who["approver"],
                                 clerk=who["clerk"])
        # A new revision takes effect: staff must read it.
        revision = service.revise(db, who["clerk"], document, major_change=True,
                                  change_summary="增加回访要求")
        service.save_draft(db, who["clerk"], revision,
                           body=revision.body + "\n## 回访\n\n三日内回访。\n",
                           change_summary="增加回访要求", base_hash=revision.content_sha256)
        service.submit_for_review(db, who["clerk"], revision, reviewers=[who["reviewer"]],
                                  approver=who["approver"], password=TEST_PASSWORD,
                                  content_sha256=revision.content_sha256)
        service.review(db, who["reviewer"], revision, password=TEST_PASSWORD,
                       content_sha256=revision.content_sha256)
        service.approve(db, who["approver"], revision, password=TEST_PASSWORD,
                        content_sha256=revision.content_sha256)
        service.issue(db, who["clerk"], revision, password=TEST_PASSWORD,
                      content_sha256=revision.content_sha256)
        db.commit()
        return document.number, revision.id


def test_staff_acknowledge_a_new_revision_from_their_task_list(page, live_server, live_app,
                                                               tmp_path):
    number, revision_id = _setup(live_app)
    sign_in(page, live_server, "staff")
    page.goto(f"{live_server}/tasks/")
    task = page.locator(f'tr[data-kind="acknowledge"][data-subject="{number}"]')
    assert task.count() == 1
    task.locator("a").click()
    page.wait_for_url(f"{live_server}/distribution/read/{revision_id}")
    assert "三日内回访" in page.locator("article.doc-body").inner_text()
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("#sign-read")
    page.wait_for_url(f"{live_server}/tasks/")
    assert page.locator(".flash-success").count() == 1
    assert page.locator('tr[data-kind="acknowledge"]').count() == 0
    page.screenshot(path=str(tmp_path / "acknowledged.png"))

    page.goto(f"{live_server}/distribution/read/{revision_id}")
    assert page.locator("#ack-done").count() == 1

    from qms.auth.models import Meaning, Signature
    from qms.db import get_session

    with live_app.app_context():
        signature = get_session().scalar(sa.select(Signature).where(
            Signature.meaning == Meaning.READ))
        assert signature.object_id == str(revision_id)
        assert signature.user.username == "staff"
