"""Signature status is computed from the content as stored now: a change made directly in
the database (not through the product) shows every signature on it as invalid."""

from __future__ import annotations

import io
import re

import docx
import pytest
import sqlalchemy as sa

from qms.auth.models import Signature
from qms.auth.signatures import SignatureStatus, signatures_for, status_of
from qms.documents.integrity import current_content_hashes
from tests.factories import make_document

CHANGED_EN = "Invalid: content changed after signing"
CHANGED_ZH = "签名无效：签署后内容已被修改"


@pytest.fixture
def effective(app, users):
    with app.app_context():
        from qms.db import get_session

        session = get_session()
        document = make_document(session, state="effective", title="投诉处理制度")
        session.commit()
        revision = document.current_revision
        count = len(signatures_for(session, "revision", [revision.id]))
        return document.number, revision.id, count


def _tamper(app, revision_id):
    """UPDATE revision SET body = … through the engine, as someone with database access."""
    with app.app_context():
        from qms.db import get_engine

        with get_engine().begin() as conn:
            conn.execute(
                sa.text("UPDATE revision SET body = :b WHERE id = :id"),
                {"b": "## 总则\n\n已被篡改。\n", "id": revision_id},
            )


def test_document_page_shows_signatures_invalid_after_a_database_edit(app, client_as, effective):
    number, revision_id, count = effective
    c = client_as("staff")
    c.post("/lang/en", data={"next": "/"})
    before = c.get(f"/documents/{number}").get_data(as_text=True)
    assert CHANGED_EN not in before
    assert not re.search(r"<span>Approved by</span>\s*—", before)
    _tamper(app, revision_id)
    page = c.get(f"/documents/{number}").get_data(as_text=True)
    assert page.count(CHANGED_EN) == count
    # An approval whose content changed no longer names anyone as the approver.
    assert re.search(r"<span>Approved by</span>\s*—", page)
    c.post("/lang/zh_CN", data={"next": "/"})
    assert c.get(f"/documents/{number}").get_data(as_text=True).count(CHANGED_ZH) == count


def test_api_reports_the_signatures_invalid_after_a_database_edit(app, effective):
    number, revision_id, count = effective
    with app.app_context():
        from qms.auth import service
        from qms.db import get_session

        s = get_session()
        staff = service.user_by_username(s, "staff")
        token = service.create_token(s, staff, staff, "t")
        s.commit()
    headers = {"Authorization": f"Bearer {token}"}
    before = app.test_client().get(f"/api/v1/documents/{number}", headers=headers).get_json()
    assert {s["status"] for s in before["signatures"]} == {"valid"}
    _tamper(app, revision_id)
    after = app.test_client().get(f"/api/v1/documents/{number}", headers=headers).get_json()
    assert len(after["signatures"]) == count
    assert {s["status"] for s in after["signatures"]} == {"content_changed"}
    assert {s["status_text"] for s in after["signatures"]} == {CHANGED_ZH}


def test_word_approval_page_marks_the_signatures_invalid_after_a_database_edit(app, db, effective):
    from qms.word.export_docx import export_revision

    _number, revision_id, count = effective
    _tamper(app, revision_id)
    db.expire_all()
    from qms.documents.models import Revision

    copy = docx.Document(io.BytesIO(export_revision(db, db.get(Revision, revision_id))))
    table = next(
        t for t in copy.tables if t._tbl.xpath("./w:tblPr/w:tblCaption/@w:val") == ["qms-approval"]
    )
    # only valid signatures are printed; the copy says how many were left out and why
    assert [c.text for c in table.rows[1].cells][:2] == ["—", "尚无有效签署"]
    notes = [p.text for p in copy.paragraphs if "未列入本页" in p.text]
    assert notes == [f"另有 {count} 个签署无效（签署后内容或签名记录被改动），未列入本页；"
                     "请向品质管理中心核实。"]


def test_status_does_not_trust_the_stored_hash(app, db, effective):
    """The revision's stored content_sha256 is left as it was; the status still sees it."""
    _number, revision_id, _count = effective
    _tamper(app, revision_id)
    db.expire_all()
    signature = db.scalars(
        sa.select(Signature).where(
            Signature.object_type == "revision", Signature.object_id == str(revision_id)
        )
    ).first()
    current = current_content_hashes(db, [revision_id])[revision_id]
    from qms.documents.models import Revision

    assert db.get(Revision, revision_id).content_sha256 == signature.content_sha256
    assert current != signature.content_sha256
    assert status_of(signature, current) is SignatureStatus.CONTENT_CHANGED
