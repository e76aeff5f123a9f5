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
