"""The signing forms of the document page as a browser posts them (CSRF on): the fingerprint
of the text travels with the form, only the named approver signs, the quality manager
reassigns, and the separation of duties holds (issue 11, items 4–6)."""

import re

import pytest
import sqlalchemy as sa

from qms.auth.models import Meaning, Signature, User
from qms.documents import service
from qms.documents.models import Revision
from qms.trail.models import TrailEntry
from tests.factories import TEST_PASSWORD, make_document

APPROVER_NAME = "孙丽（客户服务中心经理）"


def _user(db, name):
    return db.scalar(sa.select(User).where(User.username == name))


def _in_app(app, work):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        result = work(db)
        db.commit()
        return result


@pytest.fixture
def reviewed(app, users):
    """KF regulation by the clerk, reviewed by the reviewer, waiting for the approver."""

    def make(db):
        document = make_document(
            db,
            state="reviewed",
            author=_user(db, "clerk"),
            reviewer=_user(db, "reviewer"),
            approver=_user(db, "approver"),
        )
        return document.number

    return _in_app(app, make)


def _revision(app, number):
    def read(db):
        revision = service.get_document(db, number).working_revision
        return {
            "id": revision.id,
            "hash": revision.content_sha256,
            "state": str(revision.state),
            "approver": revision.approver.username if revision.approver else None,
        }

    return _in_app(app, read)


def _approvals(app, revision_id):
    return _in_app(
        app,
        lambda db: db.scalar(
            sa.select(sa.func.count())
            .select_from(Signature)
            .where(
                Signature.object_type == "revision",
                Signature.object_id == str(revision_id),
                Signature.meaning == Meaning.APPROVED,
            )
        ),
    )


def _hidden_hash(page, form_id):
    form = page[page.index(f'id="{form_id}"') :]
    form = form[: form.index("</form>")]
    return re.search(r'name="content_sha256" value="([0-9a-f]{64})"', form).group(1)


def _approve(client, number, revision_id, seen, **extra):
    data = {"action": "approve", "revision_id": revision_id, "password": TEST_PASSWORD}
    if seen is not None:
        data["content_sha256"] = seen
    data.update(extra)
    return client.post(f"/documents/{number}/transition", data=data)


