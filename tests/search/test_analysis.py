"""Folding and tokens, without an index."""

import pytest

from qms.search import analysis
from qms.search.service import parse_query, snippet


def test_fold_is_length_preserving_for_chinese():
    text = "業主投訴處理，裝修保證金；乾隆頭髮"
    folded = analysis.fold(text)
    assert len(folded) == len(text)
    assert folded.startswith("业主投诉处理,装修保证金")


def test_fold_with_offsets_maps_expanding_characters_back():
    folded, offsets = analysis.fold_with_offsets("㈱投訴")
    assert folded == "(株)投诉"
    assert offsets == [0, 0, 0, 1, 2]


@pytest.mark.parametrize(("query", "tokens"), [
    ("文件控制", ["文件", "件控", "控制"]),
    ("水", ["水"]),
    ("kf-004", ["kf", "004"]),
    ("004号文件", ["004", "号文", "文件"]),
    ("文件a", ["文件", "件", "a"]),
])
def test_phrase_tokens(query, tokens):
    assert analysis.phrase_tokens(query) == tokens


def test_index_positions_are_consecutive_per_character():
    poses = analysis.index_positions("文件控制 kf-004")
    assert poses["文件"] == [0] and poses["控制"] == [2] and poses["制"] == [3]
    assert poses["kf"] == [4] and poses["004"] == [5]


def test_parse_query_keeps_quoted_phrases_and_ignores_syntax():
    parsed = parse_query('"文件 控制" title: AND (')
    assert [p.tokens for p in parsed.phrases] == [["文件", "件", "控制"], ["title"], ["and"]]


def test_snippet_escapes_html():
    html = str(snippet("<script>装修</script>保证金", ["装修"]))
    assert "<script>" not in html and "<mark>装修</mark>" in html


def test_fold_with_offsets_of_one_for_one_text_are_the_indexes():
    folded, offsets = analysis.fold_with_offsets("業主投訴ＫＦ")
    assert folded == "业主投诉kf"
    assert list(offsets) == [0, 1, 2, 3, 4, 5]


def test_snippet_marks_traditional_text_as_written_after_an_expanding_character():
    html = str(snippet("第㈠條：業主投訴應在三日內答覆。", ["业主投诉"]))
    assert "<mark>業主投訴</mark>" in html


def test_snippet_shows_the_window_with_the_most_different_matches():
    body = "业主" + "。" * 300 + "装修保证金由业主交纳" + "。" * 300 + "业主"
    html = str(snippet(body, ["业主", "保证金"], width=60))
    assert "<mark>保证金</mark>" in html and "<mark>业主</mark>" in html
