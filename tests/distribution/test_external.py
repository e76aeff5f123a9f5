"""External documents: register, currency checks, new editions, search text."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from qms import clock
from qms.distribution import copies, external
from qms.distribution.models import ExternalCategory
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind
from qms.errors import Forbidden, Invalid
from qms.search.extras import extra_text
from qms.tasks.registry import tasks_for
from tests.distribution.conftest import department


def _gbt(db, people, **kw):
    return external.register_external(
        db, people["clerk"], title="质量管理体系 要求", category=ExternalCategory.NATIONAL_STANDARD,
        source="国家市场监督管理总局 / 国家标准化管理委员会", reference="GB/T 19001-2016",
        edition="2016", department=department(db, "PZ"), owner=people["clerk"], **kw)


def test_register_an_external_document(db, people):
    ext = _gbt(db, people)
    document = ext.document
    assert document.kind == DocKind.EXTERNAL and document.number == "WB-001"
    assert document.status == RevState.EFFECTIVE
    assert document.current_revision.label == "A/0"
    assert ext.currency_checked_on == clock.today()
    assert document.review_interval_months == 12
    found = db.scalars(external.register_stmt(q="19001")).all()
    assert found == [ext]
    assert db.scalars(external.register_stmt(category=ExternalCategory.LAW)).all() == []


def test_external_documents_need_a_source_and_document_control(db, people):
    with pytest.raises(Invalid):
        external.register_external(db, people["clerk"], title="x", category=ExternalCategory.LAW,
                                   source=" ", department=department(db, "PZ"),
                                   owner=people["clerk"])
    with pytest.raises(Forbidden):
        external.register_external(db, people["staff"], title="x",
                                   category=ExternalCategory.LAW, source="全国人大",
                                   department=department(db, "PZ"), owner=people["staff"])


def test_search_text_carries_source_and_reference(db, people):
    ext = _gbt(db, people)
    text = extra_text(db, ext.document.current_revision)
    assert "GB/T 19001-2016" in text["external"] and "国家市场监督管理总局" in text["external"]


def test_currency_check_by_the_owner(db, people):
    ext = _gbt(db, people)
    ext.owner = people["staff"]
    ext.currency_checked_on = clock.today() - timedelta(days=400)
    db.flush()
    assert [t.kind for t in tasks_for(db, people["staff"])] == ["currency_check"]
    with pytest.raises(Forbidden):
        external.check_currency(db, people["staff2"], ext)
    external.check_currency(db, people["staff"], ext, note="官网核对，仍现行")
    assert ext.currency_checked_on == clock.today()
    assert tasks_for(db, people["staff"]) == []
    with pytest.raises(Invalid):
        external.check_currency(db, people["staff"], ext,
                                checked_on=clock.today() + timedelta(days=1))


def test_a_new_edition_supersedes_and_recalls_copies_of_the_old(db, people):
    ext = _gbt(db, people)
    old = ext.document.current_revision
    copy = copies.issue_copy(db, people["clerk"], old, holder_user=people["staff"])
    revision = external.new_edition(db, people["clerk"], ext, edition="2026",
                                    reference="GB/T 19001-2026", notes="新版")
    assert revision.label == "B/0" and revision.state == RevState.EFFECTIVE
    assert old.state == RevState.SUPERSEDED
    assert ext.edition == "2026" and ext.reference == "GB/T 19001-2026"
    assert copy.to_recall
    assert db.scalar(sa.select(sa.func.count()).select_from(
        copies.outstanding_recalls().subquery())) == 1
