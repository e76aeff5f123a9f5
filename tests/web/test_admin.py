import sqlalchemy as sa

from qms.auth.models import User
from qms.trail.models import TrailEntry
from tests.conftest import login


def test_admin_creates_a_user_who_can_sign_in(app, client_as):
    admin = client_as("admin")
    response = admin.post(
        "/admin/users/new",
        data={
            "username": "wang",
            "display_name": "王芳",
            "department": "KF",
            "roles": ["staff", "reviewer"],
            "password": "a-good-password",
            "active": "y",
        },
    )
    assert response.status_code == 302
    assert login(app.test_client(), "wang", "a-good-password").status_code == 302


def test_username_is_never_reused(client_as, users, app):
    admin = client_as("admin")
    response = admin.post(
        "/admin/users/new",
        data={
            "username": "staff",
            "display_name": "x",
            "roles": ["staff"],
            "password": "a-good-password",
        },
    )
    assert response.status_code == 409
    assert "不能重复使用" in response.get_data(as_text=True)


def test_weak_password_is_refused(client_as):
    response = client_as("admin").post(
        "/admin/users/new",
        data={
            "username": "li",
            "display_name": "李",
            "roles": ["staff"],
            "password": "short",
        },
    )
    assert response.status_code == 422
    assert "至少" in response.get_data(as_text=True)


def test_role_change_is_in_the_trail_with_reason(app, client_as, users):
    admin = client_as("admin")
    admin.post(
        f"/admin/users/{users['staff']}",
        data={
            "action": "save",
            "display_name": "郑晓",
            "department": "KF",
            "roles": ["staff", "reviewer"],
            "active": "y",
            "reason": "joins the review team",
        },
    )
    with app.app_context():
        from qms.db import get_session

        s = get_session()
        assert {str(r) for r in s.get(User, users["staff"]).roles} == {"staff", "reviewer"}
        entry = s.scalar(
            sa.select(TrailEntry)
            .where(TrailEntry.action == "roles", TrailEntry.object_id == "staff")
            .order_by(TrailEntry.seq.desc())
        )
        assert entry.old_value == "staff"
        assert entry.new_value == "reviewer,staff"
        assert entry.reason == "joins the review team"
        assert entry.actor_name == "系统管理员"


def test_department_tree(client_as):
    admin = client_as("admin")
    response = admin.post(
        "/admin/departments",
        data={"code": "KF-A", "name": "客服一部", "name_en": "CS 1", "parent": "KF"},
    )
    assert response.status_code == 302
    page = admin.get("/admin/departments").get_data(as_text=True)
    assert "客服一部" in page
    # a department cannot sit under its own child
    response = admin.post(
        "/admin/departments/KF",
        data={"name": "客户服务中心", "name_en": "", "parent": "KF-A", "active": "y"},
    )
    assert response.status_code == 422


def test_trail_page_filters_and_exports(client_as):
    auditor = client_as("auditor")
    page = auditor.get("/trail/?action=sign_in")
    assert page.status_code == 200
    assert "sign_in" in page.get_data(as_text=True)
    csv = auditor.get("/trail/export.csv?action=sign_in")
    assert csv.status_code == 200
    text = csv.get_data(as_text=True)
    assert text.startswith("\ufeffseq,at_utc,actor")
    assert "sign_in" in text


def test_a_common_password_is_refused_with_why_and_how(app, client_as):
    """Issue 11, item 13: strength, not length; the message says why and how, in Chinese."""
    response = client_as("admin").post(
        "/admin/users/new",
        data={
            "username": "li",
            "display_name": "李",
            "roles": ["staff"],
            "password": "password1234",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "常见" in page
    assert "三四个互不相关的词语" in page
    with app.app_context():
        from qms.db import get_session

        assert get_session().scalar(sa.select(User).where(User.username == "li")) is None


def test_reset_refuses_a_whitespace_password(app, client_as, users):
    response = client_as("admin").post(
        f"/admin/users/{users['staff']}", data={"action": "reset", "reset-new": " " * 16}
    )
    assert response.status_code == 422
    assert "空格" in response.get_data(as_text=True)
    assert login(app.test_client(), "staff").status_code == 302  # old password unchanged


def test_cli_refuses_a_weak_password(app, users):
    from click.testing import CliRunner

    from qms.cli import user_password

    with app.app_context():
        result = CliRunner().invoke(
            user_password, ["staff"], input="qwertyuiop12\nqwertyuiop12\n"
        )
    assert result.exit_code == 2
    assert "常用密码" in result.output or "commonly used" in result.output
    assert login(app.test_client(), "staff").status_code == 302
