"""Fixtures of the procedures tests: a copy of documents/ to change, the set imported."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from qms.config import PROJECT_ROOT

DOCUMENTS = PROJECT_ROOT / "documents"


@pytest.fixture(autouse=True)
def _search_index_not_under_test(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whoosh needs seconds for the 84 documents; these tests are about structure and links.
    monkeypatch.setattr("qms.search.service.drain", lambda *_a, **_k: 0)


@pytest.fixture
def documents_dir(tmp_path: Path) -> Path:
    target = tmp_path / "documents"
    shutil.copytree(DOCUMENTS, target)
    return target


@pytest.fixture
def imported(db: Any, documents_dir: Path) -> Any:
    from qms.procedures.importer import import_directory

    report = import_directory(db, documents_dir)
    assert report.errors == [], [r.describe() for r in report.errors]
    return report


def write_doc(directory: Path, number: str, *, kind: str = "regulation", dept: str = "KF",
              extra: str = "", body: str = "正文\n", title: str = "测试文件") -> Path:
    path = directory / f"{number}.md"
    path.write_text(
        "---\n"
        f"number: {number}\n"
        f"title: {title}\n"
        f"kind: {kind}\n"
        "family: standard\n"
        f"department: {dept}\n"
        "revision: A/0\n"
        "effective_date: 2026-03-01\n"
        f"{extra}"
        "---\n"
        f"{body}",
        encoding="utf-8",
    )
    return path
