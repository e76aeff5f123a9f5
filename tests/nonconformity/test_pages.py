"""The nonconformity pages, as people use them with CSRF on: raise, cause and plan, actions,
verification with a signature, close; each refused step keeps what was typed and stores
nothing. The register's filters and its statement count."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from qms import clock
from tests.factories import TEST_PASSWORD
from tests.forms import submit_form
from tests.web.test_documents_pages import count_queries


def _count(app: Any, model_name: str) -> int:
    from qms.nonconformity import models

    with app.app_context():
        from qms.db import get_session

        model = getattr(models, model_name)
        return get_session().scalar(sa.select(sa.func.count()).select_from(model)) or 0


def _nc_id(response: Any) -> int:
    found = re.search(r"/nonconformities/(\d+)", response.headers["Location"])
    assert found
    return int(found.group(1))


def test_a_nonconformity_from_raising_to_closed(app: Any, users: Any, client_as: Any) -> None:
    auditor = client_as("auditor")
    page = auditor.get("/nonconformities/new")
    assert page.status_code == 200
    raised_on = (clock.today() - timedelta(days=10)).isoformat()
    typed = {
        "source": "internal_audit",
        "source_label": "2026年第二次内审",
        "department": "KF",
        "clause": "7.5.3",
        "grade": "general",
        "description": "投诉记录未按规定保存",
        "raised_on": raised_on,
        "verification_interval_days": "0",
    }
    # no evidence: refused, in Chinese, what was typed kept, nothing stored
    refused = submit_form(auditor, page, "/nonconformities/new", evidence="  ", **typed)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "不符合项必须有客观证据" in html and "投诉记录未按规定保存" in html
    assert _count(app, "Nonconformity") == 0

    done = submit_form(auditor, page, "/nonconformities/new", evidence="抽查20份缺3份", **typed)
    assert done.status_code == 302
    nc_id = _nc_id(done)
    url = f"/nonconformities/{nc_id}"

    head = client_as("approver")  # head of KF, the owner by default
    page = head.get(url)
    assert "待处理" in page.get_data(as_text=True)
    page = head.get(
        submit_form(
            head,
            page,
            f"{url}/cause",
            why1="回访未记录",
            why2="流程未要求",
            root_cause="流程缺陷",
            plan="修订流程",
        ).headers["Location"]
    )
    # an action due before the day raised: refused, the description kept
    before = (clock.today() - timedelta(days=11)).isoformat()
    staff_id = str(users["staff"])
    refused = submit_form(
        head, page, f"{url}/actions", description="修订投诉处理流程", owner=staff_id, due_on=before
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "早于不符合项的提出日期" in html and "修订投诉处理流程" in html
    assert _count(app, "CorrectiveAction") == 0
    submit_form(
        head,
        page,
        f"{url}/actions",
        description="修订投诉处理流程",
        owner=staff_id,
        due_on=clock.today().isoformat(),
    )
    page = head.get(url)
    submit_form(head, page, f"{url}/step", where={"action": "start_actions"})

    staff = client_as("staff")
    page = staff.get(url)
    action_id = re.search(r"/actions/(\d+)/done", page.get_data(as_text=True))
    assert action_id
    submit_form(staff, page, f"{url}/actions/{action_id.group(1)}/done", note="已修订并培训")
    # the action owner may not close or verify
    assert staff.post(f"{url}/step", data={"action": "close"}).status_code in (400, 403)

    page = head.get(url)
    submit_form(head, page, f"{url}/step", where={"action": "submit_for_verification"})

    # closing before anyone verified is refused
    manager = client_as("manager")
    page = manager.get(url)
    refused = submit_form(manager, page, f"{url}/step", where={"action": "close"})
    assert refused.status_code == 409 and "尚未验证" in refused.get_data(as_text=True)

    # the verifier signs: a wrong password is refused, the comment kept, nothing signed
    page = auditor.get(url)
    refused = submit_form(
        auditor, page, f"{url}/verify", password="wrong-password", comment="抽查10份均有回访"
    )
    assert refused.status_code == 403
    html = refused.get_data(as_text=True)
    assert "密码" in html and "抽查10份均有回访" in html
    assert _count(app, "Verification") == 0
    submit_form(auditor, page, f"{url}/verify", password=TEST_PASSWORD, comment="抽查10份均有回访")
    assert _count(app, "Verification") == 1

    page = manager.get(url)
    closed = submit_form(manager, page, f"{url}/step", where={"action": "close"}, reason="有效")
    assert closed.status_code == 302
    html = manager.get(url).get_data(as_text=True)
    assert "已关闭" in html
    # the whole history on the page, in words
    for words in ("提出", "记录原因与计划", "新增措施", "措施完成", "验证有效", "签名"):
        assert words in html, words


def test_a_verifier_from_the_department_is_told_why(app: Any, users: Any, client_as: Any) -> None:
    from tests.nonconformity.helpers import drive_to_verification, raise_nc

    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        # a nonconformity of the Quality Management Center, the auditor's own department
        nc = raise_nc(
            db,
            raised_on=clock.today() - timedelta(days=40),
            department=_dept_id(db, "PZ"),
            owner=users["manager"],
        )
        nc.verification_interval_days = 0
        drive_to_verification(db, nc, action_owner="clerk")
        db.commit()
        nc_id = nc.id
    html = client_as("auditor").get(f"/nonconformities/{nc_id}").get_data(as_text=True)
    assert "您属于该不符合项的责任部门" in html
    assert f'action="/nonconformities/{nc_id}/verify"' not in html
    refused = client_as("auditor").post(
        f"/nonconformities/{nc_id}/verify", data={"password": TEST_PASSWORD, "comment": "x"}
    )
    assert refused.status_code == 403
    assert "属于该不符合项的责任部门" in refused.get_data(as_text=True)
    assert _count(app, "Verification") == 0


def _dept_id(db: Any, code: str) -> int:
    from qms.auth.models import Department

    return int(db.scalar(sa.select(Department.id).where(Department.code == code)))


def test_register_filters_and_visibility(app: Any, users: Any, client_as: Any) -> None:
    from tests.nonconformity.helpers import raise_nc

    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        raise_nc(db, description="客服部问题", raised_on=clock.today() - timedelta(days=20))
        raise_nc(db, description="品质部问题", grade="serious", department=_dept_id(db, "PZ"))
        db.commit()
    manager = client_as("manager").get("/nonconformities/").get_data(as_text=True)
    assert "客服部问题" in manager and "品质部问题" in manager
    overdue = client_as("manager").get("/nonconformities/?overdue=1").get_data(as_text=True)
    assert "客服部问题" in overdue and "品质部问题" not in overdue
    serious = client_as("manager").get("/nonconformities/?grade=serious").get_data(as_text=True)
    assert "品质部问题" in serious and "客服部问题" not in serious
    by_dept = client_as("manager").get("/nonconformities/?department=PZ").get_data(as_text=True)
    assert "品质部问题" in by_dept and "客服部问题" not in by_dept
    # staff of KF see their department's only
    staff = client_as("staff").get("/nonconformities/").get_data(as_text=True)
    assert "客服部问题" in staff and "品质部问题" not in staff
    # the deadlines, from the one table, are stated on the page
    assert "10 个工作日" in manager and "30 天" in manager


def test_register_statements_do_not_grow_with_rows(app: Any, users: Any, client_as: Any) -> None:
    from tests.nonconformity.helpers import raise_nc

    manager = client_as("manager")

    def add(n: int) -> None:
        with app.test_request_context():
            from qms.db import get_session

            db = get_session()
            for i in range(n):
                raise_nc(
                    db,
                    description=f"问题{i}",
                    owner=users["staff"] if i % 2 else None,
                    department=_dept_id(db, "KF" if i % 3 else "PZ"),
                )
            db.commit()

    def statements() -> int:
        with count_queries(app) as counter:
            assert manager.get("/nonconformities/").status_code == 200
        return int(counter["n"])

    add(2)
    few = statements()
    add(12)
    many = statements()
    assert many == few
    assert many <= REGISTER_MAX


REGISTER_MAX = 12


def test_the_trail_withholds_what_the_reader_may_not_see(
    app: Any, users: Any, client_as: Any
) -> None:
    from tests.nonconformity.helpers import raise_nc

    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        raise_nc(db, evidence="仅品质人员可见的证据")
        db.commit()
    query = "/trail/?object_type=nonconformity"
    assert "仅品质人员可见的证据" in client_as("auditor").get(query).get_data(as_text=True)
    admin = client_as("admin").get(query)
    assert admin.status_code == 200
    assert "仅品质人员可见的证据" not in admin.get_data(as_text=True)
