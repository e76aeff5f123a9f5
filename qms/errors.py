"""Domain errors. Services raise them; views and the API turn them into a message in the
user's language and an HTTP status. An error may carry a trail entry to record after the
failed transaction has been rolled back (a refused signature, for example)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FailedAttempt:
    """What to write to the trail once the refused operation has been rolled back."""

    actor_id: int | None
    action: str
    object_type: str
    object_id: str | None
    reason: str
    count_failed_password: bool = False


class DomainError(Exception):
    def __init__(
        self,
        message: Any,  # str or a lazy string, rendered in the user's language
        status: int = 409,
        code: str = "conflict",
        details: dict[str, Any] | None = None,
        failed_attempt: FailedAttempt | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or {}
        self.failed_attempt = failed_attempt

    def __str__(self) -> str:
        return str(self.message)


class NotFound(DomainError):
    def __init__(self, message: Any, **kw: Any) -> None:
        kw.setdefault("code", "not_found")
        super().__init__(message, status=404, **kw)


class Forbidden(DomainError):
    def __init__(self, message: Any, **kw: Any) -> None:
        kw.setdefault("code", "forbidden")
        super().__init__(message, status=403, **kw)


class Conflict(DomainError):
    def __init__(self, message: Any, **kw: Any) -> None:
        kw.setdefault("code", "conflict")
        super().__init__(message, status=409, **kw)


class Invalid(DomainError):
    def __init__(self, message: Any, **kw: Any) -> None:
        kw.setdefault("code", "invalid")
        super().__init__(message, status=422, **kw)


class TooLarge(DomainError):
    def __init__(self, message: Any, **kw: Any) -> None:
        kw.setdefault("code", "too_large")
        super().__init__(message, status=413, **kw)
