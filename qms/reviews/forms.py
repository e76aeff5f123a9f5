from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from qms.reviews.models import (
    CATEGORY_LABELS,
    LEVEL_LABELS,
    SEVERITY_LABELS,
    TYPE_LABELS,
    Category,
    ReviewLevel,
    ReviewType,
    Severity,
)


def _choices(labels: dict[Any, Any]) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in labels.items()]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PlanForm(FlaskForm):
    title = StringField(_l("Project or system name"), validators=[DataRequired(),
                                                                  Length(max=200)])
    system_version = StringField(_l("System version"), validators=[Optional(), Length(max=40)])
    department = SelectField(_l("Department under review"), coerce=str)
    level = SelectField(_l("Review level"), default=str(ReviewLevel.CENTER))
    review_type = SelectField(_l("Review type"), default=str(ReviewType.FIRST))
    # A choice of the revisions under review, never typed: a wrong number cannot be sent.
    revision = SelectField(_l("Main document (revision under review)"), coerce=int,
                           validators=[DataRequired()])
    pages = IntegerField(_l("Pages"), default=1, validators=[NumberRange(min=1, max=10000)])
    attachments = TextAreaField(
        _l("Attached documents (one a line: number, revision, pages)"),
        validators=[Optional()])
    reviewers = MultiCheckboxField(_l("Reviewers"), coerce=int)
    recorder = SelectField(_l("Recorder"), coerce=int)
    approver = SelectField(_l("Approver of plan and report"), coerce=int)
    strategy = TextAreaField(_l("Strategy"), validators=[Optional()])
    deliverables = TextAreaField(_l("Deliverables"), validators=[Optional()])
    regression_criteria = TextAreaField(_l("Criteria for a regression review"),
                                        validators=[Optional()])
    planned_pages_per_hour = IntegerField(_l("Planned pages per hour"),
                                          validators=[Optional(), NumberRange(min=1)])
    meeting_date = DateField(_l("Meeting date"), validators=[Optional()])
    meeting_place = StringField(_l("Place"), validators=[Optional(), Length(max=200)])
    agenda = TextAreaField(_l("Agenda"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.level.choices = _choices(LEVEL_LABELS)
        self.review_type.choices = _choices(TYPE_LABELS)


class PlanEditForm(FlaskForm):
    strategy = TextAreaField(_l("Strategy"), validators=[Optional()])
    deliverables = TextAreaField(_l("Deliverables"), validators=[Optional()])
    regression_criteria = TextAreaField(_l("Criteria for a regression review"),
                                        validators=[Optional()])
    planned_pages_per_hour = IntegerField(_l("Planned pages per hour"),
                                          validators=[Optional(), NumberRange(min=1)])
    meeting_date = DateField(_l("Meeting date"), validators=[Optional()])
    meeting_place = StringField(_l("Place"), validators=[Optional(), Length(max=200)])
    agenda = TextAreaField(_l("Agenda"), validators=[Optional()])
    checklist = TextAreaField(_l("Review checklist (one item a line)"), validators=[Optional()])


class DefectForm(FlaskForm):
    raised_by = SelectField(_l("Raised by"), coerce=int)
    revision_id = SelectField(_l("Document"), coerce=int)
    chapter = StringField(_l("Chapter"), validators=[Optional(), Length(max=40)])
    section = StringField(_l("Section"), validators=[Optional(), Length(max=40)])
    page = StringField(_l("Page"), validators=[Optional(), Length(max=20)])
    severity = SelectField(_l("Type"), default=str(Severity.GENERAL))
    category = SelectField(_l("Category"), default=str(Category.WRONG))
    description = TextAreaField(_l("Description"), validators=[DataRequired()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.severity.choices = _choices(SEVERITY_LABELS)
        self.category.choices = _choices(CATEGORY_LABELS)
