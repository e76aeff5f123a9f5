"""Revision labels. The default scheme is letter/number: A/0, A/1 (minor), B/0 (major);
the numeric scheme gives 1.0, 1.1, 2.0."""

from __future__ import annotations


def next_label(major: int, minor: int, *, major_change: bool) -> tuple[int, int]:
    return (major + 1, 0) if major_change else (major, minor + 1)


def format_label(major: int, minor: int, scheme: str = "letter") -> str:
    if scheme == "numeric":
        return f"{major}.{minor}"
    return f"{_letters(major)}/{minor}"


def parse_label(label: str) -> tuple[int, int]:
    """'B/2' → (2, 2); '2.1' → (2, 1). ValueError for anything else."""
    label = label.strip().upper()
    if "/" in label:
        letters, minor = label.split("/", 1)
        if not letters or not letters.isalpha() or not letters.isascii():
            raise ValueError(label)
        major = 0
        for ch in letters:
            major = major * 26 + (ord(ch) - 64)
        return major, int(minor)
    if "." in label:
        a, b = label.split(".", 1)
        return int(a), int(b)
    raise ValueError(label)


def _letters(n: int) -> str:
    out = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out
