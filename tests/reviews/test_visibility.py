"""A review quotes the revisions it covers: someone not named on it sees it only when
they may read every document it covers."""

import sqlalchemy as sa

from qms.documents.models import Confidentiality, Document
from tests.reviews import test_web

# the review fixtures of the web tests: a reviewed KF regulation under a review in its meeting
doc_number = test_web.doc_number
submitted_plan = test_web.submitted_plan
review_id = test_web.review_id


def _set_confidential(app, number):
    with app.app_context():
        from qms.db import get_session

        db = get_session()
        db.scalar(
            sa.select(Document).where(Document.number == number)
        ).confidentiality = Confidentiality.CONFIDENTIAL
        db.commit()


def test_review_of_a_confidential_document_is_hidden_from_the_administrator(
    app, client_as, review_id, doc_number
):
    _set_confidential(app, doc_number)
    admin = client_as("admin")  # may see every review, but not confidential documents
    assert admin.get(f"/reviews/{review_id}").status_code == 404
    assert admin.get(f"/api/v1/reviews/{review_id}").status_code == 404
    assert admin.get("/api/v1/reviews").get_json()["meta"]["total"] == 0
    assert doc_number not in admin.get("/reviews/").get_data(as_text=True)
    auditor = client_as("auditor")
    assert auditor.get(f"/reviews/{review_id}").status_code == 200
    assert auditor.get("/api/v1/reviews").get_json()["meta"]["total"] == 1


def test_review_of_an_internal_document_is_seen_by_the_administrator(client_as, review_id):
    assert client_as("admin").get(f"/reviews/{review_id}").status_code == 200
    assert client_as("admin").get("/api/v1/reviews").get_json()["meta"]["total"] == 1


def test_audit_trail_withholds_review_content_of_a_confidential_document(
    app, client_as, review_id, doc_number
):
    _set_confidential(app, doc_number)
    admin = client_as("admin").get("/trail/export.csv").get_data(as_text=True)
    assert f"RV-{review_id:04d}" in admin  # the entries stay
    assert "客服体系" not in admin  # the review's title, from its "create" entry
    auditor = client_as("auditor").get("/trail/export.csv").get_data(as_text=True)
    assert "客服体系" in auditor
