from tests.e2e.conftest import sign_in


def test_staff_see_their_steps_and_the_controlling_regulation(page, live_app, live_server,
                                                              monkeypatch, tmp_path):
    from qms.config import PROJECT_ROOT
    from qms.db import get_session
    from qms.procedures.importer import import_directory

    monkeypatch.setattr("qms.search.service.drain", lambda *_a, **_k: 0)
    with live_app.app_context():
        assert import_directory(get_session(), PROJECT_ROOT / "documents").errors == []

    sign_in(page, live_server, "staff")  # 客户服务中心
    page.goto(f"{live_server}/procedures/")
    page.click("text=LC-KF-003")
    page.wait_for_url(f"{live_server}/procedures/LC-KF-003")

    controlling = page.locator("#controlled-by")
    assert "ZD-KF-004" in controlling.inner_text()
    assert "服务投诉处理制度" in controlling.inner_text()
    mine = page.locator("svg.flowchart g.step.mine")
    assert mine.count() == 5
    assert page.locator("svg.flowchart g.step.mine#step-2").is_visible()
    assert page.locator("svg.flowchart g.step:not(.mine)#step-1").count() == 1  # 业主
    assert page.locator("ol.steps li.mine").count() == 5
    box = page.locator("svg.flowchart").bounding_box()
    assert box is not None and box["width"] > 300
    page.screenshot(path=str(tmp_path / "procedure.png"), full_page=True)
