"""Search as staff meet it: scripts, phrases, history, drafts, freshness."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from whoosh import formats

from qms.documents import service as documents
from qms.documents.models import Document, Revision
from qms.search import engine as engine_module
from qms.search import service
from qms.search.models import SearchOutbox
from tests.factories import TEST_PASSWORD, make_document

COMPLAINTS = "## 总则\n\n业主投诉应在3个工作日内答复，投诉处理完毕后回访业主。\n"
RENOVATION = "## 装修\n\n客户服务收取装修保证金和垃圾清运费，工程服务部3个工作日内答复。\n"


def numbers(result):
    return sorted(h.number for h in result.hits)


def test_traditional_and_simplified_queries_find_the_same_documents(db, publish, staff):
    simplified = publish(title="服务投诉处理制度", body=COMPLAINTS)
    traditional = publish(title="業主投訴處理辦法",
                          body="## 總則\n\n業主投訴應在三個工作日內答覆。\n")
    publish(title="装修管理制度", body=RENOVATION)
    expected = sorted([simplified.number, traditional.number])
    assert numbers(service.search(db, staff, "业主投诉")) == expected
    assert numbers(service.search(db, staff, "業主投訴")) == expected
    # full-width digits and letters fold too
    assert numbers(service.search(db, staff, "在３个工作日")) == [simplified.number]


def test_highlight_marks_the_original_traditional_text(db, publish, staff):
    publish(title="業主投訴處理辦法", body="業主投訴應在三個工作日內答覆。")
    hit = service.search(db, staff, "业主投诉").hits[0]
    assert "<mark>業主投訴</mark>" in str(hit.snippet)


def test_a_two_character_word_is_found(db, publish, staff):
    renovation = publish(title="物业装修管理制度", body=RENOVATION)
    publish(title="服务投诉处理制度", body=COMPLAINTS)
    result = service.search(db, staff, "押金")
    assert result.total == 0
    result = service.search(db, staff, "垃圾")
    assert numbers(result) == [renovation.number]
    assert "<mark>垃圾</mark>" in str(result.hits[0].snippet)


def test_a_single_character_is_found(db, publish, staff):
    renovation = publish(title="物业装修管理制度", body=RENOVATION)
    assert numbers(service.search(db, staff, "垃")) == [renovation.number]


def test_a_phrase_does_not_match_its_characters_scattered_apart(db, publish, staff):
    together = publish(title="文件控制程序", body="本程序规定文件控制的方法。")
    scattered = publish(title="文件发放办法", body="文件的发放由品质管理中心控制。")
    assert numbers(service.search(db, staff, "文件控制")) == [together.number]
    # both words, not as a phrase: both documents
    assert numbers(service.search(db, staff, "文件 控制")) == sorted(
        [together.number, scattered.number])
    assert numbers(service.search(db, staff, '"文件 控制"')) == [together.number]


def test_document_numbers_whole_and_in_part(db, publish, staff):
    first = publish(title="服务投诉处理制度", body=COMPLAINTS)
    second = publish(title="装修管理制度", body=RENOVATION)
    assert first.number == "ZD-KF-001"
    assert numbers(service.search(db, staff, "ZD-KF-001"))[0] == first.number
    assert service.search(db, staff, "zd-kf-002").hits[0].number == second.number
    assert numbers(service.search(db, staff, "KF-001")) == [first.number]
    assert numbers(service.search(db, staff, "001")) == [first.number]


def test_did_you_mean_for_a_number(db, publish, staff):
    publish(title="服务投诉处理制度", body=COMPLAINTS)
    result = service.search(db, staff, "ZD-KF-009")
    assert result.total == 0
    assert "ZD-KF-001" in result.did_you_mean


def test_latin_words_are_typo_tolerant(db, publish, staff):
    doc = publish(title="Complaint procedure", body="The complaint procedure of Customer Service.")
    exact = service.search(db, staff, "procedure")
    assert numbers(exact) == [doc.number] and not exact.approximate
    typo = service.search(db, staff, "procedrue")
    assert numbers(typo) == [doc.number]
    assert typo.approximate and typo.did_you_mean == ["procedure"]


def test_an_obsolete_revision_is_absent_by_default_and_marked_when_asked_for(
        db, publish, staff, clerk):
    doc = publish(title="失物招领流程", body="拾到物品交保安部登记。")
    documents.withdraw(db, clerk, doc, reason="合并到保安管理制度", password=TEST_PASSWORD,
                       content_sha256=doc.current_revision.content_sha256)
    db.commit()
    assert service.search(db, staff, "失物招领").total == 0
    result = service.search(db, staff, "失物招领", all_revisions=True)
    assert [(h.number, h.status, h.marked) for h in result.hits] == [
        (doc.number, "obsolete", True)]


def test_a_superseded_revision_is_replaced_in_the_current_index(db, publish, staff, clerk):
    doc = publish(title="管理费用收缴流程", body="每月15日后未缴费的，16日发催缴通知。")
    documents.register_effective_revision(
        db, clerk, doc, label="B/0", body="每月20日后未缴费的，21日发催缴通知。",
        change_summary="改期", effective_date=date.today())
    db.commit()
    assert service.search(db, staff, "16日").total == 0
    current = service.search(db, staff, "21日")
    assert [(h.revision, h.marked) for h in current.hits] == [("B/0", False)]
    old = service.search(db, staff, "16日", all_revisions=True)
    assert [(h.revision, h.status, h.marked) for h in old.hits] == [("A/0", "superseded", True)]
    both = service.search(db, staff, "催缴通知", all_revisions=True)
    assert sorted((h.revision, h.marked) for h in both.hits) == [("A/0", True), ("B/0", False)]


def test_a_draft_is_invisible_to_staff(db, staff, clerk):
    draft = make_document(db, state="draft", title="保密草稿制度", body="尚未批准的草稿正文。")
    db.commit()
    assert service.search(db, staff, "尚未批准", all_revisions=True).total == 0
    assert service.search(db, staff, "尚未批准", status="draft").hits == []
    author = db.get(type(staff), draft.author_id)
    seen = service.search(db, author, "尚未批准", all_revisions=True)
    assert [(h.number, h.status, h.marked) for h in seen.hits] == [(draft.number, "draft", True)]
    assert service.search(db, clerk, "尚未批准", all_revisions=True).hits


def test_a_stale_index_entry_is_checked_against_the_database(db, staff):
    draft = make_document(db, state="draft", title="内部草稿", body="评审前的正文内容。")
    db.commit()
    # the index says everyone may see it; the database says otherwise
    revision = draft.working_revision
    engine = service.get_engine()
    entry = service.entry_for(db, revision, service.history_key(revision.id))
    entry.viewers = ["*"]
    with engine.writer_lock():
        engine.index("history", [entry])
    assert service.search(db, staff, "评审前", all_revisions=True).hits == []


def test_an_issue_is_searchable_right_after_commit(db, staff, clerk):
    doc = make_document(db, state="approved", title="电梯运行管理流程", body="电梯每日巡查。")
    db.commit()
    assert service.search(db, staff, "电梯").total == 0
    documents.issue(db, clerk, doc.working_revision, password=TEST_PASSWORD,
                    content_sha256=doc.working_revision.content_sha256)
    db.commit()
    assert db.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)) == 0
    assert numbers(service.search(db, staff, "电梯")) == [doc.number]


def test_an_outbox_row_is_written_in_the_same_transaction(db, staff):
    make_document(db, state="draft", title="回滚的草稿", body="不会留下")
    assert db.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)) >= 1
    db.rollback()
    assert db.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)) == 0


def test_two_processes_publishing_at_once_lose_nothing(app, db, users, tmp_path):
    make_document(db, state="approved", title="准备", body="准备")  # the people both use
    db.commit()
    service.drain(app)  # the index exists before both start
    url = app.config["DATABASE_URL"]
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-m", "tests.search.publisher", url,
                               str(tmp_path), prefix, "3"], cwd=root)
             for prefix in ("alpha", "beta")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    db.expire_all()
    effective = dict(db.execute(
        sa.select(Document.id, Revision.content_sha256)
        .join(Revision, Document.current_revision_id == Revision.id)).all())
    assert len(effective) == 6
    assert db.scalar(sa.select(sa.func.count()).select_from(Document)) == 7
    indexed = service.get_engine().indexed("current")
    assert {k: sha for k, (sha, _state) in indexed.items()} == {
        service.current_key(d): sha for d, sha in effective.items()}
    assert db.scalar(sa.select(sa.func.count()).select_from(SearchOutbox)) == 0
    from qms.auth.models import User

    reader = db.scalar(sa.select(User).where(User.username == "staff"))
    assert service.search(db, reader, "并发发布", per_page=50).total == 6


def test_a_rebuild_during_searches_serves_results_throughout(app, db, publish, staff):
    for i in range(3):
        publish(title=f"保洁管理流程{i}", body=f"各卫生区每日保洁 第{i}区。")
    expected = service.search(db, staff, "保洁", per_page=50).total
    assert expected == 3
    answers: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()
    staff_id = staff.id

    def searching() -> None:
        with app.test_request_context():
            from qms.auth.models import User
            from qms.db import get_session

            session = get_session()
            reader = session.get(User, staff_id)
            while not stop.is_set():
                try:
                    answers.append(service.search(session, reader, "保洁", per_page=50).total)
                except BaseException as err:
                    errors.append(err)
                    return
            service.get_engine().close()

    thread = threading.Thread(target=searching)
    thread.start()
    try:
        for _ in range(3):
            service.rebuild()
    finally:
        stop.set()
        thread.join(timeout=60)
    assert errors == []
    assert len(answers) > 3
    assert set(answers) == {3}


def test_an_index_that_fails_to_open_is_rebuilt(db, publish, staff):
    doc = publish(title="消防管理制度", body="防火安检每月一次。")
    engine = service.get_engine()
    engine.close()
    gen = engine.root / engine.active_generation()
    for toc in gen.rglob("_MAIN_*.toc"):
        toc.write_bytes(b"garbage")
    assert numbers(service.search(db, staff, "防火安检")) == [doc.number]


def test_an_index_of_an_older_format_is_rebuilt(db, publish, staff, monkeypatch):
    doc = publish(title="消防管理制度", body="防火安检每月一次。")
    engine = service.get_engine()
    with monkeypatch.context() as m:  # an index written with Whoosh's pickled positions
        m.setattr(engine_module, "PackedPositions", formats.Positions)
        old = service.rebuild()
    engine.close()
    assert numbers(service.search(db, staff, "防火安检")) == [doc.number]
    assert engine.active_generation() != old
    content = engine.searcher("current").schema["content"]
    assert isinstance(content.format, engine_module.PackedPositions)
    engine.close()


def test_an_index_of_compound_segment_files_is_rebuilt_as_plain_files(db, publish, staff,
                                                                       monkeypatch):
    doc = publish(title="消防管理制度", body="防火安检每月一次。")
    engine = service.get_engine()
    with monkeypatch.context() as m:  # Whoosh's default: one compound file per segment
        m.setattr(engine_module, "_writer", lambda ix, **kwargs: ix.writer(**kwargs))
        old = service.rebuild()
    assert list((engine.root / old / "current").glob("*.seg"))
    engine.close()
    assert numbers(service.search(db, staff, "防火安检")) == [doc.number]
    new = engine.active_generation()
    assert new != old
    assert not list((engine.root / new / "current").glob("*.seg"))
    engine.close()


def test_reconciliation_finds_a_revision_whose_hash_differs(db, publish, staff):
    doc = publish(title="绿化管理制度", body="草坪每周修剪。")
    revision = doc.current_revision
    # a change that bypassed the services (and so the outbox)
    db.execute(sa.update(Revision).where(Revision.id == revision.id).values(
        body="乔木每季修剪。", content_sha256="0" * 64))
    db.commit()
    assert service.search(db, staff, "乔木").total == 0
    report = service.reconcile(db)
    assert report["current"].stale == [service.current_key(doc.id)]
    assert report["history"].stale == [service.history_key(revision.id)]
    assert numbers(service.search(db, staff, "乔木")) == [doc.number]
    again = service.reconcile(db)
    assert not (again["current"].stale or again["current"].missing or again["current"].extra)


def test_facets_filters_and_pages(db, publish, staff):
    for i in range(3):
        publish(title=f"客户回访制度{i}", body="回访业主并记录。", department="KF")
    for i in range(2):
        publish(title=f"保安回访制度{i}", body="回访业主并记录。", department="BA",
                kind="process")
    result = service.search(db, staff, "回访", per_page=2)
    assert result.total == 5 and len(result.hits) == 2 and result.pages == 3
    depts = {v: c for v, _label, c in result.facets["department"]}
    assert depts == {"KF": 3, "BA": 2}
    kinds = {v: c for v, _label, c in result.facets["kind"]}
    assert kinds == {"regulation": 3, "process": 2}
    filtered = service.search(db, staff, "回访", department="BA")
    assert filtered.total == 2 and {h.department for h in filtered.hits} == {"BA"}
    # facet counts still show the other choices
    assert {v for v, _l, _c in filtered.facets["department"]} == {"KF", "BA"}
    last = service.search(db, staff, "回访", per_page=2, page=3)
    assert len(last.hits) == 1
    beyond = service.search(db, staff, "回访", per_page=2, page=99)
    assert beyond.total == 5
