"""The writing-plan pages with their real forms (CSRF on): each bad input refused with a
clear message in the user's language and nothing stored; who sees what; query bounds."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from qms import clock
from tests.forms import submit_form
from tests.web.test_documents_pages import count_queries
from tests.writing.conftest import item_in, make_plan


def _counts(app):
    with app.app_context():
        from qms.db import get_session
        from qms.writing.models import Comment, PlanItem, Question, WritingPlan

        s = get_session()
        return tuple(
            s.scalar(sa.select(sa.func.count()).select_from(t))
            for t in (WritingPlan, PlanItem, Question, Comment)
        )


def _plan(app, users, state="drafting", **kw):
    with app.test_request_context():
        from qms.auth.models import User
        from qms.db import get_session

        s = get_session()
        u = {n: s.get(User, i) for n, i in users.items()}
        if "items" in kw:
            kw["items"] = [
                item_in(s, u, **{**x, "writer": u[x.get("writer", "reviewer")]})
                for x in kw["items"]
            ]
        plan = make_plan(s, u, state, **kw)
        s.commit()
        return plan.id, [i.id for i in plan.items]


def _day(n):
    return (clock.today() + timedelta(days=n)).isoformat()


def _item_fields(app, users, **kw):
    with app.app_context():
        from qms.auth.models import Department
        from qms.db import get_session

        kf = get_session().scalar(sa.select(Department).where(Department.code == "KF"))
        fields = {
            "item-kind": "manual_section",
            "item-title": "第6章 管家服务",
            "item-department": str(kf.id),
            "item-writer": str(users["staff"]),
            "item-start_on": _day(0),
            "item-draft_due": _day(10),
            "item-final_due": _day(20),
        }
    fields.update(kw)
    return fields


def test_the_clerk_draws_up_a_plan_and_the_manager_confirms_it(app, users, client_as):
    clerk = client_as("clerk")
    page = clerk.get("/writing-plans/new")
    assert page.status_code == 200
    done = submit_form(
        clerk,
        page,
        "/writing-plans/new",
        title="质量手册 B/0 换版",
        scope="QM-01 整体换版",
        training_on=_day(-3),
        trainer="刘建华",
        training_notes="各部门编写人员 12 人参加",
    )
    assert done.status_code == 302
    url = done.headers["Location"]
    page = clerk.get(url)
    html = page.get_data(as_text=True)
    assert "质量手册 B/0 换版" in html and "刘建华" in html and "编制中" in html
    # confirming with no items: the manager is told why
    manager = client_as("manager")
    refused = submit_form(
        manager, manager.get(url), url, where={"form": "step"}, **{"step-step": "confirm"}
    )
    assert refused.status_code == 409
    assert "没有项目的计划不能确认" in refused.get_data(as_text=True)
    # an item with the draft due after the final due: refused, nothing stored, kept typed
    before = _counts(app)
    bad = submit_form(
        clerk,
        page,
        url,
        where={"form": "item"},
        **_item_fields(app, users, **{"item-draft_due": _day(30)}),
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "初稿完成日期晚于定稿日期" in text and "第6章 管家服务" in text
    assert _counts(app) == before
    # no writer: refused with words
    bad = submit_form(
        clerk, page, url, where={"form": "item"}, **_item_fields(app, users, **{"item-writer": ""})
    )
    assert bad.status_code == 422 and "请指定第6章 管家服务的编写人" in bad.get_data(as_text=True)
    assert _counts(app) == before
    added = submit_form(clerk, page, url, where={"form": "item"}, **_item_fields(app, users))
    assert added.status_code == 302
    assert "第6章 管家服务" in clerk.get(url).get_data(as_text=True)
    # the clerk is not offered the confirmation; the manager confirms
    assert 'value="confirm"' not in clerk.get(url).get_data(as_text=True)
    done = submit_form(
        manager, manager.get(url), url, where={"form": "step"}, **{"step-step": "confirm"}
    )
    assert done.status_code == 302
    assert "已确认" in manager.get(url).get_data(as_text=True)


def test_a_writer_starts_a_section_from_the_template_and_submits_it(app, users, client_as):
    plan_id, items = _plan(app, users, "confirmed")
    staff = client_as("staff")
    url = f"/writing-plans/{plan_id}/items/{items[0]}"
    page = staff.get(url)
    assert page.status_code == 200
    done = submit_form(staff, page, url, where={"form": "start"})
    assert done.status_code == 302
    page = staff.get(url)
    html = page.get_data(as_text=True)
    assert "1.1 目的" in html  # the manual-section template
    saved = submit_form(
        staff, page, url, where={"form": "text"}, **{"section-body": "## 质量方针\n\n业主至上。"}
    )
    assert saved.status_code == 302
    page = staff.get(url)
    assert "业主至上。" in page.get_data(as_text=True)
    # a stale save (the page of version 1 posted again) is refused, nothing lost
    stale = staff.post(
        url, data={"form": "text", "section-body": "旧稿", "section-base_version": "1"}
    )
    assert stale.status_code == 409
    assert "第 2 版" in stale.get_data(as_text=True)
    submitted = submit_form(staff, page, url, where={"form": "submit"})
    assert submitted.status_code == 302
    html = staff.get(url).get_data(as_text=True)
    assert clock.today().isoformat() in html and "已交稿" in html
    # another writer of the plan may read it but not change it
    reviewer = client_as("reviewer")
    assert reviewer.get(url).status_code == 200
    refused = reviewer.post(
        url, data={"form": "text", "section-body": "改", "section-base_version": "2"}
    )
    assert refused.status_code == 403


def _staff_regulation(app, users, state="confirmed"):
    return _plan(
        app,
        users,
        state,
        items=[
            {"title": "第1章 质量方针", "writer": "reviewer"},
            {"kind": "regulation", "title": "客户回访制度", "writer": "staff"},
        ],
    )


def _document_count(app):
    with app.app_context():
        from qms.db import get_session
        from qms.documents.models import Document

        return get_session().scalar(sa.select(sa.func.count()).select_from(Document))


def test_a_staff_writer_writes_a_regulation_on_the_plan_and_the_clerk_takes_it_in(
    app, users, client_as
):
    plan_id, items = _staff_regulation(app, users)
    url = f"/writing-plans/{plan_id}/items/{items[1]}"
    staff = client_as("staff")
    page = staff.get(url)
    done = submit_form(staff, page, url, where={"form": "start"})
    assert done.status_code == 302
    page = staff.get(url)
    html = page.get_data(as_text=True)
    assert "草稿正文" in html and 'id="section-form"' in html
    assert "第一条 目的" in html and "本制度由品质管理中心负责解释" in html  # the template
    assert "/edit" not in html  # no controlled draft to open yet
    saved = submit_form(
        staff, page, url, where={"form": "text"}, **{"section-body": "## 总则\n\n每月回访。"}
    )
    assert saved.status_code == 302
    page = staff.get(url)
    saved = submit_form(
        staff, page, url, where={"form": "text"}, **{"section-body": "## 总则\n\n每周回访。"}
    )
    assert saved.status_code == 302
    # the page of version 2 posted again: refused, the writer's text kept in the form
    stale = submit_form(
        staff, page, url, where={"form": "text"}, **{"section-body": "## 总则\n\n我的稿。"}
    )
    assert stale.status_code == 409
    stale_html = stale.get_data(as_text=True)
    assert "第 3 版" in stale_html and "我的稿。" in stale_html
    page = staff.get(url)
    assert "每周回访。" in page.get_data(as_text=True)
    # the writer sees no take-in button
    assert 'id="take-in-form"' not in page.get_data(as_text=True)
    submitted = submit_form(staff, page, url, where={"form": "submit"})
    assert submitted.status_code == 302
    assert staff.post(url, data={"form": "take_in"}).status_code == 403
    clerk = client_as("clerk")
    consolidation = clerk.get(f"/writing-plans/{plan_id}/consolidation").get_data(as_text=True)
    assert "已提交，尚未纳入" in consolidation
    page = clerk.get(url)
    assert 'id="take-in-form"' in page.get_data(as_text=True)
    before = _document_count(app)
    taken = submit_form(clerk, page, url, where={"form": "take_in"})
    assert taken.status_code == 302
    assert _document_count(app) == before + 1
    html = clerk.get(url).get_data(as_text=True)
    assert 'id="take-in-form"' not in html and "纳入受控草稿" in html
    with app.app_context():
        from qms.db import get_session
        from qms.writing.models import PlanItem

        number = get_session().get(PlanItem, items[1]).number
    assert f"/documents/{number}" in html  # the link to the controlled draft
    assert "每周回访。" in clerk.get(f"/documents/{number}").get_data(as_text=True)
    register = clerk.get("/documents/?status=draft").get_data(as_text=True)
    assert number in register and "客户回访制度" in register
    consolidation = clerk.get(f"/writing-plans/{plan_id}/consolidation").get_data(as_text=True)
    assert "已纳入" in consolidation and f"/documents/{number}" in consolidation
    # taken in twice: refused, nothing more stored
    again = clerk.post(url, data={"form": "take_in"})  # the page as it was, posted again
    assert again.status_code == 409
    assert _document_count(app) == before + 1
    # the writer's text is frozen now
    frozen = staff.get(url).get_data(as_text=True)
    assert 'id="section-form"' not in frozen and "每周回访。" in frozen


def test_taking_in_before_the_text_is_submitted_is_refused_on_the_page(app, users, client_as):
    plan_id, items = _staff_regulation(app, users)
    url = f"/writing-plans/{plan_id}/items/{items[1]}"
    staff = client_as("staff")
    submit_form(staff, staff.get(url), url, where={"form": "start"})
    clerk = client_as("clerk")
    page = clerk.get(url)
    assert 'id="take-in-form"' not in page.get_data(as_text=True)
    before = _document_count(app)
    refused = clerk.post(url, data={"form": "take_in"})
    assert refused.status_code == 409
    assert "尚未提交" in refused.get_data(as_text=True)
    assert _document_count(app) == before


def test_questions_are_answered_and_seen_by_every_writer(app, users, client_as):
    plan_id, items = _plan(app, users, "writing")
    with app.test_request_context():
        from qms.auth.models import User
        from qms.certification import service as certification
        from qms.db import get_session

        s = get_session()
        certification.create_consultant(s, s.get(User, users["manager"]), name="刘建华")
        s.commit()
    url = f"/writing-plans/{plan_id}"
    staff = client_as("staff")
    asked = submit_form(
        staff,
        staff.get(url),
        url,
        where={"form": "question"},
        **{"question-text": "质量目标要按部门分解吗？", "question-item": str(items[0])},
    )
    assert asked.status_code == 302
    before = _counts(app)
    empty = submit_form(staff, staff.get(url), url, where={"form": "question"})
    assert empty.status_code == 422
    assert "疑问为必填项。" in empty.get_data(as_text=True)
    assert _counts(app) == before
    # the writer cannot answer; the manager answers with the consultant's words
    assert staff.post(url, data={"form": "answer", "answer-text": "x"}).status_code == 403
    manager = client_as("manager")
    page = manager.get(url)
    with app.app_context():
        from qms.certification.models import Consultant
        from qms.db import get_session

        consultant = get_session().scalar(sa.select(Consultant))
    answered = submit_form(
        manager,
        page,
        url,
        where={"form": "answer"},
        **{"answer-text": "在 MB-01 中分解。", "answer-consultant": str(consultant.id)},
    )
    assert answered.status_code == 302
    submit_form(
        staff, staff.get(url), url, where={"form": "question"}, **{"question-text": "第二个问题"}
    )
    html = client_as("reviewer").get(url).get_data(as_text=True)
    assert "在 MB-01 中分解。" in html and "顾问 刘建华 解答" in html
    assert html.index("第二个问题") < html.index("质量目标要按部门分解吗？")  # open first


def test_consolidation_assembling_circulating_and_deciding(app, users, client_as):
    plan_id, _items = _plan(app, users, "consolidating")
    clerk = client_as("clerk")
    url = f"/writing-plans/{plan_id}/consolidation"
    page = clerk.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="count-not-started">3</dd>' in html
    refused = submit_form(clerk, page, url, where={"form": "assemble"})
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "以下章节还没有初稿" in text and "第1章 质量方针" in text and "第2章 组织与职责" in text
    with app.test_request_context():
        from qms.auth.models import User
        from qms.db import get_session
        from qms.writing import service

        s = get_session()
        plan = service.get_plan(s, plan_id)
        for item in plan.items[:2]:
            service.start_draft(s, s.get(User, item.writer_id), item)
        s.commit()
    done = submit_form(clerk, clerk.get(url), url, where={"form": "assemble"})
    assert done.status_code == 302
    html = clerk.get(url).get_data(as_text=True)
    assert "QM-01" in html
    plan_url = f"/writing-plans/{plan_id}"
    done = submit_form(
        clerk,
        clerk.get(plan_url),
        plan_url,
        where={"form": "step"},
        **{"step-step": "circulate", "step-deadline": _day(7)},
    )
    assert done.status_code == 302
    with app.app_context():
        from qms.auth.models import Department
        from qms.db import get_session

        gc = get_session().scalar(sa.select(Department).where(Department.code == "GC"))
    page = clerk.get(url)
    done = submit_form(
        clerk,
        page,
        url,
        where={"form": "comment"},
        **{
            "comment-department": str(gc.id),
            "comment-person": "王工",
            "comment-clause": "4.2",
            "comment-text": "增加工程部接口",
        },
    )
    assert done.status_code == 302
    page = clerk.get(url)
    before = _counts(app)
    refused = submit_form(
        clerk, page, url, where={"form": "decide"}, **{"decide-decision": "not_adopted"}
    )
    assert refused.status_code == 422
    assert "不采纳的意见须写明理由" in refused.get_data(as_text=True)
    assert _counts(app) == before
    finalise = submit_form(
        clerk, clerk.get(plan_url), plan_url, where={"form": "step"}, **{"step-step": "finalise"}
    )
    assert finalise.status_code == 409
    assert "还有 1 条传阅意见没有处理结论" in finalise.get_data(as_text=True)
    decided = submit_form(
        clerk,
        clerk.get(url),
        url,
        where={"form": "decide"},
        **{"decide-decision": "not_adopted", "decide-reason": "属于工程部作业文件"},
    )
    assert decided.status_code == 302
    form = clerk.get(f"/writing-plans/{plan_id}/bd-pz-007").get_data(as_text=True)
    assert "属于工程部作业文件" in form and "不采纳" in form and "王工" in form
    done = submit_form(
        clerk, clerk.get(plan_url), plan_url, where={"form": "step"}, **{"step-step": "finalise"}
    )
    assert done.status_code == 302
    assert "已定稿" in clerk.get(plan_url).get_data(as_text=True)


def test_a_staff_member_may_not_open_another_plan(app, users, client_as):
    plan_id, items = _plan(app, users, "writing", items=[{"writer": "reviewer"}])
    staff = client_as("staff")
    for path in ("", f"/items/{items[0]}", "/bd-pz-006"):
        assert staff.get(f"/writing-plans/{plan_id}{path}").status_code == 403
    before = _counts(app)
    response = staff.post(
        f"/writing-plans/{plan_id}", data={"form": "question", "question-text": "偷看"}
    )
    assert response.status_code == 403
    assert _counts(app) == before
    assert f"/writing-plans/{plan_id}" not in staff.get("/writing-plans/").get_data(as_text=True)
    assert staff.get(f"/writing-plans/{plan_id}/consolidation").status_code == 403


def test_the_plan_form_bd_pz_006(app, users, client_as):
    plan_id, _items = _plan(app, users, "confirmed")
    html = client_as("staff").get(f"/writing-plans/{plan_id}/bd-pz-006").get_data(as_text=True)
    assert "文件编写计划表" in html and "第1章 质量方针" in html
    assert "周宁（品质管理中心经理）" in html  # confirmed by the quality manager


def test_query_counts_do_not_grow_with_the_plan(app, users, client_as):
    counts = []
    for n in (2, 8):
        plan_id, _items = _plan(
            app,
            users,
            "writing",
            items=[{"title": f"第{i}章", "writer": "staff"} for i in range(n)],
        )
        with app.test_request_context():
            from qms.auth.models import User
            from qms.db import get_session
            from qms.writing import service

            s = get_session()
            plan = service.get_plan(s, plan_id)
            for item in plan.items:
                service.ask(s, s.get(User, users["staff"]), plan, text="问", item=item)
            s.commit()
        clerk = client_as("clerk")
        for url in (f"/writing-plans/{plan_id}", f"/writing-plans/{plan_id}/consolidation"):
            with count_queries(app) as counter:
                assert clerk.get(url).status_code == 200
            counts.append(counter["n"])
    assert counts[0] == counts[2] and counts[1] == counts[3], counts


def test_query_counts_do_not_grow_with_texts_taken_in(app, users, client_as):
    counts = []
    for n in (2, 6):
        plan_id, items = _plan(
            app,
            users,
            "writing",
            items=[
                {"kind": "regulation", "title": f"制度{i}", "writer": "staff"} for i in range(n)
            ],
        )
        with app.test_request_context():
            from qms.auth.models import User
            from qms.db import get_session
            from qms.writing import service
            from qms.writing.models import PlanItem

            s = get_session()
            staff, clerk_user = s.get(User, users["staff"]), s.get(User, users["clerk"])
            for item_id in items:
                item = s.get(PlanItem, item_id)
                service.start_draft(s, staff, item)
                service.submit_draft(s, staff, item)
                service.take_in(s, clerk_user, item)
            s.commit()
        clerk = client_as("clerk")
        url = f"/writing-plans/{plan_id}/consolidation"
        with count_queries(app) as counter:
            html = clerk.get(url).get_data(as_text=True)
        assert html.count("已纳入") >= n
        counts.append(counter["n"])
    assert counts[0] == counts[1], counts


def test_the_forms_in_word(app, users, client_as):
    import io

    from docx import Document

    plan_id, _items = _plan(app, users, "circulating")
    with app.test_request_context():
        from qms.auth.models import Department, User
        from qms.db import get_session
        from qms.writing import service

        s = get_session()
        plan = service.get_plan(s, plan_id)
        gc = s.scalar(sa.select(Department).where(Department.code == "GC"))
        comment = service.add_comment(
            s,
            s.get(User, users["clerk"]),
            plan,
            department=gc,
            person="王工",
            clause="4.2",
            text="增加接口",
        )
        service.decide_comment(
            s,
            s.get(User, users["clerk"]),
            comment,
            decision="not_adopted",
            reason="属于作业文件",
            confirmed_by="刘建华",
        )
        s.commit()

    def cells(response):
        assert response.status_code == 200
        doc = Document(io.BytesIO(response.data))
        return [c.text for t in doc.tables for row in t.rows for c in row.cells]

    plan_cells = cells(client_as("staff").get(f"/writing-plans/{plan_id}/bd-pz-006.docx"))
    assert "第1章 质量方针" in plan_cells and "初稿完成日期" in plan_cells
    comment_cells = cells(client_as("clerk").get(f"/writing-plans/{plan_id}/bd-pz-007.docx"))
    assert "属于作业文件" in comment_cells and "不采纳" in comment_cells
    assert "QM-01" in comment_cells
    assert client_as("staff").get(f"/writing-plans/{plan_id}/bd-pz-007.docx").status_code == 403


def test_a_number_chosen_for_an_item_is_not_given_to_a_new_document(world):
    s, u = world
    from qms.documents import service as documents
    from qms.documents.models import DocKind
    from tests.writing.conftest import dept

    make_plan(
        s,
        u,
        items=[
            item_in(s, u, kind="form", title="回访记录表", writer=u["clerk"], number="BD-KF-001")
        ],
    )
    assert documents.allocate_number(s, DocKind.FORM, dept(s, "KF")) == "BD-KF-002"


def test_the_trail_names_the_plan_and_its_steps(app, users, client_as):
    plan_id, _items = _plan(app, users, "confirmed")
    html = client_as("manager").get("/trail/").get_data(as_text=True)
    assert f"编写计划 BX-{plan_id:04d}" in html
    assert "编写计划已确认" in html and "新增编写计划项目" in html


def test_consolidation_while_writing_says_when_the_manual_is_assembled(app, users, client_as):
    plan_id, _items = _plan(app, users, "writing")
    html = client_as("clerk").get(f"/writing-plans/{plan_id}/consolidation").get_data(as_text=True)
    assert 'id="assemble-form"' not in html
    assert "计划进入汇总整理阶段后，才能将各章节汇编成手册初稿。" in html
