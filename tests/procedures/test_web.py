import re

from tests.conftest import login


def _import(app, tmp_path):
    import shutil

    from qms.config import PROJECT_ROOT
    from qms.procedures.importer import import_directory

    with app.app_context():
        from qms.db import get_session

        target = tmp_path / "docs"
        shutil.copytree(PROJECT_ROOT / "documents", target)
        report = import_directory(get_session(), target)
        assert report.errors == []


def test_staff_see_the_complaint_procedure(app, client, users, tmp_path):
    _import(app, tmp_path)
    login(client, "staff")
    html = client.get("/procedures/LC-KF-003").get_data(as_text=True)
    assert "业主投诉处理流程" in html
    assert re.search(r'<a href="/documents/ZD-KF-004">ZD-KF-004</a> 服务投诉处理制度', html)
    assert "A/0" in html and "2026-03-01" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="flowchart"' in html
    assert html.count('class="step task mine"') + html.count('class="step decision mine"') \
        + html.count('class="step end mine"') == 5
    assert 'href="/documents/BD-KF-001/export.docx"' in html
    assert 'id="gap"' not in html


def test_pages_for_procedures(app, client, users, tmp_path):
    _import(app, tmp_path)
    login(client, "staff")
    listing = client.get("/procedures/").get_data(as_text=True)
    assert listing.count("<tr data-number=") == 22
    trace = client.get("/procedures/traceability").get_data(as_text=True)
    assert all(f'class="gap" data-number="LC-GC-00{i}"' in trace for i in (1, 2, 3))
    gap = client.get("/procedures/LC-GC-001").get_data(as_text=True)
    assert 'id="gap"' in gap
    assert client.get("/procedures/needs-review").status_code == 200
    svg = client.get("/procedures/LC-KF-003/flowchart.svg")
    assert svg.mimetype == "image/svg+xml"
    assert "归档结案" in svg.get_data(as_text=True)
    assert client.get("/procedures/ZD-KF-004").status_code == 404
    assert client.get("/procedures/LC-KF-999").status_code == 404


def test_the_api(app, client, users, tmp_path):
    _import(app, tmp_path)
    login(client, "staff")
    listing = client.get("/api/v1/procedures?per_page=100").get_json()
    assert listing["meta"]["total"] == 22
    complaint = next(p for p in listing["items"] if p["number"] == "LC-KF-003")
    assert complaint["lanes"] == ["业主", "客户服务中心", "相关部门"]
    assert complaint["controlled_by"] == [{
        "number": "ZD-KF-004", "title": "服务投诉处理制度", "kind": "regulation",
        "revision": "A/0", "status": "effective", "effective_date": "2026-03-01",
        "inferred": True}]
    one = client.get("/api/v1/procedures/LC-KF-003").get_json()
    assert [s["id"] for s in one["steps"]] == list(range(1, 10))
    assert one["steps"][7]["if_no"] == 4
    links = client.get("/api/v1/documents/ZD-KF-004/links").get_json()
    assert [c["number"] for c in links["controls"]] == ["BD-KF-001", "LC-KF-003"]
    gap = client.get("/api/v1/procedures/LC-GC-002").get_json()
    assert gap["gap"] is True and gap["controlled_by"] == []
    assert client.get("/api/v1/documents/ZD-XX-001/links").status_code == 404


def test_document_page_shows_links_section(app, imported, client_as):
    """The regulation's own page lists the processes it controls."""
    page = client_as("staff").get("/documents/ZD-KF-004").get_data(as_text=True)
    assert 'id="doc-links"' in page
    assert "LC-KF-003" in page
    process = client_as("staff").get("/documents/LC-KF-003").get_data(as_text=True)
    assert "ZD-KF-004" in process
