import hashlib

import pytest
import sqlalchemy as sa

from qms.auth.models import Meaning, Signature
from qms.auth.signatures import SignatureStatus, sign, status_of
from qms.errors import Forbidden
from tests.factories import TEST_PASSWORD, make_user


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_signature_binds_content_and_checks_password(db):
    user = make_user(db, "signer", display_name="签名人")
    sig = sign(
        db,
        user,
        TEST_PASSWORD,
        Meaning.APPROVED,
        content_sha256=_h("body v1"),
        object_type="revision",
        object_id=7,
    )
    db.commit()
    assert sig.printed_name == "签名人"
    assert sig.signed_at.tzinfo is not None
    assert status_of(sig, _h("body v1")) is SignatureStatus.VALID
    assert status_of(sig, _h("body v2")) is SignatureStatus.CONTENT_CHANGED


def test_altered_signature_row_shows_broken(db):
    user = make_user(db, "signer2")
    sig = sign(
        db,
        user,
        TEST_PASSWORD,
        Meaning.REVIEWED,
        content_sha256=_h("x"),
        object_type="revision",
        object_id=1,
    )
    db.commit()
    db.execute(sa.update(Signature).where(Signature.id == sig.id).values(printed_name="someone"))
    db.commit()
    db.expire_all()
    reloaded = db.get(Signature, sig.id)
    assert status_of(reloaded, _h("x")) is SignatureStatus.BROKEN


def test_wrong_password_refuses_and_names_the_attempt(db):
    user = make_user(db, "signer3")
    with pytest.raises(Forbidden) as refused:
        sign(
            db,
            user,
            "not the password",
            Meaning.APPROVED,
            content_sha256=_h("x"),
            object_type="revision",
            object_id=1,
        )
    assert refused.value.failed_attempt is not None
    assert refused.value.failed_attempt.count_failed_password
    assert db.scalar(sa.select(sa.func.count()).select_from(Signature)) == 0


# -- every signature against what it signed (what `qms verify-trail` runs) ------------------


def _problems(db):
    from qms.auth.signatures import check_signatures
    from qms.distribution.integrity import periodic_review_content
    from qms.documents.integrity import revision_content

    hashers = {"revision": revision_content, "document_review": periodic_review_content}
    return [(p.problem, p.signature.object_type) for p in check_signatures(db, hashers)]


def test_signatures_of_ordinary_work_all_check_out_then_a_database_edit_shows(db):
    """Edits in review, rejection, resubmission, issue, a periodic review and a reading
    signature: none of it is mistaken for tampering; one UPDATE afterwards is."""
    from datetime import timedelta

    from qms import clock
    from qms.auth.permissions import Role
    from qms.distribution import periodic, reading
    from qms.documents import service
    from tests.factories import grant_all_approval, make_document

    clerk = make_user(db, "clerk9", Role.QUALITY_CLERK)
    reviewer = make_user(db, "reviewer9", Role.REVIEWER)
    approver = make_user(db, "approver9", Role.APPROVER, department="KF")
    grant_all_approval(db, approver)
    staff = make_user(db, "staff9", Role.STAFF, department="KF")
    document = make_document(
        db, state="in_review", author=clerk, reviewer=reviewer, approver=approver
    )
    revision = document.working_revision
    service.reject(db, reviewer, revision, comment="补充时限")
    service.save_draft(
        db,
        clerk,
        revision,
        body="## 总则\n\n三日内答复。\n",
        change_summary="首次发布",
        base_hash=revision.content_sha256,
    )
    seen = revision.content_sha256  # what each signer read
    service.submit_for_review(
        db,
        clerk,
        revision,
        reviewers=[reviewer],
        approver=approver,
        password=TEST_PASSWORD,
        content_sha256=seen,
    )
    service.review(db, reviewer, revision, password=TEST_PASSWORD, content_sha256=seen)
    service.approve(db, approver, revision, password=TEST_PASSWORD, content_sha256=seen)
    service.issue(db, clerk, revision, password=TEST_PASSWORD, content_sha256=seen)
    document.next_review_date = clock.today() - timedelta(days=1)
    db.flush()
    periodic.review_without_change(db, clerk, document, password=TEST_PASSWORD)
    reading.acknowledge(db, staff, revision, password=TEST_PASSWORD,
                        content_sha256=revision.content_sha256)
    db.commit()
    assert _problems(db) == []

    from qms.db import get_engine

    with get_engine().begin() as conn:
        conn.execute(
            sa.text("UPDATE revision SET title = 'forged' WHERE id = :id"), {"id": revision.id}
        )
    found = _problems(db)
    assert ("content_changed", "document_review") in found
    assert {kind for kind, _t in found} == {"content_changed"}
    live = db.scalars(
        sa.select(Signature).where(
            Signature.object_type == "revision",
            Signature.object_id == str(revision.id),
            Signature.voided_at.is_(None),
        )
    ).all()
    assert Meaning.READ in {s.meaning for s in live}  # the reading signature is checked too
    assert len([t for _k, t in found if t == "revision"]) == len(live)
