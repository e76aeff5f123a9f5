from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from qms.distribution.models import (
    CATEGORY_LABELS,
    MEDIUM_LABELS,
    OUTCOME_LABELS,
    ExternalCategory,
    Medium,
    RecallOutcome,
)


class ChoicesForm(FlaskForm):
    """Fixed choices are set per instance: WTForms warns about choices given at class level."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fixed: dict[str, list[tuple[str, Any]]] = {
            "medium": [(m.value, MEDIUM_LABELS[m]) for m in Medium],
            "category": [(c.value, CATEGORY_LABELS[c]) for c in ExternalCategory],
            "outcome": self.outcome_choices(),
        }
        for name, choices in fixed.items():
            if name in self:
                self[name].choices = choices

    def outcome_choices(self) -> list[tuple[str, Any]]:
        return []


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class IssueCopyForm(ChoicesForm):
    # Rendered by hidden_tag(): the revision whose register page the form is on.
    revision = HiddenField(_l("Revision"), validators=[DataRequired(), Length(max=16)])
    holder_department = SelectField(_l("Holder department"), coerce=str,
                                    validators=[Optional()])
    holder_user = SelectField(_l("Holder (person)"), coerce=str, validators=[Optional()])
    medium = SelectField(_l("Medium"), default=Medium.PAPER.value)
    location = StringField(_l("Where it is kept"), validators=[Optional(), Length(max=200)])


class RecallForm(ChoicesForm):
    outcome = SelectField(_l("Outcome"))
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])

    def outcome_choices(self) -> list[tuple[str, Any]]:
        return [(o.value, OUTCOME_LABELS[o]) for o in RecallOutcome]


class SignForm(FlaskForm):
    password = PasswordField(_l("Your password (signature)"), validators=[DataRequired()])


class AckForm(SignForm):
    """阅知: the password and the fingerprint of the text the page showed."""

    content_sha256 = HiddenField()


class AssignReadingForm(FlaskForm):
    people = MultiCheckboxField(_l("People who must read"), coerce=str)
    departments = MultiCheckboxField(_l("Departments who must read"), coerce=str)
    due_days = IntegerField(_l("Days allowed for reading"), default=14,
                            validators=[DataRequired(), NumberRange(1, 365)])


class ReadRuleForm(FlaskForm):
    kind = SelectField(_l("Documents of kind"), coerce=str, validators=[Optional()])
    department = SelectField(_l("Documents of department"), coerce=str, validators=[Optional()])
    roles = MultiCheckboxField(_l("Roles who must read"), coerce=str)
    departments = MultiCheckboxField(_l("Departments who must read"), coerce=str)
    people = MultiCheckboxField(_l("People who must read"), coerce=str)
    due_days = IntegerField(_l("Days allowed for reading"), default=14,
                            validators=[DataRequired(), NumberRange(1, 365)])
    minor_resets = BooleanField(_l("A minor revision must be read again"), default=True)


class IntervalForm(FlaskForm):
    kind = SelectField(_l("Kind"), coerce=str)
    months = IntegerField(_l("Review interval (months)"),
                          validators=[DataRequired(), NumberRange(1, 120)])
    apply_to_existing = BooleanField(_l("Also for existing documents of this kind"))


class PeriodicReviewForm(ChoicesForm):
    outcome = SelectField(_l("Outcome"))
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)])
    password = PasswordField(_l("Your password (signature)"), validators=[Optional()])

    def outcome_choices(self) -> list[tuple[str, Any]]:
        return [("no_change", _l("Still suitable, no change")),
                ("revise_minor", _l("Needs a minor change: start a new revision")),
                ("revise_major", _l("Needs a major change: start a new revision"))]


class ExternalForm(ChoicesForm):
    number = StringField(_l("Document number (empty: next free)"),
                         validators=[Optional(), Length(max=32)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    category = SelectField(_l("Category"))
    source = StringField(_l("Source (issued by)"), validators=[DataRequired(), Length(max=200)])
    reference = StringField(_l("Reference (e.g. GB/T 19001-2016)"),
                            validators=[Optional(), Length(max=100)])
    edition = StringField(_l("Edition"), validators=[Optional(), Length(max=100)])
    url = StringField(_l("Web address"), validators=[Optional(), Length(max=500)])
    department = SelectField(_l("Department"), coerce=str, validators=[DataRequired()])
    owner = SelectField(_l("Owner"), coerce=str, validators=[DataRequired()])
    effective_date = DateField(_l("In force since"), validators=[Optional()])
    checked_on = DateField(_l("Currency last checked"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional()])


class ExternalEditForm(ChoicesForm):
    category = SelectField(_l("Category"))
    source = StringField(_l("Source (issued by)"), validators=[DataRequired(), Length(max=200)])
    reference = StringField(_l("Reference"), validators=[Optional(), Length(max=100)])
    url = StringField(_l("Web address"), validators=[Optional(), Length(max=500)])
    owner = SelectField(_l("Owner"), coerce=str, validators=[DataRequired()])
    reason = StringField(_l("Reason for the change"), validators=[Optional(), Length(max=500)])


class CurrencyCheckForm(FlaskForm):
    checked_on = DateField(_l("Checked on"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class NewEditionForm(FlaskForm):
    edition = StringField(_l("New edition"), validators=[DataRequired(), Length(max=100)])
    reference = StringField(_l("Reference"), validators=[Optional(), Length(max=100)])
    effective_date = DateField(_l("In force since"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional()])

