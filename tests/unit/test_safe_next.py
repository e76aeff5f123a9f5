"""One safe-redirect helper (issue 11, item 10): only a path on this site is followed."""

import pytest

from qms.web import safe_next

HOSTILE = [
    "//evil.example",
    "//evil.example/",
    "///evil.example",
    "/\t/evil.example",  # next=/%09/evil.example: browsers drop the tab
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "relative/path",
    "?next=//evil",
    "#/evil",
    " /documents",
    "/documents\nSet-Cookie: x=1",
    "/documents\r\nLocation: //evil",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\x7f",
    "",
    None,
    "/" + "a" * 3000,
]

SAFE = [
    ("/", "/"),
    ("/documents", "/documents"),
    ("/documents/ZD-KF-001?revision=A/0", "/documents/ZD-KF-001?revision=A/0"),
    ("/reviews/1#defect-3", "/reviews/1#defect-3"),
    ("/search?q=%E8%B4%A8%E9%87%8F", "/search?q=%E8%B4%A8%E9%87%8F"),
    ("/search?q=质量 体系", "/search?q=质量 体系"),
    ("/a//b", "/a//b"),
    ("/redirect?to=https://evil.example", "/redirect?to=https://evil.example"),
]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_fall_back_to_the_default(target):
    assert safe_next(target, "/home") == "/home"
    assert safe_next(target) is None


@pytest.mark.parametrize(("target", "expected"), SAFE)
def test_paths_on_this_site_are_followed(target, expected):
    assert safe_next(target, "/home") == expected
