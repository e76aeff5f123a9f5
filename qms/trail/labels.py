"""The audit trail in words: each action, kind of record and field as a reader says it,
and each record by its name ("document ZD-KF-001 revision A/1", not "revision 79").

The entries keep their codes (they are the evidence, hashed in the chain); only the
pages translate them. Features register how their records are named and what their
coded values mean (`namer`, `value_labels`), so the trail imports none of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _p
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

ACTION_LABELS: dict[str, Any] = {
    "acknowledge": _p("trail action", "Read and understood"),
    "assign": _p("trail action", "Named"),
    "assign_reading": _p("trail action", "Reading assigned"),
    "break_lock": _p("trail action", "Edit lock broken"),
    "carry_over": _p("trail action", "Carried over"),
    "check_currency": _p("trail action", "Currency checked"),
    "clear": _p("trail action", "Flag cleared"),
    "confirm": _p("trail action", "Participation confirmed"),
    "create": _p("trail action", "Created"),
    "create_token": _p("trail action", "Access token made"),
    "delete": _p("trail action", "Deleted"),
    "dispose": _p("trail action", "Decided"),
    "fix": _p("trail action", "Fixed"),
    "flag": _p("trail action", "Flagged for review"),
    "grant": _p("trail action", "Right granted"),
    "import_docx": _p("trail action", "Imported from Word"),
    "issue": _p("trail action", "Issued"),
    "issue_copy": _p("trail action", "Copy issued"),
    "lapse_reading": _p("trail action", "Reading lapsed"),
    "lock": _p("trail action", "Opened for editing"),
    "locked": _p("trail action", "Account locked"),
    "new_edition": _p("trail action", "New edition"),
    "password": _p("trail action", "Password changed"),
    "password_failed": _p("trail action", "Wrong password"),
    "password_reset": _p("trail action", "Password reset"),
    "periodic_review": _p("trail action", "Periodic review"),
    "reassign": _p("trail action", "Approver changed"),
    "recall_copy": _p("trail action", "Copy recalled"),
    "receive_copy": _p("trail action", "Copy received"),
    "request_recall": _p("trail action", "Recall requested"),
    "resend": _p("trail action", "Mail sent again"),
    "review": _p("trail action", "Reviewed"),
    "revoke": _p("trail action", "Right revoked"),
    "revoke_token": _p("trail action", "Access token revoked"),
    "session_expired": _p("trail action", "Session expired"),
    "sessions_ended": _p("trail action", "Sessions ended"),
    "sign": _p("trail action", "Signed"),
    "sign_in": _p("trail action", "Signed in"),
    "sign_in_failed": _p("trail action", "Sign-in failed"),
    "sign_out": _p("trail action", "Signed out"),
    "tick": _p("trail action", "Checklist item ticked"),
    "track": _p("trail action", "Fix tracked"),
    "transition": _p("trail action", "Status changed"),
    "unlock": _p("trail action", "Unlocked"),
    "update": _p("trail action", "Changed"),
    "verify": _p("trail action", "Fix verified"),
    "void_signature": _p("trail action", "Signature voided"),
    # certification (qms/certification)
    "accept_application": _p("trail action", "Application accepted"),
    "accept_documents": _p("trail action", "Documents accepted"),
    "add_unit": _p("trail action", "Inspection unit added"),
    "cancel": _p("trail action", "Cancelled"),
    "certify": _p("trail action", "Certificate granted"),
    "correct_application": _p("trail action", "Application corrected"),
    "correct_documents": _p("trail action", "Nonconformities corrected"),
    "evidence_pack": _p("trail action", "Evidence pack made"),
    "expire": _p("trail action", "Expired"),
    "hold_audit": _p("trail action", "On-site audit held"),
    "hold_inspection": _p("trail action", "On-site inspection held"),
    "issue_certificate": _p("trail action", "Certificate recorded"),
    "new_feed_token": _p("trail action", "Calendar feed address made"),
    "plan_audit": _p("trail action", "Audit plan received"),
    "plan_inspection": _p("trail action", "Inspection plan received"),
    "pre_audit": _p("trail action", "Pre-audit held"),
    "prepare_application": _p("trail action", "Application prepared"),
    "receive_audit_report": _p("trail action", "Audit report received"),
    "receive_commissions": _p("trail action", "Commissions received"),
    "receive_inspection_report": _p("trail action", "Inspection report received"),
    "raise_finding": _p("trail action", "Nonconformity from the body recorded"),
    "record_audit": _p("trail action", "Certification audit recorded"),
    "update_audit_majors": _p("trail action", "Major nonconformities of the audit updated"),
    "refuse": _p("trail action", "Certification refused"),
    "reinstate": _p("trail action", "Reinstated"),
    "report_nonconformities": _p("trail action", "Nonconformities notified"),
    "return_application": _p("trail action", "Application returned"),
    "sign_application": _p("trail action", "Application signed"),
    "sign_contract": _p("trail action", "Contract signed"),
    "submit_application": _p("trail action", "Application submitted"),
    "supersede": _p("trail action", "Superseded"),
    "suspend": _p("trail action", "Suspended"),
    "withdraw": _p("trail action", "Withdrawn"),
    # nonconformities (qms/nonconformity)
    "raise": _p("trail action", "Raised"),
    "record_cause": _p("trail action", "Cause and plan recorded"),
    "add_action": _p("trail action", "Action added"),
    "complete_action": _p("trail action", "Action done"),
    "document_change": _p("trail action", "Document change raised"),
    "verify_effective": _p("trail action", "Verified effective"),
    "verify_ineffective": _p("trail action", "Verified not effective"),
    "close": _p("trail action", "Closed"),
    "reopen": _p("trail action", "Reopened"),
    # internal audits (qms/audits)
    "notify": _p("trail action", "Audit notice sent"),
    "notice": _p("trail action", "Audit notice sent"),
    "open_meeting": _p("trail action", "Opening meeting held"),
    "close_meeting": _p("trail action", "Closing meeting held"),
    "meeting": _p("trail action", "Meeting attendance recorded"),
    "submit_report": _p("trail action", "Report submitted"),
    "approve_report": _p("trail action", "Report approved"),
    "return_report": _p("trail action", "Report returned"),
    "submit": _p("trail action", "Submitted"),
    "approve": _p("trail action", "Approved"),
    "return": _p("trail action", "Returned"),
    "add_criterion": _p("trail action", "Criterion added"),
    "move_pin": _p("trail action", "Criterion moved to another revision"),
    "generate_checklist": _p("trail action", "Checklist generated"),
    "add_item": _p("trail action", "Checklist item added"),
    "delete_item": _p("trail action", "Checklist item removed"),
    "add_photo": _p("trail action", "Photo added"),
    "distribute": _p("trail action", "Distributed"),
    # the quality-manual writing plan (qms/writing)
    "add_plan_item": _p("trail action", "Writing-plan item added"),
    "record_training": _p("trail action", "Writers' training recorded"),
    "plan_confirm": _p("trail action", "Writing plan confirmed"),
    "plan_start_writing": _p("trail action", "Writing started"),
    "plan_consolidate": _p("trail action", "Drafts being consolidated"),
    "plan_circulate": _p("trail action", "Draft circulated for comments"),
    "plan_return_for_changes": _p("trail action", "Returned for changes"),
    "plan_finalise": _p("trail action", "Writing plan finalised"),
    "plan_cancel": _p("trail action", "Writing plan cancelled"),
    "start_draft": _p("trail action", "Draft started from the template"),
    "save_section": _p("trail action", "Manual section saved"),
    "save_text": _p("trail action", "Draft text saved"),
    "take_in": _p("trail action", "Text taken into the controlled draft"),
    "submit_draft": _p("trail action", "Draft submitted"),
    "record_delay": _p("trail action", "Delay recorded"),
    "ask": _p("trail action", "Question asked"),
    "answer": _p("trail action", "Question answered"),
    "assemble_manual": _p("trail action", "Draft manual assembled"),
    "record_finding": _p("trail action", "Consultant's finding recorded"),
    "resolve_finding": _p("trail action", "Finding resolved"),
    "add_comment": _p("trail action", "Circulation comment recorded"),
    "decide_comment": _p("trail action", "Comment decided"),
    "chase": _p("trail action", "Late item chased"),
}

OBJECT_LABELS: dict[str, Any] = {
    "approval_right": _l("Approval right"),
    "controlled_copy": _l("Controlled copy"),
    "department": _l("Department"),
    "document": _l("Document"),
    "external_source": _l("External document"),
    "kind_review_interval": _l("Review interval"),
    "mail": _l("Mail"),
    "numbering_scheme": _l("Numbering"),
    "procedure": _l("Procedure"),
    "read_rule": _l("Reading rule"),
    "review": _l("Review"),
    "review_defect": _l("Defect"),
    "review_plan": _l("Review plan"),
    "review_report": _l("Review report"),
    "revision": _l("Revision"),
    "revision_links": _l("Procedure links"),
    "user": _l("User"),
    "cert_body": _l("Certification body"),
    "cert_certificate": _l("Certificate"),
    "cert_consultant": _l("Consultant"),
    "cert_pack": _l("Evidence pack"),
    "cert_project": _l("Certification project"),
    "nonconformity": _l("Nonconformity"),
    "nc_action": _l("Corrective action"),
    "audit": _l("Internal audit"),
    "audit_programme": _l("Audit programme"),
    "audit_finding": _l("Audit finding"),
    "audit_report": _l("Audit report"),
    "writing_plan": _l("Writing plan"),
    "writing_item": _l("Writing-plan item"),
    "writing_question": _l("Writer's question"),
    "writing_finding": _l("Consultant's finding"),
    "writing_comment": _l("Circulation comment"),
}

FIELD_LABELS: dict[str, Any] = {
    "approver": _l("Approver"),
    "reviewers": _l("Reviewers"),
    "state": _l("Status"),
    "title": _l("Title"),
    "body": _l("Text"),
    "change_summary": _l("Change summary"),
    "effective_date": _l("Effective date"),
    "roles": _l("Roles"),
    "authored": _l("Authored"),
    "reviewed": _l("Reviewed"),
    "approved": _l("Approved"),
    "issued": _l("Issued"),
    "withdrawn": _l("Withdrawn"),
    "read": _l("Read and understood"),
    "next_review_date": _l("Next periodic review"),
}

# (object type, field) -> {stored value: label}
_VALUES: dict[tuple[str, str], Mapping[str, Any]] = {}
# object type -> names of the records (ids as stored in the trail -> name)
_NAMERS: dict[str, Callable[[Session, Any, Sequence[str]], dict[str, str]]] = {}

# object type -> how its entries' reasons read (codes written by the system itself)
_REASONS: dict[str, Callable[[str], str]] = {}

HASH = re.compile(r"^[0-9a-f]{40,64}$")


def value_labels(object_type: str, field: str, labels: Mapping[Any, Any]) -> None:
    _VALUES[(object_type, field)] = {str(k): v for k, v in labels.items()}


def reason_text(object_type: str, render: Callable[[str], str]) -> None:
    _REASONS[object_type] = render


# reasons the system writes itself, in English in the chain; shown in the reader's language
_SYSTEM_REASONS: list[tuple[re.Pattern[str], Any]] = [
    (
        re.compile(r"^approved before the system \(import\)$"),
        _l("approved before the system (import)"),
    ),
    (re.compile(r"^revision (?P<state>\w+)$"), _l("revision %(state)s")),
    (re.compile(r"^interval for (?P<kind>\w+)$"), _l("interval for %(kind)s")),
    (re.compile(r"^superseded by (?P<label>\S+)$"), _l("superseded by %(label)s")),
    (re.compile(r"^meaning=(?P<meaning>\w+)$"), None),
    (re.compile(r"^raised by (?P<name>\S+)$"), _l("raised by %(name)s")),
    (re.compile(r"^rejected: (?P<why>.*)$", re.S), _l("rejected: %(why)s")),
    (re.compile(r"^(?P<n>\d+) failed attempts$"), _l("%(n)s failed attempts")),
    (re.compile(r"^structure changed$"), _l("structure changed")),
    (re.compile(r"^wrong password$"), _l("wrong password")),
    (re.compile(r"^unknown user$"), _l("unknown user")),
]


def reason_markup(object_type: str, reason: str | None) -> str:
    """An entry's reason: a person's words as written; the system's codes in words."""
    if not reason:
        return ""
    render = _REASONS.get(object_type)
    if render is not None:
        return render(reason)
    for pattern, text in _SYSTEM_REASONS:
        found = pattern.match(reason)
        if found is None:
            continue
        if text is None:  # a signature's meaning, already shown as the field
            return ""
        values = found.groupdict()
        if "state" in values:
            values["state"] = str(
                _VALUES.get(("revision", "state"), {}).get(values["state"], values["state"])
            )
        if "kind" in values:
            values["kind"] = str(
                _VALUES.get(("document", "kind"), {}).get(values["kind"], values["kind"])
            )
        return str(text % values)
    return reason


