"""Certification as pure rules: the project of handbook 5.1 as a state machine, and the
due dates of ISO/IEC 17021-1 as date functions. No Flask, no SQLAlchemy.

advice → application → (general manager signs) → submitted → returned ⇄ corrected … →
accepted → contract signed → commissioned (质量体系检查委托书, 现场检验委托书) → document
review (nonconforming → corrected) → documents accepted → [pre-audit] → audit planned →
audited → inspection planned → inspected → (audit report and inspection report in) →
certified | refused."""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import date, timedelta


class ProjectState(enum.StrEnum):
    ADVICE = "advice"  # the consultant's advice recorded; the project has started
    APPLICATION = "application"  # the application is being prepared (or corrected)
    SIGNED = "signed"  # the general manager signed the application
    SUBMITTED = "submitted"  # the body reviews the application
    RETURNED = "returned"  # the body returned it for correction
    ACCEPTED = "accepted"  # the body accepted the application
    CONTRACTED = "contracted"  # the contract is signed
    DOCUMENT_REVIEW = "document_review"  # both commissions issued; documents under review
    NONCONFORMING = "nonconforming"  # the inspection group found nonconformities
    DOCUMENTS_ACCEPTED = "documents_accepted"
    PRE_AUDITED = "pre_audited"
    AUDIT_PLANNED = "audit_planned"
    AUDITED = "audited"
    INSPECTION_PLANNED = "inspection_planned"
    INSPECTED = "inspected"
    CERTIFIED = "certified"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class ProjectAction(enum.StrEnum):
    PREPARE_APPLICATION = "prepare_application"
    SIGN_APPLICATION = "sign_application"
    SUBMIT_APPLICATION = "submit_application"
    RETURN_APPLICATION = "return_application"
    CORRECT_APPLICATION = "correct_application"
    ACCEPT_APPLICATION = "accept_application"
    SIGN_CONTRACT = "sign_contract"
    RECEIVE_COMMISSIONS = "receive_commissions"
    REPORT_NONCONFORMITIES = "report_nonconformities"
    CORRECT_DOCUMENTS = "correct_documents"
    ACCEPT_DOCUMENTS = "accept_documents"
    PRE_AUDIT = "pre_audit"
    PLAN_AUDIT = "plan_audit"
    HOLD_AUDIT = "hold_audit"
    PLAN_INSPECTION = "plan_inspection"
    HOLD_INSPECTION = "hold_inspection"
    RECEIVE_AUDIT_REPORT = "receive_audit_report"
    RECEIVE_INSPECTION_REPORT = "receive_inspection_report"
    CERTIFY = "certify"
    REFUSE = "refuse"
    CANCEL = "cancel"


S = ProjectState
A = ProjectAction

