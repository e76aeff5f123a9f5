"""Upload forms: a Word file as a new document, or as the text of a new revision."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from qms.documents.models import FAMILY_LABELS, KIND_LABELS, DocKind, Family


class ImportDocumentForm(FlaskForm):
    file = FileField(_l("Word file (.docx)"), validators=[FileRequired()])
    title = StringField(_l("Title (taken from the file when empty)"),
                        validators=[Optional(), Length(max=200)])
    kind = SelectField(_l("Kind"),
                       choices=[SelectChoice(k.value, label) for k, label in KIND_LABELS.items()],
                       default=DocKind.PROCEDURE.value)
    department = SelectField(_l("Department"), coerce=str, validators=[DataRequired()])
    family = SelectField(_l("Family"),
                         choices=[SelectChoice(f.value, label)
                                  for f, label in FAMILY_LABELS.items()],
                         default=Family.STANDARD.value)


class ImportRevisionForm(FlaskForm):
    file = FileField(_l("Word file (.docx)"), validators=[FileRequired()])
    change_summary = StringField(_l("What changed"), validators=[DataRequired(), Length(max=500)])
    major_change = BooleanField(_l("Major change (next letter, e.g. A/1 → B/0)"), default=False)
    base_hash = HiddenField()
