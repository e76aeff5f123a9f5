"""People and documents for the distribution tests, driven through the real services."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from qms.auth.models import Department
from qms.auth.permissions import Role
from qms.documents import service
from tests.factories import TEST_PASSWORD, grant_all_approval, make_document, make_user


@pytest.fixture
def people(db) -> dict[str, Any]:
    clerk = make_user(db, "clerk1", Role.QUALITY_CLERK)
    reviewer = make_user(db, "reviewer1", Role.REVIEWER)
    approver = make_user(db, "approver1", Role.APPROVER, department="KF")
    grant_all_approval(db, approver)
    staff = make_user(db, "staff1", Role.STAFF, department="KF")
    staff2 = make_user(db, "staff2", Role.STAFF, department="BA")
    return {"clerk": clerk, "reviewer": reviewer, "approver": approver, "staff": staff,
            "staff2": staff2}


def department(db, code: str) -> Department:
    return db.scalar(sa.select(Department).where(Department.code == code))


def effective_document(db, people, **kw) -> Any:
    return make_document(db, state="effective", author=people["clerk"],
                         reviewer=people["reviewer"], approver=people["approver"],
                         clerk=people["clerk"], **kw)


def make_next_effective(db, people, document, *, major: bool = True, body: str | None = None):
    """Revise, review, approve and issue the next revision; it supersedes the current one."""
    revision = service.revise(db, people["clerk"], document, major_change=major,
                              change_summary="修订")
    if body is not None:
        service.save_draft(db, people["clerk"], revision, body=body, change_summary="修订",
                           base_hash=revision.content_sha256)
    service.submit_for_review(db, people["clerk"], revision, reviewers=[people["reviewer"]],
                              approver=people["approver"], password=TEST_PASSWORD,
                              content_sha256=revision.content_sha256)
    service.review(db, people["reviewer"], revision, password=TEST_PASSWORD,
                   content_sha256=revision.content_sha256)
    service.approve(db, people["approver"], revision, password=TEST_PASSWORD,
                    content_sha256=revision.content_sha256)
    service.issue(db, people["clerk"], revision, password=TEST_PASSWORD,
                  content_sha256=revision.content_sha256)
    return revision
