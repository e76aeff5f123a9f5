"""The outcome of the last `qms verify-trail`, kept beside the checkpoints in the data
directory so that the auditor's home page can say when the trail was last verified and
what was found, without walking the whole chain on every page."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

FILE_NAME = "trail-verification.json"


@dataclass(frozen=True)
class Verification:
    at: datetime  # UTC
    intact: bool
    entries: int
    last_seq: int
    trail_problems: int
    bad_signatures: int


def path_in(data_dir: Path | str) -> Path:
    return Path(data_dir) / FILE_NAME


def save(data_dir: Path | str, result: Verification) -> None:
    target = path_in(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {**asdict(result), "at": result.at.astimezone(UTC).isoformat()}
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(tmp, target)  # a reader never sees half a file


def load(data_dir: Path | str) -> Verification | None:
    """The last outcome, or None when verify-trail never ran (or its file is unreadable)."""
    try:
        raw = json.loads(path_in(data_dir).read_text(encoding="utf-8"))
        return Verification(
            at=datetime.fromisoformat(raw["at"]),
            intact=bool(raw["intact"]),
            entries=int(raw["entries"]),
            last_seq=int(raw["last_seq"]),
            trail_problems=int(raw["trail_problems"]),
            bad_signatures=int(raw["bad_signatures"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
