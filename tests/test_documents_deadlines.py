"""The nonconformity deadlines are stated once, in the same words, in the quality management
regulation (ZD-PZ-001) and the internal audit regulation (ZD-PZ-003); the audit regulation
names the nonconformity report form (BD-PZ-008) and the four grades of a finding."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ROOT / "documents"
GRADES = ("严重不符合", "一般不符合", "观察项", "改进机会")


def _body(number: str) -> str:
    text = (DOCUMENTS / f"{number}.md").read_text(encoding="utf-8")
    return text.split("\n---\n", 1)[1]


def _front(number: str) -> str:
    return (DOCUMENTS / f"{number}.md").read_text(encoding="utf-8").split("\n---\n", 1)[0]


def _deadline_lines(number: str) -> list[str]:
    return [
        re.sub(r"^\d+\.\s*", "", line.strip())
        for line in _body(number).splitlines()
        if "整改期限" in line and "工作日" in line
    ]


def _deadlines(line: str) -> dict[str, tuple[int, str]]:
    found = {
        "plan": re.search(r"(\d+) 个?(工作日|日)内提交原因分析和纠正措施计划", line),
        "serious": re.search(r"严重不符合[^；。，]*?(\d+) 个?(工作日|日)内完成", line),
        "general": re.search(r"一般不符合[^；。，]*?(\d+) 个?(工作日|日)内完成", line),
    }
    assert all(found.values()), (line, found)
    return {key: (int(m.group(1)), m.group(2)) for key, m in found.items() if m}


def test_both_regulations_state_the_deadlines_once_and_in_the_same_words():
    first, audit = _deadline_lines("ZD-PZ-001"), _deadline_lines("ZD-PZ-003")
    assert len(first) == 1 and len(audit) == 1
    assert first == audit


def test_the_deadlines_are_the_agreed_ones():
    for number in ("ZD-PZ-001", "ZD-PZ-003"):
        (line,) = _deadline_lines(number)
        assert _deadlines(line) == {
            "plan": (3, "工作日"),
            "serious": (10, "工作日"),
            "general": (30, "日"),
        }, number


def test_no_other_correction_deadline_contradicts_them():
    for number in ("ZD-PZ-001", "ZD-PZ-003"):
        others = [
            line
            for line in _body(number).splitlines()
            if re.search(r"(严重|一般)不(符合|合格).*\d+ 个?(工作)?日内", line)
            and "整改期限" not in line
        ]
        assert others == [], number


def test_the_audit_regulation_names_the_report_form_and_the_grades():
    body = _body("ZD-PZ-003")
    assert "《不符合报告》（BD-PZ-008）" in body
    assert "BD-PZ-002" not in body  # the review defect log is not where findings go
    assert "BD-PZ-008" in re.search(r"uses_forms: \[(.*)\]", _front("ZD-PZ-003")).group(1)
    for grade in GRADES:
        assert f"| {grade} |" in body, grade


def test_the_form_is_a_controlled_form_of_both_regulations():
    front = _front("BD-PZ-008")
    assert "title: 不符合报告" in front and "kind: form" in front
    controlled_by = re.search(r"controlled_by: \[(.*)\]", front).group(1)
    assert {"ZD-PZ-001", "ZD-PZ-003"} <= {n.strip() for n in controlled_by.split(",")}
    assert "严重不符合" in _body("BD-PZ-008") and "一般不符合" in _body("BD-PZ-008")
