"""User text never becomes markup: one regression test per place that once built HTML
from a user's text (lazy messages, search notes, task titles, charts, redlines, snippets,
Markdown bodies, web addresses)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from qms.auth.models import User
from qms.db import get_session
from tests.factories import make_document

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def _user(username: str) -> User:
    user = get_session().scalar(sa.select(User).where(User.username == username))
    assert user is not None
    return user


# -- lazily translated messages --------------------------------------------------------


def test_a_lazy_message_formatted_with_user_text_is_escaped_wherever_it_meets_markup(app):
    with app.test_request_context():
        message = _l("Department code %(code)s is already in use.", code=SCRIPT)
        assert "&lt;script&gt;" in str(escape(message))
        assert "<script>" not in Markup("<p>{}</p>").format(message)
        assert "<script>" not in Markup("").join([message])
        rendered = app.jinja_env.from_string("{{ m }}").render(m=message)
        assert SCRIPT not in rendered and "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered


def test_a_flashed_lazy_message_comes_back_from_the_session_escaped(app):
    serializer = app.session_interface.serializer  # type: ignore[attr-defined]
    with app.test_request_context():
        message = _l("Department code %(code)s is already in use.", code=SCRIPT)
        stored = serializer.dumps({"_flashes": [("error", message)]})
    loaded = serializer.loads(stored)["_flashes"][0][1]
    rendered = app.jinja_env.from_string("{{ m }}").render(m=loaded)
    assert SCRIPT not in rendered
    assert "&lt;script&gt;" in rendered


def test_a_form_label_shows_once_escaped(app):
    from wtforms import Form, StringField

    class F(Form):
        name = StringField(_l("Name & title"))

    with app.test_request_context():
        assert str(F().name.label) == '<label for="name">Name &amp; title</label>'


# -- the search page (reflected) --------------------------------------------------------


@pytest.mark.parametrize("param", ["kind", "status"])
def test_search_filter_values_are_shown_as_text(client_as, param):
    response = client_as("staff").get("/search", query_string={"q": "a", param: SCRIPT})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the note names what was wrong


def test_search_query_is_shown_as_text(client_as):
    response = client_as("staff").get("/search", query_string={"q": IMG, "kind": IMG})
    html = response.get_data(as_text=True)
    assert "<img src=x" not in html and "onerror=alert(1)>" not in html


def test_search_snippet_escapes_the_body_and_marks_only_the_match():
    from qms.search.service import snippet

    out = snippet(f"投诉处理 {SCRIPT} 投诉 {IMG}", ["投诉"])
    assert "<script>" not in out and "<img" not in out
    assert "<mark>投诉</mark>" in out
    assert "&lt;script&gt;" in out


# -- My tasks (stored) --------------------------------------------------------------------


def test_my_tasks_show_a_hostile_document_title_as_text(app, users, client_as):
    with app.app_context():
        db = get_session()
        make_document(
            db,
            state="in_review",
            title=SCRIPT + IMG,
            author=_user("clerk"),
            reviewer=_user("reviewer"),
            approver=_user("gm"),
        )
        db.commit()
    client = client_as("reviewer")
    for path in ("/tasks/", "/"):
        html = client.get(path).get_data(as_text=True)
        assert SCRIPT not in html, path
        assert "<img src=x" not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/tasks/").get_data(as_text=True)


# -- charts, redlines, Markdown -----------------------------------------------------------


def test_flowchart_svg_keeps_hostile_lanes_and_steps_as_text():
    from qms.procedures.flowchart import Step, render

    hostile = SCRIPT + IMG + "'&"
    svg = render(
        [hostile, "客服"],
        [
            Step(1, hostile, "start", hostile, next_steps=[2]),
            Step(2, "客服", "decision", hostile, if_yes=3, if_no=1),
            Step(3, "客服", "end", "结束"),
        ],
        highlight={hostile},
        title=hostile,
        yes=hostile,
        no=hostile,
    )
    assert "<script" not in svg and "<img" not in svg
    # well-formed: nothing broke out of an attribute or element
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    names = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
    assert names <= {
        "svg",
        "title",
        "defs",
        "marker",
        "path",
        "g",
        "rect",
        "text",
        "tspan",
        "polyline",
        "polygon",
        "circle",
    }
    assert not [k for el in root.iter() for k in el.attrib if k.lower().startswith("on")]
    assert hostile in {el.get("data-lane") for el in root.iter()}


def test_metrics_bar_chart_escapes_titles_and_labels_lazy_or_not(app):
    from qms.reviews.metrics import bar_chart

    with app.test_request_context():
        svg = bar_chart(
            _l("Defects of %(name)s", name=SCRIPT),
            [(IMG, 3.0), (SCRIPT, 1.0)],
            reference=2.0,
            reference_label=IMG,
        )
    assert "<script" not in svg and "<img" not in svg
    root = ET.fromstring(str(svg))  # noqa: S314 - our own output
    assert not [k for el in root.iter() for k in el.attrib if k.lower().startswith("on")]


def test_redline_escapes_both_texts():
    from qms.documents.diff import redline_html

    html = redline_html(f"旧 {SCRIPT}", f"新 {IMG}")
    assert "<script" not in html and "<img" not in html
    assert "<del>" in html and "<ins>" in html


@pytest.mark.parametrize(
    "body",
    [
        SCRIPT,
        IMG,
        '<a href="javascript:alert(1)" onclick="alert(1)">x</a>',
        "[x](javascript:alert(1))",
        '<svg onload="alert(1)"></svg>',
        '<iframe src="https://evil.example/"></iframe>',
        "<style>body{display:none}</style>",
        '<p style="background:url(https://evil.example/p.png)">x</p>',
    ],
)
def test_markdown_body_runs_nothing(body):
    from qms.markup import render

    html = render(body).lower()
    for bad in (
        "<script",
        "onerror",
        "onclick",
        "onload",
        "javascript:",
        "<iframe",
        "<style",
        "style=",
        "<svg",
    ):
        assert bad not in html, (bad, html)


@pytest.mark.parametrize(
    "body",
    [
        "![pixel](https://tracker.example/p.png)",
        "![pixel](//tracker.example/p.png)",
        '<img src="http://tracker.example/p.png" alt="pixel">',
        '<img src="HTTPS://tracker.example/p.png">',
        '<img src="//tracker.example/p.png">',
    ],
)
def test_remote_images_in_a_body_are_not_loaded(body):
    from qms.markup import render

    html = render(body)
    assert 'src="http' not in html.lower() and 'src="//' not in html
    assert "tracker.example" not in html or "<a href=" in html


def test_a_remote_markdown_image_becomes_a_link_and_our_own_images_stay(app):
    from qms.markup import render

    with app.test_request_context():
        html = render("![logo](https://cdn.example/logo.png) ![图](/attachments/" + "a" * 64 + ")")
    assert '<a href="https://cdn.example/logo.png" rel="noopener noreferrer">' in html
    assert "logo" in html and "<img" in html and 'src="/attachments/' + "a" * 64 in html


# -- external documents' web address ------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<script>", "evil"]
)
def test_an_external_document_accepts_only_a_web_address(app, users, url):
    from qms.auth.models import Department
    from qms.distribution import external
    from qms.distribution.models import ExternalCategory
    from qms.errors import Invalid

    with app.test_request_context():
        db = get_session()
        clerk = _user("clerk")
        pz = db.scalar(sa.select(Department).where(Department.code == "PZ"))
        with pytest.raises(Invalid) as refused:
            external.register_external(
                db,
                clerk,
                title="GB/T 19001",
                category=ExternalCategory.NATIONAL_STANDARD,
                source="SAC",
                department=pz,
                owner=clerk,
                url=url,
            )
        assert "http://" in str(refused.value.message)


def test_a_stored_script_address_is_shown_as_text_not_a_link(app, users, client_as):
    from qms.auth.models import Department
    from qms.distribution import external
    from qms.distribution.models import ExternalCategory

    with app.app_context():
        db = get_session()
        clerk = _user("clerk")
        pz = db.scalar(sa.select(Department).where(Department.code == "PZ"))
        ext = external.register_external(
            db,
            clerk,
            title="GB/T 19001",
            category=ExternalCategory.NATIONAL_STANDARD,
            source="SAC",
            department=pz,
            owner=clerk,
            url="https://std.samr.gov.cn/",
        )
        ext.url = "javascript:alert(1)"  # written before addresses were checked
        number = ext.document.number
        db.commit()
    html = client_as("clerk").get(f"/distribution/external/{number}").get_data(as_text=True)
    assert 'href="javascript:' not in html
    assert "javascript:alert(1)" in html


# -- the places that turn text into markup, each reviewed ---------------------------------

# Every `|safe` in a template and every `Markup(` in qms/, with what makes it safe. A new
# one fails here: escape the user's text before it meets markup, add a test above, and
# list the place with its reason.
REVIEWED_MARKUP = {
    "templates/procedures/show.html": "flowchart.render escapes every lane, step and title",
    "templates/distribution/read.html": "markup.render: Markdown sanitised by nh3",
    "templates/documents/show.html": "markup.render: Markdown sanitised by nh3",
    "templates/documents/edit.html": "diff.redline_html escapes both texts",
    "templates/documents/_editor_preview.html": (
        "markup.render: Markdown sanitised by nh3 (tests/web/test_editor_links.py)"
    ),
    "templates/documents/diff.html": "diff.redline_html escapes both texts",
    "qms/reviews/metrics.py": "bar_chart escapes every title and label",
    "qms/search/service.py": "snippet escapes the text; only <mark> is ours",
    "qms/documents/views.py": "panels rendered by Jinja with autoescape",
    "qms/i18n.py": "lazy messages escaped as text (names Markup.format in its docstring)",
    "qms/trail/labels.py": "value_markup: Markup.format of a hex fingerprint; other text escaped",
}


def test_trail_values_are_escaped(app):
    from qms.trail.labels import value_markup

    with app.test_request_context():
        shown = str(value_markup("revision", "title", "<script>alert(1)</script>"))
        assert "<script>" not in shown and "&lt;script&gt;" in shown
        fingerprint = "ab" * 32
        assert str(value_markup("revision", "authored", fingerprint)) == (
            f'<code class="hash" title="{fingerprint}">{fingerprint}</code>'
        )


def test_every_place_that_marks_text_as_markup_is_reviewed():
    from qms.config import PROJECT_ROOT

    found = set()
    for path in (PROJECT_ROOT / "templates").rglob("*.html"):
        if re.search(r"\|\s*safe\b", path.read_text(encoding="utf-8")):
            found.add(str(path.relative_to(PROJECT_ROOT)))
    for path in (PROJECT_ROOT / "qms").rglob("*.py"):
        if re.search(r"\bMarkup\(|\bMarkup\.format\b", path.read_text(encoding="utf-8")):
            found.add(str(path.relative_to(PROJECT_ROOT)))
    unreviewed = sorted(found - set(REVIEWED_MARKUP))
    assert unreviewed == [], (
        f"{unreviewed} mark text as safe markup: escape user data before it meets markup, "
        "test it in tests/web/test_escaping.py and list the place in REVIEWED_MARKUP."
    )


def test_the_register_form_refuses_a_script_address_and_stores_nothing(app, users, client_as):
    from qms.documents.models import Document

    client = client_as("clerk")
    response = client.post(
        "/distribution/external/new",
        data={
            "title": "GB/T 19001",
            "category": "national_standard",
            "source": "SAC",
            "url": "javascript:alert(1)",
            "department": "PZ",
            "owner": str(users["clerk"]),
        },
    )
    assert response.status_code == 422
    assert "http://" in response.get_data(as_text=True)
    with app.app_context():
        assert get_session().scalar(sa.select(sa.func.count()).select_from(Document)) == 0
