"""The whole-answer cache (qms/pagecache.py): a kept answer is the answer the view would
give now, to this person, in this language, and never outlives a write.

The main check is differential: after each write, every cached page and API answer is
fetched from the app as it runs (cache on) and compared with a fresh render by a second
app on the same database with the cache off. Counts and contents, never times."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from qms import pagecache
from qms.auth.models import User
from qms.db import DataGeneration
from qms.models import metadata
from tests.conftest import login, make_test_app
from tests.factories import TEST_PASSWORD, make_document
from tests.forms import submit_form
from tests.web.test_documents_pages import count_queries

CSRF = re.compile(r'(name="csrf_token" value=")[^"]+(")|(name="csrf-token" content=")[^"]+(")')


def _normal(body: bytes) -> str:
    return CSRF.sub(
        lambda m: (m.group(1) or m.group(3)) + "TOKEN" + (m.group(2) or m.group(4)), body.decode()
    )


def _token(app: Flask, username: str) -> str:
    from qms.auth import service
    from qms.db import get_session

    with app.app_context():
        s = get_session()
        user = service.user_by_username(s, username)
        token = service.create_token(s, user, user, "cache")
        s.commit()
    return str(token)


def _effective(app: Flask, title: str = "服务投诉处理制度") -> str:
    from qms.db import get_session

    with app.test_request_context():
        s = get_session()
        p = {
            u: s.scalar(sa.select(User).where(User.username == u))
            for u in ("clerk", "reviewer", "approver")
        }
        doc = make_document(
            s,
            state="effective",
            title=title,
            author=p["clerk"],
            reviewer=p["reviewer"],
            approver=p["approver"],
            clerk=p["clerk"],
        )
        s.commit()
        return str(doc.number)


def _cache(app: Flask) -> pagecache.PageCache:
    cache = pagecache.cache_of(app)
    assert cache is not None
    return cache


def _generation(app: Flask) -> int:
    with app.extensions["qms.engine"].connect() as conn:
        return int(conn.execute(sa.select(DataGeneration.value)).scalar() or 0)


# -- the bound ------------------------------------------------------------------------------


def _entry(size: int) -> pagecache.Entry:
    return pagecache.Entry(b"x" * size, (), False, time.monotonic())


def test_the_cache_keeps_within_its_bytes_and_drops_the_least_recently_used() -> None:
    cache = pagecache.PageCache(max_bytes=10_000, max_seconds=300)
    for i in range(20):
        assert cache.put(("k", i), _entry(1000))
        assert cache.bytes <= 10_000
    assert len(cache) < 10
    assert cache.get(("k", 0)) is None  # the oldest went first
    assert cache.get(("k", 19)) is not None
    # the most recently used survives the next insertions
    oldest_kept = min(i for i in range(20) if cache.get(("k", i)) is not None)
    cache.get(("k", oldest_kept))
    cache.put(("k", 100), _entry(1000))
    assert cache.get(("k", oldest_kept)) is not None
    # an answer bigger than a quarter of the cache is not kept
    assert not cache.put(("big",), _entry(3000))
    assert cache.get(("big",)) is None
    assert cache.bytes == sum(e.size for e in cache._entries.values())


def test_an_old_entry_is_not_served() -> None:
    cache = pagecache.PageCache(max_bytes=10_000, max_seconds=0)
    cache.put(("k",), _entry(10))
    assert cache.get(("k",)) is None
    assert cache.bytes == 0


def test_size_zero_turns_the_cache_off(database_url: str, tmp_path: Path) -> None:
    app = make_test_app(database_url, tmp_path, PAGE_CACHE_MB=0)
    assert pagecache.cache_of(app) is None


# -- a hit -----------------------------------------------------------------------------------


def test_a_hit_is_the_page_itself_with_a_fresh_csrf_token_and_two_statements(
    app: Flask, users: Any, client_as: Any
) -> None:
    number = _effective(app)
    clerk = client_as("clerk")
    first = clerk.get(f"/documents/{number}")
    hits = _cache(app).hits
    with count_queries(app, kept_answers=True) as counted:
        second = clerk.get(f"/documents/{number}")
    assert _cache(app).hits == hits + 1
    assert counted["n"] <= 1  # the signed-in session, its user and the data generation
    assert second.status_code == 200
    assert _normal(second.data) == _normal(first.data)
    assert second.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert second.headers["X-Frame-Options"] == "DENY"
    tokens = re.findall(rb'name="csrf_token" value="([^"]+)"', second.data)
    assert tokens and b"qms-fresh" not in second.data
    # the form of the kept page posts: its token is valid for this session
    response = submit_form(
        clerk, second, f"/documents/{number}/transition", {"action": "revise"}, comment="改期限"
    )
    assert response.status_code == 302, response.data[:500]
    page = clerk.get(response.headers["Location"]).get_data(as_text=True)
    assert "A/1" in page  # the new revision in work, not the kept page


def test_the_api_hit_needs_two_statements(app: Flask, users: Any) -> None:
    number = _effective(app)
    bearer = {"Authorization": f"Bearer {_token(app, 'staff')}"}
    client = app.test_client()
    # the first use of the token notes when it was used (a write: the next is a miss)
    client.get(f"/api/v1/documents/{number}", headers=bearer)
    first = client.get(f"/api/v1/documents/{number}", headers=bearer)
    with count_queries(app, kept_answers=True) as counted:
        second = client.get(f"/api/v1/documents/{number}", headers=bearer)
    assert counted["n"] <= 1  # the token, its user and the data generation
    assert second.get_json() == first.get_json()
    assert second.headers["Content-Type"] == "application/json"


# -- whose answer -----------------------------------------------------------------------------


def test_one_persons_answer_is_never_served_to_another(
    app: Flask, users: Any, client_as: Any
) -> None:
    from qms.db import get_session

    _effective(app)
    with app.test_request_context():
        s = get_session()
        clerk_user = s.scalar(sa.select(User).where(User.username == "clerk"))
        draft = make_document(s, state="draft", author=clerk_user, title="访客管理草稿制度")
        s.commit()
        draft_number = draft.number
    clerk = client_as("clerk")
    staff = client_as("staff")
    for _ in range(2):
        assert "访客管理草稿制度" in clerk.get("/documents/?state=draft").get_data(as_text=True)
    # the staff member's answer to the same address is their own
    for _ in range(2):
        assert "访客管理草稿制度" not in staff.get("/documents/?state=draft").get_data(as_text=True)
    assert staff.get(f"/documents/{draft_number}").status_code == 404
    # another session of the same person: its own entry, its own CSRF token
    clerk2 = client_as("clerk")
    assert "访客管理草稿制度" in clerk2.get("/documents/?state=draft").get_data(as_text=True)
    # the same person in another language
    zh = clerk.get("/documents/").get_data(as_text=True)
    clerk.post("/lang/en", data={"next": "/documents/"})
    en = clerk.get("/documents/").get_data(as_text=True)
    assert 'lang="en"' in en and en != zh
    clerk.post("/lang/zh_CN", data={"next": "/documents/"})
    assert clerk.get("/documents/").get_data(as_text=True) == zh.replace(
        _csrf(zh), _csrf(clerk.get("/documents/").get_data(as_text=True))
    )


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return match.group(1) if match else "\x00none"


def test_an_ended_session_gets_no_kept_page(app: Flask, users: Any, client_as: Any) -> None:
    from qms.auth import service
    from qms.db import get_session

    number = _effective(app)
    clerk = client_as("clerk")
    for _ in range(2):
        assert clerk.get(f"/documents/{number}").status_code == 200
    with app.app_context():
        s = get_session()
        service.end_all_sessions(s, service.user_by_username(s, "clerk"), "password_changed")
        s.commit()
    response = clerk.get(f"/documents/{number}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    # a revoked token likewise
    token = _token(app, "staff")
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        assert api.get("/api/v1/documents", headers=bearer).status_code == 200
    with app.app_context():
        s = get_session()
        row = service.find_token(s, token)[0]
        assert row is not None
        service.revoke_token(s, row.user, row)
        s.commit()
    assert api.get("/api/v1/documents", headers=bearer).status_code == 401


def test_a_flashed_message_is_shown_and_never_kept(app: Flask, users: Any, client_as: Any) -> None:
    number = _effective(app)
    clerk = client_as("clerk")
    for _ in range(2):
        clerk.get(f"/documents/{number}")  # kept
    with clerk.session_transaction() as session:
        session["_flashes"] = [("info", "一条只显示一次的消息")]
    assert "一条只显示一次的消息" in clerk.get(f"/documents/{number}").get_data(as_text=True)
    for _ in range(2):
        assert "一条只显示一次的消息" not in clerk.get(f"/documents/{number}").get_data(
            as_text=True
        )


# -- every write is seen -------------------------------------------------------------------


def _urls(number: str, query: str) -> list[str]:
    return [
        "/documents/",
        "/documents/?state=draft",
        f"/documents/{number}",
        f"/search?q={query}",
        "/api/v1/documents",
        f"/api/v1/documents/{number}",
        f"/api/v1/search?q={query}",
    ]


class Differential:
    """The app as it runs (cache on) against the same app with the cache off."""

    def __init__(self, app: Flask, fresh: Flask, username: str) -> None:
        self.app, self.fresh = app, fresh
        self.cached_client = app.test_client()
        self.fresh_client = fresh.test_client()
        for client in (self.cached_client, self.fresh_client):
            assert login(client, username).status_code == 302
        token = _token(app, username)
        self.bearer = {"Authorization": f"Bearer {token}"}

    def check(self, urls: list[str], step: str) -> None:
        for url in urls:
            headers = self.bearer if url.startswith("/api/") else {}
            for _ in range(2):  # the second is served from the cache when nothing changed
                kept = self.cached_client.get(url, headers=headers)
            fresh = self.fresh_client.get(url, headers=headers)
            assert kept.status_code == fresh.status_code, (step, url)
            assert _normal(kept.data) == _normal(fresh.data), (step, url)


def test_after_each_write_every_kept_answer_is_what_a_fresh_render_says(
    app: Flask, users: Any, database_url: str, tmp_path: Path
) -> None:
    fresh = make_test_app(database_url, tmp_path, PAGE_CACHE_MB=0)
    number = _effective(app)
    reader = Differential(app, fresh, "staff")
    clerk_view = Differential(app, fresh, "clerk")
    urls = _urls(number, "回访")
    reader.check(urls, "start")
    clerk_view.check(urls, "start")
    as_user = {
        u: {"Authorization": f"Bearer {_token(app, u)}"} for u in ("clerk", "reviewer", "approver")
    }
    api = app.test_client()

    def step(who: str, method: str, path: str, data: dict[str, Any], what: str) -> Any:
        response = api.open(path, method=method, json=data, headers=as_user[who])
        assert response.status_code in (200, 201), (what, response.get_json())
        hits = _cache(app).hits
        reader.check(urls, what)
        clerk_view.check(urls, what)
        assert _cache(app).hits > hits  # the comparison did meet kept answers
        return response.get_json()

    created = step(
        "clerk",
        "POST",
        "/api/v1/documents",
        {
            "title": "业主投诉回访记录制度",
            "kind": "regulation",
            "department": "KF",
            "body": "## 总则\n\n投诉应在3个工作日内答复。\n",
            "change_summary": "首次发布",
        },
        "create",
    )
    new = created["number"]
    urls += [f"/documents/{new}", f"/api/v1/documents/{new}"]
    edited = step(
        "clerk",
        "PATCH",
        f"/api/v1/documents/{new}/draft",
        {
            "body": "## 总则\n\n投诉应在2个工作日内答复，并回访业主。\n",
            "base_hash": created["content_sha256"],
        },
        "edit",
    )
    sha = edited["content_sha256"]
    path = f"/api/v1/documents/{new}/transitions"
    for who, action in (
        ("clerk", "submit"),
        ("reviewer", "review"),
        ("approver", "approve"),
        ("clerk", "issue"),
    ):
        data: dict[str, Any] = {"action": action, "password": TEST_PASSWORD, "content_sha256": sha}
        if action == "submit":
            data |= {"reviewers": ["reviewer"], "approver": "approver"}
        step(who, "POST", path, data, action)
    # the search index took the issued text in after the commit: both searches find it
    assert new in api.get("/api/v1/search?q=回访", headers=reader.bearer).get_data(as_text=True)


def _table_digest(app: Flask) -> str:
    digest = hashlib.sha256()
    with app.extensions["qms.engine"].connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "data_generation":
                continue
            rows = conn.execute(sa.select(table)).all()
            digest.update(repr(sorted(map(repr, rows))).encode())
    return digest.hexdigest()


def test_every_write_of_the_route_matrix_that_changes_a_row_moves_the_generation(
    app: Flask, users: Any
) -> None:
    """For each write route of the authorization matrix, sent by each role it is open to:
    when any row of any table changed, the data generation changed with it."""
    from tests.web.route_matrix import ROUTES
    from tests.web.test_route_matrix import WRITES, _requests, build_world, url_for_rule

    world = build_world(app)
    changed_routes = set()
    failures = []
    for role in sorted(
        {r for a in ROUTES.values() for roles in a.methods().values() for r in roles}
        - {"anonymous"}
    ):
        client = app.test_client()
        assert login(client, role).status_code == 302
        for rule, method in _requests(app):
            if method not in WRITES or rule.endpoint == "auth.logout":
                continue
            if role not in ROUTES[rule.endpoint].methods()[method]:
                continue
            before, generation = _table_digest(app), _generation(app)
            body: dict[str, Any] = {"json": {}} if rule.rule.startswith("/api/") else {"data": {}}
            client.open(url_for_rule(rule, world), method=method, **body).close()
            if _table_digest(app) != before:
                changed_routes.add(rule.endpoint)
                if _generation(app) == generation:
                    failures.append(f"{method} {rule.rule} as {role}")
    assert not failures, failures
    assert len(changed_routes) >= 3, changed_routes


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO department (code, name, name_en, active) VALUES ('ZZ', 'z', 'z', true)",
        "UPDATE department SET name = 'y' WHERE code = 'KF'",
        "DELETE FROM department WHERE code = 'ZZ'",
    ],
)
def test_a_write_through_any_connection_moves_the_generation(app: Flask, statement: str) -> None:
    before = _generation(app)
    with app.extensions["qms.engine"].begin() as conn:
        conn.execute(sa.text(statement))
    assert _generation(app) != before
    # a read, or a write rolled back, leaves it
    before = _generation(app)
    with app.extensions["qms.engine"].connect() as conn:
        conn.execute(sa.text("SELECT count(*) FROM department"))
        conn.execute(sa.text("UPDATE department SET name = 'x' WHERE code = 'KF'"))
        conn.rollback()
    with app.extensions["qms.engine"].begin() as conn:
        conn.execute(sa.text("SELECT count(*) FROM department"))
    assert _generation(app) == before
