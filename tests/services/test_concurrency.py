"""Concurrency on PostgreSQL: real parallel transactions on separate connections."""

import os
import threading

import pytest
import sqlalchemy as sa

from qms.auth.models import Department, User
from qms.documents import service
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind, Document, Revision
from qms.errors import DomainError
from tests.factories import TEST_PASSWORD, make_document, make_role_users

pytestmark = pytest.mark.skipif(
    not os.environ.get("QMS_TEST_DATABASE_URL"), reason="concurrency is tested on PostgreSQL"
)


def _run_in_threads(app, work, n):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        with app.test_request_context():
            from qms.db import new_session

            session = new_session()
            try:
                barrier.wait(timeout=10)
                results[i] = work(session, i)
                session.commit()
            except DomainError as err:
                session.rollback()
                results[i] = err
            finally:
                session.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_numbers_allocated_in_parallel_are_unique(app):
    with app.app_context():
        make_role_users()

    def create(session, i):
        clerk = session.scalar(sa.select(User).where(User.username == "clerk"))
        kf = session.scalar(sa.select(Department).where(Department.code == "KF"))
        return service.create_document(
            session, clerk, title=f"制度{i}", kind=DocKind.REGULATION, department=kf
        ).number

    numbers = _run_in_threads(app, create, 8)
    assert all(isinstance(n, str) for n in numbers), numbers
    assert sorted(numbers) == [f"ZD-KF-{i:03d}" for i in range(1, 9)]


def test_two_issuers_at_once_leave_one_effective_revision(app):
    with app.test_request_context():
        from qms.db import get_session

        make_role_users()
        db = get_session()
        people = {u.username: u for u in db.scalars(sa.select(User))}
        doc = make_document(
            db,
            state="approved",
            author=people["clerk"],
            reviewer=people["reviewer"],
            approver=people["approver"],
        )
        db.commit()
        number = doc.number

    def issue(session, i):
        clerk = session.scalar(sa.select(User).where(User.username == ("clerk", "manager")[i]))
        document = service.get_document(session, number)
        return service.issue(
            session,
            clerk,
            document.working_revision,
            password=TEST_PASSWORD,
            content_sha256=document.working_revision.content_sha256,
        )

    results = _run_in_threads(app, issue, 2)
    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(errors) == 1, results
    with app.app_context():
        from qms.db import get_session

        db = get_session()
        doc_id = db.scalar(sa.select(Document.id).where(Document.number == number))
        effective = db.scalar(
            sa.select(sa.func.count())
            .select_from(Revision)
            .where(Revision.document_id == doc_id, Revision.state == RevState.EFFECTIVE)
        )
        assert effective == 1
