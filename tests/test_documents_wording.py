"""The documents carry the handbook's facts in the project's own words: no body line of
documents/ repeats a run of 20 Chinese characters of the handbook (punctuation ignored).
Lists of names (swim lanes, departments) in the front matter are facts, not sentences."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HANDBOOK = ROOT.parent / "shared" / "seed" / "quality-center-handbook.zh-simplified.txt"
RUN = 20


def _hanzi(text: str) -> str:
    return "".join(re.findall(r"[\u4e00-\u9fff]", text))


def _body(path: Path) -> list[tuple[int, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0
    if lines and lines[0] == "---":
        start = lines.index("---", 1) + 1
    return [(n + 1, lines[n]) for n in range(start, len(lines))]


@pytest.mark.skipif(not HANDBOOK.exists(), reason="the handbook is not beside this checkout")
def test_no_document_repeats_a_run_of_the_handbook():
    handbook = _hanzi(HANDBOOK.read_text(encoding="utf-8"))
    runs = {handbook[i : i + RUN] for i in range(len(handbook) - RUN + 1)}
    repeated = []
    for path in sorted((ROOT / "documents").glob("*.md")):
        for number, line in _body(path):
            text = _hanzi(line)
            hit = next((text[i : i + RUN] for i in range(len(text) - RUN + 1)
                        if text[i : i + RUN] in runs), None)
            if hit:
                repeated.append(f"{path.name}:{number}: {hit}")
    assert repeated == []
