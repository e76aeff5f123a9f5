"""A small world for audit tests, made through the real services: the demo users, a second
auditor in Customer Service, the process LC-KF-001 and its regulation ZD-KF-003 imported from
documents/, and the approved programme of 2027 with one audit of Customer Service."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from qms.auth.permissions import Role
from tests.factories import TEST_PASSWORD, make_user

YEAR = 2027
AUDIT_DAY = date(2027, 3, 16)  # a Tuesday


REGULATION_BODY = """## 第一章 总则

**第一条 目的**

规范业主入住的手续办理。

**第二条 适用范围**

适用于各物业项目的业主入住。

## 第二章 入住

**第三条 资料核验**

客户服务中心核验购房资料并建立业主档案。
"""


def publish(db: Any, u: dict[str, Any], document: Any, effective_date: date | None = None) -> Any:
    """Drive the document's working revision to effective (or approved with a later
    effective date) through the real document services."""
    from qms.documents import service as documents

    revision = document.working_revision
    documents.submit_for_review(
        db,
        u["clerk"],
        revision,
        reviewers=[u["reviewer"]],
        approver=u["gm"],
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )
    documents.review(
        db, u["reviewer"], revision, password=TEST_PASSWORD, content_sha256=revision.content_sha256
    )
    documents.approve(
        db, u["gm"], revision, password=TEST_PASSWORD, content_sha256=revision.content_sha256
    )
    documents.issue(
        db,
        u["clerk"],
        revision,
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
        effective_date=effective_date,
    )
    return revision


def make_criteria_documents(db: Any, u: dict[str, Any], depts: dict[str, Any]) -> tuple[Any, Any]:
    """The regulation 业主入住管理制度 and the process 业主入住管理流程 it controls, with two
    steps and ISO 9001 8.5, both effective."""
    from qms.documents import service as documents
    from qms.documents.models import DocKind
    from qms.procedures.models import LinkKind
    from qms.procedures.service import set_structure

    regulation = documents.create_document(
        db,
        u["clerk"],
        title="业主入住管理制度",
        kind=DocKind.REGULATION,
        department=depts["KF"],
        body=REGULATION_BODY,
        change_summary="首次发布",
    )
    set_structure(
        db,
        regulation.working_revision,
        links={},
        iso_clauses=["8.2"],
        gap_note="",
        lanes=[],
        steps=[],
    )
    publish(db, u, regulation)
    process = documents.create_document(
        db,
        u["clerk"],
        title="业主入住管理流程",
        kind=DocKind.PROCESS,
        department=depts["KF"],
        body="## 一、目的\n\n规范入住。\n",
        change_summary="首次发布",
    )
    steps = [
        {
            "number": 1,
            "lane": "客户服务",
            "type": "task",
            "title": "核验购房资料",
            "explanation": "核对业主身份证明和购房合同。",
            "next_steps": [2],
        },
        {
            "number": 2,
            "lane": "客户服务",
            "type": "task",
            "title": "建立业主档案",
            "explanation": "资料齐全后建立业主档案。",
            "next_steps": [],
        },
    ]
    set_structure(
        db,
        process.working_revision,
        links={LinkKind.CONTROLLED_BY: [regulation.number]},
        iso_clauses=["8.5"],
        gap_note="",
        lanes=["客户服务"],
        steps=steps,
    )
    publish(db, u, process)
    db.commit()
    return regulation, process


class World(dict[str, Any]):
    def __getattr__(self, name: str) -> Any:
        return self[name]


def build(db: Any, tmp_path: Path, *, approve: bool = True) -> World:
    from qms.auth.models import User
    from tests.factories import make_role_users

    if db.scalar(sa.select(User.id).where(User.username == "manager")) is None:
        make_role_users()  # unless the `users` fixture made them already
    u = {x.username: x for x in db.scalars(sa.select(User))}
    return make_audit_world(db, u, approve=approve)


def make_audit_world(
    db: Any, u: dict[str, Any], *, approve: bool = True, unplanned: tuple[str, ...] = ()
) -> World:
    """Given the demo users: a second auditor in Customer Service, the criteria documents,
    the programme of 2027 with one audit of every department (approved unless told)."""
    from qms.audits import service
    from qms.auth.models import Department

    u["auditor2"] = make_user(
        db, "auditor2", Role.AUDITOR, department="KF", display_name="钱多（内审员）"
    )
    db.commit()
    depts = {d.code: d for d in db.scalars(sa.select(Department))}
    regulation, process = make_criteria_documents(db, u, depts)
    programme = service.create_programme(db, u["manager"], year=YEAR, notes="")
    audits = {}
    for code, dept in depts.items():
        if code in unplanned:
            continue
        audits[code] = service.plan_audit(
            db,
            u["manager"],
            programme,
            department=dept,
            title=f"{dept.name}内审",
            audit_date=AUDIT_DAY if code == "KF" else date(YEAR, 6, 8),
            lead_auditor=u["auditor"] if code != "PZ" else u["auditor2"],
            objectives="检查服务过程是否按文件执行",
            scope="客户服务中心；业主入住流程",
            place="客服中心会议室",
            clauses=["8.5"] if code == "KF" else [],
            documents=[process.number] if code == "KF" else [],
        )
    db.commit()
    if approve:
        service.submit_programme(db, u["manager"], programme)
        service.approve_programme(
            db,
            u["gm"],
            programme,
            password=TEST_PASSWORD,
            content_sha256=service.programme_hash(programme),
        )
        db.commit()
    return World(
        u=u,
        depts=depts,
        programme=programme,
        audit=audits.get("KF"),
        audits=audits,
        regulation=regulation,
        process=process,
    )


@pytest.fixture
def world(db: Any, tmp_path: Path) -> World:
    return build(db, tmp_path)


def run_to_fieldwork(db: Any, w: World) -> Any:
    from qms.audits import service
    from qms.audits.models import Meeting

    audit = w.audit
    service.notify(db, w.u["auditor"], audit, notice_date=date(2027, 3, 5))
    service.record_meeting(
        db,
        w.u["auditor"],
        audit,
        Meeting.OPENING,
        present=[w.u["auditor"].id, w.u["approver"].id],
        held_on=AUDIT_DAY,
    )
    db.commit()
    return audit


@pytest.fixture
def served_world(app: Any, tmp_path: Path) -> World:
    """The same world, built in a context of its own that is closed before the test sends
    requests (an open request context would lend its `g`, and its signed-in user, to them)."""
    with app.test_request_context():
        from qms.db import get_session

        return build(get_session(), tmp_path)