def actor_text(entry: Any) -> str:
    """Who: the person's name as it was, or the system itself."""
    if entry.actor_id is None and entry.actor_name == "system":
        return _("System")
    return str(entry.actor_name)


def namer(
    *object_types: str,
) -> Callable[
    [Callable[[Session, Any, Sequence[str]], dict[str, str]]],
    Callable[[Session, Any, Sequence[str]], dict[str, str]],
]:
    def decorate(
        fn: Callable[[Session, Any, Sequence[str]], dict[str, str]],
    ) -> Callable[[Session, Any, Sequence[str]], dict[str, str]]:
        for object_type in object_types:
            _NAMERS[object_type] = fn
        return fn

    return decorate


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action.replace("_", " ")


def object_label(object_type: str) -> str:
    label = OBJECT_LABELS.get(object_type)
    return str(label) if label is not None else object_type.replace("_", " ")


def field_label(field: str | None) -> str:
    if not field:
        return ""
    label = FIELD_LABELS.get(field)
    return str(label) if label is not None else field


def value_markup(object_type: str, field: str | None, value: str | None, limit: int = 160) -> Any:
    """A stored value as shown: a coded state in words, a fingerprint shortened (the whole
    of it in the page, for copying, and on hover), anything else as text."""
    if value is None or value == "":
        return ""
    labels = _VALUES.get((object_type, field or ""))
    if labels is not None and value in labels:
        return str(labels[value])
    if HASH.match(value):
        return Markup('<code class="hash" title="{0}">{0}</code>').format(value)
    return escape(value if len(value) <= limit else value[: limit - 1] + "…")


def object_names(session: Session, user: Any, entries: Iterable[Any]) -> dict[tuple[str, str], str]:
    """Names of the records the entries are about, asked of each feature once per page.
    Entries whose content is withheld are not named (`withheld` on the line)."""
    wanted: dict[str, set[str]] = {}
    for e in entries:
        entry = getattr(e, "entry", e)
        if getattr(e, "withheld", False) or entry.object_id is None:
            continue
        if entry.object_type in _NAMERS:
            wanted.setdefault(entry.object_type, set()).add(str(entry.object_id))
    names: dict[tuple[str, str], str] = {}
    for object_type, ids in wanted.items():
        for object_id, name in _NAMERS[object_type](session, user, sorted(ids)).items():
            names[(object_type, object_id)] = name
    return names


def object_text(names: Mapping[tuple[str, str], str], object_type: str, object_id: Any) -> str:
    """ "Document ZD-KF-001 revision A/1", or the kind of record and its id."""
    if object_id is not None and (object_type, str(object_id)) in names:
        return names[(object_type, str(object_id))]
    return f"{object_label(object_type)} {object_id or ''}".strip()


def revision_name(number: str, label: str) -> str:
    return _("Document %(number)s revision %(label)s", number=number, label=label)
