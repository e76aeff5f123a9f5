import itertools

import sqlalchemy as sa

from qms.trail import service as trail
from qms.trail.models import TrailEntry
from tests.factories import make_user


def test_entries_chain_and_verify(db):
    user = make_user(db, "alice")
    for i in range(5):
        trail.record(
            db,
            user,
            "update",
            "document",
            "ZD-KF-001",
            field="title",
            old=i,
            new=i + 1,
            reason="typo",
        )
    db.commit()
    entries = db.scalars(sa.select(TrailEntry).order_by(TrailEntry.seq)).all()
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.entry_hash
    assert trail.verify_chain(db) is None


def test_altered_entry_is_named(db):
    user = make_user(db, "bob")
    for i in range(4):
        trail.record(db, user, "update", "document", "X", field="body", old=str(i), new=str(i + 1))
    db.commit()
    target = db.scalars(sa.select(TrailEntry).order_by(TrailEntry.seq.desc()).offset(1)).first()
    db.execute(sa.update(TrailEntry).where(TrailEntry.seq == target.seq).values(new_value="forged"))
    db.commit()
    broken = trail.verify_chain(db)
    assert broken is not None
    assert broken.seq == target.seq


def test_deleted_last_entry_is_detected(db):
    user = make_user(db, "carol")
    for _ in range(3):
        trail.record(db, user, "update", "document", "X")
    db.commit()
    last = db.scalar(sa.select(sa.func.max(TrailEntry.seq)))
    db.execute(sa.delete(TrailEntry).where(TrailEntry.seq == last))
    db.commit()
    assert trail.verify_chain(db) is not None


def test_unchanged_fields_are_not_recorded(db):
    user = make_user(db, "dave")
    before = db.scalar(sa.select(sa.func.count()).select_from(TrailEntry))
    trail.record_changes(db, user, "update", "user", "dave", {"a": ("x", "x"), "b": ("x", "y")})
    after = db.scalar(sa.select(sa.func.count()).select_from(TrailEntry))
    assert after - before == 1