def _edit_resubmit_and_review(app, number):
    """The clerk changes the text after the approver opened the page; it goes round again."""

    def work(db):
        revision = service.get_document(db, number).working_revision
        clerk, reviewer = _user(db, "clerk"), _user(db, "reviewer")
        service.save_draft(
            db,
            clerk,
            revision,
            body="## 总则\n\n投诉一律不予受理。\n",
            change_summary="改",
            base_hash=revision.content_sha256,
        )
        service.submit_for_review(
            db,
            clerk,
            revision,
            reviewers=[_user(db, "leader")],
            approver=_user(db, "approver"),
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
        service.review(
            db,
            _user(db, "leader"),
            revision,
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
        assert reviewer.id != clerk.id

    _in_app(app, work)


# -- item 5: the fingerprint on the form ---------------------------------------------------------


def test_the_approve_form_carries_and_shows_the_fingerprint(app, client_as, reviewed):
    revision = _revision(app, reviewed)
    page = client_as("approver").get(f"/documents/{reviewed}").get_data(as_text=True)
    assert _hidden_hash(page, "approve-form") == revision["hash"]
    assert f'<code class="hash">{revision["hash"]}</code>' in page  # shown to the signer


def test_an_approval_from_a_page_opened_before_an_edit_is_refused(app, client_as, reviewed):
    approver = client_as("approver")
    page = approver.get(f"/documents/{reviewed}").get_data(as_text=True)
    opened = _hidden_hash(page, "approve-form")
    _edit_resubmit_and_review(app, reviewed)
    now = _revision(app, reviewed)
    assert now["state"] == "in_review" and now["hash"] != opened

    response = _approve(approver, reviewed, now["id"], opened)
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "文本已被修改" in text and "重新打开" in text
    assert f'id="sent-hash">{opened}<' in text
    assert f'id="current-hash">{now["hash"]}<' in text
    assert "投诉一律不予受理" in text  # the page now shows the changed text to read
    assert _revision(app, reviewed)["state"] == "in_review"
    assert _approvals(app, now["id"]) == 0
    # read again, sign again: the new page carries the new fingerprint
    fresh = _hidden_hash(
        approver.get(f"/documents/{reviewed}").get_data(as_text=True), "approve-form"
    )
    assert _approve(approver, reviewed, now["id"], fresh).status_code == 302
    assert _revision(app, reviewed)["state"] == "approved"


def test_a_form_without_the_fingerprint_is_refused(app, client_as, reviewed):
    revision = _revision(app, reviewed)
    response = _approve(client_as("approver"), reviewed, revision["id"], None)
    assert response.status_code == 422
    assert "content_sha256" in response.get_data(as_text=True)
    assert _approvals(app, revision["id"]) == 0


def test_a_signing_form_is_only_offered_beside_the_text_it_signs(app, client_as, users):
    def make(db):
        document = make_document(
            db,
            state="effective",
            author=_user(db, "clerk"),
            reviewer=_user(db, "reviewer"),
            approver=_user(db, "approver"),
            clerk=_user(db, "clerk"),
        )
        revision = service.revise(db, _user(db, "clerk"), document, major_change=True)
        service.submit_for_review(
            db,
            _user(db, "clerk"),
            revision,
            reviewers=[_user(db, "reviewer")],
            approver=_user(db, "approver"),
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
        return document.number

    number = _in_app(app, make)
    reviewer = client_as("reviewer")
    effective = reviewer.get(f"/documents/{number}").get_data(as_text=True)
    assert 'id="review-form"' not in effective  # the page shows A/0; B/0 is signed
    assert "签名前请打开修订版 B/0 阅读" in effective
    draft = reviewer.get(f"/documents/{number}?revision=B/0").get_data(as_text=True)
    assert 'id="review-form"' in draft


def test_the_task_list_opens_the_revision_to_sign(app, client_as, reviewed):
    html = client_as("approver").get("/tasks/").get_data(as_text=True)
    assert f'data-kind="approve" data-subject="{reviewed}"' in html
    assert f"/documents/{reviewed}?revision=A" in html  # the text beside the approve form


# -- item 4: the named approver, and reassignment ------------------------------------------------


def test_another_holder_of_the_approval_right_is_refused(app, client_as, reviewed):
    revision = _revision(app, reviewed)
    # the general manager approves anything, but may not even see a draft he is not named on
    gm = client_as("gm")
    assert _approve(gm, reviewed, revision["id"], revision["hash"]).status_code == 404
    manager = client_as("manager")  # sees every draft and holds the approval right
    page = manager.get(f"/documents/{reviewed}").get_data(as_text=True)
    assert 'id="approve-form"' not in page
    response = _approve(manager, reviewed, revision["id"], revision["hash"])
    assert response.status_code == 403
    assert APPROVER_NAME in response.get_data(as_text=True)
    after = _revision(app, reviewed)
    assert (after["state"], after["approver"]) == ("in_review", "approver")
    assert _approvals(app, revision["id"]) == 0


def test_the_quality_manager_reassigns_through_the_form(app, client_as, reviewed):
    revision = _revision(app, reviewed)
    manager = client_as("manager")
    page = manager.get(f"/documents/{reviewed}").get_data(as_text=True)
    assert 'id="reassign-form"' in page
    assert 'value="gm"' in page[page.index('id="reassign-form"') :]
    response = manager.post(
        f"/documents/{reviewed}/approver",
        data={"revision_id": revision["id"], "approver": "gm", "reason": "孙经理出差"},
    )
    assert response.status_code == 302
    assert _revision(app, reviewed)["approver"] == "gm"
    entry = _in_app(
        app, lambda db: db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "reassign"))
    )
    assert (entry.old_value, entry.new_value, entry.reason) == ("approver", "gm", "孙经理出差")
    # document control reads the reason; an auditor who may not see the draft sees the
    # entry with its values withheld
    trail_page = client_as("manager").get(f"/documents/{reviewed}/trail").get_data(as_text=True)
    assert "孙经理出差" in trail_page
    # the former approver is refused (no longer named, the draft is no longer his to see);
    # the new one signs
    assert (
        _approve(client_as("approver"), reviewed, revision["id"], revision["hash"]).status_code
        == 404
    )
    assert _approve(client_as("gm"), reviewed, revision["id"], revision["hash"]).status_code == 302


def test_reassignment_is_refused_to_others_and_without_a_reason(app, client_as, reviewed):
    revision = _revision(app, reviewed)
    form = {"revision_id": revision["id"], "approver": "gm", "reason": "出差"}
    assert client_as("clerk").post(f"/documents/{reviewed}/approver", data=form).status_code == 403
    page = client_as("clerk").get(f"/documents/{reviewed}").get_data(as_text=True)
    assert 'id="reassign-form"' not in page
    no_reason = client_as("manager").post(
        f"/documents/{reviewed}/approver", data={**form, "reason": "  "}
    )
    assert no_reason.status_code == 422
    assert "请说明更换批准人的原因" in no_reason.get_data(as_text=True)
    unknown = client_as("manager").post(
        f"/documents/{reviewed}/approver", data={**form, "approver": "nobody"}
    )
    assert unknown.status_code == 422
    forged = client_as("manager").post(
        f"/documents/{reviewed}/approver", data={**form, "csrf_token": ""}
    )
    assert forged.status_code == 400
    assert _revision(app, reviewed)["approver"] == "approver"


# -- item 6: separation of duties through the submit form -------------------------------------


def _draft(app, users):
    def make(db):
        document = make_document(db, state="draft", author=_user(db, "clerk"))
        return document.number

    return _in_app(app, make)


def _submit(client, number, revision, reviewers, approver):
    return client.post(
        f"/documents/{number}/transition",
        data={
            "action": "submit",
            "revision_id": revision["id"],
            "content_sha256": revision["hash"],
            "reviewers": reviewers,
            "approver": approver,
            "password": TEST_PASSWORD,
        },
    )


def test_one_person_cannot_be_named_reviewer_and_approver(app, client_as, users):
    number = _draft(app, users)
    revision = _revision(app, number)
    response = _submit(client_as("clerk"), number, revision, ["reviewer", "approver"], "approver")
    assert response.status_code == 422
    assert "同一人不能既审核又批准" in response.get_data(as_text=True)
    assert _revision(app, number)["state"] == "draft"


def test_someone_who_edited_the_text_is_not_offered_or_accepted_as_reviewer(app, client_as, users):
    number = _draft(app, users)
    revision = _revision(app, number)
    manager = client_as("manager")
    manager.post(f"/documents/{number}/edit/{revision['id']}", data={"action": "lock"})
    saved = manager.post(
        f"/documents/{number}/edit/{revision['id']}",
        data={
            "title": "服务投诉处理制度",
            "body": "经理补充的正文",
            "change_summary": "补充",
            "base_hash": revision["hash"],
        },
    )
    assert saved.status_code == 302
    manager.post(f"/documents/{number}/edit/{revision['id']}", data={"action": "release"})
    revision = _revision(app, number)
    page = client_as("clerk").get(f"/documents/{number}").get_data(as_text=True)
    submit_form = page[page.index('id="submit-form"') :]
    submit_form = submit_form[: submit_form.index("</form>")]
    assert 'value="manager"' not in submit_form  # neither as reviewer nor as approver
    response = _submit(client_as("clerk"), number, revision, ["manager"], "approver")
    assert response.status_code == 422
    assert "修改过本修订版的文本，不能审核" in response.get_data(as_text=True)
    assert _in_app(app, lambda db: db.get(Revision, revision["id"]).state) == "draft"
