from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.certification.labels import AUDIT_KIND_LABELS, KIND_LABELS
from qms.certification.models import UNIT_KIND_LABELS, UnitKind
from qms.certification.rules import CertificateKind

DEFAULT_STANDARD = "GB/T 19001-2016 / ISO 9001:2015"


class BodyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    accreditation_number = StringField(
        _l("Accreditation number"), validators=[Optional(), Length(max=100)]
    )
    contact_name = StringField(_l("Contact"), validators=[Optional(), Length(max=100)])
    contact_phone = StringField(_l("Phone"), validators=[Optional(), Length(max=50)])
    contact_email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])


class UnitForm(FlaskForm):
    kind = SelectField(_l("Kind"))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    contact_name = StringField(_l("Contact"), validators=[Optional(), Length(max=100)])
    contact_phone = StringField(_l("Phone"), validators=[Optional(), Length(max=50)])
    contact_email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, UNIT_KIND_LABELS[k]) for k in UnitKind]


class ConsultantForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    organisation = StringField(_l("Organisation"), validators=[Optional(), Length(max=200)])
    contact_phone = StringField(_l("Phone"), validators=[Optional(), Length(max=50)])
    contact_email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])


class ProjectForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    body = SelectField(_l("Certification body"))
    consultant = SelectField(_l("Consultant"))
    standard = StringField(
        _l("Standard and edition"),
        default=DEFAULT_STANDARD,
        validators=[DataRequired(), Length(max=100)],
    )
    scope = TextAreaField(_l("Scope"), validators=[DataRequired(), Length(max=2000)])
    sites = TextAreaField(_l("Sites"), validators=[Optional(), Length(max=2000)])
    application_text = TextAreaField(_l("Application"), validators=[Optional(), Length(max=20000)])
    advice = TextAreaField(_l("Consultant's advice"), validators=[Optional(), Length(max=5000)])
    advice_on = DateField(_l("Date of the advice"), validators=[Optional()])


class CertificateFields:
    number = StringField(_l("Certificate number"), validators=[Optional(), Length(max=100)])
    cert_standard = StringField(
        _l("Standard and edition"),
        default=DEFAULT_STANDARD,
        validators=[Optional(), Length(max=100)],
    )
    cert_scope = TextAreaField(_l("Scope"), validators=[Optional(), Length(max=2000)])
    cert_sites = TextAreaField(_l("Sites"), validators=[Optional(), Length(max=2000)])
    decision_date = DateField(_l("Decision date"), validators=[Optional()])
    grant_date = DateField(_l("Grant date"), validators=[Optional()])
    expiry_date = DateField(_l("Expiry (computed when left empty)"), validators=[Optional()])
    scan = FileField(_l("Scan of the certificate"))


class StepForm(CertificateFields, FlaskForm):
    step = SelectField(_l("Step"))
    on_date = DateField(_l("Date"), validators=[Optional()])
    responsible = StringField(_l("Responsible"), validators=[Optional(), Length(max=200)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)])
    files = MultipleFileField(_l("Documents received or sent"))
    direction = SelectField(_l("The documents were"))
    password = PasswordField(_l("Your password (to sign)"), validators=[Optional()])
    content_sha256 = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.direction.choices = [
            ("received", _l("received from the body")),
            ("sent", _l("sent to the body")),
        ]


class TextsForm(FlaskForm):
    application_text = TextAreaField(_l("Application"), validators=[Optional(), Length(max=20000)])
    contract_text = TextAreaField(_l("Contract"), validators=[Optional(), Length(max=20000)])


class CertificateForm(CertificateFields, FlaskForm):
    body = SelectField(_l("Certification body"))
    kind = SelectField(_l("Kind"))
    previous = SelectField(_l("Earlier certificate"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, KIND_LABELS[k]) for k in CertificateKind]


class AuditForm(FlaskForm):
    kind = SelectField(_l("Audit"))
    held_on = DateField(_l("Held on"), validators=[DataRequired()])
    on_time = BooleanField(_l("Held on time"))
    major_nonconformities = IntegerField(
        _l("Major nonconformities"), default=0, validators=[Optional(), NumberRange(0, 999)]
    )
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k, v) for k, v in AUDIT_KIND_LABELS.items()]


class StatusForm(FlaskForm):
    move = SelectField(_l("Change"))
    on = DateField(_l("Date"), validators=[Optional()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.move.choices = [
            ("suspend", _l("Suspend")),
            ("reinstate", _l("Reinstate")),
            ("withdraw", _l("Withdraw")),
        ]


class ButtonForm(FlaskForm):
    pass


class FindingForm(FlaskForm):
    department = SelectField(_l("Department"))
    clause = StringField(_l("ISO 9001 clause"), validators=[DataRequired(), Length(max=20)])
    grade = SelectField(_l("Grade"))
    process_number = StringField(_l("Process"), validators=[Optional(), Length(max=32)])
    description = TextAreaField(_l("Description"), validators=[DataRequired(), Length(max=5000)])
    evidence = TextAreaField(_l("Evidence"), validators=[DataRequired(), Length(max=5000)])
    raised_on = DateField(_l("Date"), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grade.choices = [("major", _l("Major (serious)")), ("minor", _l("Minor (general)"))]


class AuditFindingForm(FindingForm):
    """A finding of a surveillance or recertification audit of a certificate held."""

    audit = SelectField(_l("Audit"))
