"""Fixtures for search: documents published through the real services."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from qms.auth.models import User
from qms.auth.permissions import Role
from tests.factories import make_document, make_user


@pytest.fixture
def publish(db: Any) -> Any:
    """publish(title=…, body=…, department=…, kind=…) → an effective, committed document."""

    def _publish(**kwargs: Any) -> Any:
        document = make_document(db, state="effective", **kwargs)
        db.commit()
        return document

    return _publish


@pytest.fixture
def staff(db: Any) -> User:
    user = make_user(db, "staff_s", Role.STAFF, department="KF")
    db.commit()
    return user


@pytest.fixture
def clerk(db: Any) -> User:
    existing = db.scalar(sa.select(User).where(User.username == "clerk1"))
    user = existing or make_user(db, "clerk1", Role.QUALITY_CLERK)
    db.commit()
    return user
