"""The nonconformity engine through its services: the flow, and each bad input refused
with nothing stored."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from qms.errors import Conflict, DomainError, Forbidden, Invalid
from qms.nonconformity import service
from qms.nonconformity.models import Nonconformity, Verification
from qms.nonconformity.rules import ActionStatus, NcState
from qms.trail.models import TrailEntry
from tests.nonconformity.helpers import drive_to_verification, raise_nc, user, verify

pytestmark = pytest.mark.usefixtures("users")


def _count(db: Any, model: type) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_raise_numbers_owner_deadlines_and_trail(db: Any) -> None:
    nc = raise_nc(db, raised_on=date(2026, 9, 30), grade="serious")
    db.commit()
    assert nc.number == "NC-2026-001"
    assert nc.state == NcState.OPEN
    assert nc.owner is not None and nc.owner.username == "approver"  # head of KF
    # the company's calendar: National Day 1–7 October off, Saturday 10 October worked
    assert nc.cause_due == date(2026, 10, 10)
    assert nc.correction_due == date(2026, 10, 20)
    second = raise_nc(db)
    assert second.number == "NC-2026-002"
    entries = db.scalars(
        sa.select(TrailEntry).where(
            TrailEntry.object_type == "nonconformity", TrailEntry.object_id == str(nc.id)
        )
    ).all()
    assert {e.field for e in entries} >= {None, "evidence", "description", "grade"}


def test_whole_flow_to_closed(app: Any, db: Any) -> None:
    nc = raise_nc(db, raised_on=date.today() - timedelta(days=60))
    nc.verification_interval_days = 0
    drive_to_verification(db, nc)
    assert nc.state == NcState.AWAITING_VERIFICATION
    verify(db, nc)
    service.close(db, user(db, "manager"), nc, reason="验证有效")
    db.commit()
    assert nc.state == NcState.CLOSED
    assert nc.closed_on is not None


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"evidence": "   "}, "evidence_required"),
        ({"evidence": ""}, "evidence_required"),
        ({"grade": "minor"}, "invalid"),
        ({"source": "rumour"}, "invalid"),
        ({"clause": "chapter seven"}, "clause_invalid"),
        ({"process_number": "ZD-XX-999"}, "process_invalid"),
        ({"description": ""}, "required"),
    ],
)
def test_raise_refuses_bad_input(db: Any, overrides: dict[str, Any], code: str) -> None:
    before = _count(db, Nonconformity)
    with pytest.raises(Invalid) as refused:
        raise_nc(db, **overrides)
    assert refused.value.code == code
    db.rollback()
    assert _count(db, Nonconformity) == before


def test_due_date_before_raised_is_refused(db: Any) -> None:
    nc = raise_nc(db, raised_on=date(2026, 11, 2))
    owner = nc.owner
    assert owner is not None
    service.record_cause_and_plan(db, owner, nc, whys=["a"], root_cause="b")
    with pytest.raises(Invalid) as refused:
        service.add_action(
            db, owner, nc, description="x", owner=user(db, "staff"), due_on=date(2026, 11, 1)
        )
    assert refused.value.code == "due_before_raised"
    assert "2026-11-02" in str(refused.value)
    assert nc.actions == []


def _awaiting(db: Any, **kw: Any) -> Nonconformity:
    nc = raise_nc(db, raised_on=date.today() - timedelta(days=60))
    nc.verification_interval_days = 0
    drive_to_verification(db, nc, **kw)
    db.commit()
    return nc


def test_verification_by_an_action_owner_is_refused(db: Any) -> None:
    nc = _awaiting(db, action_owner="auditor")
    with pytest.raises(Forbidden) as refused:
        verify(db, nc, "auditor")
    assert refused.value.code == "verifier_owns_action"
    db.rollback()
    assert _count(db, Verification) == 0


def test_verification_by_someone_of_the_department_is_refused(db: Any) -> None:
    from qms.auth.permissions import Role
    from tests.factories import make_user

    make_user(db, "kf_auditor", Role.AUDITOR, department="KF")
    nc = _awaiting(db)
    with pytest.raises(Forbidden) as refused:
        verify(db, nc, "kf_auditor")
    assert refused.value.code == "verifier_from_department"
    db.rollback()
    assert _count(db, Verification) == 0


def test_closing_with_actions_open_is_refused(db: Any) -> None:
    nc = raise_nc(db)
    owner = nc.owner
    assert owner is not None
    service.record_cause_and_plan(db, owner, nc, whys=["a"], root_cause="b")
    service.add_action(db, owner, nc, description="x", owner=user(db, "staff"), due_on=nc.raised_on)
    service.start_actions(db, owner, nc)
    with pytest.raises(Conflict) as refused:
        service.close(db, user(db, "manager"), nc)
    assert refused.value.code == "actions_open"
    assert nc.state == NcState.ACTIONS_IN_PROGRESS


def test_closing_and_verifying_before_the_interval_are_refused(db: Any) -> None:
    nc = raise_nc(db, raised_on=date.today() - timedelta(days=5))
    drive_to_verification(db, nc)  # completed today; the interval is 30 days
    db.commit()
    with pytest.raises(Conflict) as refused:
        verify(db, nc)
    assert refused.value.code == "verification_too_early"
    db.rollback()
    with pytest.raises(Conflict) as refused:
        service.close(db, user(db, "manager"), nc)
    assert refused.value.code == "verification_too_early"


def test_wrong_signature_password_is_refused(db: Any) -> None:
    nc = _awaiting(db)
    with pytest.raises(Forbidden) as refused:
        verify(db, nc, password="not-the-password")
    assert refused.value.code == "signature_refused"
    db.rollback()
    assert _count(db, Verification) == 0
    assert db.get(Nonconformity, nc.id).state == NcState.AWAITING_VERIFICATION


def test_ineffective_verification_reopens_with_history(db: Any) -> None:
    nc = _awaiting(db)
    verify(db, nc, effective=False)
    assert nc.state == NcState.REOPENED
    assert nc.round == 2
    assert [a.status for a in nc.actions] == [ActionStatus.DONE]  # kept
    assert nc.round_actions() == []
    owner = nc.owner
    assert owner is not None
    service.add_action(
        db, owner, nc, description="再次培训", owner=user(db, "staff"), due_on=date.today()
    )
    service.start_actions(db, owner, nc)
    assert nc.state == NcState.ACTIONS_IN_PROGRESS
    assert len(nc.actions) == 2


def test_a_step_in_the_wrong_state_names_the_state(db: Any) -> None:
    nc = raise_nc(db)
    with pytest.raises(DomainError) as refused:
        service.submit_for_verification(db, user(db, "manager"), nc)
    assert refused.value.status == 409


def test_demo_nonconformities(db: Any) -> None:
    from qms.nonconformity.demo import demo_nonconformities
    from tests.factories import TEST_PASSWORD
    from tests.nonconformity.helpers import department

    users = {name: user(db, name) for name in ("auditor", "approver", "staff", "manager")}
    closed, still_open = demo_nonconformities(
        db, users, TEST_PASSWORD, department=department(db, "KF"), source_label="演示审核"
    )
    db.commit()
    assert closed.state == NcState.CLOSED
    assert still_open.state == NcState.ACTIONS_IN_PROGRESS
    assert [v.effective for v in closed.verifications] == [True]
    assert closed.source_label == still_open.source_label == "演示审核"
