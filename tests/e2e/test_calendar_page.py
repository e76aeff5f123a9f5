"""The administrator adds a company day off on the calendar page, sees it in the year, and a
clerk's calculator counts past it and past the National Day holiday."""

import sqlalchemy as sa

from tests.e2e.conftest import sign_in


def test_the_administrator_adds_a_day_and_the_calculator_counts_it(
    page, live_server, live_app, tmp_path
):
    sign_in(page, live_server, "admin")
    page.goto(f"{live_server}/calendar/?year=2026")
    assert page.locator(".banner-warn").count() >= 1  # 2027 has statutory days only
    assert page.locator("#day-2026-10-10").count() == 1  # the make-up day of National Day
    page.fill("#add-day", "2026-12-31")
    page.select_option("#add-kind", "holiday")
    page.fill("#add-name", "年终盘点")
    page.fill("#add-reason", "总经理办公会决定")
    page.click("form[action='/calendar/2026/days'] button[type=submit]")
    page.wait_for_url(f"{live_server}/calendar/?year=2026")
    assert page.locator(".flash-success").count() == 1
    assert "年终盘点" in page.locator("#day-2026-12-31").inner_text()
    page.screenshot(path=str(tmp_path / "calendar.png"), full_page=True)

    page.fill("#calculator input[name=start]", "2026-12-30")
    page.fill("#calculator input[name=n]", "1")
    page.click("#calculator button[type=submit]")
    page.wait_for_load_state()
    # Dec 31 is now off, Jan 1 2027 is New Year's Day, Jan 2-3 a weekend
    assert "2027-01-04" in page.locator("#calculator [role=status]").inner_text()

    from qms.db import get_session
    from qms.trail.models import TrailEntry

    with live_app.app_context():
        reasons = (
            get_session()
            .scalars(sa.select(TrailEntry.reason).where(TrailEntry.object_id == "2026-12-31"))
            .all()
        )
    assert set(reasons) == {"总经理办公会决定"}
