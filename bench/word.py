"""Word export and import of a 50-page procedure, against plain python-docx in the same run.

Targets (issue 4): export within 1 s, import within 2 s. Run: .venv/bin/python bench/docx.py
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

# This file is named docx.py: its own folder must not shadow the python-docx package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import docx  # noqa: E402
from flask import Flask  # noqa: E402

from qms.documents.lifecycle import RevState  # noqa: E402
from qms.word.export_docx import (  # noqa: E402
    CopyData,
    SignatureLine,
    build_copy,
    plain_paragraphs_docx,
)
from qms.word.import_docx import check_package, convert  # noqa: E402

EXPORT_TARGET_S = 1.0
IMPORT_TARGET_S = 2.0
CHARS_PER_PAGE = 1000  # A4, 10.5 pt 宋体, with headings, lists and table rows between


def procedure(sections: int = 40) -> str:
    """About 50 printed pages: per section a heading, prose, a nested list and a table."""
    sentence = ("客户服务中心接到业主投诉后，应在规定时限内登记、分派并跟踪处理结果，"
                "**确保**每一项投诉*有记录、有回访*。")
    parts = []
    for s in range(1, sections + 1):
        parts.append(f"## {s} 第{s}节 投诉处理要求\n")
        for _ in range(4):
            parts.append(sentence * 3 + "\n")
        parts.append(f"### {s}.1 步骤\n")
        for i in range(1, 6):
            parts.append(f"{i}. 第{i}步：{sentence}")
            if i == 2:
                parts.extend(["    - 工程服务部：维修类", "    - 安全管理部：治安类"])
        parts.append("")
        parts.append("| 类别 | 时限 | 责任部门 | 记录 |\n|---|---|---|---|")
        for r in range(6):
            parts.append(f"| 类别{r} | {r + 1} 个工作日 | 客户服务中心 | 业主意见受理表 |")
        parts.append("")
    return "\n".join(parts)


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> int:
    body = procedure()
    pages = len(body) / CHARS_PER_PAGE
    data = CopyData(
        number="CX-KF-001", title="业主投诉处理程序", label="B/0", state=RevState.EFFECTIVE,
        kind="程序文件", department="客户服务中心", effective_date=date(2025, 1, 1),
        change_summary="修订处理时限", body=body,
        signatures=[SignatureLine("李静", "起草", "2024-12-01 09:00"),
                    SignatureLine("刘洋", "审核", "2024-12-02 10:00"),
                    SignatureLine("孙丽", "批准", "2024-12-03 11:00")])
    plain_lines = [line for line in body.splitlines() if line.strip()]

    export_s = timed(lambda: build_copy(data, "001"))
    baseline_export_s = timed(lambda: plain_paragraphs_docx(plain_lines))

    exported = build_copy(data, "001")
    app = Flask(__name__)  # lazy_gettext messages need an app context only when shown

    def do_import() -> None:
        check_package(exported, "procedure.docx")
        with app.app_context():
            convert(exported)

    def baseline_import() -> None:
        document = docx.Document(io.BytesIO(exported))
        "\n".join(p.text for p in document.paragraphs)

    import_s = timed(do_import)
    baseline_import_s = timed(baseline_import)

    print(f"procedure: {len(body):,} characters ≈ {pages:.0f} pages, "
          f"{len(plain_lines):,} Markdown lines, .docx {len(exported) / 1024:.0f} KB")
    print(f"export  {export_s * 1000:7.1f} ms   baseline (plain python-docx paragraphs) "
          f"{baseline_export_s * 1000:7.1f} ms   ratio {export_s / baseline_export_s:4.2f}×   "
          f"target < {EXPORT_TARGET_S * 1000:.0f} ms")
    print(f"import  {import_s * 1000:7.1f} ms   baseline (python-docx open + read text)    "
          f"{baseline_import_s * 1000:7.1f} ms   ratio {import_s / baseline_import_s:4.2f}×   "
          f"target < {IMPORT_TARGET_S * 1000:.0f} ms")
    ok = export_s < EXPORT_TARGET_S and import_s < IMPORT_TARGET_S
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
