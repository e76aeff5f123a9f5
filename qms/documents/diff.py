"""A word-level redline between two texts, readable for Chinese: each CJK character is a
token of its own, Latin words and numbers stay whole, so a changed character shows as one
changed character rather than a whole changed line."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]"  # one CJK character
    r"|[A-Za-z0-9_]+(?:[-./][A-Za-z0-9_]+)*"  # a Latin word, number or document number
    r"|\s+"
    r"|.",
    re.DOTALL,
)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Chunk:
    op: str  # "equal", "insert", "delete"
    text: str


def diff(old: str, new: str) -> list[Chunk]:
    a, b = tokens(old), tokens(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    chunks: list[Chunk] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            chunks.append(Chunk("equal", "".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            chunks.append(Chunk("delete", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            chunks.append(Chunk("insert", "".join(b[j1:j2])))
    return chunks


def redline_html(old: str, new: str) -> str:
    out = []
    for chunk in diff(old, new):
        text = html.escape(chunk.text)
        if chunk.op == "insert":
            out.append(f"<ins>{text}</ins>")
        elif chunk.op == "delete":
            out.append(f"<del>{text}</del>")
        else:
            out.append(text)
    return "".join(out)


def stats(old: str, new: str) -> dict[str, int]:
    inserted = deleted = 0
    for chunk in diff(old, new):
        if chunk.op == "insert":
            inserted += len(chunk.text)
        elif chunk.op == "delete":
            deleted += len(chunk.text)
    return {"inserted": inserted, "deleted": deleted}
