"""Read and understood: rules, tasks, the 阅知 signature, resets and the overdue matrix."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from qms import clock
from qms.auth.models import Meaning, Signature
from qms.auth.permissions import Role
from qms.distribution import reading
from qms.distribution.models import Acknowledgement, AckState
from qms.documents.models import DocKind
from qms.errors import Conflict, Forbidden, Invalid
from qms.tasks.registry import tasks_for
from tests.distribution.conftest import department, effective_document, make_next_effective
from tests.factories import TEST_PASSWORD, make_document


def _rule(db, who, **kw):
    kw.setdefault("kind", DocKind.REGULATION)
    kw.setdefault("department", None)
    kw.setdefault("roles", [Role.STAFF])
    kw.setdefault("departments", [])
    kw.setdefault("people", [])
    return reading.save_rule(db, who["clerk"], **kw)


def _ack(db, revision, user):
    return db.scalar(sa.select(Acknowledgement).where(
        Acknowledgement.revision_id == revision.id, Acknowledgement.user_id == user.id))


def test_rules_need_readers_and_document_control(db, people):
    with pytest.raises(Invalid):
        _rule(db, people, roles=[])
    with pytest.raises(Forbidden):
        reading.save_rule(db, people["staff"], kind=None, department=None, roles=[Role.STAFF],
                          departments=[], people=[])


def test_a_new_effective_revision_gives_each_reader_a_task(db, people):
    _rule(db, people, roles=[Role.STAFF], people=[people["reviewer"]], due_days=10)
    _rule(db, people, kind=DocKind.FORM, roles=[Role.APPROVER])  # another kind: not used
    document = effective_document(db, people)
    revision = document.current_revision
    acks = reading.acknowledgements_of(db, revision)
    assert {a.user.username for a in acks} == {"staff1", "staff2", "reviewer1"}
    assert all(a.state == AckState.PENDING for a in acks)
    assert acks[0].due_date == clock.today() + timedelta(days=10)
    tasks = [t for t in tasks_for(db, people["staff"]) if t.kind == "acknowledge"]
    assert len(tasks) == 1 and tasks[0].subject == document.number
    assert tasks[0].url.endswith(f"/distribution/read/{revision.id}")


def test_department_rules_cover_the_documents_of_a_department(db, people):
    reading.save_rule(db, people["clerk"], kind=None, department=department(db, "KF"),
                      roles=[], departments=[department(db, "KF")], people=[])
    kf_doc = effective_document(db, people, department="KF")
    ba_doc = effective_document(db, people, department="BA", title="保安管理制度")
    assert [a.user.username for a in reading.acknowledgements_of(db, kf_doc.current_revision)] \
        == ["approver1", "staff1"]
    assert reading.acknowledgements_of(db, ba_doc.current_revision) == []


def test_acknowledgement_is_a_read_signature_on_the_content(db, people):
    _rule(db, people)
    revision = effective_document(db, people).current_revision
    ack = reading.acknowledge(db, people["staff"], revision, password=TEST_PASSWORD,
                        content_sha256=revision.content_sha256)
    assert ack.state == AckState.ACKNOWLEDGED and ack.acknowledged_at is not None
    signature = db.get(Signature, ack.signature_id)
    assert signature.meaning == Meaning.READ
    assert signature.content_sha256 == revision.content_sha256
    assert (signature.object_type, signature.object_id) == ("revision", str(revision.id))
    assert [t for t in tasks_for(db, people["staff"]) if t.kind == "acknowledge"] == []
    with pytest.raises(Conflict):
        reading.acknowledge(db, people["staff"], revision, password=TEST_PASSWORD,
                        content_sha256=revision.content_sha256)


def test_a_wrong_password_signs_nothing(db, people):
    _rule(db, people)
    revision = effective_document(db, people).current_revision
    with pytest.raises(Forbidden):
        reading.acknowledge(db, people["staff"], revision, password="wrong",
                        content_sha256=revision.content_sha256)
    assert _ack(db, revision, people["staff"]).state == AckState.PENDING


def test_only_the_effective_revision_can_be_acknowledged(db, people):
    _rule(db, people)
    draft = make_document(db, author=people["clerk"]).working_revision
    with pytest.raises(Conflict) as refused:
        reading.acknowledge(db, people["staff"], draft, password=TEST_PASSWORD,
                        content_sha256=draft.content_sha256)
    assert refused.value.code == "not_effective"
    document = effective_document(db, people, title="保安管理制度")
    old = document.current_revision
    make_next_effective(db, people, document)
    with pytest.raises(Conflict):
        reading.acknowledge(db, people["staff"], old, password=TEST_PASSWORD,
                        content_sha256=old.content_sha256)
    assert _ack(db, old, people["staff"]).state == AckState.LAPSED
    assert db.scalar(sa.select(sa.func.count()).select_from(Signature).where(
        Signature.meaning == Meaning.READ)) == 0


def test_a_major_revision_resets_acknowledgement(db, people):
    _rule(db, people, minor_resets=False)
    document = effective_document(db, people)
    first = document.current_revision
    reading.acknowledge(db, people["staff"], first, password=TEST_PASSWORD,
                        content_sha256=first.content_sha256)
    second = make_next_effective(db, people, document, major=True)
    assert second.is_major
    assert _ack(db, second, people["staff"]).state == AckState.PENDING
    assert _ack(db, first, people["staff"]).state == AckState.ACKNOWLEDGED
    assert any(t.kind == "acknowledge" for t in tasks_for(db, people["staff"]))


def test_a_minor_revision_keeps_acknowledgement_when_the_rule_says_so(db, people):
    _rule(db, people, minor_resets=False)
    document = effective_document(db, people)
    first = document.current_revision
    reading.acknowledge(db, people["staff"], first, password=TEST_PASSWORD,
                        content_sha256=first.content_sha256)
    minor = make_next_effective(db, people, document, major=False)
    assert minor.label == "A/1"
    carried = _ack(db, minor, people["staff"])
    assert carried.state == AckState.CARRIED and carried.done
    assert carried.acknowledged_at == _ack(db, first, people["staff"]).acknowledged_at
    # staff2 never read A/0, so A/1 is asked of them
    assert _ack(db, minor, people["staff2"]).state == AckState.PENDING


def test_a_minor_revision_resets_by_default(db, people):
    _rule(db, people)
    document = effective_document(db, people)
    reading.acknowledge(db, people["staff"], document.current_revision, password=TEST_PASSWORD,
                        content_sha256=document.current_revision.content_sha256)
    minor = make_next_effective(db, people, document, major=False)
    assert _ack(db, minor, people["staff"]).state == AckState.PENDING


def test_overdue_acknowledgements_and_the_matrix(db, people):
    _rule(db, people, due_days=5)
    document = effective_document(db, people)
    revision = document.current_revision
    reading.acknowledge(db, people["staff2"], revision, password=TEST_PASSWORD,
                        content_sha256=revision.content_sha256)
    late = _ack(db, revision, people["staff"])
    late.due_date = clock.today() - timedelta(days=1)
    db.flush()
    overdue = db.scalars(reading.overdue_stmt(clock.today())).all()
    assert [a.user.username for a in overdue] == ["staff1"]
    tasks = [t for t in tasks_for(db, people["staff"]) if t.kind == "acknowledge"]
    assert tasks[0].overdue

    grid = reading.matrix(db)
    assert [d.number for d in grid.documents] == [document.number]
    assert {p.username for p in grid.people} == {"staff1", "staff2"}
    assert grid.cells[(people["staff2"].id, document.id)].done
    assert grid.cells[(people["staff"].id, document.id)].is_overdue(clock.today())
    only_ba = reading.matrix(db, department_id=department(db, "BA").id)
    assert [p.username for p in only_ba.people] == ["staff2"]
    person = reading.for_person(db, people["staff"])
    assert [a.revision_id for a in person] == [revision.id]
