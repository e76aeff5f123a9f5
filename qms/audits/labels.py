"""How the trail names audit records' coded values (states, grades, checklist results)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from qms.audits.models import GRADE_LABELS, PROGRAMME_STATE_LABELS, RESULT_LABELS, STATE_LABELS
from qms.trail import labels as trail_labels

trail_labels.value_labels("audit_programme", "state", PROGRAMME_STATE_LABELS)
trail_labels.value_labels("audit", "state", STATE_LABELS)
trail_labels.value_labels("audit_finding", "grade", GRADE_LABELS)
trail_labels.value_labels("audit", "result", RESULT_LABELS)

# the fields audit entries name, where no other record named them first
for _field, _label in {
    "acknowledged": _l("Acknowledged"),
    "objectives": _l("Objectives"),
    "scope": _l("Scope"),
    "place": _l("Place"),
    "audit_date": _l("Date"),
    "lead_auditor_id": _l("Lead auditor"),
    "team": _l("Audit team"),
    "criteria": _l("Audit criteria"),
    "checklist": _l("Checklist"),
    "question": _l("Question"),
    "result": _l("Result"),
    "evidence": _l("Evidence"),
    "notice_date": _l("Notice date"),
    "conclusions": _l("Conclusions"),
    "conformity_degree": _l("Degree of conformity"),
    "diverging_opinions": _l("Unresolved diverging opinions"),
    "distribution": _l("Distribution"),
    "opening": _l("Opening meeting"),
    "closing": _l("Closing meeting"),
}.items():
    trail_labels.FIELD_LABELS.setdefault(_field, _label)
