"""How the calendar's trail entries read (the trail keeps codes; pages show words)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _p

from qms.calendar.manage import KIND_LABELS
from qms.trail.labels import ACTION_LABELS, FIELD_LABELS, OBJECT_LABELS, value_labels

ACTION_LABELS.setdefault("take_over", _p("trail action", "Calendar year taken over"))
ACTION_LABELS.setdefault("import_calendar", _p("trail action", "Calendar imported"))
OBJECT_LABELS.setdefault("calendar_day", _l("Calendar day"))
OBJECT_LABELS.setdefault("calendar_year", _l("Calendar year"))
FIELD_LABELS.setdefault("kind", _l("Kind"))
FIELD_LABELS.setdefault("name", _l("Holiday name"))
FIELD_LABELS.setdefault("source", _l("Source"))
FIELD_LABELS.setdefault("confirmed", _l("State Council's arrangement"))
FIELD_LABELS.setdefault("days", _l("Days entered"))
value_labels("calendar_day", "kind", KIND_LABELS)
value_labels("calendar_year", "confirmed", {"True": _l("Entered"), "False": _l("Not entered yet")})
