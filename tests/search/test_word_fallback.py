"""An unspaced multi-word query that no document holds as written falls back to all of
its words and says so; snippets of forms carry no Markdown table noise."""

from __future__ import annotations

import pytest

from qms.search.service import plain
from tests.factories import make_document


@pytest.fixture
def deposit_rules(app, users):
    with app.test_request_context():
        from qms.db import get_session

        session = get_session()
        rules = make_document(
            session, state="effective", title="装修保证金管理规定",
            body="## 保证金\n\n验收合格后，保证金退还给业主。\n\n## 时限\n\n"
                 "退还的时限为验收后三十日内。\n")
        form = make_document(
            session, state="effective", title="保证金退还登记表", kind="form",
            body="| 序号 | 业主 | 退还金额 |\n| --- | :---: | ---: |\n| 1 | | |\n")
        other = make_document(session, state="effective", title="投诉处理程序",
                              body="## 时限\n\n投诉在两个工作日内答复。\n")
        session.commit()
        return rules.number, form.number, other.number


def test_unspaced_words_fall_back_to_all_of_them_and_say_so(client_as, deposit_rules):
    rules, _form, other = deposit_rules
    page = client_as("staff").get("/search", query_string={"q": "退还时限"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert rules in text  # holds 退还 and 时限, not 退还时限
    assert other not in text  # holds 时限 only: every word is still required
    assert "没有文件包含完整的“退还时限”" in text and "退还、时限" in text
    assert "<mark>退还</mark>" in text and "<mark>时限</mark>" in text


def test_the_fallback_is_explained_in_english_and_in_the_api(client_as, deposit_rules):
    rules, _form, _other = deposit_rules
    client = client_as("staff")
    client.post("/lang/en")
    body = client.get("/api/v1/search", query_string={"q": "退还时限"}).get_json()
    assert [i["number"] for i in body["items"]] == [rules]
    assert any("all of its words" in n and "退还、时限" in n for n in body["notes"])


def test_an_exact_phrase_is_not_split(client_as, deposit_rules):
    rules, form, _other = deposit_rules
    client = client_as("staff")
    body = client.get("/api/v1/search", query_string={"q": "保证金退还"}).get_json()
    assert {i["number"] for i in body["items"]} == {rules, form}
    assert body["notes"] == []  # found as written: no fallback, no note
    quoted = client.get("/api/v1/search", query_string={"q": '"退还时限"'}).get_json()
    assert quoted["items"] == []  # quotes ask for the phrase as written


def test_words_that_no_document_holds_together_find_nothing(client_as, deposit_rules):
    body = client_as("staff").get("/api/v1/search",
                                  query_string={"q": "投诉保证金"}).get_json()
    assert body["items"] == [] and body["notes"] == []


def test_form_snippets_show_no_table_noise(client_as, deposit_rules):
    _rules, form, _other = deposit_rules
    body = client_as("staff").get("/api/v1/search", query_string={"q": "退还金额"}).get_json()
    (item,) = [i for i in body["items"] if i["number"] == form]
    assert "---" not in item["snippet"] and ":" not in item["snippet"]
    assert "<mark>退还金额</mark>" in item["snippet"]


@pytest.mark.parametrize("markdown", [
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "| a | b |\n| :--- | ---: |\n| 1 | 2 |",
    "a\n\n---\n\nb",
    "a\n\n***\n\nb",
    "a\n\n___\n\nb",
])
def test_plain_text_drops_rules_and_table_delimiters(markdown):
    text = plain(markdown)
    assert "---" not in text and "***" not in text and "___" not in text
    assert text.replace(" ", "") in {"ab12", "ab"}
