"""Idempotency-Key on creating API requests.

A client that does not know whether its POST arrived (a timeout, a crash of the server
just after the commit) sends it again under the same ``Idempotency-Key``. The first
answer is kept for 24 hours with the key, written in the same transaction as what the
request created: a retry gets that answer again (``Idempotent-Replayed: true``) and
creates nothing; the same key with another request is refused (422); a second request
under a key whose first is still in flight hits the unique (user, key) constraint (409).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import Response, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qms import clock
from qms.api.models import IdempotencyKey
from qms.api.openapi import error_responses
from qms.db import get_session
from qms.errors import Conflict, Invalid

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 200
LIFETIME = timedelta(hours=24)

F = TypeVar("F", bound=Callable[..., Any])


def request_fingerprint(secret: bytes, method: str, path: str, body: bytes) -> str:
    """HMAC-SHA-256 of what the request asks (keyed, as bodies may carry a password);
    the same JSON in another key order is the same request."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
        content = canonical.encode()
    except ValueError:
        content = body
    digest = hmac.new(secret, digestmod=hashlib.sha256)
    for part in (method.upper().encode(), path.encode(), content):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _key_from_header(raw: str) -> str:
    key = raw.strip()
    if not key or len(key) > KEY_MAX_LENGTH:
        raise Invalid(
            _l(
                "The Idempotency-Key must have 1 to %(max)d characters.",
                max=KEY_MAX_LENGTH,
            ),
            code="idempotency_key_invalid",
        )
    return key


def purge_expired(session: Session, user_id: int | None = None) -> int:
    """Delete keys older than 24 hours (of one user, or of everybody); they mean nothing."""
    stmt = sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < clock.now() - LIFETIME)
    if user_id is not None:
        stmt = stmt.where(IdempotencyKey.user_id == user_id)
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def _replay(stored: IdempotencyKey) -> Response:
    response = current_app.response_class(
        stored.response_body or "",
        status=stored.response_status or 200,
        mimetype="application/json",
    )
    response.headers[REPLAYED_HEADER] = "true"
    response.headers["Cache-Control"] = "no-store"
    return response


def _stored_body(response: Response, secret_fields: Iterable[str]) -> str:
    body = response.get_data(as_text=True)
    secret = set(secret_fields)
    if not secret:
        return body
    data = json.loads(body)
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in secret}
    return json.dumps(data, ensure_ascii=False)


def idempotent(*, secret_fields: Iterable[str] = ()) -> Callable[[F], F]:
    """Make a creating endpoint honour the Idempotency-Key header.

    Put it below the authentication decorator. The view commits as usual; under a key,
    its commit only flushes, and the key with the answer is committed with it afterwards.
    ``secret_fields`` are left out of the kept answer (a new token is shown only once).
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            raw = request.headers.get(HEADER)
            if raw is None:
                return view(*args, **kwargs)
            key = _key_from_header(raw)
            session = get_session()
            user_id = int(current_user.id)
            fingerprint = request_fingerprint(
                str(current_app.secret_key).encode(),
                request.method,
                request.path,
                request.get_data(cache=True),
            )
            purge_expired(session, user_id)
            stored = session.scalar(
                sa.select(IdempotencyKey).where(
                    IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
                )
            )
            if stored is not None:
                if stored.request_sha256 != fingerprint:
                    raise Invalid(
                        _l(
                            "This Idempotency-Key was already used for a different request; "
                            "send a new key for a new request."
                        ),
                        code="idempotency_key_reused",
                    )
                session.commit()  # the purge
                return _replay(stored)
            record = IdempotencyKey(
                user_id=user_id, key=key, request_sha256=fingerprint, created_at=clock.now()
            )
            session.add(record)
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                raise Conflict(
                    _l(
                        "A request with this Idempotency-Key is still being processed; "
                        "send it again in a moment to get its answer."
                    ),
                    code="idempotency_key_in_flight",
                ) from None
            # The view's commit becomes a flush: what it creates and the key commit together.
            session.commit = session.flush  # type: ignore[method-assign]
            try:
                response = current_app.make_response(view(*args, **kwargs))
            finally:
                del session.commit
            if response.status_code >= 500:
                session.rollback()
                return response
            record.response_status = response.status_code
            record.response_body = _stored_body(response, secret_fields)
            session.commit()
            return response

        return cast(F, wrapper)

    return decorate


IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Any string of 1 to 200 characters, new for each new request. A retry with the "
        "same key and body within 24 hours gets the first answer again (header "
        "Idempotent-Replayed: true) and creates nothing; the same key with another body "
        "answers 422; while the first request is still in flight, 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": KEY_MAX_LENGTH},
}


def idempotent_operation(operation: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI operation of an @idempotent endpoint: the header and its 409/422."""
    operation["parameters"] = [*operation.get("parameters", []), IDEMPOTENCY_KEY_PARAMETER]
    for status, response in error_responses(409, 422).items():
        operation["responses"].setdefault(status, response)
    operation["responses"] = dict(sorted(operation["responses"].items()))
    return operation
