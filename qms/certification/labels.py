"""The words users see for the states, steps, statuses and due dates of certification."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from qms.certification.models import CertificateStatus
from qms.certification.rules import CertificateKind, ProjectAction, ProjectState

S = ProjectState
A = ProjectAction

STATE_LABELS = {
    S.ADVICE: _l("Consultant's advice"),
    S.APPLICATION: _l("Application in preparation"),
    S.SIGNED: _l("Application signed"),
    S.SUBMITTED: _l("Application under review by the body"),
    S.RETURNED: _l("Application returned for correction"),
    S.ACCEPTED: _l("Application accepted"),
    S.CONTRACTED: _l("Contract signed"),
    S.DOCUMENT_REVIEW: _l("Document review"),
    S.NONCONFORMING: _l("Document nonconformities to correct"),
    S.DOCUMENTS_ACCEPTED: _l("Documents accepted"),
    S.PRE_AUDITED: _l("Pre-audit held"),
    S.AUDIT_PLANNED: _l("Audit planned"),
    S.AUDITED: _l("On-site audit held"),
    S.INSPECTION_PLANNED: _l("Inspection planned"),
    S.INSPECTED: _l("On-site inspection held"),
    S.CERTIFIED: _l("Certified"),
    S.REFUSED: _l("Refused"),
    S.CANCELLED: _l("Cancelled"),
}

ACTION_LABELS = {
    A.PREPARE_APPLICATION: _l("Prepare the application"),
    A.SIGN_APPLICATION: _l("Sign the application (general manager)"),
    A.SUBMIT_APPLICATION: _l("Submit the application to the body"),
    A.RETURN_APPLICATION: _l("Application returned by the body"),
    A.CORRECT_APPLICATION: _l("Correct the application"),
    A.ACCEPT_APPLICATION: _l("Application accepted by the body"),
    A.SIGN_CONTRACT: _l("Sign the contract (general manager)"),
    A.RECEIVE_COMMISSIONS: _l("Inspection and on-site inspection commissions received"),
    A.REPORT_NONCONFORMITIES: _l("Document nonconformities notified"),
    A.CORRECT_DOCUMENTS: _l("Document nonconformities corrected"),
    A.ACCEPT_DOCUMENTS: _l("Documents accepted by the inspection group"),
    A.PRE_AUDIT: _l("Pre-audit held"),
    A.PLAN_AUDIT: _l("Audit plan received"),
    A.HOLD_AUDIT: _l("On-site audit held"),
    A.PLAN_INSPECTION: _l("Inspection plan received"),
    A.HOLD_INSPECTION: _l("On-site inspection held (engineering, service, security)"),
    A.RECEIVE_AUDIT_REPORT: _l("Audit report received"),
    A.RECEIVE_INSPECTION_REPORT: _l("Inspection report received"),
    A.CERTIFY: _l("Decision: certificate granted"),
    A.REFUSE: _l("Decision: refusal notice received"),
    A.CANCEL: _l("Cancel the project"),
}

STATUS_LABELS = {
    CertificateStatus.VALID: _l("Valid"),
    CertificateStatus.SUSPENDED: _l("Suspended"),
    CertificateStatus.WITHDRAWN: _l("Withdrawn"),
    CertificateStatus.EXPIRED: _l("Expired"),
    CertificateStatus.SUPERSEDED: _l("Superseded"),
}

KIND_LABELS = {
    CertificateKind.INITIAL: _l("Initial certification"),
    CertificateKind.RECERTIFICATION: _l("Recertification"),
    CertificateKind.RESTORATION: _l("Restoration"),
}

DUE_LABELS = {
    "first_surveillance": _l("First surveillance audit"),
    "surveillance": _l("Surveillance audit"),
    "recertification": _l("Recertification audit completed"),
    "restoration": _l("Last day to restore the certificate"),
    "suspension_end": _l("End of the longest suspension"),
    "major_nonconformities": _l("Major nonconformities corrected and verified"),
}

AUDIT_KIND_LABELS = {
    "surveillance": _l("Surveillance audit"),
    "recertification": _l("Recertification audit"),
}
