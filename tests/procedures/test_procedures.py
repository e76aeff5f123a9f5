import xml.etree.ElementTree as ET
from datetime import date

import sqlalchemy as sa

from qms.auth import service as auth
from qms.documents import service as documents
from qms.documents.models import Document
from qms.procedures import flowchart, service
from qms.procedures.importer import parse_file
from tests.factories import TEST_PASSWORD

SVG = "{http://www.w3.org/2000/svg}"


def _doc(db, number):
    return db.scalar(sa.select(Document).where(Document.number == number))


def test_every_process_has_a_controlling_document_or_is_listed_as_a_gap(db, documents_dir,
                                                                         imported):
    trace = service.traceability(db)
    gaps = {tp.process.number for tp, _note in trace.gaps}
    processes = [parse_file(p) for p in sorted(documents_dir.glob("LC-*.md"))]
    assert len(processes) == 22
    for process in processes:
        controllers = process.links[service.LinkKind.CONTROLLED_BY]
        assert controllers or process.number in gaps, process.number
        assert bool(controllers) != (process.number in gaps)
        assert controllers or process.gap_note, process.number
    # the handbook names no regulation for the engineering processes
    assert gaps == {"LC-GC-001", "LC-GC-002", "LC-GC-003"}
    assert trace.broken == []
    row = next(r for r in trace.rows if r.clause == "8.2")
    regulation = next(r for r in row.regulations if r.regulation.number == "ZD-KF-004")
    assert [tp.process.number for tp in regulation.processes] == ["LC-KF-003"]
    assert [f.number for f in regulation.processes[0].forms] == ["BD-KF-001", "BD-KF-002"]


def _svg_texts(svg):
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")], root


def test_the_chart_contains_every_lane_and_step_label(db, imported):
    for number in ("LC-KF-003", "LC-KF-010", "LC-PZ-002", "LC-GC-001"):
        revision = _doc(db, number).current_revision
        view = service.procedure_view(db, revision)
        svg = flowchart.render(view.lanes, view.steps, highlight={"客户服务中心"}, title=number)
        texts, root = _svg_texts(svg)
        lane_labels = [t for t in texts if t in view.lanes]
        assert sorted(lane_labels) == sorted(view.lanes), number
        for step in view.steps:
            assert step.title in texts, (number, step.title)
        decisions = [s for s in view.steps if s.type == "decision"]
        assert len(root.findall(f".//{SVG}polygon")) == len(decisions)
        assert texts.count("是") == len(decisions) == texts.count("否")
        edges = sum(len(s.successors()) for s in view.steps)
        assert len(root.findall(f".//{SVG}polyline")) == edges


def test_the_readers_lanes_are_highlighted(db, imported):
    view = service.procedure_view(db, _doc(db, "LC-KF-003").current_revision)
    staff = auth.user_by_username(db, "qms-import")  # department PZ: no lane here
    assert service.lanes_for_user(staff, view.lanes) == set()
    kf = auth.department_by_code(db, "KF")
    staff.department = kf
    mine = service.lanes_for_user(staff, view.lanes)
    assert mine == {"客户服务中心"}  # 业主 is nobody's lane, 相关部门 not a department
    svg = flowchart.render(view.lanes, view.steps, highlight=mine)
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    highlighted = sorted(int(g.get("data-step")) for g in root.iter(f"{SVG}g")
                         if "mine" in (g.get("class") or "").split() and g.get("data-step"))
    assert highlighted == [s.number for s in view.steps if s.lane == "客户服务中心"]


def test_long_labels_wrap_and_stay_whole():
    lines = flowchart.wrap("通知客户服务中心和安全管理部停止服务", 100)
    assert len(lines) > 1
    assert "".join(lines) == "通知客户服务中心和安全管理部停止服务"
    assert all(flowchart.text_width(x) <= 100 + flowchart.FONT for x in lines)
    assert flowchart.wrap("ISO9001认证", 200) == ["ISO9001认证"]


def test_a_revised_regulation_puts_its_procedures_on_the_review_list(db, imported):
    clerk = auth.user_by_username(db, "qms-import")
    regulation = _doc(db, "ZD-KF-004")
    documents.register_effective_revision(
        db, clerk, regulation, label="B/0", body="新版正文", change_summary="改版",
        effective_date=date(2026, 9, 1))
    db.commit()
    flagged = [f.document.number for f in db.scalars(service.needs_review_select())]
    assert flagged == ["LC-KF-003"]
    view = service.procedure_view(db, _doc(db, "LC-KF-003").current_revision)
    assert [(t.number, t.label, t.effective_date) for t in view.controllers] == [
        ("ZD-KF-004", "B/0", date(2026, 9, 1))]
    assert view.open_flags[0].cause_label == "B/0"


def test_a_withdrawn_regulation_flags_its_procedures_as_without_basis(db, imported, users):
    clerk = auth.user_by_username(db, "clerk")
    documents.withdraw(db, clerk, _doc(db, "ZD-KF-007"), reason="并入新制度",
                       password=TEST_PASSWORD,
                       content_sha256=_doc(db, "ZD-KF-007").current_revision.content_sha256)
    db.commit()
    flagged = sorted(f.document.number for f in db.scalars(service.needs_review_select()))
    assert flagged == ["LC-KF-004", "LC-KF-006"]
    view = service.procedure_view(db, _doc(db, "LC-KF-006").current_revision)
    assert [t.status for t in view.links.controller_problems] == ["obsolete"]
    trace = service.traceability(db)
    assert sorted(p.number for p, _c in trace.broken) == ["LC-KF-004", "LC-KF-006"]

    flag = service.open_flags_for(db, _doc(db, "LC-KF-006"))[0]
    service.clear_flag(db, clerk, flag.id, reason="已按新制度核对")
    db.commit()
    assert service.open_flags_for(db, _doc(db, "LC-KF-006")) == []


def test_links_of_a_regulation_list_what_it_controls(db, imported):
    links = service.links_for(db, _doc(db, "ZD-KF-004").current_revision)
    assert [t.number for t in links.controlled_processes] == ["LC-KF-003"]
    assert [t.number for t in links.controlled_forms] == ["BD-KF-001"]
    assert [t.number for t in links.controlled_by] == ["ZD-PZ-001"]
    form = service.links_for(db, _doc(db, "BD-KF-001").current_revision)
    assert "LC-KF-003" in [t.number for t in form.used_by]


def test_search_text_of_a_procedure(db, imported):
    text = service.procedure_text(db, _doc(db, "LC-KF-003").current_revision)
    assert "业主是否满意" in text["steps"]
    assert "客户服务中心" in text["lanes"]
    assert service.procedure_text(db, _doc(db, "ZD-KF-004").current_revision) == {}
