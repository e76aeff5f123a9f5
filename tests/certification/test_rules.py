"""The certification state machine and the ISO/IEC 17021-1 date rules, as pure tables."""

from datetime import date

import pytest

from qms.certification import rules
from qms.certification.rules import (
    CertificateKind,
    Facts,
    StepRefused,
)
from qms.certification.rules import (
    ProjectAction as A,
)
from qms.certification.rules import (
    ProjectState as S,
)

BOTH = Facts(audit_report=True, inspection_report=True)

# the whole of 5.1 in order, with one return and one nonconformity loop
HAPPY_PATH = [
    (S.ADVICE, A.PREPARE_APPLICATION, S.APPLICATION),
    (S.APPLICATION, A.SIGN_APPLICATION, S.SIGNED),
    (S.SIGNED, A.SUBMIT_APPLICATION, S.SUBMITTED),
    (S.SUBMITTED, A.RETURN_APPLICATION, S.RETURNED),
    (S.RETURNED, A.CORRECT_APPLICATION, S.APPLICATION),
    (S.SUBMITTED, A.ACCEPT_APPLICATION, S.ACCEPTED),
    (S.ACCEPTED, A.SIGN_CONTRACT, S.CONTRACTED),
    (S.CONTRACTED, A.RECEIVE_COMMISSIONS, S.DOCUMENT_REVIEW),
    (S.DOCUMENT_REVIEW, A.REPORT_NONCONFORMITIES, S.NONCONFORMING),
    (S.NONCONFORMING, A.CORRECT_DOCUMENTS, S.DOCUMENT_REVIEW),
    (S.DOCUMENT_REVIEW, A.ACCEPT_DOCUMENTS, S.DOCUMENTS_ACCEPTED),
    (S.DOCUMENTS_ACCEPTED, A.PRE_AUDIT, S.PRE_AUDITED),
    (S.DOCUMENTS_ACCEPTED, A.PLAN_AUDIT, S.AUDIT_PLANNED),  # the pre-audit is optional
    (S.PRE_AUDITED, A.PLAN_AUDIT, S.AUDIT_PLANNED),
    (S.AUDIT_PLANNED, A.HOLD_AUDIT, S.AUDITED),
    (S.AUDITED, A.PLAN_INSPECTION, S.INSPECTION_PLANNED),
    (S.INSPECTION_PLANNED, A.HOLD_INSPECTION, S.INSPECTED),
    (S.AUDITED, A.RECEIVE_AUDIT_REPORT, S.AUDITED),
    (S.INSPECTED, A.RECEIVE_INSPECTION_REPORT, S.INSPECTED),
]


@pytest.mark.parametrize(("state", "action", "after"), HAPPY_PATH)
def test_each_step_in_order(state, action, after):
    assert rules.transition(state, action) == after


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("action", list(A))
def test_every_cell_of_the_table(state, action):
    """Each (state, action) either is in the table or is refused as out of order."""
    expected = rules.TRANSITIONS.get((state, action))
    if expected is None:
        with pytest.raises(StepRefused) as refused:
            rules.transition(state, action, BOTH)
        assert refused.value.code == "out_of_order"
    elif action in (A.RECEIVE_AUDIT_REPORT, A.RECEIVE_INSPECTION_REPORT):
        assert rules.transition(state, action, Facts()) == expected
    else:
        assert rules.transition(state, action, BOTH) == expected


@pytest.mark.parametrize("decision", [A.CERTIFY, A.REFUSE])
@pytest.mark.parametrize(
    "facts", [Facts(), Facts(audit_report=True), Facts(inspection_report=True)]
)
def test_no_decision_without_both_reports(decision, facts):
    with pytest.raises(StepRefused) as refused:
        rules.transition(S.INSPECTED, decision, facts)
    assert refused.value.code == "reports_missing"
    assert rules.transition(S.INSPECTED, decision, BOTH) in (S.CERTIFIED, S.REFUSED)


@pytest.mark.parametrize(
    ("action", "facts"),
    [
        (A.RECEIVE_AUDIT_REPORT, Facts(audit_report=True)),
        (A.RECEIVE_INSPECTION_REPORT, Facts(inspection_report=True)),
    ],
)
def test_a_report_is_received_once(action, facts):
    with pytest.raises(StepRefused) as refused:
        rules.transition(S.INSPECTED, action, facts)
    assert refused.value.code == "report_already_received"


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (S.ADVICE, A.SUBMIT_APPLICATION),  # not signed yet
        (S.APPLICATION, A.SUBMIT_APPLICATION),
        (S.ACCEPTED, A.RECEIVE_COMMISSIONS),  # no contract
        (S.DOCUMENT_REVIEW, A.PLAN_AUDIT),  # documents not accepted
        (S.AUDIT_PLANNED, A.HOLD_INSPECTION),
        (S.CERTIFIED, A.CANCEL),
    ],
)
def test_skipped_steps_are_refused(state, action):
    with pytest.raises(StepRefused):
        rules.transition(state, action, BOTH)


def test_unknown_action():
    with pytest.raises(StepRefused) as refused:
        rules.transition(S.ADVICE, "jump")
    assert refused.value.code == "unknown_action"


