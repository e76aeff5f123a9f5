import re
import time

import sqlalchemy as sa

from qms.auth.models import User
from qms.trail.models import TrailEntry
from tests.conftest import login
from tests.factories import TEST_PASSWORD


def _trail_actions(app):
    with app.app_context():
        from qms.db import get_session

        return [
            e.action for e in get_session().scalars(sa.select(TrailEntry).order_by(TrailEntry.seq))
        ]


def test_sign_in_lands_on_the_role_home_page(client_as):
    for username, role in [
        ("clerk", "quality_clerk"),
        ("staff", "staff"),
        ("admin", "admin"),
        ("gm", "approver"),
        ("auditor", "auditor"),
    ]:
        page = client_as(username).get("/")
        assert page.status_code == 200
        assert f'data-role="{role}"' in page.get_data(as_text=True)


def test_wrong_password_is_refused_and_recorded(app, client, users):
    response = login(client, "clerk", "wrong-password-123")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert "password_failed" in _trail_actions(app)
    assert client.get("/").status_code == 302


def test_unknown_user_gets_the_same_message(app, client, users):
    response = login(client, "nobody", "whatever-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert "sign_in_failed" in _trail_actions(app)


def test_disabled_user_is_refused(app, client, users):
    with app.app_context():
        from qms.db import get_session

        s = get_session()
        s.get(User, users["staff"]).active = False
        s.commit()
    response = login(client, "staff")
    assert response.status_code == 403
    assert "已停用" in response.get_data(as_text=True)


def test_five_failures_lock_the_account_for_fifteen_minutes(app, client, users):
    for _ in range(5):
        login(client, "reviewer", "wrong-password-123")
    response = login(client, "reviewer")  # right password, but locked
    assert response.status_code == 403
    assert "锁定" in response.get_data(as_text=True)
    with app.app_context():
        from qms.db import get_session, utcnow

        user = get_session().get(User, users["reviewer"])
        minutes = (user.locked_until - utcnow()).total_seconds() / 60
        assert 14 < minutes <= 15
    assert "locked" in _trail_actions(app)


def test_administrator_sees_and_clears_a_lock(app, client, client_as, users):
    for _ in range(5):
        login(client, "reviewer", "wrong-password-123")
    admin = client_as("admin")
    assert "reviewer" in admin.get("/").get_data(as_text=True)
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "已锁定" in page
    admin.post(f"/admin/users/{users['reviewer']}", data={"action": "unlock"})
    assert login(app.test_client(), "reviewer").status_code == 302


def test_session_expires_after_inactivity(app, client_as):
    c = client_as("staff")
    assert c.get("/").status_code == 200
    with c.session_transaction() as sess:
        sess["last_seen"] = time.time() - 31 * 60
    response = c.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert c.get("/").status_code == 302  # still signed out
    assert "session_expired" in _trail_actions(app)


def test_sign_out(client_as):
    c = client_as("staff")
    assert c.post("/logout").status_code == 302
    assert c.get("/").status_code == 302


def test_csrf_token_is_required(users, app):
    c = app.test_client()
    # missing token (the test client adds the page's token unless one is named)
    response = c.post(
        "/login", data={"username": "clerk", "password": TEST_PASSWORD, "csrf_token": ""}
    )
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)
    # forged token
    response = c.post(
        "/login", data={"username": "clerk", "password": TEST_PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400
    # the real one
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = c.post(
        "/login", data={"username": "clerk", "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_cookies_are_httponly_and_samesite(client, users):
    response = login(client, "staff")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_language_switch_to_english(client_as):
    c = client_as("staff")
    assert "退出" in c.get("/").get_data(as_text=True)
    c.post("/lang/en", data={"next": "/"})
    page = c.get("/").get_data(as_text=True)
    assert "Sign out" in page
    assert "退出" not in page


def test_open_redirect_is_refused(client, users):
    response = client.post(
        "/login?next=//evil.example.com/", data={"username": "staff", "password": TEST_PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_error_pages_are_in_the_layout(client_as):
    c = client_as("staff")
    response = c.get("/no/such/page")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "找不到" in text or "不存在" in text
    assert 'class="topbar"' in text
    assert c.get("/admin/users").status_code == 403


def test_home_page_starts_with_a_search_box(client_as):
    page = client_as("staff").get("/").get_data(as_text=True)
    assert 'action="/search"' in page
    assert "今天要查哪项制度或流程" in page


def test_navigation_groups_less_frequent_pages(client_as):
    clerk = client_as("clerk").get("/").get_data(as_text=True)
    assert '<details class="navgroup">' in clerk
    assert "文件控制" in clerk or "文件管理" in clerk
    assert 'href="/distribution/recalls"' in clerk
    staff = client_as("staff").get("/").get_data(as_text=True)
    assert 'href="/distribution/recalls"' not in staff
    assert 'href="/admin/users"' not in staff
    assert 'href="/admin/users"' in client_as("admin").get("/").get_data(as_text=True)


def test_own_password_change_refuses_spaces_and_says_why(app, client_as):
    staff = client_as("staff")
    response = staff.post(
        "/account", data={"action": "password", "pw-current": TEST_PASSWORD, "pw-new": " " * 12}
    )
    assert response.status_code == 422
    assert "空格" in response.get_data(as_text=True)
    assert login(app.test_client(), "staff").status_code == 302  # unchanged
