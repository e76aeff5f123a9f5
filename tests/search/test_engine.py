"""The engine's own fast paths against what Whoosh computes itself."""

from __future__ import annotations

from pathlib import Path

from qms.search import analysis, postings, service
from qms.search import engine as engine_module
from qms.search.engine import IndexEntry, WhooshEngine, scoring_query

BODIES = [
    "业主投诉应在3个工作日内答复，投诉处理完毕后回访业主。",
    "客户服务收取装修保证金和垃圾清运费，装修完毕退还保证金。",
    "文件控制程序：文件的发放、收回和作废由品质管理中心控制。",
    "業主投訴處理辦法：業主投訴應在三個工作日內答覆。",
    "装修保证金 KF-004 按 GB/T 19001 管理，业主装修前申请。",
]


def entries(n: int = 40) -> list[IndexEntry]:
    return [IndexEntry(
        key=f"d{i}", document_id=i, revision_id=i, number=f"KF-{i:03d}", label="A/0",
        title=["业主投诉处理制度", "装修管理制度", "文件控制程序"][i % 3],
        body=" ".join(BODIES[(i + k) % len(BODIES)] for k in range(1 + i % 4)),
        kind="regulation", department="KF", state="effective", content_sha256=str(i))
        for i in range(1, n + 1)]


def build(root: Path, **kwargs: int) -> WhooshEngine:
    engine = WhooshEngine(root)
    engine.rebuild({"current": entries, "history": list}, replay=lambda ids, gen: None,
                   **kwargs)
    return engine


QUERIES = ["业主", "投诉", "装修保证金", "文件控制", "業主投訴", "垃", "KF-004", "004",
           "业主 装修", '"文件 控制"', "保证金 工作日"]


def test_ranking_is_whooshs_own(tmp_path: Path) -> None:
    engine = build(tmp_path)
    searcher = engine.searcher("current")
    for text in QUERIES:
        phrases = service.parse_query(text).phrases
        result = engine.query("current", phrases, filters={}, page=1, per_page=100)
        matched = engine_module._matching(searcher, phrases)
        assert result.total == len(matched), text
        whoosh = searcher.search(scoring_query(phrases, searcher), filter=matched,
                                 limit=100, terms=False)
        expected = [(round(float(s), 6), searcher.stored_fields(d)["key"])
                    for s, d in whoosh.top_n]
        assert [(round(h.score, 6), h.key) for h in result.hits] == expected, text
    engine.close()


def test_a_rebuild_spilling_to_disk_writes_the_same_index(tmp_path: Path) -> None:
    small = build(tmp_path / "spilled", limitmb=0)  # every posting its own sorted run
    large = build(tmp_path / "in-memory")
    for text in QUERIES:
        phrases = service.parse_query(text).phrases
        a = small.query("current", phrases, filters={}, page=1, per_page=100)
        b = large.query("current", phrases, filters={}, page=1, per_page=100)
        assert a.total == b.total > 0, text
        assert [(h.key, h.score) for h in a.hits] == [(h.key, h.score) for h in b.hits], text
        assert small.matching_ids("current", phrases) == large.matching_ids("current", phrases)
    small.close()
    large.close()


def test_updates_and_deletions_across_segments_still_match(tmp_path: Path) -> None:
    engine = build(tmp_path)
    changed = entries()[:3]
    for entry in changed:
        entry.body = "暂停服务通知"
    engine.index("current", changed)
    engine.remove("current", ["d5"])
    phrases = service.parse_query("暂停服务").phrases
    assert engine.matching_ids("current", phrases) == {1, 2, 3}
    searcher = engine.searcher("current")
    assert len(searcher.reader().leaf_readers()) > 1
    final = {e.document_id: e for e in entries()}
    final.update({e.document_id: e for e in changed})
    del final[5]
    for text in ["业主", "投诉", "装修保证金", "業主投訴", "服务", "务通"]:
        folded = analysis.fold(text)
        expected = {i for i, e in final.items()
                    if folded in analysis.fold(" ".join([e.number, e.title, e.body]))}
        phrases = service.parse_query(text).phrases
        assert engine.matching_ids("current", phrases) == expected, text
        result = engine.query("current", phrases, filters={}, page=1, per_page=100)
        assert {h.document_id for h in result.hits} == expected, text
    engine.close()


def test_the_positions_file_holds_what_whooshs_blocks_hold(tmp_path: Path) -> None:
    engine = build(tmp_path)
    searcher = engine.searcher("current")
    leaf = searcher.reader()
    folder = engine_module._folder(searcher)
    assert folder is not None
    sidecar = postings.Sidecar(
        str(Path(folder) / (leaf.segment().segment_id() + postings.SIDECAR_SUFFIX)))
    terms = [t.decode("utf-8") for t in searcher.lexicon("content")]
    assert len(terms) > 100
    for term in terms:
        written = sidecar.read("content", term, 1.0)
        whoosh = postings.read(leaf, "content", term, positional=True)
        assert list(written.ids) == list(whoosh.ids), term
        assert list(written.weights) == list(whoosh.weights), term
        assert [list(written.positions(i)) for i in range(len(written))] == \
            [list(whoosh.positions(i)) for i in range(len(whoosh))], term
    assert sidecar.read("content", "不存在的词", 1.0).ids.tolist() == []
    for field in ("content", "title", "number"):
        assert sidecar.field_lengths[field].tolist() == [
            leaf.doc_field_length(d, field, 1) for d in range(leaf.doc_count_all())]
    engine.close()


def test_the_next_page_continues_the_first_and_filters_leave_the_match_alone(
        tmp_path: Path) -> None:
    engine = build(tmp_path)
    phrases = service.parse_query("业主").phrases
    whole = engine.query("current", phrases, filters={}, page=1, per_page=40)
    first = engine.query("current", phrases, filters={}, page=1, per_page=10)
    second = engine.query("current", phrases, filters={}, page=2, per_page=10)
    assert whole.total > 20
    assert [h.key for h in first.hits + second.hits] == [h.key for h in whole.hits[:20]]
    nothing = engine.query("current", phrases, filters={"kind": ["form"]}, page=1, per_page=10)
    assert nothing.total == 0
    again = engine.query("current", phrases, filters={}, page=1, per_page=10)
    assert again.total == whole.total
    engine.close()


def test_a_damaged_positions_file_leaves_matching_to_whooshs_own_postings(
        tmp_path: Path) -> None:
    reference = build(tmp_path / "intact")
    engine = build(tmp_path / "damaged")
    for positions in (tmp_path / "damaged").rglob("*" + postings.SIDECAR_SUFFIX):
        positions.write_bytes(positions.read_bytes()[:100])
    for text in QUERIES:
        phrases = service.parse_query(text).phrases
        assert engine.matching_ids("current", phrases) == \
            reference.matching_ids("current", phrases), text
    reference.close()
    engine.close()


def test_a_document_with_an_empty_title_in_a_segment_of_updates_is_ranked(
        tmp_path: Path) -> None:
    """Whoosh answers None for the length of an empty field in a segment where other
    documents have it (found by the differential test: a TypeError in ranking)."""
    engine = build(tmp_path)
    changed = entries()[:2]
    changed[0].title = ""
    changed[1].title = "业主投诉处理制度"
    for entry in changed:
        entry.body = "业主投诉"
    engine.index("current", changed)
    phrases = service.parse_query("业主").phrases
    result = engine.query("current", phrases, filters={}, page=1, per_page=100)
    assert {"d1", "d2"} <= {h.key for h in result.hits}
    engine.close()


def service_phrases(text: str):
    from qms.search.service import parse_query

    return parse_query(text).phrases
