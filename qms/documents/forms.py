from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class NewDocumentForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), validators=[DataRequired()])
    department = SelectField(_l("Owner department"), validators=[DataRequired()])
    family = SelectField(_l("Family"), validators=[DataRequired()])
    confidentiality = SelectField(_l("Confidentiality"), validators=[DataRequired()])
    body = TextAreaField(_l("Text (Markdown)"), validators=[Optional()])
    change_summary = StringField(_l("Change summary"), validators=[Optional(), Length(max=500)])


class DraftForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Text (Markdown)"), validators=[Optional()])
    change_summary = StringField(_l("Change summary"), validators=[Optional(), Length(max=500)])
    base_hash = HiddenField()


class ApprovalRightForm(FlaskForm):
    user = SelectField(_l("Approver"), validators=[DataRequired()])
    kind = SelectField(_l("Kind"), validators=[Optional()])
    department = SelectField(_l("Department"), validators=[Optional()])
