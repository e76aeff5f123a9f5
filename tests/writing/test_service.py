"""Writing-plan services: each bad input refused with its reason and nothing kept, drafts
from the templates of 5.3, the question log, consolidation and circulation."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from qms import clock
from qms.auth.permissions import Permission
from qms.documents.starting import starting_text
from qms.errors import Conflict, Forbidden, Invalid
from qms.writing import service
from qms.writing.models import PlanItem, WritingPlan
from tests.factories import make_document
from tests.writing.conftest import dept, item_in, make_plan


def _count(s):
    return (
        s.scalar(sa.select(sa.func.count()).select_from(WritingPlan)),
        s.scalar(sa.select(sa.func.count()).select_from(PlanItem)),
    )


def _refused(s, u, exc, *items, code=None):
    before = _count(s)
    with pytest.raises(exc) as err:
        service.create_plan(s, u["clerk"], title="换版", items=list(items))
    s.rollback()
    assert _count(s) == before
    if code:
        assert err.value.code == code
    return str(err.value)


def test_a_plan_with_its_items_and_numbers(world):
    s, u = world
    plan = make_plan(s, u)
    s.commit()
    assert plan.state == "drafting"
    assert plan.ref == f"BX-{plan.id:04d}"
    regulation = plan.items[2]
    assert regulation.number.startswith("ZD-KF-")  # pre-allocated by the numbering rules
    assert [i.position for i in plan.items] == [1, 2, 3]
    assert plan.items[0].number == ""


def test_draft_due_after_final_due_is_refused(world):
    s, u = world
    today = clock.today()
    message = _refused(
        s,
        u,
        Invalid,
        item_in(s, u, draft_due=today + timedelta(days=30), final_due=today + timedelta(days=20)),
        code="draft_after_final",
    )
    assert "初稿完成日期晚于定稿日期" in message


def test_final_due_in_the_past_is_refused(world):
    s, u = world
    today = clock.today()
    _refused(
        s,
        u,
        Invalid,
        item_in(
            s,
            u,
            start_on=today - timedelta(days=9),
            draft_due=today - timedelta(days=5),
            final_due=today - timedelta(days=1),
        ),
        code="final_in_past",
    )


def test_a_writer_is_required(world):
    s, u = world
    message = _refused(s, u, Invalid, item_in(s, u, writer=None), code="writer")
    assert "编写人" in message


def test_a_number_used_by_a_document_is_refused(world):
    s, u = world
    existing = make_document(s, state="draft", author=u["clerk"], title="访客管理制度")
    s.commit()
    _refused(
        s,
        u,
        Conflict,
        item_in(s, u, kind="regulation", title="新制度", writer=u["clerk"], number=existing.number),
        code="duplicate_number",
    )


def test_a_number_used_by_another_item_is_refused(world):
    s, u = world
    plan = make_plan(s, u)
    s.commit()
    taken = plan.items[2].number
    _refused(
        s,
        u,
        Conflict,
        item_in(s, u, kind="regulation", title="另一制度", writer=u["clerk"], number=taken),
        code="duplicate_number",
    )
    # and twice in the same plan
    free = "ZD-KF-901"
    _refused(
        s,
        u,
        Conflict,
        item_in(s, u, kind="regulation", title="甲", writer=u["clerk"], number=free),
        item_in(s, u, kind="regulation", title="乙", writer=u["clerk"], number=free),
    )


def test_a_number_against_the_numbering_rules_is_refused(world):
    s, u = world
    message = _refused(
        s,
        u,
        Invalid,
        item_in(s, u, kind="process", title="回访流程", writer=u["clerk"], number="ZD-KF-001"),
        code="number_pattern",
    )
    assert "LC-KF-001" in message


def _staff_regulation(s, u, state="confirmed"):
    """A plan whose regulation is written by the staff member, who may not draft documents."""
    plan = make_plan(
        s,
        u,
        state,
        items=[
            item_in(s, u, title="第1章 质量方针", writer=u["reviewer"]),
            item_in(s, u, kind="regulation", title="客户回访制度", writer=u["staff"]),
        ],
    )
    return plan, plan.items[1]


def _document_count(s):
    from qms.documents.models import Document, Revision

    return (
        s.scalar(sa.select(sa.func.count()).select_from(Document)),
        s.scalar(sa.select(sa.func.count()).select_from(Revision)),
    )


def test_a_writer_without_the_drafting_right_writes_a_regulation_on_the_plan(world):
    s, u = world
    assert not u["staff"].can(Permission.DRAFT_DOCUMENTS)
    _plan, item = _staff_regulation(s, u)
    assert service.drafted_on_item(item)
    before = _document_count(s)
    service.start_draft(s, u["staff"], item)
    assert service.current_text(item).body == starting_text("regulation")
    assert item.document is None and item.revision is None
    assert _document_count(s) == before  # no controlled draft yet
    service.save_text(s, u["staff"], item, body="## 总则\n\n每月回访业主。", base_version=1)
    service.save_text(s, u["staff"], item, body="## 总则\n\n每月回访全体业主。", base_version=2)
    with pytest.raises(Conflict) as err:
        service.save_text(s, u["staff"], item, body="过时的稿", base_version=2)
    assert err.value.code == "stale"
    assert [t.version for t in item.texts] == [1, 2, 3]
    assert service.current_text(item).body == "## 总则\n\n每月回访全体业主。"
    service.submit_draft(s, u["staff"], item)
    assert service.awaits_take_in(item)


def test_the_clerk_takes_the_submitted_text_into_a_controlled_draft(world):
    s, u = world
    from qms.trail.models import TrailEntry

    plan, item = _staff_regulation(s, u)
    service.start_draft(s, u["staff"], item)
    service.save_text(s, u["staff"], item, body="## 总则\n\n每月回访。", base_version=1)
    service.submit_draft(s, u["staff"], item)
    service.take_in(s, u["clerk"], item)
    revision = item.revision
    assert revision.document.number == item.number
    assert revision.state == "draft" and revision.body == "## 总则\n\n每月回访。"
    assert revision.author_id == u["clerk"].id
    assert plan.ref in revision.change_summary
    assert u["staff"].display_name in revision.change_summary
    assert item.taken_in_at is not None and not service.awaits_take_in(item)
    entry = s.scalar(sa.select(TrailEntry).where(TrailEntry.action == "take_in"))
    assert entry.object_id == str(item.id) and item.number in entry.new_value
    with pytest.raises(Conflict) as err:  # the text is edited in the document now
        service.save_text(s, u["staff"], item, body="再改", base_version=2)
    assert err.value.code == "taken_in"


def test_a_revision_item_written_on_the_plan_starts_from_the_effective_text(world):
    s, u = world
    people = {"author": u["clerk"], "reviewer": u["reviewer"], "approver": u["approver"]}
    existing = make_document(s, state="effective", clerk=u["clerk"], **people)
    s.commit()
    plan = make_plan(
        s,
        u,
        "confirmed",
        items=[
            item_in(
                s, u, kind="regulation", title=existing.title, writer=u["staff"], document=existing
            )
        ],
    )
    item = plan.items[0]
    service.start_draft(s, u["staff"], item)
    assert service.current_text(item).body == existing.current_revision.body
    service.save_text(s, u["staff"], item, body="## 总则\n\n新版。", base_version=1)
    service.submit_draft(s, u["staff"], item)
    service.take_in(s, u["manager"], item)
    assert item.revision.document_id == existing.id and item.revision.label == "B/0"
    assert item.revision.body == "## 总则\n\n新版。"
    assert existing.current_revision.state == "effective"


def test_taking_in_twice_is_refused(world):
    s, u = world
    _plan, item = _staff_regulation(s, u)
    service.start_draft(s, u["staff"], item)
    service.submit_draft(s, u["staff"], item)
    service.take_in(s, u["clerk"], item)
    before = _document_count(s)
    with pytest.raises(Conflict) as err:
        service.take_in(s, u["clerk"], item)
    assert err.value.code == "taken_in" and err.value.status == 409
    assert _document_count(s) == before


def test_taking_in_before_submission_is_refused(world):
    s, u = world
    _plan, item = _staff_regulation(s, u)
    before = _document_count(s)
    with pytest.raises(Conflict) as err:
        service.take_in(s, u["clerk"], item)  # not even started
    assert err.value.code == "not_submitted"
    service.start_draft(s, u["staff"], item)
    with pytest.raises(Conflict) as err:
        service.take_in(s, u["clerk"], item)
    assert err.value.code == "not_submitted" and "尚未提交" in str(err.value)
    assert _document_count(s) == before and item.taken_in_at is None


def test_taking_in_a_manual_section_is_refused(world):
    s, u = world
    plan, _item = _staff_regulation(s, u)
    section = plan.items[0]
    service.start_draft(s, u["reviewer"], section)
    service.submit_draft(s, u["reviewer"], section)
    with pytest.raises(Conflict) as err:
        service.take_in(s, u["clerk"], section)
    assert err.value.code == "manual_section"


def test_only_the_quality_center_takes_in(world):
    s, u = world
    _plan, item = _staff_regulation(s, u)
    service.start_draft(s, u["staff"], item)
    service.submit_draft(s, u["staff"], item)
    with pytest.raises(Forbidden):
        service.take_in(s, u["staff"], item)
    assert item.taken_in_at is None


def test_finalising_with_a_submitted_text_not_taken_in_is_refused(world):
    s, u = world
    plan, item = _staff_regulation(s, u, "writing")
    service.start_draft(s, u["staff"], item)
    service.submit_draft(s, u["staff"], item)
    service.take_step(s, u["clerk"], plan, "consolidate")
    service.start_draft(s, u["reviewer"], plan.items[0])
    service.assemble_manual(s, u["clerk"], plan)
    service.take_step(s, u["clerk"], plan, "circulate", deadline=clock.today())
    with pytest.raises(Conflict) as err:
        service.take_step(s, u["clerk"], plan, "finalise")
    assert err.value.code == "untaken_drafts"
    assert "有 1 份" in str(err.value)
    assert plan.state == "circulating"
    service.take_in(s, u["clerk"], item)
    service.take_step(s, u["clerk"], plan, "finalise")
    assert plan.state == "finalised"


def test_a_number_held_by_an_open_plan_is_refused_to_other_new_documents(world):
    s, u = world
    from qms.documents import service as documents
    from qms.documents.models import DocKind

    plan, item = _staff_regulation(s, u)
    s.commit()
    before = _document_count(s)
    with pytest.raises(Conflict) as err:
        documents.create_document(
            s,
            u["clerk"],
            title="另一份制度",
            kind=DocKind.REGULATION,
            department=dept(s, "KF"),
            number=item.number.lower(),
        )
    s.rollback()
    assert err.value.code == "number_reserved"
    assert item.number in str(err.value) and plan.ref in str(err.value)
    assert plan.title in str(err.value)
    assert _document_count(s) == before
    # the plan itself still makes the document under it
    service.start_draft(s, u["staff"], item)
    service.submit_draft(s, u["staff"], item)
    service.take_in(s, u["clerk"], item)
    assert item.document.number == item.number


def test_a_cancelled_plan_no_longer_holds_its_numbers(world):
    s, u = world
    from qms.documents import service as documents
    from qms.documents.models import DocKind

    plan, item = _staff_regulation(s, u)
    service.take_step(s, u["clerk"], plan, "cancel", reason="换版推迟")
    document = documents.create_document(
        s,
        u["clerk"],
        title="客户回访制度",
        kind=DocKind.REGULATION,
        department=dept(s, "KF"),
        number=item.number,
    )
    assert document.number == item.number


def test_confirming_a_plan_with_no_items_is_refused(world):
    s, u = world
    plan = service.create_plan(s, u["clerk"], title="空计划")
    with pytest.raises(Conflict) as err:
        service.take_step(s, u["manager"], plan, "confirm")
    assert err.value.code == "no_items"
    assert plan.state == "drafting"


def test_only_the_quality_manager_confirms(world):
    s, u = world
    plan = make_plan(s, u)
    with pytest.raises(Forbidden):
        service.take_step(s, u["clerk"], plan, "confirm")
    with pytest.raises(Forbidden):
        service.take_step(s, u["staff"], plan, "confirm")
    service.take_step(s, u["manager"], plan, "confirm")
    assert plan.state == "confirmed" and plan.confirmed_by_id == u["manager"].id


def test_steps_out_of_order_are_refused(world):
    s, u = world
    plan = make_plan(s, u)
    with pytest.raises(Conflict) as err:
        service.take_step(s, u["clerk"], plan, "consolidate")
    assert err.value.code == "out_of_order"
    assert "编制中" in str(err.value)
    with pytest.raises(Invalid):
        service.take_step(s, u["clerk"], plan, "cancel")  # without a reason
    service.take_step(s, u["clerk"], plan, "cancel", reason="换版推迟")
    assert plan.state == "cancelled"


def test_items_are_added_only_while_drawing_up(world):
    s, u = world
    plan = make_plan(s, u, "confirmed")
    with pytest.raises(Conflict):
        service.add_item(s, u["clerk"], plan, item_in(s, u, title="第9章"))


def test_a_section_starts_from_the_manual_template_and_keeps_its_versions(world):
    s, u = world
    plan = make_plan(s, u, "confirmed")
    section = plan.items[0]
    with pytest.raises(Forbidden):
        service.start_draft(s, u["reviewer"], section)  # not the writer
    service.start_draft(s, u["staff"], section)
    assert service.current_text(section).body == starting_text("quality_manual")
    service.save_text(s, u["staff"], section, body="## 质量方针\n\n业主至上。", base_version=1)
    with pytest.raises(Conflict) as err:
        service.save_text(s, u["staff"], section, body="旧稿", base_version=1)
    assert err.value.code == "stale"
    assert [t.version for t in section.texts] == [1, 2]
    assert section.texts[0].body == starting_text("quality_manual")
    assert section.texts[1].author_id == u["staff"].id
    service.submit_draft(s, u["staff"], section)
    assert section.actual_on == clock.today()
    with pytest.raises(Forbidden):  # another writer of the plan may not change it
        service.save_text(s, u["reviewer"], section, body="x", base_version=2)
    with pytest.raises(Conflict):
        service.submit_draft(s, u["staff"], section)  # submitted once


def test_a_regulation_starts_as_a_draft_document_from_its_template(world):
    s, u = world
    plan = make_plan(s, u, "confirmed")
    regulation = plan.items[2]
    service.start_draft(s, u["clerk"], regulation)
    document = regulation.document
    assert document.number == regulation.number
    assert document.kind == "regulation"
    revision = regulation.revision
    assert revision.state == "draft" and revision.author_id == u["clerk"].id
    assert revision.body == starting_text("regulation")


def test_a_revision_item_starts_the_next_revision_of_the_linked_document(world):
    s, u = world
    people = {"author": u["clerk"], "reviewer": u["reviewer"], "approver": u["approver"]}
    existing = make_document(s, state="effective", clerk=u["clerk"], **people)
    s.commit()
    plan = make_plan(
        s,
        u,
        "confirmed",
        items=[
            item_in(
                s, u, kind="regulation", title=existing.title, writer=u["clerk"], document=existing
            )
        ],
    )
    item = plan.items[0]
    assert item.number == existing.number and item.revises_existing
    service.start_draft(s, u["clerk"], item)
    assert item.revision.document_id == existing.id
    assert item.revision.label == "B/0"
    assert existing.current_revision.state == "effective"  # in force meanwhile


def test_questions_answered_by_the_manager_or_the_consultant(world):
    s, u = world
    from qms.certification import service as certification

    plan = make_plan(s, u, "writing")
    consultant = certification.create_consultant(s, u["manager"], name="刘建华")
    first = service.ask(s, u["staff"], plan, text="目标要分解吗？", item=plan.items[0])
    second = service.ask(s, u["reviewer"], plan, text="要引用消防制度吗？")
    with pytest.raises(Forbidden):
        service.ask(s, u["approver"], plan, text="我不在计划中")
    with pytest.raises(Forbidden):
        service.answer(s, u["clerk"], first, text="要")
    service.answer(s, u["manager"], first, text="在 MB-01 中分解。", consultant=consultant)
    with pytest.raises(Conflict):
        service.answer(s, u["manager"], first, text="再答")
    assert first.consultant.name == "刘建华"
    # the unanswered first
    assert service.questions_in_order(plan) == [second, first]


def test_assembling_with_a_section_missing_names_it(world):
    s, u = world
    plan = make_plan(s, u, "consolidating")
    service.start_draft(s, u["staff"], plan.items[0])
    with pytest.raises(Conflict) as err:
        service.assemble_manual(s, u["clerk"], plan)
    assert err.value.code == "sections_missing"
    assert "第2章 组织与职责" in str(err.value)
    assert "第1章" not in str(err.value)
    assert plan.manual_revision_id is None


def test_assembling_makes_the_next_revision_of_qm01_in_order(world):
    s, u = world
    people = {"author": u["clerk"], "reviewer": u["reviewer"], "approver": u["approver"]}
    make_document(
        s,
        state="effective",
        kind="quality_manual",
        department="PZ",
        title="质量手册",
        clerk=u["clerk"],
        number="QM-01",
        **people,
    )
    s.commit()
    plan = make_plan(s, u, "consolidating")
    for item, text in zip(plan.items[:2], ["方针正文", "职责正文"], strict=True):
        service.start_draft(s, item.writer, item)
        service.save_text(s, item.writer, item, body=text, base_version=1)
    revision = service.assemble_manual(s, u["clerk"], plan)
    assert revision.document.number == "QM-01"
    assert revision.label == "B/0" and revision.state == "draft"
    body = revision.body
    assert body.index("第1章 质量方针") < body.index("方针正文") < body.index("第2章 组织与职责")
    assert body.index("第2章 组织与职责") < body.index("职责正文")
    # assembled again after a change: the same draft, the new text
    service.save_text(s, u["staff"], plan.items[0], body="方针第二稿", base_version=2)
    again = service.assemble_manual(s, u["clerk"], plan)
    assert again.id == revision.id and "方针第二稿" in again.body


def test_a_comment_not_adopted_needs_the_reason(world):
    s, u = world
    plan = make_plan(s, u, "circulating")
    comment = service.add_comment(
        s,
        u["clerk"],
        plan,
        department=dept(s, "GC"),
        person="王工",
        clause="4.2",
        text="增加工程部接口",
    )
    with pytest.raises(Invalid) as err:
        service.decide_comment(
            s, u["clerk"], comment, decision="not_adopted", reason=" ", confirmed_by="刘建华"
        )
    assert err.value.code == "reason_required"
    assert comment.decision is None
    service.decide_comment(
        s, u["clerk"], comment, decision="partly_adopted", reason="", confirmed_by="刘建华"
    )
    assert comment.decision == "partly_adopted"


def test_finalising_with_undecided_comments_or_open_findings_is_refused(world):
    s, u = world
    plan = make_plan(s, u, "circulating")
    service.add_comment(
        s, u["clerk"], plan, department=dept(s, "GC"), person="王工", clause="4.2", text="增加接口"
    )
    service.add_comment(
        s, u["clerk"], plan, department=dept(s, "BA"), person="赵队", clause="5.1", text="补充巡查"
    )
    finding = service.record_finding(
        s, u["clerk"], plan, category="interfaces", text="工程与客服接口不清"
    )
    with pytest.raises(Conflict) as err:
        service.take_step(s, u["clerk"], plan, "finalise")
    assert "还有 2 条传阅意见没有处理结论" in str(err.value)
    for comment in plan.comments:
        service.decide_comment(
            s, u["clerk"], comment, decision="adopted", reason="", confirmed_by="刘建华"
        )
    with pytest.raises(Conflict) as err:
        service.take_step(s, u["clerk"], plan, "finalise")
    assert err.value.code == "unresolved_findings" and "还有 1 条未处理" in str(err.value)
    service.resolve_finding(s, u["clerk"], finding, note="已在 4.2 增加接口说明")
    service.take_step(s, u["clerk"], plan, "finalise")
    assert plan.state == "finalised"
    assert plan.manual_revision.state == "draft"  # its review and approval follow


def test_a_staff_member_sees_only_the_plans_they_write_for(world):
    s, u = world
    mine = make_plan(s, u)
    other = make_plan(s, u, items=[item_in(s, u, writer=u["reviewer"])])
    assert service.can_view(mine, u["staff"])
    assert not service.can_view(other, u["staff"])
    assert service.can_view(other, u["clerk"])
    assert service.visible_plans(s, u["staff"]) == [mine]
    with pytest.raises(Forbidden):
        service.check_view(other, u["staff"])


def test_every_change_is_in_the_trail(world):
    s, u = world
    from qms.trail.models import TrailEntry

    plan = make_plan(s, u, "confirmed")
    actions = set(
        s.scalars(sa.select(TrailEntry.action).where(TrailEntry.object_type == "writing_plan"))
    )
    assert {"create", "add_plan_item", "plan_confirm"} <= actions
    service.take_step(s, u["clerk"], plan, "cancel", reason="换版推迟")
    entry = s.scalar(sa.select(TrailEntry).where(TrailEntry.action == "plan_cancel"))
    assert entry.reason == "换版推迟" and entry.new_value == "cancelled"


def test_a_finding_or_question_about_another_plans_item_is_refused(world):
    s, u = world
    plan = make_plan(s, u, "consolidating")
    other = make_plan(s, u)
    with pytest.raises(Invalid):
        service.record_finding(
            s, u["clerk"], plan, category="completeness", text="缺少", item=other.items[0]
        )
    with pytest.raises(Invalid):
        service.ask(s, u["staff"], plan, text="问", item=other.items[0])
    assert plan.findings == [] and plan.questions == []


def test_importing_a_file_under_a_number_held_by_a_plan_is_refused_naming_the_plan(world, tmp_path):
    s, u = world
    from qms.documents.models import Document
    from qms.procedures.importer import import_directory
    from tests.procedures.conftest import write_doc

    plan, item = _staff_regulation(s, u)
    s.commit()
    write_doc(tmp_path, item.number, title="别的制度")
    before = _document_count(s)
    report = import_directory(s, tmp_path, actor=u["clerk"])
    assert len(report.errors) == 1
    message = report.errors[0].describe()
    assert item.number in message and plan.ref in message and "预留" in message
    assert _document_count(s) == before
    assert s.scalar(sa.select(Document).where(Document.number == item.number)) is None
