from tests.e2e.conftest import sign_in


def test_sign_in_switch_language_sign_out(page, live_server, tmp_path):
    sign_in(page, live_server, "clerk")
    assert page.locator("#home-role").get_attribute("data-role") == "quality_clerk"
    assert page.locator("#sign-out").inner_text() == "退出"
    page.screenshot(path=str(tmp_path / "home-zh.png"))

    page.click("#lang-switch")
    page.wait_for_load_state()
    assert page.locator("#sign-out").inner_text() == "Sign out"
    assert "Welcome" in page.locator("h1").inner_text()

    page.click("#sign-out")
    page.wait_for_url(f"{live_server}/login")
    assert "signed out" in page.content()
    page.goto(f"{live_server}/")
    assert "/login" in page.url
