"""A document change raised from a corrective action: it starts the next revision of the
controlling document, both pages link to each other, and the action is done when that
revision becomes effective."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from qms import clock
from qms.errors import Conflict, DomainError
from qms.nonconformity import service
from qms.nonconformity.rules import ActionStatus, NcState
from tests.factories import TEST_PASSWORD, make_document
from tests.nonconformity.helpers import raise_nc, user


def _issue(db: Any, revision: Any) -> None:
    from qms.documents import service as documents

    documents.submit_for_review(
        db,
        user(db, "clerk"),
        revision,
        reviewers=[user(db, "reviewer")],
        approver=user(db, "approver"),
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )
    for step, who in ((documents.review, "reviewer"), (documents.approve, "approver")):
        step(
            db,
            user(db, who),
            revision,
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
    documents.issue(
        db,
        user(db, "clerk"),
        revision,
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )


def test_document_change_through_to_effective(app: Any, users: Any, client_as: Any) -> None:
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        clerk = user(db, "clerk")
        document = make_document(
            db,
            state="effective",
            kind="process",
            title="客户投诉处理流程",
            author=clerk,
            reviewer=user(db, "reviewer"),
            approver=user(db, "approver"),
            clerk=clerk,
        )
        nc = raise_nc(
            db, process_number=document.number, raised_on=clock.today() - timedelta(days=2)
        )
        owner = nc.owner
        assert owner is not None
        service.record_cause_and_plan(db, owner, nc, whys=["流程未要求回访"], root_cause="流程缺陷")
        action = service.add_action(
            db,
            owner,
            nc,
            description="流程增加回访记录步骤",
            owner=user(db, "staff"),
            due_on=clock.today(),
        )
        service.start_actions(db, owner, nc)
        db.commit()
        # the owner may not draft documents: the change is refused, nothing started
        with pytest.raises(DomainError):
            service.raise_document_change(db, owner, nc, action)
        db.rollback()
        nc = db.get(type(nc), nc.id)
        action = nc.actions[0]
        revision = service.raise_document_change(db, clerk, nc, action)
        db.commit()
        assert revision.document_id == document.id and revision.label != "A/0"
        assert action.revision_id == revision.id
        assert nc.number in revision.change_summary
        # only once, and the action waits for the revision instead of being ticked by hand
        with pytest.raises(Conflict):
            service.raise_document_change(db, clerk, nc, action)
        db.rollback()
        with pytest.raises(Conflict) as waits:
            service.complete_action(db, user(db, "staff"), nc, action, note="已修订")
        assert waits.value.code == "action_waits_for_revision"
        db.rollback()
        nc_id, number, label = nc.id, document.number, revision.label
        revision = db.get(type(revision), revision.id)
        _issue(db, revision)
        db.commit()
        nc = db.get(type(nc), nc_id)
        assert nc.actions[0].status == ActionStatus.DONE
        assert nc.actions[0].done_on == clock.today()
        assert f"{number} {label}" in nc.actions[0].done_note
        service.submit_for_verification(db, owner, nc)
        db.commit()
        assert nc.state == NcState.AWAITING_VERIFICATION

    staff = client_as("staff")
    revision_page = staff.get(f"/documents/{number}?revision={label}").get_data(as_text=True)
    assert "由纠正措施发起" in revision_page
    assert f'href="/nonconformities/{nc_id}#action-' in revision_page
    nc_page = staff.get(f"/nonconformities/{nc_id}").get_data(as_text=True)
    assert f"{number} {label}" in nc_page


def test_a_cancelled_change_frees_the_action(app: Any, users: Any) -> None:
    from qms.documents import service as documents

    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        clerk = user(db, "clerk")
        document = make_document(
            db,
            state="effective",
            author=clerk,
            reviewer=user(db, "reviewer"),
            approver=user(db, "approver"),
            clerk=clerk,
        )
        nc = raise_nc(db, process_number=document.number, clause="ISO 9001:2015 7.5.3")
        assert nc.clause == "7.5.3"
        service.record_cause_and_plan(db, clerk, nc, whys=["a"], root_cause="b")
        action = service.add_action(
            db, clerk, nc, description="修订", owner=user(db, "staff"), due_on=clock.today()
        )
        first = service.raise_document_change(db, clerk, nc, action)
        documents.cancel(db, clerk, first, reason="改为重大修订")
        second = service.raise_document_change(db, clerk, nc, action, major_change=True)
        assert second.id != first.id and action.revision_id == second.id
        # all of the round's actions done by the revision before the work was started:
        # the plan may still be started, then submitted
        _issue(db, second)
        assert action.status == ActionStatus.DONE
        service.start_actions(db, clerk, nc)
        service.submit_for_verification(db, clerk, nc)
        assert nc.state == NcState.AWAITING_VERIFICATION
