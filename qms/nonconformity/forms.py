"""The form that raises a nonconformity; the steps on its page are plain forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.nonconformity.rules import (
    DEFAULT_VERIFICATION_INTERVAL_DAYS,
    MAX_VERIFICATION_INTERVAL_DAYS,
    Grade,
    Source,
)


class RaiseForm(FlaskForm):
    source = SelectField(_l("Source"), default=str(Source.OTHER))
    source_label = StringField(
        _l("Source (which audit, inspection or complaint)"),
        validators=[Optional(), Length(max=200)],
    )
    department = SelectField(_l("Department"), coerce=str, validators=[DataRequired()])
    clause = StringField(
        _l("ISO 9001 clause"),
        validators=[DataRequired(), Length(max=20)],
        render_kw={"placeholder": "8.5.1"},
    )
    process_number = SelectField(_l("Process (controlled document)"), coerce=str)
    grade = SelectField(_l("Grade"), default=str(Grade.GENERAL))
    description = TextAreaField(
        _l("Description of the nonconformity"), validators=[DataRequired(), Length(max=4000)]
    )
    # Refused by the service when empty, with its own message (kept on the page)
    evidence = TextAreaField(_l("Objective evidence"), validators=[Length(max=8000)])
    raised_on = DateField(_l("Raised on"), validators=[Optional()])
    owner = SelectField(_l("Owner"), coerce=int)
    verification_interval_days = IntegerField(
        _l("Verification interval (days after the actions are completed)"),
        default=DEFAULT_VERIFICATION_INTERVAL_DAYS,
        validators=[NumberRange(min=0, max=MAX_VERIFICATION_INTERVAL_DAYS)],
    )
