"""`page` and `per_page` follow one rule everywhere (qms.pagination.clamp): missing, empty,
`null` or non-numeric values are the default, numbers are clamped into range, so a huge
page number is an empty page rather than an integer overflow in the database."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from qms.pagination import MAX_PAGE, MAX_PER_PAGE, clamp
from tests.factories import make_document

HUGE = "29317114267109810176"


@pytest.mark.parametrize(
    ("page", "per_page", "expected"),
    [
        (None, None, (1, 50)),
        ("", "", (1, 50)),
        ("null", "null", (1, 50)),
        ("abc", "ten", (1, 50)),
        ("1.5", "2e3", (1, 50)),
        ("２", "５", (1, 50)),  # full-width digits are not numbers here
        (" 3 ", " 20 ", (3, 20)),
        ("0", "0", (1, 1)),
        ("-4", "-5", (1, 1)),
        (HUGE, HUGE, (MAX_PAGE, MAX_PER_PAGE)),
        ("9" * 5000, "9" * 5000, (1, 50)),  # not parsed at all
        (7, 30, (7, 30)),
        (True, False, (1, 50)),
    ],
)
def test_clamp(page: Any, per_page: Any, expected: tuple[int, int]) -> None:
    assert clamp(page, per_page) == expected


def test_huge_page_is_far_past_the_end_but_its_offset_fits_any_database() -> None:
    page, per_page = clamp(HUGE, HUGE)
    assert (page - 1) * per_page < 2**63


def _list_routes(app: Flask) -> list[str]:
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and not rule.arguments
        and rule.endpoint not in ("static", "main.healthz", "api.api_core.openapi")
    )


@pytest.mark.parametrize(
    "query",
    [f"page={HUGE}", "page=null&per_page=null", f"page=-1&per_page={HUGE}", "page=abc&per_page=x"],
)
def test_no_page_answers_500_to_odd_page_numbers(app: Flask, client_as: Any, query: str) -> None:
    with app.test_request_context():
        from qms.db import get_session

        make_document(get_session(), state="effective")
        get_session().commit()
    for role in ("manager", "admin"):
        client = client_as(role)
        paths = _list_routes(app)
        plain = {path: client.get(path).status_code for path in paths}
        odd = {path: client.get(f"{path}?{query}").status_code for path in paths}
        assert odd == plain
        assert sum(status == 200 for status in odd.values()) > 15


def test_api_lists_say_which_page_they_answered(app: Flask, client_as: Any) -> None:
    with app.test_request_context():
        from qms.db import get_session

        number = make_document(get_session(), state="effective").number
        get_session().commit()
    client = client_as("clerk")
    for path in (
        "/api/v1/documents",
        "/api/v1/reviews",
        "/api/v1/procedures",
        f"/api/v1/documents/{number}/trail",
    ):
        huge = client.get(path, query_string={"page": HUGE, "per_page": "null"})
        assert huge.status_code == 200, path
        assert huge.get_json()["items"] == []
        assert huge.get_json()["meta"]["page"] == MAX_PAGE
        assert huge.get_json()["meta"]["per_page"] == 50
        odd = client.get(path, query_string={"page": "x", "per_page": "null"}).get_json()
        plain = client.get(path).get_json()
        assert odd == plain, path
    documents = client.get("/api/v1/documents", query_string={"per_page": 1000}).get_json()
    assert documents["meta"]["per_page"] == MAX_PER_PAGE
    assert [d["number"] for d in documents["items"]] == [number]


def test_search_takes_page_numbers_the_same_way(app: Flask, client_as: Any) -> None:
    client = client_as("staff")
    huge = client.get("/api/v1/search", query_string={"q": "投诉", "page": HUGE})
    assert huge.status_code == 200
    assert huge.get_json()["items"] == []
    odd = client.get("/api/v1/search", query_string={"q": "投诉", "per_page": "null"})
    assert odd.get_json()["meta"]["per_page"] == 20
    assert client.get("/search", query_string={"q": "投诉", "page": HUGE}).status_code == 200
