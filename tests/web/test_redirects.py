"""Redirect targets from the request (issue 11, item 10): sign-in, language switch and the
review forms follow only paths on this site; hostile values never answer 500."""

import pytest

from tests.factories import TEST_PASSWORD

HOSTILE_QUERY = [
    "/%09/evil.example",  # the probe: tab → //evil.example in a browser
    "/%0a/evil.example",
    "/%0d%0a/evil.example",
    "%0a",  # the 500 on a newline
    "/x%0d%0aSet-Cookie:%20a=b",
    "//evil.example",
    "/%5Cevil.example",  # /\evil.example
    "%5C%5Cevil.example",
    "https://evil.example",
    "javascript:alert(1)",
    "%20//evil.example",
    "/%00",
]


@pytest.mark.parametrize("target", HOSTILE_QUERY)
def test_sign_in_never_leaves_the_site(client, users, target):
    response = client.post(
        f"/login?next={target}", data={"username": "staff", "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_sign_in_follows_a_path_on_this_site(client, users):
    response = client.post(
        "/login?next=/documents%3Fstatus%3Deffective",
        data={"username": "staff", "password": TEST_PASSWORD},
    )
    assert response.headers["Location"] == "/documents?status=effective"


def test_the_sign_in_page_itself_takes_a_newline_in_next(client, users):
    assert client.get("/login?next=%0a").status_code == 200


def test_a_signed_out_visit_carries_its_own_path_to_sign_in(client, users):
    response = client.get("/account?tab=tokens")
    assert response.status_code == 302
    assert "next=/account?tab%3Dtokens" in response.headers["Location"]


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\t/evil.example", "/\n", "https://evil.example", "/\\evil"]
)
def test_language_switch_never_leaves_the_site(client_as, target):
    response = client_as("staff").post("/lang/en", data={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
