"""A new user sees how the manual's next revision is being written (demo data)."""

import sqlalchemy as sa

from qms import clock


def test_demo_has_a_writing_plan_with_a_late_and_a_submitted_item(app):
    with app.test_request_context():
        from qms.db import get_session
        from qms.demo import create_demo_data
        from qms.writing import service
        from qms.writing.models import WritingPlan

        s = get_session()
        assert create_demo_data(s) is not None
        s.commit()
        plan = s.scalar(sa.select(WritingPlan))
        assert plan.title == "质量手册 B/0 换版" and plan.state == "writing"
        progress = [str(r.progress) for r in service.standings(plan, clock.today())]
        assert progress.count("in") == 1 and progress.count("late") == 1
        assert {i.department.code for i in plan.items} >= {"KF", "BA"}
        answered = [q for q in plan.questions if q.answered_at]
        assert len(answered) == 1 and answered[0].consultant.name == "刘建华"
        assert len(plan.questions) == 2
        regulation = next(i for i in plan.items if i.kind == "regulation")
        assert regulation.writer.username == "reviewer"  # a department person
        assert service.drafted_on_item(regulation) and regulation.document is None
        assert service.current_text(regulation).version == 1
    client = app.test_client()
    with app.app_context():
        from qms.auth import service as auth
        from qms.auth.passwords import hash_password
        from qms.db import get_session
        from tests.factories import TEST_PASSWORD

        s = get_session()
        for name in ("staff", "clerk"):
            auth.user_by_username(s, name).password_hash = hash_password(TEST_PASSWORD)
        s.commit()
    from tests.conftest import login

    assert login(client, "staff").status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert 'id="writing-panel"' in home and "第1章 质量方针和质量目标" in home
    clerk = app.test_client()
    assert login(clerk, "clerk").status_code == 302
    assert 'href="/writing-plans/"' in clerk.get("/").get_data(as_text=True)  # in the menu
    plans = clerk.get("/writing-plans/").get_data(as_text=True)
    assert "质量手册 B/0 换版" in plans