TRANSITIONS: dict[tuple[ProjectState, ProjectAction], ProjectState] = {
    (S.ADVICE, A.PREPARE_APPLICATION): S.APPLICATION,
    (S.APPLICATION, A.SIGN_APPLICATION): S.SIGNED,
    (S.SIGNED, A.SUBMIT_APPLICATION): S.SUBMITTED,
    (S.SUBMITTED, A.RETURN_APPLICATION): S.RETURNED,
    (S.RETURNED, A.CORRECT_APPLICATION): S.APPLICATION,  # corrected: signed again, resubmitted
    (S.SUBMITTED, A.ACCEPT_APPLICATION): S.ACCEPTED,
    (S.ACCEPTED, A.SIGN_CONTRACT): S.CONTRACTED,
    (S.CONTRACTED, A.RECEIVE_COMMISSIONS): S.DOCUMENT_REVIEW,
    (S.DOCUMENT_REVIEW, A.REPORT_NONCONFORMITIES): S.NONCONFORMING,
    (S.NONCONFORMING, A.CORRECT_DOCUMENTS): S.DOCUMENT_REVIEW,
    (S.DOCUMENT_REVIEW, A.ACCEPT_DOCUMENTS): S.DOCUMENTS_ACCEPTED,
    (S.DOCUMENTS_ACCEPTED, A.PRE_AUDIT): S.PRE_AUDITED,
    (S.DOCUMENTS_ACCEPTED, A.PLAN_AUDIT): S.AUDIT_PLANNED,
    (S.PRE_AUDITED, A.PLAN_AUDIT): S.AUDIT_PLANNED,
    (S.AUDIT_PLANNED, A.HOLD_AUDIT): S.AUDITED,
    (S.AUDITED, A.PLAN_INSPECTION): S.INSPECTION_PLANNED,
    (S.INSPECTION_PLANNED, A.HOLD_INSPECTION): S.INSPECTED,
    # the inspection group's report may come in while the inspection is being prepared
    (S.AUDITED, A.RECEIVE_AUDIT_REPORT): S.AUDITED,
    (S.INSPECTION_PLANNED, A.RECEIVE_AUDIT_REPORT): S.INSPECTION_PLANNED,
    (S.INSPECTED, A.RECEIVE_AUDIT_REPORT): S.INSPECTED,
    (S.INSPECTED, A.RECEIVE_INSPECTION_REPORT): S.INSPECTED,
    (S.INSPECTED, A.CERTIFY): S.CERTIFIED,
    (S.INSPECTED, A.REFUSE): S.REFUSED,
}
FINAL = frozenset({S.CERTIFIED, S.REFUSED, S.CANCELLED})
for _state in S:
    if _state not in FINAL:
        TRANSITIONS[(_state, A.CANCEL)] = S.CANCELLED

# signed by the general manager with the password, bound to the content hash
SIGNED_ACTIONS = frozenset({A.SIGN_APPLICATION, A.SIGN_CONTRACT})
DECISIONS = frozenset({A.CERTIFY, A.REFUSE})
ONCE_ONLY = {A.RECEIVE_AUDIT_REPORT: "audit", A.RECEIVE_INSPECTION_REPORT: "inspection"}


class StepRefused(Exception):
    """A step that may not be taken; code says why (out_of_order, reports_missing …)."""

    def __init__(self, code: str, state: ProjectState, action: str) -> None:
        super().__init__(f"{code}: {action} in {state}")
        self.code = code
        self.state = state
        self.action = action


@dataclass(frozen=True)
class Facts:
    audit_report: bool = False
    inspection_report: bool = False


NO_FACTS = Facts()


def allowed_actions(state: ProjectState, facts: Facts = NO_FACTS) -> list[ProjectAction]:
    out = []
    for (s, a), _next in TRANSITIONS.items():
        if s != state:
            continue
        try:
            transition(state, a, facts)
        except StepRefused:
            continue
        out.append(a)
    return out


def transition(state: ProjectState, action: str, facts: Facts = NO_FACTS) -> ProjectState:
    """The state after the action, or StepRefused: unknown, out of order, a report received
    twice, or a decision before both reports are in."""
    try:
        act = ProjectAction(action)
    except ValueError:
        raise StepRefused("unknown_action", state, action) from None
    nxt = TRANSITIONS.get((state, act))
    if nxt is None:
        raise StepRefused("out_of_order", state, act)
    if act in DECISIONS and not (facts.audit_report and facts.inspection_report):
        raise StepRefused("reports_missing", state, act)
    if act == A.RECEIVE_AUDIT_REPORT and facts.audit_report:
        raise StepRefused("report_already_received", state, act)
    if act == A.RECEIVE_INSPECTION_REPORT and facts.inspection_report:
        raise StepRefused("report_already_received", state, act)
    return nxt


# -- ISO/IEC 17021-1 due dates ---------------------------------------------------------------

CYCLE_MONTHS = 36  # a certificate is valid three years (9.6.3.1)
FIRST_SURVEILLANCE_MONTHS = 12  # 9.6.2.2: not more than 12 months from the decision
RESTORATION_MONTHS = 6  # 9.6.3.2.5: restoration within six months of expiry
SUSPENSION_MONTHS = 6  # the longest suspension the company's body allows (9.6.5)
MAJOR_NC_MONTHS = 6  # major nonconformities corrected and verified within six months
REMINDER_DAYS = (90, 30, 7)


