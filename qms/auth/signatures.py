"""Electronic signatures: re-authenticate, bind to the content hash, check later.

Used by every approval in the product. A signature is under the signer's sole control
(the password is asked again) and a later change to it, or to what it signed, shows."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.auth.models import Meaning, Signature, User
from qms.auth.passwords import verify_password
from qms.db import utcnow
from qms.errors import Conflict, FailedAttempt, Forbidden, Invalid
from qms.trail import service as trail

MEANING_LABELS = {
    Meaning.AUTHORED: _l("Authored"),
    Meaning.REVIEWED: _l("Reviewed"),
    Meaning.APPROVED: _l("Approved"),
    Meaning.ISSUED: _l("Issued"),
    Meaning.WITHDRAWN: _l("Withdrawn"),
    Meaning.READ: _l("Read and understood"),
    Meaning.ACKNOWLEDGED: _l("Acknowledged"),
}


class SignatureStatus(enum.StrEnum):
    VALID = "valid"
    BROKEN = "broken"  # the signature record itself was changed after signing
    CONTENT_CHANGED = "content_changed"  # what it signed no longer hashes to what it bound
    VOIDED = "voided"


STATUS_LABELS = {
    SignatureStatus.VALID: _l("Valid"),
    SignatureStatus.BROKEN: _l("Invalid: the signature record was altered after signing"),
    SignatureStatus.CONTENT_CHANGED: _l("Invalid: content changed after signing"),
    SignatureStatus.VOIDED: _l("Voided"),
}


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
    """Pass the hash recomputed from the content as it is now, never a stored copy of it:
    a change made directly in the database leaves stored hashes as they were."""
    if signature.voided_at is not None:
        return SignatureStatus.VOIDED
    if signature.seal != signature.compute_seal():
        return SignatureStatus.BROKEN
    if signature.content_sha256 != current_content_sha256:
        return SignatureStatus.CONTENT_CHANGED
    return SignatureStatus.VALID


# -- checking every signature against what it signed (qms verify-trail) ----------------


@dataclass(frozen=True)
class SignedContent:
    """What a signed object hashes to now, recomputed from its stored content."""

    current_sha256: str
    number: str  # the document number (or the record's reference) a reader recognises
    label: str  # the revision label, "" when the object has none


# object ids (as stored on the signature) -> what each of those objects hashes to now
ContentHasher = Callable[[Session, list[str]], dict[str, SignedContent]]


@dataclass(frozen=True)
class SignatureProblem:
    signature: Signature
    problem: str  # "content_changed", "broken", "content_missing" or "no_trail_record"
    content: SignedContent | None

    def message(self) -> str:
        s, content = self.signature, self.content
        if content is None:
            what = f"{s.object_type} {s.object_id}"
        elif content.label:
            what = _("%(number)s revision %(label)s", number=content.number, label=content.label)
        else:
            what = content.number
        params = {
            "what": what,
            "signer": s.printed_name,
            "meaning": str(MEANING_LABELS.get(s.meaning, s.meaning)),
            "at": s.signed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "signed": s.content_sha256[:12],
            "now": content.current_sha256[:12] if content else "",
        }
        texts = {
            "content_changed": _(
                "Signature of %(signer)s (%(meaning)s, signed at %(at)s) on %(what)s is "
                "invalid: the content changed after signing (signed SHA-256 %(signed)s…, "
                "content now %(now)s…)."
            ),
            "broken": _(
                "Signature of %(signer)s (%(meaning)s, signed at %(at)s) on %(what)s is "
                "invalid: the signature record was altered after signing."
            ),
            "content_missing": _(
                "Signature of %(signer)s (%(meaning)s, signed at %(at)s) on %(what)s is "
                "invalid: what it signed is no longer in the database."
            ),
            "no_trail_record": _(
                "Signature of %(signer)s (%(meaning)s, signed at %(at)s) on %(what)s has no "
                "matching entry in the audit trail: the signature record was altered or forged."
            ),
        }
        return texts[self.problem] % params


def check_signatures(
    session: Session, hashers: Mapping[str, ContentHasher], batch: int = 500
) -> Iterator[SignatureProblem]:
    """Every signature that is not voided: its seal, the audit-trail entry written when it
    was applied, and, for the object types in `hashers`, the content it signed as that
    content is now (other types carry hashes of records that legitimately change later)."""
    from qms.trail.models import TrailEntry  # the trail sits beside auth, below features

    last_id = 0
    while True:
        rows = list(
            session.scalars(
                sa.select(Signature)
                .where(Signature.id > last_id, Signature.voided_at.is_(None))
                .order_by(Signature.id)
                .limit(batch)
            )
        )
        if not rows:
            return
        last_id = rows[-1].id
        by_type: dict[str, list[Signature]] = {}
        for signature in rows:
            by_type.setdefault(signature.object_type, []).append(signature)
        for object_type, signatures in by_type.items():
            ids = sorted({s.object_id for s in signatures})
            hasher = hashers.get(object_type)
            contents = hasher(session, ids) if hasher else {}
            recorded = {
                tuple(row)
                for row in session.execute(
                    sa.select(
                        TrailEntry.object_id,
                        TrailEntry.field,
                        TrailEntry.new_value,
                        TrailEntry.actor_id,
                    ).where(
                        TrailEntry.action == "sign",
                        TrailEntry.object_type == object_type,
                        TrailEntry.object_id.in_(ids),
                    )
                )
            }
            for signature in signatures:
                content = contents.get(signature.object_id)
                trail_key = (
                    signature.object_id,
                    str(signature.meaning),
                    signature.content_sha256,
                    signature.user_id,
                )
                if signature.seal != signature.compute_seal():
                    yield SignatureProblem(signature, "broken", content)
                elif trail_key not in recorded:
                    yield SignatureProblem(signature, "no_trail_record", content)
                elif hasher is None:
                    continue
                elif content is None:
                    yield SignatureProblem(signature, "content_missing", None)
                elif content.current_sha256 != signature.content_sha256:
                    yield SignatureProblem(signature, "content_changed", content)


def check_seen(content_sha256: str | None, current_sha256: str) -> None:
    """A signature applies to the text the signer read: the content_sha256 their page or
    client was given. A text changed since then is refused, and nothing is signed."""
    sent = (content_sha256 or "").strip().lower()
    if not sent:
        raise Invalid(
            _l(
                "The signature does not say which text you read (content_sha256 is missing). "
                "Reload the document, read it and sign again."
            ),
            code="content_sha256_required",
        )
    if sent != current_sha256:
        raise Conflict(
            _l(
                "The text changed after you opened it; reload and read it again. "
                "Nothing was signed."
            ),
            code="content_changed",
            details={
                "sent_content_sha256": sent,
                "current_content_sha256": current_sha256,
            },
        )


def seen_hash(data: Mapping[str, Any]) -> str:
    """The content_sha256 of the text the signer's page or client showed them."""
    value = data.get("content_sha256")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(
            _l("content_sha256 is the SHA-256 of the text you read, as 64 hexadecimal digits."),
            code="content_sha256_invalid",
        )
    return value
