"""What a journey finds already there when it starts (made through the real services, as
earlier jobs would have left it), and work done elsewhere meanwhile."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.factories import TEST_PASSWORD


def _people(db: Any) -> dict[str, Any]:
    from qms.auth.models import User

    return {u.username: u for u in db.scalars(sa.select(User))}


def document(live_app: Any, state: str, **kwargs: Any) -> str:
    """A document of Customer Service written by the clerk, reviewed by the reviewer and
    approved by the department's approver, driven to `state`; returns its number."""
    from qms.db import get_session
    from tests.factories import make_document

    with live_app.test_request_context():
        db = get_session()
        who = _people(db)
        made = make_document(
            db,
            state=state,
            author=who["clerk"],
            reviewer=who["reviewer"],
            approver=who["approver"],
            clerk=who["clerk"],
            **kwargs,
        )
        db.commit()
        return str(made.number)


def new_revision_in_force(live_app: Any, number: str, *, addition: str, summary: str) -> str:
    """Meanwhile, a major revision of the document went through its cycle and is in force."""
    from qms.db import get_session
    from qms.documents import service

    with live_app.test_request_context():
        db = get_session()
        who = _people(db)
        doc = service.get_document(db, number)
        revision = service.revise(db, who["clerk"], doc, major_change=True, change_summary=summary)
        service.save_draft(
            db,
            who["clerk"],
            revision,
            body=revision.body + addition,
            change_summary=summary,
            base_hash=revision.content_sha256,
        )
        service.submit_for_review(
            db,
            who["clerk"],
            revision,
            reviewers=[who["reviewer"]],
            approver=who["approver"],
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
        service.review(
            db,
            who["reviewer"],
            revision,
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
        service.approve(
            db,
            who["approver"],
            revision,
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
        service.issue(
            db,
            who["clerk"],
            revision,
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
        db.commit()
        return str(revision.label)
