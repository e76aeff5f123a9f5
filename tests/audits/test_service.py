"""Audit operations through the services: the whole way, and each bad input refused with
its reason and nothing stored."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from qms.audits import service
from qms.audits.lifecycle import AuditState, ProgrammeState
from qms.audits.models import Audit, AuditFinding, Meeting, Result
from qms.auth.models import Signature
from qms.errors import Conflict, DomainError, Forbidden, Invalid
from qms.trail.models import TrailEntry
from tests.audits.conftest import AUDIT_DAY, YEAR, build, publish, run_to_fieldwork
from tests.factories import TEST_PASSWORD


def _rows(db: Any) -> tuple[int, ...]:
    return tuple(
        db.scalar(sa.select(sa.func.count()).select_from(m))
        for m in (Audit, AuditFinding, Signature, TrailEntry)
    )


def refused(db: Any, kind: type[DomainError], work: Any, code: str = "") -> DomainError:
    before = _rows(db)
    with pytest.raises(kind) as err:
        work()
    db.rollback()
    assert _rows(db) == before, "a refused operation stored something"
    if code:
        assert err.value.code == code, err.value.code
    return err.value


def to_reporting(db: Any, w: Any) -> Audit:
    audit = run_to_fieldwork(db, w)
    for item in service.generate_checklist(db, w.u["auditor"], audit):
        service.edit_item(
            db, w.u["auditor"], audit, item.id, result="conforms", evidence="抽查 3 份业主档案"
        )
    service.raise_finding(
        db, w.u["auditor"], audit, grade="observation", description="档案柜未上锁", evidence=""
    )
    service.record_meeting(
        db,
        w.u["auditor"],
        audit,
        Meeting.CLOSING,
        present=[w.u["auditor"].id, w.u["approver"].id],
        held_on=date(2027, 3, 17),
    )
    db.commit()
    return audit


def test_a_whole_audit_from_plan_to_approved_report(world: Any, db: Any) -> None:
    w = world
    assert w.programme.state == ProgrammeState.APPROVED
    audit = to_reporting(db, w)
    assert audit.report_due == date(2027, 3, 24)
    service.acknowledge(
        db,
        w.u["approver"],
        audit,
        1,
        password=TEST_PASSWORD,
        content_sha256=service.finding_hash(audit.findings[0]),
    )
    service.edit_report(
        db,
        w.u["auditor"],
        audit,
        conclusions="体系运行基本有效",
        conformity_degree="基本符合",
        diverging_opinions="",
        distribution="总经理、客户服务中心",
    )
    service.submit_report(db, w.u["auditor"], audit)
    service.approve_report(
        db, w.u["gm"], audit, password=TEST_PASSWORD, content_sha256=service.report_hash(audit)
    )
    db.commit()
    assert audit.state == AuditState.CLOSED
    distributed = db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "distribute"))
    assert distributed is not None and "客户服务中心" in distributed.new_value


def test_programme_approval_refused_while_a_department_is_missing(db: Any, tmp_path: Any) -> None:
    w = build(db, tmp_path, approve=False)
    service.cancel(db, w.u["manager"], w.audits["CW"], reason="财务部改到明年")
    service.submit_programme(db, w.u["manager"], w.programme)
    db.commit()
    err = refused(
        db,
        Conflict,
        lambda: service.approve_programme(
            db,
            w.u["gm"],
            w.programme,
            password=TEST_PASSWORD,
            content_sha256=service.programme_hash(w.programme),
        ),
        "department_missing",
    )
    assert "财务部" in str(err)
    assert w.programme.state == ProgrammeState.SUBMITTED


def test_programme_approval_with_the_wrong_password(db: Any, tmp_path: Any) -> None:
    w = build(db, tmp_path, approve=False)
    service.submit_programme(db, w.u["manager"], w.programme)
    db.commit()
    err = refused(
        db,
        Forbidden,
        lambda: service.approve_programme(
            db,
            w.u["gm"],
            w.programme,
            password="wrong-password",
            content_sha256=service.programme_hash(w.programme),
        ),
        "signature_refused",
    )
    assert "password" in str(err).lower() or "密码" in str(err)


def test_programme_approval_by_someone_other_than_the_general_manager(
    db: Any, tmp_path: Any
) -> None:
    w = build(db, tmp_path, approve=False)
    service.submit_programme(db, w.u["manager"], w.programme)
    db.commit()
    refused(
        db,
        Forbidden,
        lambda: service.approve_programme(
            db,
            w.u["approver"],
            w.programme,
            password=TEST_PASSWORD,
            content_sha256=service.programme_hash(w.programme),
        ),
        "not_your_step",
    )


def test_an_auditor_never_audits_their_own_department(world: Any, db: Any) -> None:
    w = world
    err = refused(
        db,
        Invalid,
        lambda: service.plan_audit(
            db,
            w.u["manager"],
            w.programme,
            department=w.depts["KF"],
            title="复审",
            audit_date=date(YEAR, 9, 1),
            lead_auditor=w.u["auditor2"],
        ),
        "auditor_not_independent",
    )
    assert "钱多" in str(err) and "客户服务中心" in str(err)
    err = refused(
        db,
        Invalid,
        lambda: service.update_plan(
            db,
            w.u["manager"],
            w.audit,
            title="x",
            objectives="",
            scope="",
            place="",
            audit_date=AUDIT_DAY,
            lead_auditor=w.u["auditor"],
            team=[w.u["auditor2"]],
        ),
        "auditor_not_independent",
    )
    assert "钱多" in str(err)


def test_a_criterion_pinned_to_an_obsolete_or_cancelled_revision_is_refused(
    world: Any, db: Any
) -> None:
    from qms.documents import service as documents

    w = world
    first = w.regulation.current_revision
    documents.revise(db, w.u["clerk"], w.regulation, major_change=False, change_summary="修订")
    publish(db, w.u, w.regulation)
    db.commit()
    assert first.state == "superseded"
    # a superseded revision may be named on purpose (it was in force then) …
    # … but an obsolete one may not: withdraw the document
    current = w.regulation.current_revision
    documents.withdraw(
        db,
        w.u["clerk"],
        w.regulation,
        reason="合并",
        password=TEST_PASSWORD,
        content_sha256=current.content_sha256,
    )
    db.commit()
    assert current.state == "obsolete"
    err = refused(
        db,
        Invalid,
        lambda: service.add_criterion(
            db, w.u["auditor"], w.audit, document=w.regulation.number, revision=current.label
        ),
        "revision_not_in_force",
    )
    assert current.label in str(err)
    refused(
        db,
        Invalid,
        lambda: service.add_criterion(db, w.u["auditor"], w.audit, document=w.regulation.number),
        "revision_not_in_force",
    )


def test_a_later_revision_effective_before_the_audit_is_shown_and_moved_on_purpose(
    world: Any, db: Any
) -> None:
    from qms.documents import service as documents

    w = world
    pinned = w.audit.criteria[1].revision
    documents.revise(db, w.u["clerk"], w.process, major_change=True, change_summary="增加步骤")
    later = publish(db, w.u, w.process, effective_date=date(2027, 3, 1))
    db.commit()
    found = service.later_revisions(db, w.audit)
    assert [(x.criterion.revision.label, x.revision.label) for x in found] == [
        (pinned.label, later.label)
    ]
    refused(
        db,
        Forbidden,
        lambda: service.move_pin(
            db, w.u["manager"], w.audit, found[0].criterion.id, reason="新版本生效"
        ),
    )
    refused(
        db,
        Invalid,
        lambda: service.move_pin(db, w.u["auditor"], w.audit, found[0].criterion.id, reason=""),
        "reason_required",
    )
    service.move_pin(db, w.u["auditor"], w.audit, found[0].criterion.id, reason="新版本 3 月生效")
    db.commit()
    assert w.audit.criteria[1].revision_id == later.id
    assert service.later_revisions(db, w.audit) == []
    entry = db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "move_pin"))
    assert entry.reason == "新版本 3 月生效" and later.label in entry.new_value


def test_the_notice_less_than_five_working_days_ahead_is_refused(world: Any, db: Any) -> None:
    w = world
    err = refused(
        db,
        Invalid,
        lambda: service.notify(db, w.u["auditor"], w.audit, notice_date=date(2027, 3, 10)),
        "notice_too_late",
    )
    assert "2027-03-09" in str(err)
    assert w.audit.state == AuditState.PLANNED
    service.notify(db, w.u["auditor"], w.audit, notice_date=date(2027, 3, 9))
    db.commit()
    assert w.audit.state == AuditState.NOTIFIED


def test_the_notice_becomes_a_task_of_the_auditee_head(world: Any, db: Any) -> None:
    from qms.tasks.registry import tasks_for

    w = world
    service.notify(db, w.u["auditor"], w.audit, notice_date=date(2027, 3, 1))
    db.commit()
    titles = [str(t.title) for t in tasks_for(db, w.u["approver"]) if t.kind == "audit"]
    assert len(titles) == 1
    assert [t for t in tasks_for(db, w.u["staff"]) if t.kind == "audit"] == []


def test_a_nonconformity_without_evidence_is_refused(world: Any, db: Any) -> None:
    w = world
    audit = run_to_fieldwork(db, w)
    for grade in ("serious", "general"):
        err = refused(
            db,
            Invalid,
            lambda g=grade: service.raise_finding(
                db, w.u["auditor"], audit, grade=g, description="档案不全", evidence="  "
            ),
            "evidence_required",
        )
        assert "evidence" in str(err).lower() or "证据" in str(err)
    # an observation may do without
    service.raise_finding(
        db, w.u["auditor"], audit, grade="improvement", description="可增加电子档案", evidence=""
    )
    db.commit()


def test_a_finding_is_raised_only_by_the_team(world: Any, db: Any) -> None:
    w = world
    audit = run_to_fieldwork(db, w)
    refused(
        db,
        Forbidden,
        lambda: service.raise_finding(
            db, w.u["staff"], audit, grade="observation", description="x", evidence=""
        ),
        "not_on_team",
    )


def test_approving_the_report_while_a_finding_is_unacknowledged(world: Any, db: Any) -> None:
    w = world
    audit = to_reporting(db, w)
    service.edit_report(
        db,
        w.u["auditor"],
        audit,
        conclusions="有效",
        conformity_degree="符合",
        diverging_opinions="",
        distribution="总经理",
    )
    service.submit_report(db, w.u["auditor"], audit)
    db.commit()
    err = refused(
        db,
        Conflict,
        lambda: service.approve_report(
            db, w.u["gm"], audit, password=TEST_PASSWORD, content_sha256=service.report_hash(audit)
        ),
        "finding_unacknowledged",
    )
    assert "#1" in str(err)
    assert audit.state == AuditState.REPORTED


def test_acknowledging_with_the_wrong_password_or_by_someone_else(world: Any, db: Any) -> None:
    w = world
    audit = to_reporting(db, w)
    sha = service.finding_hash(audit.findings[0])
    refused(
        db,
        Forbidden,
        lambda: service.acknowledge(
            db, w.u["approver"], audit, 1, password="not-it", content_sha256=sha
        ),
        "signature_refused",
    )
    refused(
        db,
        Forbidden,
        lambda: service.acknowledge(
            db, w.u["staff"], audit, 1, password=TEST_PASSWORD, content_sha256=sha
        ),
        "not_the_auditee",
    )
    refused(
        db,
        DomainError,
        lambda: service.acknowledge(
            db, w.u["approver"], audit, 1, password=TEST_PASSWORD, content_sha256="0" * 64
        ),
        "content_changed",
    )
    assert audit.findings[0].acknowledged_at is None


def test_the_report_approval_with_the_wrong_password(world: Any, db: Any) -> None:
    w = world
    audit = to_reporting(db, w)
    service.acknowledge(
        db,
        w.u["approver"],
        audit,
        1,
        password=TEST_PASSWORD,
        content_sha256=service.finding_hash(audit.findings[0]),
    )
    service.edit_report(
        db,
        w.u["auditor"],
        audit,
        conclusions="有效",
        conformity_degree="符合",
        diverging_opinions="",
        distribution="总经理",
    )
    service.submit_report(db, w.u["auditor"], audit)
    db.commit()
    refused(
        db,
        Forbidden,
        lambda: service.approve_report(
            db, w.u["gm"], audit, password="wrong", content_sha256=service.report_hash(audit)
        ),
        "signature_refused",
    )
    failed = db.scalar(sa.select(TrailEntry).where(TrailEntry.action == "signature_refused"))
    assert failed is None or failed.object_type == "audit_report"


def test_the_closing_meeting_waits_for_every_item(world: Any, db: Any) -> None:
    w = world
    audit = run_to_fieldwork(db, w)
    service.generate_checklist(db, w.u["auditor"], audit)
    db.commit()
    refused(
        db,
        Conflict,
        lambda: service.record_meeting(
            db,
            w.u["auditor"],
            audit,
            Meeting.CLOSING,
            present=[w.u["auditor"].id],
            held_on=date(2027, 3, 17),
        ),
        "checklist_open",
    )


def test_the_checklist_is_editable(world: Any, db: Any) -> None:
    w = world
    audit = run_to_fieldwork(db, w)
    items = service.generate_checklist(db, w.u["auditor"], audit)
    assert [i.source.split(" ")[0] for i in items] == [
        "ISO",
        w.process.number,
        w.process.number,
        w.regulation.number,
        w.regulation.number,
        w.regulation.number,
    ]
    assert items[1].clause == "8.5" and items[3].clause == "8.2"
    extra = service.add_item(db, w.u["auditor"], audit, question="查看钥匙管理记录", clause="7.5")
    service.edit_item(db, w.u["auditor"], audit, extra.id, question="查看钥匙借用登记")
    service.delete_item(db, w.u["auditor"], audit, items[0].id)
    service.edit_item(
        db,
        w.u["auditor"],
        audit,
        items[1].id,
        result="nonconformity",
        evidence="2 份档案缺身份证复印件",
    )
    db.commit()
    assert len(audit.checklist) == 6
    refused(
        db,
        Conflict,
        lambda: service.delete_item(db, w.u["auditor"], audit, items[1].id),
        "item_answered",
    )
    refused(
        db,
        Invalid,
        lambda: service.edit_item(db, w.u["auditor"], audit, items[2].id, result="maybe"),
        "bad_result",
    )
    assert audit.checklist[0].result == Result.NONCONFORMITY


def test_photos_are_checked_by_their_bytes_and_size(world: Any, db: Any, tmp_path: Any) -> None:
    from qms.errors import TooLarge

    w = world
    audit = run_to_fieldwork(db, w)
    item = service.add_item(db, w.u["auditor"], audit, question="现场照片")
    db.commit()
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    photo = service.add_photo(
        db, w.u["auditor"], audit, item.id, filename="../../现场.png", data=png, data_dir=tmp_path
    )
    db.commit()
    assert photo.content_type == "image/png" and photo.filename == "现场.png"
    assert (tmp_path / "attachments" / photo.sha256).read_bytes() == png
    refused(
        db,
        Invalid,
        lambda: service.add_photo(
            db,
            w.u["auditor"],
            audit,
            item.id,
            filename="x.png",
            data=b"<svg onload=alert(1)>",
            data_dir=tmp_path,
        ),
        "photo_type",
    )
    refused(
        db,
        TooLarge,
        lambda: service.add_photo(
            db,
            w.u["auditor"],
            audit,
            item.id,
            filename="x.jpg",
            data=b"\xff\xd8\xff" + b"\0" * service.MAX_PHOTO_BYTES,
            data_dir=tmp_path,
        ),
        "photo_too_large",
    )


def test_planning_rows_show_each_department(world: Any, db: Any) -> None:
    w = world
    rows = service.planning_rows(db, w.programme)
    assert {r.department.code for r in rows} == set(w.depts)
    assert all(r.planned == 1 for r in rows)
    assert service.uncovered(db, w.programme) == []
