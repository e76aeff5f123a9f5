"""The search page, the API and the command line, including every bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qms.search import cli
from tests.factories import make_document

BAD_INPUTS = [
    "",
    "   ",
    "。，、！？",
    "!!! ??? ...",
    "投诉" * 100,
    '"装修保证金',
    "装修保证金\"",
    "(装修 [保证金",
    "装修)) ]]",
    "title:",
    "AND (",
    "title:装修 OR body:*",
    "NOT",
    "'; DROP TABLE document; --",
    "1' OR '1'='1",
    "<script>alert(1)</script>",
    "<b>装修</b>",
    "😀",
    "装修😀保证金",
    "𠀀𠀁",
    "装修 deposit 保證金 ＫＦ-００１",
    "\x00\x1f",
    "%",
    "*",
    "?",
    "~1",
]


@pytest.fixture
def documents(app, users):
    with app.test_request_context():
        from qms.db import get_session

        session = get_session()
        doc = make_document(session, state="effective", title="物业装修管理制度",
                            body="## 装修\n\n客户服务收取装修保证金（deposit）和垃圾清运费。\n")
        session.commit()
        return doc.number


def test_every_bad_input_gives_a_result_or_a_message(client_as, documents):
    client = client_as("staff")
    for q in BAD_INPUTS:
        response = client.get("/api/v1/search", query_string={"q": q})
        assert response.status_code == 200, (q, response.data)
        body = response.get_json()
        assert isinstance(body["items"], list), q
        if q.strip() and not body["items"]:
            # no result: either a note saying why, or the no-result state on the page
            assert body["notes"] or body["meta"]["total"] == 0, q
        page = client.get("/search", query_string={"q": q})
        assert page.status_code == 200, q
        assert b"<script>alert" not in page.data, q
        partial = client.get("/search", query_string={"q": q, "partial": "1", "all": "1"})
        assert partial.status_code == 200, q


def test_mixed_scripts_and_symbols_still_find(client_as, documents):
    client = client_as("staff")
    for q in ["装修😀保证金", "<b>装修</b>", "裝修 deposit 保證金", "(装修 [保证金"]:
        body = client.get("/api/v1/search", query_string={"q": q}).get_json()
        assert [i["number"] for i in body["items"]] == [documents], q


def test_bad_parameters_are_explained(client_as, documents):
    response = client_as("staff").get("/api/v1/search", query_string={
        "q": "装修", "kind": "nonsense", "status": "bogus", "page": "x", "per_page": "-5",
        "department": "<b>"})
    assert response.status_code == 200
    body = response.get_json()
    assert any("nonsense" in n for n in body["notes"])
    assert any("bogus" in n for n in body["notes"])


def test_punctuation_only_says_what_to_try(client_as, documents):
    body = client_as("staff").get("/api/v1/search", query_string={"q": "😀！"}).get_json()
    assert body["items"] == [] and body["notes"]
    page = client_as("staff").get("/search", query_string={"q": "😀！"})
    assert b"Nothing to search for" in page.data or "没有可搜索".encode() in page.data \
        or b"flash" in page.data


HOSTILE = {
    "ZD-KF-0" * 150: "1050 characters long; at most 200",
    "a" * 5000: "5000 characters long; at most 200",
    "装修" * 1000: "2000 characters long; at most 200",
    " ".join(f"w{i}" for i in range(13)): "13 separate words or phrases; at most 12",
    "".join(chr(0x4E00 + i) for i in range(66)):
        "too long to look up: 65 different terms, at most 64",
    "-".join(chr(97 + i // 26) + chr(97 + i % 26) for i in range(65)): "65 different terms",
}


def test_an_over_long_query_is_refused_with_the_reason(client_as, documents):
    client = client_as("staff")
    client.post("/lang/en", data={"next": "/"})
    for q, reason in HOSTILE.items():
        response = client.get("/api/v1/search", query_string={"q": q})
        assert response.status_code == 422, q[:20]
        assert response.get_json()["error"]["code"] == "query_too_long"
        assert reason in response.get_json()["error"]["message"], q[:20]
        page = client.get("/search", query_string={"q": q})
        assert page.status_code == 200
        assert reason in page.get_data(as_text=True), q[:20]


def test_the_refusal_is_in_chinese_on_a_chinese_page(client_as, documents):
    page = client_as("staff").get("/search", query_string={"q": "a" * 201})
    assert "您的搜索有 201 个字符，最多只能搜索 200 个" in page.get_data(as_text=True)


def test_long_queries_at_the_limits_are_answered_correctly(client_as, documents):
    client = client_as("staff")
    accepted = {
        "a" * 200: [],  # one long word: looked up, no typo suggestions tried
        "ZD-KF-0" * 28: [],  # 196 characters, four different terms
        # 60 characters, 5 different bigrams, not found as written: falls back to its words
        "装修保证金" * 12: [documents],
        "客户服务收取装修保证金（deposit）和垃圾清运费": [documents],
        " ".join(["depposit"] * 12): [documents],  # the same typo twelve times
        " ".join(f"proceduer{i}x" for i in range(12)): [],
    }
    for q, expected in accepted.items():
        response = client.get("/api/v1/search", query_string={"q": q})
        assert response.status_code == 200, q[:20]
        assert [i["number"] for i in response.get_json()["items"]] == expected, q[:20]


def test_the_api_finds_and_highlights(client_as, documents):
    body = client_as("staff").get("/api/v1/search", query_string={"q": "裝修保證金"}).get_json()
    assert [i["number"] for i in body["items"]] == [documents]
    item = body["items"][0]
    assert {"number", "title", "revision", "status", "kind", "department", "effective_date",
            "score", "snippet"} <= set(item)
    assert "<mark>装修保证金</mark>" in item["snippet"]
    assert body["facets"]["kind"][0]["value"] == "regulation"


def test_the_page_shows_hits_and_empty_states(client_as, documents):
    client = client_as("staff")
    empty = client.get("/search")
    assert empty.status_code == 200 and b'name="q"' in empty.data
    assert b"search.js" in empty.data
    hits = client.get("/search", query_string={"q": "垃圾清运"})
    assert documents.encode() in hits.data and b"<mark>" in hits.data
    partial = client.get("/search", query_string={"q": "垃圾清运", "partial": "1"})
    assert documents.encode() in partial.data and b"<html" not in partial.data
    none = client.get("/search", query_string={"q": "不存在的词语"})
    assert b"search-none" in none.data


def test_search_is_in_the_navigation(client_as, documents):
    page = client_as("staff").get("/")
    assert b'href="/search"' in page.data


def test_search_needs_sign_in(client):
    assert client.get("/api/v1/search?q=x").status_code == 401


def test_openapi_describes_search(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/search" in doc["paths"]


def test_cli_search_json(app, documents):
    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(cli.search, ["装修", "--json", "--limit", "5"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.output)
    assert items[0]["number"] == documents
    assert {"number", "title", "revision", "status", "kind", "score", "snippet"} <= set(items[0])
    assert "[装修]" in items[0]["snippet"]


def test_cli_search_text_and_all_revisions(app, documents):
    runner = CliRunner()
    with app.app_context():
        result = runner.invoke(cli.search, ["垃圾", "--all-revisions"])
        nothing = runner.invoke(cli.search, ["ZD-KF-009"])
    assert result.exit_code == 0 and documents in result.output
    assert "Did you mean" in nothing.output and documents in nothing.output


def test_cli_reindex_and_check(app, documents):
    runner = CliRunner()
    with app.app_context():
        built = runner.invoke(cli.reindex, [])
        checked = runner.invoke(cli.reindex, ["--check"])
        found = runner.invoke(cli.search, ["装修保证金", "--json"])
    assert built.exit_code == 0, built.output
    assert "in use" in built.output
    assert checked.exit_code == 0 and "0 stale" in checked.output
    assert json.loads(found.output)[0]["number"] == documents
