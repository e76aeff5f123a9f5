from __future__ import annotations

from typing import Any

import pytest

from qms.auth.permissions import Role
from tests.factories import grant_all_approval, make_user


@pytest.fixture
def people(db) -> dict[str, Any]:
    clerk = make_user(db, "clerk1", Role.QUALITY_CLERK)
    reviewer = make_user(db, "reviewer1", Role.REVIEWER)
    approver = make_user(db, "approver1", Role.APPROVER, department="KF")
    grant_all_approval(db, approver)
    staff = make_user(db, "staff1", Role.STAFF, department="KF")
    return {"clerk": clerk, "reviewer": reviewer, "approver": approver, "staff": staff}
