"""What a reader is shown of trail entries. The trail holds the old and new content of
records (a draft's body, a defect's text); a reader who may not see the record sees the
entry (who, when, what was done to which object) without that content.

Features above the trail say who may see the content of their objects by registering a
content gate per object type, so the trail never imports them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from qms.trail.models import TrailEntry

# (session, user, object ids of one type) -> the ids whose content the user may see
ContentGate = Callable[[Session, Any, Sequence[str]], set[str]]
_GATES: dict[str, ContentGate] = {}


def content_gate(*object_types: str) -> Callable[[ContentGate], ContentGate]:
    def register(gate: ContentGate) -> ContentGate:
        for object_type in object_types:
            _GATES[object_type] = gate
        return gate

    return register


WITHHELD_FIELDS = ("old_value", "new_value", "reason")


class TrailLine:
    """One entry as this reader may see it: the entry itself, or with its content (old and
    new value, reason) withheld."""

    def __init__(self, entry: TrailEntry, withheld: bool) -> None:
        self.entry = entry
        self.withheld = withheld

    def __getattr__(self, name: str) -> Any:
        if self.withheld and name in WITHHELD_FIELDS:
            return "" if name == "reason" else None
        return getattr(self.entry, name)


def lines(session: Session, user: Any, entries: Iterable[TrailEntry]) -> list[TrailLine]:
    """The entries in order, content withheld where a gate says the user may not see it."""
    entries = list(entries)
    wanted: dict[str, set[str]] = {}
    for e in entries:
        if e.object_type in _GATES and e.object_id is not None:
            wanted.setdefault(e.object_type, set()).add(e.object_id)
    allowed = {
        object_type: _GATES[object_type](session, user, sorted(ids))
        for object_type, ids in wanted.items()
    }
    return [
        TrailLine(e, e.object_type in allowed and e.object_id not in allowed[e.object_type])
        for e in entries
    ]


def csv_row(line: TrailLine) -> list[Any]:
    """A row under qms.trail.service.CSV_HEADER, content blanked when withheld."""
    from qms.trail.service import CSV_HEADER, csv_row

    row = csv_row(line.entry)
    if line.withheld:
        for name in WITHHELD_FIELDS:
            if name in CSV_HEADER:
                row[CSV_HEADER.index(name)] = ""
    return row


def as_json(line: TrailLine) -> dict[str, Any]:
    from qms.trail.service import CSV_HEADER

    data = dict(zip(CSV_HEADER, csv_row(line), strict=True))
    data["withheld"] = line.withheld
    return data
