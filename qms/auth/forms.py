from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=100)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])
    department = SelectField(_l("Department"), coerce=str, validators=[Optional()])
    roles = MultiCheckboxField(_l("Roles"), coerce=str)
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Initial password"), validators=[Optional()])
    reason = StringField(_l("Reason for the change"), validators=[Optional(), Length(max=500)])


# New passwords: InputRequired, not DataRequired, so that one of spaces only reaches the
# policy, which says why it is refused.
class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[InputRequired()])


class ResetPasswordForm(FlaskForm):
    new = PasswordField(_l("New password"), validators=[InputRequired()])


class DepartmentForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=16)])
    name = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=100)])
    name_en = StringField(_l("Name (English)"), validators=[Optional(), Length(max=100)])
    parent = SelectField(_l("Parent department"), coerce=str, validators=[Optional()])
    active = BooleanField(_l("Active"), default=True)


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)])
    days = IntegerField(
        _l("Valid for (days)"), validators=[Optional(), NumberRange(min=1, max=366)]
    )
    # Re-authentication: a token is a credential of its own, made only with the password.
    password = PasswordField(_l("Your password"), validators=[DataRequired()])
