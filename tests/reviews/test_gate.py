"""The review gate on document approval (issue 11, item 7): no approval while a review
meeting of the revision has not had its report approved, nor while a serious or general
defect against it is undecided or unverified; the refusal reads as a clerk speaks."""

import pytest
import sqlalchemy as sa

from qms.auth.models import Meaning, Signature, User
from qms.documents import service as documents
from qms.documents.lifecycle import RevState
from qms.errors import Conflict
from qms.reviews import service
from qms.reviews.lifecycle import ReviewState
from qms.reviews.models import Severity
from tests.factories import TEST_PASSWORD, grant_all_approval, make_document
from tests.reviews.conftest import advance, plan, raise_defect


def _approve(db, team):
    revision = team["revision"]
    return documents.approve(
        db,
        team["doc_approver"],
        revision,
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )


def _approved_signatures(db, revision):
    return db.scalars(
        sa.select(Signature).where(
            Signature.object_type == "revision",
            Signature.object_id == str(revision.id),
            Signature.meaning == Meaning.APPROVED,
        )
    ).all()


def test_a_review_in_pre_review_with_an_undecided_serious_defect_blocks(db, team):
    review = plan(db, team)
    advance(db, team, review, ReviewState.PRE_REVIEW)
    defect = raise_defect(db, team, review, Severity.SERIOUS, description="缺少投诉时限。")
    raise_defect(db, team, review, Severity.SUGGESTION, description="可加示例")
    with pytest.raises(Conflict) as refused:
        _approve(db, team)
    err = refused.value
    message = str(err.message)
    assert err.code == "review_in_progress"
    assert message.startswith("修订版 A/0 暂不能批准。")  # in the user's language (zh_CN)
    assert review.ref in message and "客户服务体系" in message  # review number and title
    assert "预审" in message  # the review's step, in the user's language
    assert f"{review.ref}#{defect.number}" in message
    assert "严重" in message and "缺少投诉时限" in message  # severity in words, and its text
    assert "可加示例" not in message  # suggestions never block
    assert "。。" not in message
    assert "{" not in message and "'severity'" not in message  # no Python dict
    assert [r["review"] for r in err.details["reviews"]] == [review.ref]
    assert [d["number"] for d in err.details["defects"]] == [defect.number]
    assert err.details["defects"][0]["severity"] == "serious"
    assert team["revision"].state == RevState.IN_REVIEW
    assert _approved_signatures(db, team["revision"]) == []


def test_an_open_review_blocks_even_without_defects(db, team):
    review = plan(db, team)  # planning: the report is far away
    with pytest.raises(Conflict) as refused:
        _approve(db, team)
    assert refused.value.code == "review_in_progress"
    assert review.ref in str(refused.value.message)
    assert refused.value.details["defects"] == []


@pytest.mark.parametrize("severity", [Severity.SERIOUS, Severity.GENERAL])
def test_an_undecided_serious_or_general_defect_is_named(db, team, severity):
    review = plan(db, team)
    advance(db, team, review, ReviewState.MEETING)
    defect = raise_defect(db, team, review, severity, description="职责不清")
    with pytest.raises(Conflict) as refused:
        _approve(db, team)
    message = str(refused.value.message)
    assert f"{review.ref}#{defect.number}" in message and "职责不清" in message
    assert {"serious": "严重", "general": "一般"}[severity] in message
    assert refused.value.details["defects"][0]["disposition"] == "open"


def test_a_cancelled_review_and_an_archived_one_do_not_block(db, team):
    cancelled = plan(db, team)
    service.cancel(db, team["leader"], cancelled, reason="重复安排")
    done = plan(db, team)
    advance(db, team, done, ReviewState.FOLLOW_UP)
    _approve(db, team)
    assert team["revision"].state == RevState.APPROVED


# -- through the document page and the API ------------------------------------------------


def _user(db, name):
    return db.scalar(sa.select(User).where(User.username == name))


@pytest.fixture
def open_review(app, users):
    """A revision every reviewer agreed to, with a review in pre-review and an undecided
    serious defect against it."""
    with app.app_context():
        from qms.db import get_session

        db = get_session()
        grant_all_approval(db, _user(db, "approver"))
        document = make_document(
            db,
            state="reviewed",
            author=_user(db, "clerk"),
            reviewer=_user(db, "reviewer"),
            approver=_user(db, "approver"),
        )
        revision = document.working_revision
        review = service.create_review(
            db,
            _user(db, "leader"),
            title="客服体系评审",
            department=document.department,
            objects=[service.ObjectSpec(revision, 8)],
            reviewers=[_user(db, "reviewer")],
            approver=_user(db, "gm"),
            planned_pages_per_hour=4,
        )
        service.submit_plan(db, _user(db, "leader"), review)
        service.approve_plan(
            db,
            _user(db, "gm"),
            review,
            password=TEST_PASSWORD,
            content_sha256=service.plan_hash(review),
        )
        for name in ("reviewer", "clerk"):
            service.confirm_participation(db, _user(db, name), review)
        service.publish(db, _user(db, "leader"), review)
        service.add_defect(
            db,
            _user(db, "reviewer"),
            review,
            description="缺少投诉处理时限。",
            severity=Severity.SERIOUS,
            category="missing",
        )
        db.commit()
        return {
            "number": document.number,
            "revision_id": revision.id,
            "hash": revision.content_sha256,
            "review": review.ref,
        }


def test_the_approve_form_shows_the_review_and_defect_in_words(client_as, open_review):
    approver = client_as("approver")
    number = open_review["number"]
    response = approver.post(
        f"/documents/{number}/transition",
        data={
            "action": "approve",
            "revision_id": open_review["revision_id"],
            "content_sha256": open_review["hash"],
            "password": TEST_PASSWORD,
        },
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert 'id="refusal"' in page and 'id="refusal-items"' in page
    assert open_review["review"] in page and "客服体系评审" in page
    assert "缺少投诉处理时限" in page and "严重" in page
    assert "。。" not in page
    assert "{&#39;" not in page and "{'" not in page  # no Python dict on the page
    shown = approver.get(f"/documents/{number}").get_data(as_text=True)
    assert "审核中" in shown  # still in review, not approved


def test_the_api_refuses_with_the_reviews_and_defects_as_data(app, client_as, open_review):
    from qms.auth import service as auth
    from qms.db import get_session

    with app.app_context():
        db = get_session()
        user = auth.user_by_username(db, "approver")
        token = auth.create_token(db, user, user, "gate")
        db.commit()
    response = app.test_client().post(
        f"/api/v1/documents/{open_review['number']}/transitions",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "action": "approve",
            "password": TEST_PASSWORD,
            "content_sha256": open_review["hash"],
        },
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "review_in_progress"
    assert error["details"]["reviews"][0]["review"] == open_review["review"]
    defect = error["details"]["defects"][0]
    assert (defect["severity"], defect["disposition"]) == ("serious", "open")
    assert "缺少投诉处理时限" in error["message"]
    assert "{" not in error["message"]
