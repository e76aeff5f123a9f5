"""Document numbers in a body stay on one line (a phone's narrow table column broke them at
their hyphens), and a body cannot borrow the application's other classes."""

from __future__ import annotations

import pytest

from qms.markup import render_uncached


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


def test_numbers_in_tables_and_text_are_kept_whole(ctx):
    html = render_uncached("| 编号 | 说明 |\n|---|---|\n| BD-KF-001 | 见 ZD-KF-004 第三条 |\n")
    assert '<td><span class="docno">BD-KF-001</span></td>' in html
    assert '见 <span class="docno">ZD-KF-004</span> 第三条' in html


def test_code_links_and_look_alikes_are_left_alone(ctx):
    html = render_uncached(
        "`ZD-KF-001` [LC-KF-003](/documents/LC-KF-003) XYZAB-KF-001 ZD-KF-00123 A-B-1"
    )
    assert "<code>ZD-KF-001</code>" in html
    assert 'href="/documents/LC-KF-003"' in html
    assert html.count('class="docno"') == 1  # only the link's text
    assert "XYZAB-KF-001 ZD-KF-00123 A-B-1" in html


def test_a_body_cannot_use_other_classes(ctx):
    html = render_uncached(
        '<span class="flash flash-error">假提示</span> <span class="docno">x</span>'
    )
    assert 'class="flash' not in html and "<span>假提示</span>" in html
    assert '<span class="docno">x</span>' in html
