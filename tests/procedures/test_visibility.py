"""Procedure pages and links follow the document visibility rule: a confidential
document linked from a procedure is not named (number or title) to someone who may not
read it, and a confidential procedure is not listed for them."""

import sqlalchemy as sa

from qms.auth.permissions import Role
from qms.documents.models import Confidentiality, Document
from tests.factories import make_user
from tests.procedures.test_web import _import


def _confidential(app, *numbers):
    with app.app_context():
        from qms.db import get_session

        db = get_session()
        for document in db.scalars(sa.select(Document).where(Document.number.in_(numbers))):
            document.confidentiality = Confidentiality.CONFIDENTIAL
        make_user(db, "engineer", Role.STAFF, department="GC")
        db.commit()


def test_confidential_controller_is_not_named_to_an_outsider(app, client_as, users, tmp_path):
    _import(app, tmp_path)
    _confidential(app, "ZD-KF-004")
    outsider = client_as("engineer")
    page = outsider.get("/procedures/LC-KF-003").get_data(as_text=True)
    assert "业主投诉处理流程" in page
    assert "服务投诉处理制度" not in page
    api = outsider.get("/api/v1/procedures/LC-KF-003").get_json()
    assert all(t["number"] != "ZD-KF-004" for t in api["controlled_by"])
    assert outsider.get("/api/v1/documents/ZD-KF-004/links").status_code == 404
    insider = client_as("staff").get("/procedures/LC-KF-003").get_data(as_text=True)
    assert "服务投诉处理制度" in insider


def test_confidential_procedure_is_not_listed_for_an_outsider(app, client_as, users, tmp_path):
    _import(app, tmp_path)
    _confidential(app, "LC-KF-003")
    outsider = client_as("engineer")
    listing = outsider.get("/api/v1/procedures?per_page=100").get_json()
    assert listing["meta"]["total"] == 21
    assert all(p["number"] != "LC-KF-003" for p in listing["items"])
    assert "LC-KF-003" not in outsider.get("/procedures/").get_data(as_text=True)
    assert outsider.get("/procedures/LC-KF-003").status_code == 404
    assert outsider.get("/api/v1/procedures/LC-KF-003").status_code == 404
    staff = client_as("staff").get("/api/v1/procedures?per_page=100").get_json()
    assert staff["meta"]["total"] == 22
