import itertools
from pathlib import Path

import sqlalchemy as sa

from qms.db import get_engine
from qms.trail import checkpoints
from qms.trail import service as trail
from qms.trail.models import GENESIS_HASH, KEYED, UNKEYED, TrailEntry, TrailHead
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


# -- keyed chain and checkpoints: tampered with as someone with database access would ------


def _write(db, n=5, actor="erin"):
    user = make_user(db, actor)
    for i in range(n):
        trail.record(db, user, "update", "document", "ZD-KF-001", field="title", old=i, new=i + 1)
    db.commit()
    return user


def _sql(statement, **params):
    """Raw SQL through the engine, outside the application's session."""
    with get_engine().begin() as conn:
        conn.execute(sa.text(statement), params)


def _report(db, app):
    from qms.trail.keys import current_key

    path = checkpoints.checkpoint_path(app.config["DATA_DIR"])
    return trail.verify_trail(db, current_key(), path)


def _en(finding):
    from flask_babel import force_locale

    with force_locale("en"):
        return finding.message()


def _kinds(report):
    return [(f.kind, f.seq) for f in report.findings]


def _last_seq(db):
    return db.scalar(sa.select(sa.func.max(TrailEntry.seq)))


def _rehash_unkeyed(start, scheme):
    """What an attacker without the key can do: recompute the chain with the public,
    unkeyed algorithm from entry `start` on, and move the head along."""
    table = TrailEntry.__table__
    with get_engine().begin() as conn:
        prev = conn.scalar(sa.select(table.c.entry_hash).where(table.c.seq == start - 1))
        prev = prev or GENESIS_HASH
        rows = conn.execute(
            sa.select(table).where(table.c.seq >= start).order_by(table.c.seq)
        ).mappings()
        for row in list(rows):
            entry = TrailEntry(**{**row, "prev_hash": prev, "hash_scheme": scheme})
            prev = entry.compute_hash()
            conn.execute(
                sa.update(table)
                .where(table.c.seq == row["seq"])
                .values(prev_hash=entry.prev_hash, entry_hash=prev, hash_scheme=scheme)
            )
            last = row["seq"]
        conn.execute(sa.update(TrailHead.__table__).values(last_seq=last, last_hash=prev))


def test_new_entries_are_keyed_with_a_key_kept_outside_the_database(db, app):
    _write(db, 2)
    key_file = Path(app.config["DATA_DIR"]) / "trail.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip().encode()
    entry = db.scalar(sa.select(TrailEntry).order_by(TrailEntry.seq.desc()))
    assert entry.hash_scheme == KEYED
    assert entry.entry_hash == entry.compute_keyed_hash(key)
    assert entry.entry_hash != entry.compute_hash()  # the unkeyed algorithm does not give it


def test_one_checkpoint_per_commit_written_only_after_the_commit(db, app):
    path = checkpoints.checkpoint_path(app.config["DATA_DIR"])
    user = make_user(db, "frank")
    db.commit()
    before = path.read_text().count("\n") if path.exists() else 0
    for i in range(3):
        trail.record(db, user, "update", "document", "X", field="f", old=i, new=i + 1)
    assert (path.read_text().count("\n") if path.exists() else 0) == before  # not yet
    db.rollback()
    assert (path.read_text().count("\n") if path.exists() else 0) == before  # never written
    for i in range(3):
        trail.record(db, user, "update", "document", "X", field="f", old=i, new=i + 1)
    db.commit()
    lines = path.read_text().splitlines()
    assert len(lines) == before + 1
    head = db.get(TrailHead, 1)
    assert lines[-1].split("\t")[1:3] == [str(head.last_seq), head.last_hash]
    assert path.stat().st_mode & 0o777 == 0o600


def test_untouched_trail_verifies(db, app):
    _write(db)
    report = _report(db, app)
    assert report.intact, _kinds(report)
    assert report.checkpoints >= 1


def test_entry_edited_in_the_database_is_named_with_its_time(db, app):
    _write(db)
    _sql("UPDATE trail_entry SET new_value = 'forged' WHERE seq = 3")
    report = _report(db, app)
    assert _kinds(report) == [("altered", 3)]
    at = db.get(TrailEntry, 3).at.strftime("%Y-%m-%d %H:%M:%S")
    message = _en(report.findings[0])
    assert "Entry 3" in message and at in message and "HMAC" in message


def test_middle_entry_deleted_in_the_database_is_named(db, app):
    _write(db)
    _sql("DELETE FROM trail_entry WHERE seq = 3")
    report = _report(db, app)
    assert ("missing", 3) in _kinds(report)
    assert "Entries 3 to 3 are missing" in _en(report.findings[0])


