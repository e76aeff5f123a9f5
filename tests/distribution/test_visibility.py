"""Reading duties and task lists follow the document visibility rule: nobody is asked to
read a confidential document they may not read."""

from qms.auth.permissions import Role
from qms.distribution import reading
from qms.documents import service
from qms.documents.models import Confidentiality, DocKind
from qms.tasks.registry import tasks_for
from tests.distribution.conftest import people  # noqa: F401 - fixture
from tests.factories import TEST_PASSWORD, make_document


def test_reading_duty_of_a_confidential_document_only_for_its_circle(db, people):  # noqa: F811
    reading.save_rule(
        db,
        people["clerk"],
        kind=DocKind.REGULATION,
        department=None,
        roles=[Role.STAFF],
        departments=[],
        people=[],
    )
    document = make_document(
        db,
        state="approved",
        author=people["clerk"],
        reviewer=people["reviewer"],
        approver=people["approver"],
    )
    document.confidentiality = Confidentiality.CONFIDENTIAL  # a Customer Service document
    revision = document.working_revision
    service.issue(
        db,
        people["clerk"],
        revision,
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )
    acks = reading.acknowledgements_of(db, document.current_revision)
    assert {a.user.username for a in acks} == {"staff1"}  # staff2 is in Security
    assert [t.subject for t in tasks_for(db, people["staff"]) if t.kind == "acknowledge"] == [
        document.number
    ]
    assert not [t for t in tasks_for(db, people["staff2"]) if t.kind == "acknowledge"]
