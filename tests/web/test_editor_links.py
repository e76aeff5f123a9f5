"""The draft editor: links to other documents, the preview, the starting text of a kind."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from qms.auth.models import User
from qms.documents import service
from qms.documents.models import Document, Revision
from qms.procedures.models import DocumentLink
from qms.trail.models import TrailEntry
from tests.factories import make_document
from tests.forms import find_form, submit_form


def press(client, page, url, button, **typed):
    """Submit the editor's form with one of its named buttons pressed."""
    form = find_form(page.get_data(as_text=True), url, {"title": "服务投诉处理制度"})
    name, value = button
    assert name in form.names and not set(typed) - form.names
    return client.post(url, data={**form.fields, **typed, name: value})


def _user(db, name):
    return db.scalar(sa.select(User).where(User.username == name))


@pytest.fixture
def docs(app, users):
    """A draft regulation of the clerk, an effective process and a confidential document."""
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        clerk = _user(db, "clerk")
        draft = make_document(db, state="draft", author=clerk, title="服务投诉处理制度")
        target = make_document(
            db,
            state="effective",
            author=clerk,
            reviewer=_user(db, "reviewer"),
            approver=_user(db, "approver"),
            clerk=clerk,
            kind="process",
            title="业主投诉处理流程",
        )
        db.commit()
        return {
            "draft": draft.number,
            "rev": draft.working_revision.id,
            "target": target.number,
            "target_rev": target.current_revision_id,
        }


def _editor(client, docs):
    url = f"/documents/{docs['draft']}/edit/{docs['rev']}"
    return url, client.get(url)


LINKS = "/procedures/editor/{draft}/{rev}/links"


def _links_url(docs):
    return LINKS.format(**docs)


def _stored_links(app, rev_id):
    with app.app_context():
        from qms.db import get_session

        return [
            (str(link.kind), link.target_number)
            for link in get_session().scalars(
                sa.select(DocumentLink).where(DocumentLink.revision_id == rev_id)
            )
        ]


def test_add_a_link_in_the_editor_and_see_it_on_the_document_page(app, client_as, docs):
    clerk = client_as("clerk")
    _url, page = _editor(clerk, docs)
    html = page.get_data(as_text=True)
    assert "与其他文件的关联" in html
    # the searchable field offers the documents the author may read, not the draft itself
    assert f'<option value="{docs["target"]} 业主投诉处理流程">' in html
    assert f'<option value="{docs["draft"]} ' not in html
    before = _hash(app, docs["rev"])
    done = submit_form(
        clerk,
        page,
        _links_url(docs),
        where={"action": "add"},
        kind="controls",
        target=f"{docs['target']} 业主投诉处理流程",
    )
    assert done.status_code == 302
    page = clerk.get(done.headers["Location"]).get_data(as_text=True)
    assert f"已关联 {docs['target']}（控制）。" in page
    assert re.search(rf'<tr data-number="{docs["target"]}">\s*<td>控制</td>', page)
    assert _stored_links(app, docs["rev"]) == [("controls", docs["target"])]
    assert _hash(app, docs["rev"]) != before  # the link is part of what is signed
    shown = clerk.get(f"/documents/{docs['draft']}").get_data(as_text=True)
    assert 'id="controls-processes"' in shown and docs["target"] in shown
    trail = clerk.get(f"/documents/{docs['draft']}/trail").get_data(as_text=True)
    assert f"controls: {docs['target']}" in trail


def _hash(app, rev_id):
    with app.app_context():
        from qms.db import get_session

        return get_session().get(Revision, rev_id).content_sha256


