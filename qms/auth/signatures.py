"""Electronic signatures: re-authenticate, bind to the content hash, check later.

Used by every approval in the product. A signature is under the signer's sole control
(the password is asked again) and a later change to it, or to what it signed, shows."""

from __future__ import annotations

import enum
from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import Meaning, Signature, User
from qms.auth.passwords import verify_password
from qms.db import utcnow
from qms.errors import FailedAttempt, Forbidden
from qms.trail import service as trail

MEANING_LABELS = {
    Meaning.AUTHORED: _l("Authored"),
    Meaning.REVIEWED: _l("Reviewed"),
    Meaning.APPROVED: _l("Approved"),
    Meaning.ISSUED: _l("Issued"),
    Meaning.WITHDRAWN: _l("Withdrawn"),
    Meaning.READ: _l("Read and understood"),
}


class SignatureStatus(enum.StrEnum):
    VALID = "valid"
    BROKEN = "broken"
    VOIDED = "voided"


def sign(
    session: Session,
    signer: User,
    password: str,
    meaning: Meaning,
    *,
    content_sha256: str,
    object_type: str,
    object_id: object,
    comment: str = "",
) -> Signature:
    """Apply a signature after checking the signer's password again."""
    refused = FailedAttempt(
        actor_id=signer.id,
        action="signature_refused",
        object_type=object_type,
        object_id=str(object_id),
        reason=f"meaning={meaning}",
        count_failed_password=True,
    )
    if signer.is_locked() or not signer.active:
        refused.count_failed_password = False
        raise Forbidden(_l("Your account is locked; it cannot sign."), failed_attempt=refused)
    if not verify_password(signer.password_hash, password or ""):
        raise Forbidden(
            _l("The password is wrong, so the signature was not applied."),
            code="signature_refused",
            failed_attempt=refused,
        )
    signature = Signature(
        user_id=signer.id,
        user=signer,
        printed_name=signer.display_name,
        meaning=meaning,
        signed_at=utcnow(),
        content_sha256=content_sha256,
        object_type=object_type,
        object_id=str(object_id),
        comment=comment.strip(),
    )
    signature.seal = signature.compute_seal()
    session.add(signature)
    session.flush()
    trail.record(
        session,
        signer,
        "sign",
        object_type,
        object_id,
        field=str(meaning),
        new=content_sha256,
        reason=comment,
    )
    return signature


def void_signatures(
    session: Session, actor: User | None, signatures: Iterable[Signature], reason: str
) -> int:
    count = 0
    for signature in signatures:
        if signature.voided_at is None:
            signature.voided_at = utcnow()
            signature.void_reason = reason
            trail.record(
                session,
                actor,
                "void_signature",
                signature.object_type,
                signature.object_id,
                field=str(signature.meaning),
                old=signature.printed_name,
                reason=reason,
            )
            count += 1
    session.flush()
    return count


def signatures_for(
    session: Session, object_type: str, object_ids: Iterable[object]
) -> list[Signature]:
    ids = [str(i) for i in object_ids]
    if not ids:
        return []
    return list(
        session.scalars(
            sa.select(Signature)
            .where(Signature.object_type == object_type, Signature.object_id.in_(ids))
            .order_by(Signature.signed_at, Signature.id)
        )
    )


def status_of(signature: Signature, current_content_sha256: str) -> SignatureStatus:
    if signature.voided_at is not None:
        return SignatureStatus.VOIDED
    if not signature.is_intact(current_content_sha256):
        return SignatureStatus.BROKEN
    return SignatureStatus.VALID