def test_tail_deleted_together_with_the_head_is_found_by_the_checkpoint(db, app):
    _write(db, 6)
    last = _last_seq(db)
    kept = db.get(TrailEntry, last - 2)
    _sql("DELETE FROM trail_entry WHERE seq > :s", s=kept.seq)
    _sql("UPDATE trail_head SET last_seq = :s, last_hash = :h", s=kept.seq, h=kept.entry_hash)
    report = _report(db, app)
    assert _kinds(report) == [("truncated", last)]
    message = _en(report.findings[0])
    assert f"ends at entry {kept.seq}," in message and f"recorded entry {last}:" in message
    assert "trail-checkpoints.log" in message


def test_tail_deleted_with_the_head_row_itself(db, app):
    _write(db, 4)
    _sql("DELETE FROM trail_entry WHERE seq > 2")
    _sql("DELETE FROM trail_head")
    kinds = [k for k, _s in _kinds(_report(db, app))]
    assert kinds == ["head_missing", "truncated"]


def test_chain_re_hashed_without_the_key_is_found(db, app):
    _write(db)
    last = _last_seq(db)
    _sql("UPDATE trail_entry SET new_value = 'forged' WHERE seq = 3")
    _rehash_unkeyed(3, scheme=KEYED)
    report = _report(db, app)
    kinds = _kinds(report)
    assert kinds[: last - 2] == [("altered", seq) for seq in range(3, last + 1)]
    assert ("checkpoint_differs", last) in kinds


def test_chain_passed_off_as_written_before_the_key_is_found(db, app):
    _write(db)
    _sql("UPDATE trail_entry SET new_value = 'forged' WHERE seq = 3")
    _rehash_unkeyed(1, scheme=UNKEYED)
    report = _report(db, app)
    assert ("unkeyed_after_keyed", 1) in _kinds(report)
    assert "re-hashed without the trail key" in _en(report.findings[0])


def test_checkpoint_file_edited_or_forged_is_found(db, app):
    _write(db)
    path = checkpoints.checkpoint_path(app.config["DATA_DIR"])
    good = path.read_text().splitlines()[-1].split("\t")
    edited = [*good[:1], "999", *good[2:]]  # claims a longer trail
    other = checkpoints.format_line(b"k" * 64, 3, good[2], 0).rstrip("\n")
    with path.open("a") as out:
        out.write("\t".join(edited) + "\n" + other + "\n" + "nonsense\n")
    report = _report(db, app)
    kinds = [k for k, _s in _kinds(report)]
    assert kinds == ["checkpoint_mac", "checkpoint_other_key", "checkpoint_unreadable"]
    lines = len(path.read_text().splitlines())
    assert f"Line {lines - 2} of {path}" in _en(report.findings[0])
    assert "another trail key" in _en(report.findings[1])


def test_checkpoint_file_deleted_is_found(db, app):
    _write(db)
    checkpoints.checkpoint_path(app.config["DATA_DIR"]).unlink()
    report = _report(db, app)
    assert [k for k, _s in _kinds(report)] == ["checkpoint_missing"]


def test_trail_written_before_the_key_still_verifies_and_keeps_being_checked(db, app):
    """An upgraded database: entries of scheme 1 (unkeyed) and no checkpoint file yet."""
    user = _write(db, 2)
    legacy = _last_seq(db)
    # Make it the database of the version before: unkeyed chain, no checkpoints, and a
    # process that starts after the upgrade.
    _rehash_unkeyed(1, scheme=UNKEYED)
    checkpoints.checkpoint_path(app.config["DATA_DIR"]).unlink()
    app.extensions.pop("qms.trail_legacy_until", None)
    report = _report(db, app)
    assert report.intact, _kinds(report)  # the old chain verifies the old way
    trail.record(db, user, "update", "document", "ZD-KF-002", field="title", old="a", new="b")
    db.commit()
    report = _report(db, app)
    assert report.intact, _kinds(report)
    assert report.legacy_until == legacy
    assert db.get(TrailEntry, legacy + 1).hash_scheme == KEYED
    _sql("UPDATE trail_entry SET reason = 'forged' WHERE seq = 2")
    report = _report(db, app)
    assert _kinds(report) == [("altered_unkeyed", 2)]
    assert "before the trail was keyed" in _en(report.findings[0])
    # Passing the keyed entry off as an old one does not work either.
    _sql("UPDATE trail_entry SET reason = '' WHERE seq = 2")
    _rehash_unkeyed(legacy + 1, scheme=UNKEYED)
    assert ("unkeyed_after_keyed", legacy + 1) in _kinds(_report(db, app))


def test_a_replaced_trail_key_is_named_as_such(db, app):
    _write(db)
    key_file = Path(app.config["DATA_DIR"]) / "trail.key"
    key_file.write_text("another-key-" + "x" * 52 + "\n")
    app.extensions.pop("qms.trail_key")  # a process started with the new file
    report = _report(db, app)
    kinds = {kind for kind, _s in _kinds(report)}
    assert {"wrong_key", "checkpoint_other_key", "altered"} <= kinds
    wrong = next(f for f in report.findings if f.kind == "wrong_key")
    assert "Restore the original trail.key or QMS_TRAIL_KEY" in _en(wrong)
