"""ZD-PZ-002: the old controlled copies are back at the latest 3 working days after the new
revision (or the withdrawal) takes effect. The recall task's due date counts those working
days on the working-day calendar, across the National Day holiday and its make-up day."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from qms import clock
from qms.distribution import copies
from qms.distribution.models import ControlledCopy
from qms.documents import service
from qms.tasks.registry import tasks_for
from tests.factories import TEST_PASSWORD, make_document


@pytest.mark.parametrize(
    ("requested", "due"),
    [
        # Wed Sep 30, 10:00 in Shanghai: Oct 8, 9 and Saturday Oct 10 (worked)
        (datetime(2026, 9, 30, 2, 0, tzinfo=UTC), date(2026, 10, 10)),
        # Mon Dec 7: Tue, Wed, Thu; calendar days would give the same, working days matter
        (datetime(2026, 12, 7, 2, 0, tzinfo=UTC), date(2026, 12, 10)),
        # Thu Dec 10: Fri, Mon, Tue (three calendar days would be Sunday)
        (datetime(2026, 12, 10, 2, 0, tzinfo=UTC), date(2026, 12, 15)),
        # 23:30 UTC on Sep 29 is already Sep 30 in Shanghai
        (datetime(2026, 9, 29, 23, 30, tzinfo=UTC), date(2026, 10, 10)),
    ],
)
def test_recall_due_in_three_working_days(db, people, requested, due):
    document = make_document(
        db,
        state="effective",
        author=people["clerk"],
        reviewer=people["reviewer"],
        approver=people["approver"],
        clerk=people["clerk"],
    )
    copies.issue_copy(db, people["clerk"], document.current_revision, holder_user=people["staff"])
    service.withdraw(
        db,
        people["clerk"],
        document,
        reason="作废",
        password=TEST_PASSWORD,
        content_sha256=document.current_revision.content_sha256,
    )
    db.execute(sa.update(ControlledCopy).values(recall_requested_at=requested))
    db.flush()
    (task,) = [t for t in tasks_for(db, people["clerk"]) if t.kind == "recall"]
    assert task.due == due
    assert task.overdue == (due < clock.today())