def test_remove_a_link(app, client_as, docs):
    clerk = client_as("clerk")
    _url, page = _editor(clerk, docs)
    submit_form(
        clerk,
        page,
        _links_url(docs),
        where={"action": "add"},
        kind="references",
        target=docs["target"].lower(),
    )
    assert _stored_links(app, docs["rev"]) == [("references", docs["target"])]
    _url, page = _editor(clerk, docs)
    done = submit_form(clerk, page, _links_url(docs), where={"action": "remove"})
    assert done.status_code == 302
    page = clerk.get(done.headers["Location"]).get_data(as_text=True)
    assert "已删除关联。" in page
    assert "此版本与其他文件没有关联。" in page
    assert _stored_links(app, docs["rev"]) == []
    with app.app_context():
        from qms.db import get_session

        entries = (
            get_session()
            .scalars(sa.select(TrailEntry).where(TrailEntry.object_type == "revision_links"))
            .all()
        )
        assert [(e.old_value or "", e.new_value or "") for e in entries][-2:] == [
            ("", f"references: {docs['target']}"),
            (f"references: {docs['target']}", ""),
        ]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("ZD-NO-999 不存在的制度", "没有编号为 ZD-NO-999 的文件。"),
        ("", "请填写要关联的文件编号或名称。"),
        ("{draft}", "文件不能关联自身。"),
    ],
)
def test_bad_link_is_refused_on_the_form_with_the_input_kept(app, client_as, docs, typed, message):
    clerk = client_as("clerk")
    _url, page = _editor(clerk, docs)
    typed = typed.format(**docs)
    refused = submit_form(
        clerk, page, _links_url(docs), where={"action": "add"}, kind="uses_form", target=typed
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert f'<p class="error" role="alert" id="link-error">{message}</p>' in html
    assert f'value="{typed}"' in html  # what was typed is still in the field
    assert '<option value="uses_form" selected>' in html
    assert "服务投诉处理制度" in html  # the rest of the editor is there
    assert _stored_links(app, docs["rev"]) == []


def test_same_link_twice_is_refused(app, client_as, docs):
    clerk = client_as("clerk")
    _url, page = _editor(clerk, docs)
    submit_form(
        clerk,
        page,
        _links_url(docs),
        where={"action": "add"},
        kind="references",
        target=docs["target"],
    )
    _url, page = _editor(clerk, docs)
    again = submit_form(
        clerk,
        page,
        _links_url(docs),
        where={"action": "add"},
        kind="references",
        target=docs["target"],
    )
    assert again.status_code == 422
    assert f"{docs['target']} 已作为“引用”关联。" in again.get_data(as_text=True)
    assert _stored_links(app, docs["rev"]) == [("references", docs["target"])]


def test_a_document_the_actor_may_not_read_is_unknown(app, docs):
    """The rule of the service: a confidential document of another department is, to a
    reader not cleared for it, a number that does not exist."""
    from qms.errors import Invalid
    from qms.procedures import service as links
    from qms.procedures.models import LinkKind

    with app.test_request_context():
        from qms.db import get_session
        from qms.documents.models import Confidentiality

        db = get_session()
        secret = make_document(
            db, state="draft", author=_user(db, "manager"), title="薪酬制度", department="CW"
        )
        secret.confidentiality = Confidentiality.CONFIDENTIAL
        db.flush()
        revision = db.get(Revision, docs["rev"])
        with pytest.raises(Invalid) as refused:
            links.add_link(
                db, _user(db, "staff"), revision, kind=LinkKind.REFERENCES, target=secret.number
            )
        assert refused.value.code == "unknown_target"


def test_links_of_an_effective_revision_do_not_change(app, client_as, docs):
    clerk = client_as("clerk")
    response = clerk.post(
        f"/procedures/editor/{docs['target']}/{docs['target_rev']}/links",
        data={
            "action": "add",
            "kind": "references",
            "target": docs["draft"],
            "csrf_token": _csrf(clerk, docs),
        },
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert re.search(r'id="link-error">\S+ 版已批准或已关闭，不能再修改。', html)
    assert f'value="{docs["draft"]}"' in html
    assert _stored_links(app, docs["target_rev"]) == []


def _csrf(client, docs):
    _url, page = _editor(client, docs)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_a_new_revision_starts_with_the_links_of_the_one_it_revises(app, client_as, docs):
    clerk = client_as("clerk")
    _url, page = _editor(clerk, docs)
    submit_form(
        clerk,
        page,
        _links_url(docs),
        where={"action": "add"},
        kind="controls",
        target=docs["target"],
    )
    with app.test_request_context():
        from qms.db import get_session
        from tests.factories import TEST_PASSWORD

        db = get_session()
        doc = db.scalar(sa.select(Document).where(Document.number == docs["draft"]))
        rev = doc.working_revision
        service.submit_for_review(
            db,
            _user(db, "clerk"),
            rev,
            reviewers=[_user(db, "reviewer")],
            approver=_user(db, "approver"),
            password=TEST_PASSWORD,
            content_sha256=rev.content_sha256,
        )
        service.review(
            db,
            _user(db, "reviewer"),
            rev,
            password=TEST_PASSWORD,
            content_sha256=rev.content_sha256,
        )
        service.approve(
            db,
            _user(db, "approver"),
            rev,
            password=TEST_PASSWORD,
            content_sha256=rev.content_sha256,
        )
        service.issue(
            db, _user(db, "clerk"), rev, password=TEST_PASSWORD, content_sha256=rev.content_sha256
        )
        new = service.revise(db, _user(db, "clerk"), doc, major_change=False, change_summary="补充")
        db.commit()
        new_id = new.id
    page = clerk.get(f"/documents/{docs['draft']}/edit/{new_id}").get_data(as_text=True)
    assert re.search(rf'<tr data-number="{docs["target"]}">\s*<td>控制</td>', page)


# -- preview and starting text --------------------------------------------------------------


def test_preview_renders_the_typed_text_like_the_document_page_without_saving(app, client_as, docs):
    clerk = client_as("clerk")
    url, page = _editor(clerk, docs)
    typed = (
        "## 目的\n\n**规范**投诉处理。\n\n<script>alert(1)</script>\n\n"
        "| 类别 | 时限 |\n|---|---|\n| 一般 | 3 天 |\n"
    )
    shown = press(clerk, page, url, ("action", "preview"), body=typed)
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    preview = html[html.index('id="preview"') :]
    assert "<h2" in preview and "目的</h2>" in preview
    assert "<strong>规范</strong>" in preview
    assert "<td>3 天</td>" in preview
    assert "<script>alert(1)</script>" not in html  # sanitised as on the document page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # only inside the text field
    assert "尚未保存" in preview
    with app.app_context():
        from qms.db import get_session

        assert "**规范**" not in get_session().get(Revision, docs["rev"]).body


def test_preview_with_a_bad_title_shows_the_error_and_keeps_the_text(client_as, docs):
    clerk = client_as("clerk")
    url, page = _editor(clerk, docs)
    shown = press(clerk, page, url, ("action", "preview"), title="", body="保留的文本")
    assert shown.status_code == 422
    html = shown.get_data(as_text=True)
    assert "保留的文本" in html
    assert 'id="preview"' not in html


@pytest.mark.parametrize(
    ("kind", "headings"),
    [
        (
            "procedure",
            ["## 一、目的", "## 二、适用范围", "## 三、职责", "## 四、程序", "## 六、记录"],
        ),
        (
            "process",
            ["## 一、目的", "## 二、适用范围", "## 三、职责", "## 四、相关文件", "## 五、记录"],
        ),
        ("regulation", ["## 第一章 总则", "**第一条 目的**", "附则"]),
        ("form", ["## 填写说明"]),
        ("quality_manual", ["## 第 1 章 简介"]),
        ("job_description", ["## 四、岗位职责"]),
    ],
)
def test_a_blank_draft_starts_with_the_headings_of_its_kind(app, client_as, users, kind, headings):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        doc = make_document(db, state="draft", author=_user(db, "clerk"), kind=kind, body="")
        db.commit()
        url = f"/documents/{doc.number}/edit/{doc.working_revision.id}"
    html = client_as("clerk").get(url).get_data(as_text=True)
    textarea = html[html.index("<textarea") : html.index("</textarea>")]
    for heading in headings:
        assert heading in textarea


def test_a_draft_with_text_keeps_its_text(client_as, docs):
    html = (
        client_as("clerk")
        .get(f"/documents/{docs['draft']}/edit/{docs['rev']}")
        .get_data(as_text=True)
    )
    textarea = html[html.index("<textarea") : html.index("</textarea>")]
    assert "为规范投诉处理" in textarea and "第一条" not in textarea
