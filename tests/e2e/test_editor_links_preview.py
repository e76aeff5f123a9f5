"""The clerk writes a new document in the editor: starts from the headings of its kind,
links a controlling regulation (one wrong number on the way), previews and saves."""

import sqlalchemy as sa

from tests.e2e.conftest import sign_in


def _setup(live_app):
    from qms.auth.models import User
    from qms.db import get_session
    from tests.factories import make_document

    with live_app.test_request_context():
        db = get_session()
        who = {u.username: u for u in db.scalars(sa.select(User))}
        regulation = make_document(db, state="effective", author=who["clerk"],
                                   reviewer=who["reviewer"], approver=who["approver"],
                                   clerk=who["clerk"], title="服务投诉处理制度")
        process = make_document(db, state="draft", author=who["clerk"], kind="process",
                                title="业主投诉处理流程", body="")
        db.commit()
        return regulation.number, process.number, process.working_revision.id


def test_clerk_links_previews_and_saves_a_new_process(page, live_server, live_app, tmp_path):
    regulation, number, revision_id = _setup(live_app)
    sign_in(page, live_server, "clerk")
    page.goto(f"{live_server}/documents/{number}/edit/{revision_id}")
    body = page.locator("textarea[name=body]")
    assert "## 一、目的" in body.input_value()  # the headings of a process

    # a wrong number first: the message is on the form, the typed text kept
    page.select_option("#link-kind", "controlled_by")
    page.fill("#link-target", "ZD-XX-999")
    page.click("form.link-add button[type=submit]")
    assert "没有编号为 ZD-XX-999 的文件。" in page.locator("#link-error").inner_text()
    assert page.locator("#link-target").input_value() == "ZD-XX-999"

    # picked from the list: number and title
    options = page.locator("#link-targets option")
    values = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert f"{regulation} 服务投诉处理制度" in values
    page.fill("#link-target", f"{regulation} 服务投诉处理制度")
    page.click("form.link-add button[type=submit]")
    row = page.locator(f'#editor-link-list tr[data-number="{regulation}"]')
    assert row.count() == 1 and "受控于" in row.inner_text()

    # preview: rendered as on the document page, nothing saved yet
    text = "## 一、目的\n\n**规范**业主投诉的处理。\n\n## 二、适用范围\n\n全部项目。\n"
    page.fill("textarea[name=body]", text)
    page.click("#preview-button")
    preview = page.locator("#preview")
    assert preview.locator("strong").inner_text() == "规范"
    assert preview.locator("h2").first.inner_text().startswith("预览")
    assert page.locator("textarea[name=body]").input_value().startswith("## 一、目的")
    page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)

    page.click("#draft-form button[value=save]")
    assert page.locator(".flash-success").count() == 1
    page.goto(f"{live_server}/documents/{number}?revision=A/0")
    assert "规范" in page.locator("#doc-body").inner_text()
    assert regulation in page.locator("#doc-links").inner_text()
