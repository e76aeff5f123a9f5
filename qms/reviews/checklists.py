"""Review checklist templates per document kind; the leader starts from one and edits it."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from qms.documents.models import DocKind

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


def checklist_template(kind: DocKind | None) -> list[str]:
    """The template in the current user's language, as plain strings to store."""
    items = list(BY_KIND.get(kind, [])) if kind else []
    return [str(item) for item in items + COMMON]
