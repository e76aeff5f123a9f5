"""The auditor's home page: issued and withdrawn documents, overdue periodic reviews, open
review defects, the latest trail entries and the trail's verification, each line linking
only to what the auditor may open."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from qms import clock
from qms.auth.models import User
from qms.documents import service as documents
from qms.reviews.lifecycle import ReviewState
from tests.factories import TEST_PASSWORD, make_document
from tests.reviews.conftest import advance, plan, raise_defect, team  # noqa: F401 - fixture


def _user(db, name):
    return db.scalar(sa.select(User).where(User.username == name))


def _world(db, team):  # noqa: F811 - the fixture
    clerk = _user(db, "clerk")
    people = {"author": clerk, "reviewer": _user(db, "reviewer"),
              "approver": _user(db, "approver"), "clerk": clerk}
    overdue = make_document(db, state="effective", title="业主档案管理制度", **people)
    overdue.next_review_date = clock.today() - timedelta(days=3)
    gone = make_document(db, state="effective", title="旧车辆管理制度", **people)
    revision = gone.current_revision
    documents.withdraw(db, clerk, gone, reason="合并到新制度", password=TEST_PASSWORD,
                       content_sha256=revision.content_sha256)
    review = advance(db, team, plan(db, team), ReviewState.PRE_REVIEW)
    raise_defect(db, team, review, description="第三条的时限与流程不一致")
    db.commit()
    return {"overdue": overdue.number, "gone": gone.number, "review_id": review.id}


def _panel(html, anchor):
    start = html.index(f'id="{anchor}"')
    return html[start:html.index("</section>", start)]


def test_auditor_home_shows_what_an_auditor_needs(db, users, team, client_as):  # noqa: F811
    world = _world(db, team)
    auditor = client_as("auditor")
    html = auditor.get("/").get_data(as_text=True)
    for title in ("最近发布和作废的文件", "定期评审已逾期", "未关闭的评审缺陷", "最新审计追踪记录",
                  "审计追踪校验"):
        assert f"<h2>{title}</h2>" in html

    issued = _panel(html, "auditor-issued")
    assert f'{world["gone"]} 旧车辆管理制度 · A/0</a>' in issued
    assert "作废 ·" in issued and "发布 ·" in issued
    overdue = _panel(html, "auditor-overdue")
    due = (clock.today() - timedelta(days=3)).isoformat()
    assert f"{world['overdue']} 业主档案管理制度</a>" in overdue
    assert f"应于 {due} 评审" in overdue
    defects = _panel(html, "auditor-defects")
    assert "#1 第三条的时限与流程不一致</a>" in defects
    assert f'href="/reviews/{world["review_id"]}"' in defects
    trail = _panel(html, "auditor-trail")
    assert re.search(r"#\d+ 赵云（内审员） · 登录 · 用户 auditor", trail)  # in words, not codes
    assert 'data-status="never"' in html and "审计追踪尚未校验。" in html

    # every link of the auditor's panels opens for the auditor
    for anchor in ("auditor-issued", "auditor-overdue", "auditor-defects"):
        for href in re.findall(r'href="([^"]+)"', _panel(html, anchor)):
            assert auditor.get(href).status_code == 200, href


def test_the_verification_status_is_the_last_verify_trail_run(app, db, users, client_as):
    from click.testing import CliRunner

    from qms.cli import verify_trail

    make_document(db, state="draft", author=_user(db, "clerk"))
    db.commit()
    with app.app_context():
        assert CliRunner().invoke(verify_trail, [], env={"LANG": "en"}).exit_code == 0
    make_document(db, state="draft", author=_user(db, "clerk"), title="新制度")
    db.commit()
    html = client_as("auditor").get("/").get_data(as_text=True)
    status = html[html.index('id="auditor-verify"'):]
    assert 'data-status="verified"' in status
    assert re.search(r"已于 \d{4}-\d\d-\d\d \d\d:\d\d 校验：共 \d+ 条记录完整无误", status)
    assert re.search(r"此后新增 [1-9]\d* 条记录。", status)


def test_a_failed_verification_shows_on_the_auditor_home(app, db, users, client_as):
    from click.testing import CliRunner

    from qms.cli import verify_trail
    from qms.trail.models import TrailEntry

    make_document(db, state="draft", author=_user(db, "clerk"))
    db.commit()
    db.execute(sa.update(TrailEntry).where(TrailEntry.seq == 2).values(reason="改过"))
    db.commit()
    with app.app_context():
        assert CliRunner().invoke(verify_trail, [], env={"LANG": "en"}).exit_code == 1
    html = client_as("auditor").get("/").get_data(as_text=True)
    status = html[html.index('id="auditor-verify"'):]
    assert 'data-status="broken"' in status
    assert re.search(r"的校验发现审计追踪有 [1-9]\d* 处问题", status)


def test_other_roles_do_not_get_the_auditor_panels(db, users, client_as):
    for name in ("staff", "clerk"):
        html = client_as(name).get("/").get_data(as_text=True)
        assert 'id="auditor-defects"' not in html and 'id="auditor-verify"' not in html


def test_an_unreadable_verification_file_counts_as_never_verified(app, users, client_as):
    from qms.trail import verification

    verification.path_in(app.config["DATA_DIR"]).write_text("{not json", encoding="utf-8")
    html = client_as("auditor").get("/").get_data(as_text=True)
    assert 'data-status="never"' in html and "审计追踪尚未校验。" in html
