"""The general manager approves review plans and reports (handbook 5.2), or a delegate he
names in the approval matrix of reviews; the trail keeps who named whom, when and why."""

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from qms.auth.permissions import Role
from qms.errors import Forbidden, Invalid
from qms.reviews import approvers, service
from qms.reviews.lifecycle import ReviewState
from qms.trail.models import TrailEntry
from tests.factories import TEST_PASSWORD, make_user
from tests.reviews.conftest import plan


def test_a_delegate_needs_a_general_manager_and_a_reason(db, team):
    deputy = make_user(db, "deputy", Role.APPROVER, display_name="Deputy")
    with pytest.raises(Invalid) as no_reason:
        approvers.delegate(db, None, deputy, "  ")
    assert no_reason.value.code == "reason_required"
    admin = make_user(db, "admin9", Role.ADMIN)
    entry = approvers.delegate(db, admin, deputy, "出差")
    assert entry.delegated_by_id == admin.id and entry.reason == "出差"
    line = db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "delegate"))
    assert (line.actor_id, line.object_id, line.reason) == (admin.id, "deputy", "出差")
    assert "gm1" in line.new_value  # in whose place
    staff = make_user(db, "staff9", Role.STAFF)
    with pytest.raises(Invalid):  # no right to approve at all
        approvers.delegate(db, admin, staff, "出差")
    with pytest.raises(Forbidden):  # only the matrix's administrator names delegates
        approvers.delegate(db, team["gm"], staff, "出差")


def test_no_delegate_without_a_general_manager(db):
    deputy = make_user(db, "deputy", Role.APPROVER)
    with pytest.raises(Invalid) as err:
        approvers.delegate(db, None, deputy, "出差")
    assert err.value.code == "no_general_manager"


def test_a_new_general_manager_replaces_the_old(db, team):
    successor = make_user(db, "gm2", Role.APPROVER, display_name="GM Two")
    approvers.name_general_manager(db, None, successor, "换届")
    assert approvers.general_manager(db).id == successor.id
    assert not approvers.may_approve_plans(db, team["gm"])
    line = db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "name",
                                                TrailEntry.object_id == "gm2"))
    assert line.old_value == "gm1" and line.reason == "换届"


def test_a_plan_names_only_the_general_manager_or_a_delegate(db, team):
    for locale, says in (("en", "GM (general manager)"), ("zh_CN", "GM（总经理）")):
        with force_locale(locale), pytest.raises(Invalid) as err:
            plan(db, team, approver=team["doc_approver"])
        assert err.value.code == "not_plan_approver"
        with force_locale(locale):
            assert says in str(err.value.message)


def test_a_removed_delegate_is_refused_and_told_who_approves(db, team):
    deputy = make_user(db, "deputy", Role.APPROVER, display_name="Deputy")
    entry = approvers.delegate(db, None, deputy, "出差")
    review = plan(db, team, approver=deputy)
    service.submit_plan(db, team["leader"], review)
    approvers.remove(db, None, entry.id, "回来了")
    with pytest.raises(Forbidden) as err:
        service.approve_plan(db, deputy, review, password=TEST_PASSWORD,
                             content_sha256=service.plan_hash(review))
    assert err.value.code == "not_plan_approver"
    assert err.value.details["approvers"]  # who may, by name
    assert review.state == ReviewState.PLAN_SUBMITTED
    # the general manager approves a plan that names him
    other = plan(db, team, title="另一评审")
    service.submit_plan(db, team["leader"], other)
    service.approve_plan(db, team["gm"], other, password=TEST_PASSWORD,
                         content_sha256=service.plan_hash(other))
    assert other.state == ReviewState.PLAN_APPROVED