def add_months(day: date, months: int) -> date:
    """The same day `months` later; a day the month lacks becomes its last day
    (2028-02-29 + 12 months = 2029-02-28; 01-31 + 1 month = 02-28/29)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


class CertificateKind(enum.StrEnum):
    INITIAL = "initial"
    RECERTIFICATION = "recertification"  # audited before the old expiry: cycle continues
    RESTORATION = "restoration"  # within six months after expiry: old cycle kept


def expected_expiry(kind: CertificateKind, decision: date, old_expiry: date | None) -> date:
    """Three years after the decision; a recertification on time or a restoration counts the
    new cycle from the old expiry (9.6.3.2.4, 9.6.3.2.5)."""
    if kind == CertificateKind.INITIAL or old_expiry is None:
        return add_months(decision, CYCLE_MONTHS)
    return add_months(old_expiry, CYCLE_MONTHS)


def first_surveillance_due(decision: date) -> date:
    return add_months(decision, FIRST_SURVEILLANCE_MONTHS)


def restoration_deadline(expiry: date) -> date:
    return add_months(expiry, RESTORATION_MONTHS)


def suspension_limit(suspended_on: date) -> date:
    return add_months(suspended_on, SUSPENSION_MONTHS)


def major_nonconformity_deadline(audit_date: date) -> date:
    return add_months(audit_date, MAJOR_NC_MONTHS)


def next_surveillance_due(decision: date, expiry: date, surveillances: list[date]) -> date | None:
    """When the next surveillance audit is due: the first within 12 months of the decision;
    then at least once every calendar year, except the recertification year (the year the
    certificate expires, when the recertification audit takes its place). None when none is
    due before the recertification."""
    done = sorted(d for d in surveillances if d >= decision)
    due = date(done[-1].year + 1, 12, 31) if done else first_surveillance_due(decision)
    if due.year >= expiry.year:
        return None
    return due


def surveillance_on_time(decision: date, expiry: date, earlier: list[date], held: date) -> bool:
    """Whether a surveillance held on `held` meets its due date."""
    due = next_surveillance_due(decision, expiry, [d for d in earlier if d < held])
    if due is None:
        return held <= expiry
    return decision <= held <= due


def recertification_on_time(expiry: date, audit_date: date) -> bool:
    """The recertification audit is completed before the certificate expires."""
    return audit_date < expiry


def restoration_possible(expiry: date, on: date) -> bool:
    return expiry <= on <= restoration_deadline(expiry)


@dataclass(frozen=True)
class Due:
    kind: str  # first_surveillance, surveillance, recertification, restoration, suspension_end
    due: date


def due_dates(
    *,
    decision: date,
    expiry: date,
    surveillances: list[date],
    status: str,
    suspended_on: date | None = None,
    today: date,
) -> list[Due]:
    """The dates a valid, suspended or just-expired certificate must meet next."""
    out: list[Due] = []
    if status in ("valid", "suspended"):
        nxt = next_surveillance_due(decision, expiry, surveillances)
        if nxt is not None:
            first = not [d for d in surveillances if d >= decision]
            out.append(Due("first_surveillance" if first else "surveillance", nxt))
        out.append(Due("recertification", expiry - timedelta(days=1)))
    if status == "suspended" and suspended_on is not None:
        out.append(Due("suspension_end", suspension_limit(suspended_on)))
    if status == "expired" and today <= restoration_deadline(expiry):
        out.append(Due("restoration", restoration_deadline(expiry)))
    return sorted(out, key=lambda d: d.due)


def reminder_threshold(due: date, today: date) -> int | None:
    """90, 30 or 7 when today is that many days before the due date, else None."""
    left = (due - today).days
    return left if left in REMINDER_DAYS else None


def days_left(due: date, today: date) -> int:
    return (due - today).days
