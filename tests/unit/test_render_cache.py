"""The rendered-Markdown cache against rendering every time (a differential test), and its
bound. A revision page reuses the HTML of a text it has rendered before, per language."""

import pytest

from qms import create_app, markup

BODIES = [
    "## 总则\n\n投诉应在3个工作日内答复。\n\n| 类别 | 时限 |\n|---|---|\n| 维修 | 1 天 |\n",
    "正文 <script>alert(1)</script> **重点**\n\n![现场照片](https://example.com/a.png)\n",
    "",
    "- 一\n- 二\n\n```\ncode <b>\n```\n",
]


@pytest.fixture
def app(tmp_path):
    return create_app("testing", DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3", DATA_DIR=tmp_path)


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_cached_html_is_what_rendering_gives(app, language):
    markup._cache.clear()
    for body in BODIES:
        with app.test_request_context(headers={"Accept-Language": language}):
            from flask import session

            session["lang"] = language
            fresh = markup.render_uncached(body)
            assert markup.render(body) == fresh  # first time: rendered and kept
            assert markup.render(body) == fresh  # then: from the cache


def test_each_language_keeps_its_own_html(app):
    markup._cache.clear()
    body = BODIES[1]
    pages = {}
    for language in ("zh_CN", "en"):
        with app.test_request_context():
            from flask import session

            session["lang"] = language
            pages[language] = markup.render(body)
    assert "Image from another site" in pages["en"]
    assert "Image from another site" not in pages["zh_CN"]


def test_the_cache_keeps_within_its_bytes():
    cache = markup._RenderCache(max_bytes=1000)
    for i in range(50):
        cache.put(bytes([i]), "x" * 100)
    assert cache.size <= 1000
    assert len(cache.entries) == 10
    assert cache.get(bytes([49])) == "x" * 100
    assert cache.get(bytes([0])) is None
    cache.put(b"big", "y" * 600)  # over a quarter of the budget: never kept
    assert cache.get(b"big") is None


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ("第㈠條：業主投訴應在三日內答覆。", ["业主投诉"]),
        ("<script>装修</script>保证金 " * 40, ["装修", "保证金"]),
        ("没有匹配的正文", ["投诉"]),
    ],
)
def test_kept_snippets_are_what_making_them_gives(body, needles):
    from qms.search import service

    fresh = service._snippet(body, frozenset(needles), 140)
    assert service.snippet(body, needles) == fresh
    assert service.snippet(body, list(reversed(needles))) == fresh  # from the kept ones
