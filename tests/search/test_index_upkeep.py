"""`qms reindex` and `qms reindex --check` as an administrator meets them: after a killed
rebuild, with a server whose searcher missed a commit, and with nothing wrong at all."""

from __future__ import annotations

import os
import time
from pathlib import Path

from click.testing import CliRunner
from whoosh import index
from whoosh.searching import Searcher

from qms.search import cli, service
from qms.search.engine import COMPLETE, make_schema


def _run(app, *args: str):
    with app.app_context():
        return CliRunner().invoke(cli.reindex, list(args))


def _kill_a_rebuild(root: Path) -> str:
    """What `kill -9` of `qms reindex` halfway through the history index leaves: its
    marker, its replay log, and a generation with a whole `current` index and a `history`
    index still being written (its run files in a temporary directory) — the newest
    directory there is."""
    gen = "gen-20991231T235959-deadbeef"
    (root / gen / "current").mkdir(parents=True)
    index.create_in(str(root / gen / "current"), make_schema())
    history = root / gen / "history"
    history.mkdir()
    index.create_in(str(history), make_schema())
    (history / ".bulk-x1y2z3").mkdir()
    (history / ".bulk-x1y2z3" / "tmp0001.run").write_bytes(b"\x80partial")
    (root / "REBUILDING").write_text(gen)
    (root / "replay.log").write_text("3\n4\n")
    later = time.time() + 60
    os.utime(root / gen, (later, later))
    return gen


def test_after_a_killed_rebuild_the_next_one_keeps_the_last_complete_generation(
    app, db, publish, staff
):
    doc = publish(title="消防管理制度", body="防火安检每月一次。")
    engine = service.get_engine()
    good = engine.active_generation()
    assert good and (engine.root / good / COMPLETE).is_file()
    partial = _kill_a_rebuild(engine.root)
    assert not engine.rebuilding()  # the marker is there, the process that held it is not

    built = _run(app)
    assert built.exit_code == 0, built.output
    gens = sorted(p.name for p in engine.root.glob("gen-*"))
    new = engine.active_generation()
    assert new not in (good, partial)
    assert gens == sorted([good, new])  # the previous complete one kept, the partial gone
    assert not (engine.root / "REBUILDING").exists()
    assert not (engine.root / "replay.log").exists()
    assert [h.number for h in service.search(db, staff, "防火安检").hits] == [doc.number]


def test_a_generation_written_before_the_marker_is_kept_once_replaced(app, db, publish):
    publish(title="消防管理制度", body="防火安检每月一次。")
    engine = service.get_engine()
    old = engine.active_generation()
    assert old is not None
    (engine.root / old / COMPLETE).unlink()  # as every generation of earlier versions
    assert _run(app).exit_code == 0
    assert old in {p.name for p in engine.root.glob("gen-*")}


def test_the_check_cleans_up_a_killed_rebuild_and_says_so(app, db, publish, staff):
    doc = publish(title="消防管理制度", body="防火安检每月一次。")
    engine = service.get_engine()
    good = engine.active_generation()
    partial = _kill_a_rebuild(engine.root)
    checked = _run(app, "--check")
    assert checked.exit_code == 0, checked.output
    assert "removed REBUILDING, left by an interrupted rebuild" in checked.output
    assert "removed replay.log" in checked.output
    assert f"removed {partial} (an unfinished rebuild)" in checked.output
    assert "0 stale, 0 missing, 0 extra — in step" in checked.output
    assert "repaired" not in checked.output
    assert [p.name for p in engine.root.glob("gen-*")] == [good]
    assert engine.active_generation() == good
    assert [h.number for h in service.search(db, staff, "防火安检").hits] == [doc.number]


def test_the_check_says_repaired_only_when_something_was(app, db, publish, staff):
    publish(title="消防管理制度", body="防火安检每月一次。")
    sound = _run(app, "--check")
    assert sound.exit_code == 0, sound.output
    assert "repaired" not in sound.output
    assert "index is sound: nothing to repair" in sound.output
    engine = service.get_engine()
    with engine.writer_lock():
        engine.remove("current", list(engine.indexed("current")))
    fixed = _run(app, "--check")
    assert "current: 0 stale, 1 missing, 0 extra — repaired" in fixed.output
    assert "history: 0 stale, 0 missing, 0 extra — in step" in fixed.output
    assert "nothing to repair" not in fixed.output


def test_the_check_searches_as_a_running_server_does(app, db, publish, staff, monkeypatch):
    """A worker whose searcher misses commits (as whoosh-reloaded's reader reuse made it
    miss deletions and merges): the check finds it the way the server would meet it, and
    the rebuilt index answers."""
    publish(title="消防管理制度", body="防火安检每月一次。")
    assert service.search(db, staff, "防火").total == 1  # the worker's searcher, cached
    monkeypatch.setattr(Searcher, "up_to_date", lambda self: True)
    second = publish(title="消防演练计划", body="防火演练每季度一次。")
    assert service.search(db, staff, "防火").total == 1  # what that worker answers
    checked = _run(app, "--check")
    assert checked.exit_code == 0, checked.output
    assert (
        "searching as the server does: current: the searcher in use holds other "
        "segments or deletions than the index has" in checked.output
    )
    assert "index rebuilt" in checked.output
    assert second.number in {h.number for h in service.search(db, staff, "防火").hits}