def test_allowed_actions_follow_the_reports():
    assert A.CERTIFY not in rules.allowed_actions(S.INSPECTED, Facts())
    assert {A.CERTIFY, A.REFUSE} <= set(rules.allowed_actions(S.INSPECTED, BOTH))


# -- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 36, date(2031, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
    ],
)
def test_add_months_month_end_and_leap_day(day, months, expected):
    assert rules.add_months(day, months) == expected


@pytest.mark.parametrize(
    ("kind", "decision", "old", "expected"),
    [
        (CertificateKind.INITIAL, date(2028, 2, 29), None, date(2031, 2, 28)),
        (CertificateKind.INITIAL, date(2026, 5, 10), None, date(2029, 5, 10)),
        # on time: the new cycle counts from the old expiry, not the decision
        (CertificateKind.RECERTIFICATION, date(2029, 4, 1), date(2029, 5, 10), date(2032, 5, 10)),
        # restoration keeps the old cycle too
        (CertificateKind.RESTORATION, date(2029, 8, 1), date(2029, 5, 10), date(2032, 5, 10)),
    ],
)
def test_expected_expiry(kind, decision, old, expected):
    assert rules.expected_expiry(kind, decision, old) == expected


@pytest.mark.parametrize(
    ("decision", "done", "expected"),
    [
        (date(2028, 2, 29), [], date(2029, 2, 28)),  # within 12 months of the decision
        (date(2026, 5, 10), [], date(2027, 5, 10)),
        (date(2026, 5, 10), [date(2027, 4, 20)], date(2028, 12, 31)),  # once a calendar year
        (date(2026, 5, 10), [date(2027, 4, 20), date(2028, 3, 1)], None),  # 2029: recertification
    ],
)
def test_next_surveillance_due(decision, done, expected):
    expiry = rules.expected_expiry(CertificateKind.INITIAL, decision, None)
    assert rules.next_surveillance_due(decision, expiry, done) == expected


@pytest.mark.parametrize(
    ("held", "on_time"),
    [
        (date(2029, 2, 28), True),
        (date(2029, 3, 1), False),  # a day after the 12-month limit of a leap-day decision
        (date(2028, 6, 1), True),
    ],
)
def test_first_surveillance_on_time_leap_day(held, on_time):
    decision = date(2028, 2, 29)
    expiry = rules.expected_expiry(CertificateKind.INITIAL, decision, None)
    assert rules.surveillance_on_time(decision, expiry, [], held) is on_time


@pytest.mark.parametrize(
    ("fn", "day", "expected"),
    [
        (rules.restoration_deadline, date(2031, 2, 28), date(2031, 8, 28)),
        (rules.suspension_limit, date(2026, 8, 31), date(2027, 2, 28)),
        (rules.major_nonconformity_deadline, date(2028, 2, 29), date(2028, 8, 29)),
    ],
)
def test_six_month_limits(fn, day, expected):
    assert fn(day) == expected


@pytest.mark.parametrize(
    ("expiry", "held", "ok"),
    [
        (date(2031, 2, 28), date(2031, 2, 27), True),
        (date(2031, 2, 28), date(2031, 2, 28), False),
    ],
)
def test_recertification_before_expiry(expiry, held, ok):
    assert rules.recertification_on_time(expiry, held) is ok


@pytest.mark.parametrize(
    ("on", "ok"),
    [
        (date(2031, 2, 28), True),
        (date(2031, 8, 28), True),
        (date(2031, 8, 29), False),
        (date(2031, 2, 27), False),
    ],
)
def test_restoration_window(on, ok):
    assert rules.restoration_possible(date(2031, 2, 28), on) is ok


@pytest.mark.parametrize(
    ("today", "threshold"),
    [
        (date(2028, 11, 30), 90),
        (date(2029, 1, 29), 30),
        (date(2029, 2, 21), 7),
        (date(2029, 2, 20), None),
        (date(2029, 2, 28), None),
    ],
)
def test_reminder_thresholds(today, threshold):
    assert rules.reminder_threshold(date(2029, 2, 28), today) == threshold


def test_due_dates_of_a_valid_certificate():
    decision = date(2028, 2, 29)
    dues = rules.due_dates(
        decision=decision,
        expiry=date(2031, 2, 28),
        surveillances=[],
        status="valid",
        today=date(2028, 3, 1),
    )
    assert [(d.kind, d.due) for d in dues] == [
        ("first_surveillance", date(2029, 2, 28)),
        ("recertification", date(2031, 2, 27)),
    ]


def test_due_dates_of_suspended_and_expired():
    dues = rules.due_dates(
        decision=date(2026, 5, 10),
        expiry=date(2029, 5, 10),
        surveillances=[date(2027, 4, 1)],
        status="suspended",
        suspended_on=date(2027, 9, 1),
        today=date(2027, 9, 2),
    )
    assert ("suspension_end", date(2028, 3, 1)) in [(d.kind, d.due) for d in dues]
    expired = rules.due_dates(
        decision=date(2026, 5, 10),
        expiry=date(2029, 5, 10),
        surveillances=[],
        status="expired",
        today=date(2029, 6, 1),
    )
    assert [(d.kind, d.due) for d in expired] == [("restoration", date(2029, 11, 10))]
