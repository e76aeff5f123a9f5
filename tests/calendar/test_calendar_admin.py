"""The administrator's calendar: the year page (CSRF on, its real forms), the JSON API with a
Bearer token, the calculator, and the refusals (a date outside the year, a day twice, a
make-up day on a weekday, someone other than the administrator): each with a clear message
and nothing stored."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from qms.calendar import manage
from qms.calendar.models import CalendarDay, CalendarYear
from qms.calendar.rules import HOLIDAY, WORKDAY, WorkingCalendar
from qms.calendar.service import add_working_days, shipped_years
from qms.trail.models import TrailEntry
from tests.forms import submit_form

D = date


def _counts(app: Flask) -> tuple[int, int, int]:
    with app.extensions["qms.engine"].connect() as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.scalar(sa.select(sa.func.count()).select_from(m)) or 0)
            for m in (CalendarDay, CalendarYear, TrailEntry)
        )


def _token(app: Flask, username: str) -> str:
    from qms.auth import service
    from qms.db import get_session

    with app.app_context():
        s = get_session()
        user = service.user_by_username(s, username)
        token = service.create_token(s, user, user, "calendar")
        s.commit()
        return token


@pytest.fixture
def api(app: Flask, users: Any) -> Any:
    client = app.test_client()
    tokens: dict[str, str] = {}

    def call(username: str, method: str, path: str, body: Any = None) -> Any:
        if username not in tokens:
            tokens[username] = _token(app, username)
        return client.open(
            path, method=method, json=body, headers={"Authorization": f"Bearer {tokens[username]}"}
        )

    return call


# -- the data --------------------------------------------------------------------------------


def test_2027_ships_statutory_days_only_and_no_make_up_days() -> None:
    year = shipped_years()[2027]
    assert not year.confirmed
    assert all(r.kind == HOLIDAY for r in year.days)  # never an invented make-up day
    assert len(year.days) == 13  # 元旦1 春节4 清明1 劳动节2 端午1 中秋1 国庆3
    days = {r.day for r in year.days}
    # lunar dates checked with a lunar-calendar library: 除夕 Feb 5, 端午 Jun 9, 中秋 Sep 15
    assert {D(2027, 2, 5), D(2027, 2, 8), D(2027, 6, 9), D(2027, 9, 15), D(2027, 4, 5)} <= days


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (D(2026, 9, 30), 1, D(2026, 10, 8)),  # across National Day
        (D(2026, 9, 30), 3, D(2026, 10, 10)),  # Saturday Oct 10 is worked
        (D(2026, 10, 9), 1, D(2026, 10, 10)),  # the make-up day itself counts
        (D(2026, 10, 10), 1, D(2026, 10, 12)),  # and Sunday Oct 11 does not
        (D(2026, 12, 31), 1, D(2027, 1, 4)),  # New Year's Day 2027 (statutory) is off
    ],
)
def test_shipped_calendar_table(start: date, n: int, due: date) -> None:
    cal = WorkingCalendar([r for y in shipped_years().values() for r in y.days])
    assert cal.add_working_days(start, n) == due


# -- the service -----------------------------------------------------------------------------


def test_first_change_takes_the_year_over_and_is_in_the_trail(db: Any, users: Any) -> None:
    from qms.auth.models import User

    admin = db.get(User, users["admin"])
    assert add_working_days(db, D(2026, 9, 30), 3) == D(2026, 10, 10)
    manage.change_day(db, admin, 2026, "2026-10-10", HOLIDAY, "国庆节", "调休取消（测试）")
    db.commit()
    assert add_working_days(db, D(2026, 9, 30), 3) == D(2026, 10, 12)
    view = manage.year_view(db, 2026)
    assert view.taken_over and view.confirmed and len(view.days) == 39
    entries = db.scalars(
        sa.select(TrailEntry)
        .where(TrailEntry.object_type.in_(["calendar_day", "calendar_year"]))
        .order_by(TrailEntry.seq)
    ).all()
    assert [(e.action, e.field, e.old_value, e.new_value) for e in entries] == [
        ("take_over", "days", None, "39"),
        ("update", "kind", WORKDAY, HOLIDAY),
        ("update", "name", "国庆节调休上班", "国庆节"),
    ]
    assert {e.reason for e in entries} == {"调休取消（测试）"}


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("2027-01-05", HOLIDAY, "x", "r"), "not_in_year", "不在 2026 年内"),
        (("2026-10-01", HOLIDAY, "x", "r"), "duplicate_day", "已在工作日历中"),
        (("2026-12-07", WORKDAY, "x", "r"), "make_up_on_weekday", "只能是星期六或星期日"),
        (("2026-12-08", HOLIDAY, "x", " "), "reason_required", "变更原因"),
        (("2026-13-01", HOLIDAY, "x", "r"), "bad_date", "不是有效日期"),
        (("2026-12-08", "vacation", "x", "r"), "bad_kind", "节假日或调休上班日"),
    ],
)
def test_refused_additions_store_nothing(
    db: Any, users: Any, app: Flask, args: Any, code: str, says: str
) -> None:
    from qms.auth.models import User
    from qms.errors import DomainError

    admin = db.get(User, users["admin"])
    before = _counts(app)
    with pytest.raises(DomainError) as refused:
        manage.add_day(db, admin, 2026, *args)
    db.rollback()
    assert refused.value.code == code and says in str(refused.value)
    assert _counts(app) == before


def test_import_replaces_the_year_and_refuses_a_bad_file_whole(
    db: Any, users: Any, app: Flask
) -> None:
    from qms.auth.models import User
    from qms.errors import DomainError

    admin = db.get(User, users["admin"])
    before = _counts(app)
    bad = "day,kind,name\n2027-10-01,holiday,国庆节\n2027-10-01,holiday,国庆节\n"
    with pytest.raises(DomainError, match="重复出现"):
        manage.import_year(db, admin, 2027, bad.encode(), "通知", True, "导入")
    db.rollback()
    with pytest.raises(DomainError, match="第 3 行"):
        manage.import_year(
            db,
            admin,
            2027,
            b"day,kind,name\n2027-10-01,holiday,a\n2026-10-01,holiday,b\n",
            "",
            True,
            "r",
        )
    db.rollback()
    assert _counts(app) == before
    text = "# a comment\nday,kind,name\n2027-10-01,holiday,国庆节\n2027-09-26,workday,调休\n"
    assert manage.import_year(db, admin, 2027, text.encode(), "通知", True, "导入") == 2
    db.commit()
    view = manage.year_view(db, 2027)
    assert view.confirmed and view.source == "通知" and len(view.days) == 2
    assert manage.unconfirmed_years(db, D(2026, 12, 6)) == []


def test_the_years_without_an_arrangement(db: Any) -> None:
    assert [v.year for v in manage.unconfirmed_years(db, D(2026, 12, 6))] == [2027]
    assert [v.year for v in manage.unconfirmed_years(db, D(2027, 3, 1))] == [2027, 2028]


# -- the page --------------------------------------------------------------------------------


def test_the_administrator_adds_changes_and_removes_a_day_on_the_page(
    app: Flask, client_as: Any
) -> None:
    admin = client_as("admin")
    page = admin.get("/calendar/?year=2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "2027" in html and "cal-workday" in html  # the warning, and the make-up days
    response = submit_form(
        admin,
        page,
        "/calendar/2026/days",
        day="2026-12-31",
        kind=HOLIDAY,
        name="公司年终盘点",
        reason="总经理办公会决定",
    )
    assert response.status_code == 302
    page = admin.get("/calendar/?year=2026")
    assert "公司年终盘点" in page.get_data(as_text=True)
    response = submit_form(
        admin, page, "/calendar/2026/days/2026-12-31/change", name="年终盘点", reason="改名"
    )
    assert response.status_code == 302
    page = admin.get("/calendar/?year=2026")
    response = submit_form(admin, page, "/calendar/2026/days/2026-12-31/remove", reason="取消")
    assert response.status_code == 302
    with app.app_context():
        from qms.db import get_session

        s = get_session()
        assert s.get(CalendarDay, D(2026, 12, 31)) is None
        actions = s.scalars(
            sa.select(TrailEntry.action)
            .where(TrailEntry.object_id == "2026-12-31")
            .order_by(TrailEntry.seq)
        ).all()
    assert actions == ["create", "create", "update", "delete", "delete"]


def test_a_refused_day_keeps_the_input_and_stores_nothing(app: Flask, client_as: Any) -> None:
    admin = client_as("admin")
    page = admin.get("/calendar/?year=2026")
    before = _counts(app)
    response = submit_form(
        admin,
        page,
        "/calendar/2026/days",
        day="2027-01-05",
        kind=HOLIDAY,
        name="跨年盘点",
        reason="试一下",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "2027-01-05" in html and "跨年盘点" in html and "试一下" in html
    response = submit_form(
        admin,
        page,
        "/calendar/2026/days",
        day="2026-10-01",
        kind=HOLIDAY,
        name="国庆节",
        reason="重复",
    )
    assert response.status_code == 409
    assert _counts(app) == before


def test_import_on_the_page(app: Flask, client_as: Any) -> None:
    admin = client_as("admin")
    page = admin.get("/calendar/?year=2027")
    html = page.get_data(as_text=True)
    assert "2027" in html and "banner-warn" in html
    from tests.forms import find_form

    form = find_form(html, "/calendar/2027/import")
    data = {
        **form.fields,
        "source": "国务院办公厅通知",
        "confirmed": "yes",
        "reason": "通知已发布",
        "file": (io.BytesIO("day,kind,name\n2027-10-01,holiday,国庆节\n".encode()), "a.csv"),
    }
    response = admin.post("/calendar/2027/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    page = admin.get("/calendar/?year=2027").get_data(as_text=True)
    assert "国务院办公厅通知" in page


def test_who_may_see_and_change(client_as: Any, app: Flask) -> None:
    assert client_as("manager").get("/calendar/?year=2026").status_code == 200
    manager_page = client_as("manager").get("/calendar/?year=2026").get_data(as_text=True)
    assert "/calendar/2026/days" not in manager_page  # sees, does not edit
    assert client_as("clerk").get("/calendar/").status_code == 403
    staff = client_as("staff")
    assert staff.get("/calendar/working-days").status_code == 200
    page = staff.get("/calendar/working-days").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0] if "csrf_token" in page else ""
    before = _counts(app)
    refused = staff.post(
        "/calendar/2026/days",
        data={
            "csrf_token": token,
            "day": "2026-12-31",
            "kind": HOLIDAY,
            "name": "x",
            "reason": "y",
        },
    )
    assert refused.status_code == 403
    assert _counts(app) == before


def test_the_calculator(client_as: Any) -> None:
    clerk = client_as("clerk")
    page = clerk.get("/calendar/working-days")
    assert page.status_code == 200
    answer = submit_form(clerk, page, "/calendar/working-days", start="2026-09-30", n="3")
    assert answer.status_code == 200 and "2026-10-10" in answer.get_data(as_text=True)
    answer = submit_form(clerk, page, "/calendar/working-days", start="2026-12-30", n="3")
    assert "2027-01-05" in answer.get_data(as_text=True)
    assert "banner-warn" in answer.get_data(as_text=True)  # 2027 not yet confirmed
    bad = submit_form(clerk, page, "/calendar/working-days", start="2026-02-30", n="3")
    assert bad.status_code == 422 and "2026-02-30" in bad.get_data(as_text=True)


# -- the API ---------------------------------------------------------------------------------


def test_api_reads_a_year_and_counts_working_days(api: Any) -> None:
    year = api("staff", "GET", "/api/v1/calendar/2026").get_json()
    assert year["confirmed"] is True and len(year["days"]) == 39
    assert {"day": "2026-10-10", "kind": "workday", "name": "国庆节调休上班"} in year["days"]
    assert api("staff", "GET", "/api/v1/calendar/2027").get_json()["confirmed"] is False
    answer = api("staff", "GET", "/api/v1/calendar/working-days?start=2026-09-28&n=10")
    assert answer.get_json() == {
        "start": "2026-09-28",
        "n": 10,
        "due": "2026-10-16",
        "unconfirmed_years": [],
    }
    assert api("staff", "GET", "/api/v1/calendar/1999").status_code == 404
    bad = api("staff", "GET", "/api/v1/calendar/working-days?start=x&n=1")
    assert bad.status_code == 422 and "不是有效日期" in bad.get_json()["error"]["message"]


def test_api_writes_by_the_administrator_only(api: Any, app: Flask) -> None:
    for who in ("manager", "admin", "staff"):  # their tokens are made (and logged) first
        assert api(who, "GET", "/api/v1/calendar/2026").status_code == 200
    before = _counts(app)
    body = {"day": "2026-12-31", "kind": "holiday", "name": "盘点", "reason": "决定"}
    assert api("manager", "POST", "/api/v1/calendar/2026/days", body).status_code == 403
    wrong_year = api("admin", "POST", "/api/v1/calendar/2026/days", {**body, "day": "2027-01-04"})
    assert wrong_year.status_code == 422
    assert wrong_year.get_json()["error"]["message"] == "2027-01-04 不在 2026 年内。"
    duplicate = api("admin", "POST", "/api/v1/calendar/2026/days", {**body, "day": "2026-10-01"})
    assert duplicate.status_code == 409 and duplicate.get_json()["error"]["code"] == (
        "duplicate_day"
    )
    assert _counts(app) == before
    assert api("admin", "POST", "/api/v1/calendar/2026/days", body).status_code == 201
    put = api(
        "admin",
        "PUT",
        "/api/v1/calendar/2027",
        {
            "days": [{"day": "2027-10-01", "kind": "holiday", "name": "国庆节"}],
            "source": "通知",
            "confirmed": True,
            "reason": "通知已发布",
        },
    )
    assert put.status_code == 200 and put.get_json()["taken_over"] is True
    assert api("staff", "GET", "/api/v1/calendar/2027").get_json()["days"] == [
        {"day": "2027-10-01", "kind": "holiday", "name": "国庆节"}
    ]


CALENDAR_PAGE_MAX = 16


def test_the_year_page_asks_a_bounded_number_of_queries(app: Flask, client_as: Any) -> None:
    """The same statements whether the year has 39 days or 30 more."""
    from tests.web.test_documents_pages import count_queries as counting

    admin = client_as("admin")
    page = admin.get("/calendar/?year=2026")
    submit_form(
        admin,
        page,
        "/calendar/2026/days",
        day="2026-12-27",
        kind=WORKDAY,
        name="加班",
        reason="测试",
    )  # the year is now kept in the database
    with counting(app) as few:
        assert admin.get("/calendar/?year=2026").status_code == 200
    with app.app_context():
        from qms.auth.models import User
        from qms.db import get_session

        s = get_session()
        who = s.scalar(sa.select(User).where(User.username == "admin"))
        taken = {r.day for r in manage.year_view(s, 2026).days}
        weekends = [
            D.fromordinal(n) for n in range(D(2026, 7, 1).toordinal(), D(2026, 12, 31).toordinal())
        ]
        extra = [d for d in weekends if d.weekday() >= 5 and d not in taken][:30]
        for day in extra:
            manage.add_day(s, who, 2026, day.isoformat(), WORKDAY, "加班", "测试")
        s.commit()
    with counting(app) as many:
        assert admin.get("/calendar/?year=2026").status_code == 200
    assert many["n"] == few["n"] <= CALENDAR_PAGE_MAX
