from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.writing.labels import ACTION_LABELS, CATEGORY_LABELS, DECISION_LABELS, KIND_LABELS
from qms.writing.rules import Decision, FindingCategory, ItemKind


class PlanForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    scope = TextAreaField(_l("Scope"), validators=[Optional(), Length(max=5000)])
    consultant = SelectField(_l("Consultant"))
    training_on = DateField(_l("Training held on"), validators=[Optional()])
    trainer = StringField(_l("Trainer"), validators=[Optional(), Length(max=200)])
    training_notes = TextAreaField(
        _l("Attendees and notes"), validators=[Optional(), Length(max=5000)]
    )


class ItemForm(FlaskForm):
    kind = SelectField(_l("What is written"))
    title = StringField(
        _l("Manual section or document title"), validators=[DataRequired(), Length(max=200)]
    )
    position = IntegerField(_l("Order"), validators=[Optional(), NumberRange(min=1, max=999)])
    number = StringField(
        _l("Document number (empty: the next free number)"),
        validators=[Optional(), Length(max=32)],
    )
    revises = StringField(
        _l("Revises the existing document numbered"), validators=[Optional(), Length(max=32)]
    )
    department = SelectField(_l("Department"))
    writer = SelectField(_l("Writer"))
    start_on = DateField(_l("Start date"), validators=[Optional()])
    draft_due = DateField(_l("Draft due"), validators=[Optional()])
    final_due = DateField(_l("Final due"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, KIND_LABELS[k]) for k in ItemKind]


class TrainingForm(FlaskForm):
    training_on = DateField(_l("Training held on"), validators=[Optional()])
    trainer = StringField(_l("Trainer"), validators=[Optional(), Length(max=200)])
    notes = TextAreaField(_l("Attendees and notes"), validators=[Optional(), Length(max=5000)])


class StepForm(FlaskForm):
    step = SelectField(_l("Step"))
    deadline = DateField(_l("Deadline for comments (when circulating)"), validators=[Optional()])
    reason = TextAreaField(_l("Reason or note"), validators=[Optional(), Length(max=2000)])

    def set_choices(self, actions: list[str]) -> None:
        from qms.writing.rules import PlanAction

        self.step.choices = [(a, ACTION_LABELS[PlanAction(a)]) for a in actions]


class ButtonForm(FlaskForm):
    pass


class SectionForm(FlaskForm):
    body = TextAreaField(_l("Text of the section"), validators=[Optional()])
    base_version = HiddenField()


class DelayForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the delay"), validators=[Optional(), Length(max=2000)])


class QuestionForm(FlaskForm):
    item = SelectField(_l("About the item (optional)"))
    text = TextAreaField(_l("Question"), validators=[Optional(), Length(max=5000)])


class AnswerForm(FlaskForm):
    question_id = HiddenField()
    text = TextAreaField(_l("Answer"), validators=[Optional(), Length(max=5000)])
    consultant = SelectField(_l("Answer given by"))


class FindingForm(FlaskForm):
    category = SelectField(_l("Kind of finding"))
    item = SelectField(_l("About the item (optional)"))
    text = TextAreaField(_l("Finding"), validators=[Optional(), Length(max=5000)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.category.choices = [(c.value, CATEGORY_LABELS[c]) for c in FindingCategory]


class ResolveForm(FlaskForm):
    finding_id = HiddenField()
    note = TextAreaField(_l("How it was resolved"), validators=[Optional(), Length(max=5000)])


class CommentForm(FlaskForm):
    department = SelectField(_l("Department"))
    person = StringField(_l("Made by"), validators=[Optional(), Length(max=100)])
    clause = StringField(_l("Section or clause"), validators=[Optional(), Length(max=100)])
    text = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=5000)])


class DecideForm(FlaskForm):
    comment_id = HiddenField()
    decision = SelectField(_l("Decision"))
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])
    confirmed_by = StringField(_l("Confirmed by"), validators=[Optional(), Length(max=100)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decision.choices = [(d.value, DECISION_LABELS[d]) for d in Decision]
