"""In-process domain events. Subscribers run inside the publishing transaction, so what they
write (an outbox row, a recall list, acknowledgement tasks) commits or rolls back with it.
Work outside the database (index, mail) is deferred with qms.db.after_commit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

Handler = Callable[..., None]
_SUBSCRIBERS: dict[str, list[Handler]] = defaultdict(list)

# Names published by qms.documents.service
REVISION_DRAFTED = "revision_drafted"  # revision
REVISION_CHANGED = "revision_changed"  # revision (saved, submitted, approved, cancelled …)
REVISION_EFFECTIVE = "revision_effective"  # revision, previous (superseded or None)
REVISION_WITHDRAWN = "revision_withdrawn"  # revision
BEFORE_APPROVE = "before_approve"  # revision; a handler raises a DomainError to refuse
BEFORE_AGREE = "before_agree"  # revision, reviewer: a reviewer's "reviewed, agree"; may refuse


def subscribe(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if handler not in _SUBSCRIBERS[name]:
            _SUBSCRIBERS[name].append(handler)
        return handler

    return register


def publish(session: Session, name: str, **payload: Any) -> None:
    for handler in list(_SUBSCRIBERS[name]):
        handler(session, **payload)
