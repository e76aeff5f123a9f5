"""Review checklist templates: the items of the company's checklist form BD-PZ-001 (its
effective revision), with the kind's special checks where the form leaves room for them.
The leader starts from the template and edits it."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms.documents.models import DocKind, Document

# The review checklist form (评审检查表) whose items every review starts from.
CHECKLIST_FORM = "BD-PZ-001"
# Its section for the document's content; the kind's special checks follow its items.
CONTENT_SECTION = "二"

_SECTION = re.compile(r"^#{2,4}\s*([一二三四五六七八九十]+)、")
_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*([^|]*?)\s*\|")

COMMON: list[Any] = [
    _l("Purpose and scope are stated and match the title"),
    _l("Responsibilities name departments or positions, not persons"),
    _l("Terms are used as the glossary defines them"),
    _l("References to other controlled documents give their numbers"),
    _l("Records to be kept are named, with who keeps them and for how long"),
]

BY_KIND: dict[DocKind, list[Any]] = {
    DocKind.QUALITY_MANUAL: [
        _l("Every clause of ISO 9001 that applies is addressed"),
        _l("Exclusions are justified"),
        _l("The quality policy and objectives are consistent with the manual"),
    ],
    DocKind.POLICY: [
        _l("Objectives are measurable and have owners"),
        _l("The policy fits the company's purpose and context"),
    ],
    DocKind.PROCEDURE: [
        _l("Each step has an owner and an output"),
        _l("Inputs and outputs match the processes it links to"),
        _l("The controlling regulation is named"),
    ],
    DocKind.REGULATION: [
        _l("Every rule can be checked in practice"),
        _l("The processes it controls are named"),
        _l("Time limits and amounts are exact"),
    ],
    DocKind.PROCESS: [
        _l("Every node of the swim-lane flow has a numbered explanation"),
        _l("Every decision has both branches (yes / no)"),
        _l("The controlling regulation is named"),
        _l("Time limits (for example 3 working days) are stated at the step"),
    ],
    DocKind.JOB_DESCRIPTION: [
        _l("Duties, authority and reporting line are stated"),
        _l("Qualifications and competence are stated"),
    ],
    DocKind.WORK_INSTRUCTION: [
        _l("Steps can be followed without further explanation"),
        _l("Safety precautions are stated where needed"),
    ],
    DocKind.FORM: [
        _l("Every field the process needs is on the form"),
        _l("The form shows its number and revision"),
    ],
    DocKind.EXTERNAL: [
        _l("The issuing body and edition are recorded"),
        _l("The parts that apply to the company are identified"),
    ],
}


def form_items(markdown: str) -> list[tuple[str, str]]:
    """(section, item) for every filled, numbered row of the checklist form's tables."""
    items: list[tuple[str, str]] = []
    section = ""
    for line in markdown.splitlines():
        heading = _SECTION.match(line.strip())
        if heading:
            section = heading.group(1)
            continue
        row = _ROW.match(line.strip())
        if section and row and row.group(2):
            items.append((section, row.group(2)))
    return items


def checklist_template(session: Session, kind: DocKind | None) -> list[str]:
    """The items of the effective checklist form, the kind's special checks inserted after
    its content section; without an effective form, the built-in common items."""
    special = [str(item) for item in BY_KIND.get(kind, [])] if kind else []
    form = session.scalar(sa.select(Document).where(Document.number == CHECKLIST_FORM))
    revision = form.current_revision if form is not None else None
    rows = form_items(revision.body) if revision is not None else []
    if not rows:
        return special + [str(item) for item in COMMON]
    sections = [section for section, _text in rows]
    end = (
        len(rows) - sections[::-1].index(CONTENT_SECTION)
        if CONTENT_SECTION in sections
        else len(rows)
    )
    texts = [text for _section, text in rows]
    return texts[:end] + special + texts[end:]
