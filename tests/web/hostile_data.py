"""Hostile text in every user-controlled field, and a scanner that finds it unescaped.

``build(app)`` fills the demo data (departments, people, documents in every state,
procedures, external documents, controlled copies, recalls, read-and-understood tasks,
reviews with defects and comments, a Word import, mail, the trail) through the real
services with XSS payloads, each tagged with the field it went into, and returns the
``Hostile`` set: the fillers for every argument of the URL map. ``problems(html)`` lists
whatever a browser would run. Used by ``test_hostile_text.py`` and the browser test.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from tests.factories import TEST_PASSWORD, make_document, make_role_users

# -- payloads ----------------------------------------------------------------------------

TEMPLATE_MARK = "Q{{7*7}}Q"  # rendered as a template, it would read Q49Q


def hostile(tag: str, max_len: int = 200) -> str:
    """The longest payload that fits the field; ``tag`` names the field in alert(...)."""
    variants = [
        f"<script>alert('{tag}')</script>\"><img src=x onerror=alert('{tag}')>{TEMPLATE_MARK}",
        f"\"><img src=x onerror=alert('{tag}')>",
        f"<svg onload=alert('{tag}')>",
        "<b onclick=alert(1)>",
    ]
    for text in variants:
        if len(text) <= max_len:
            return text
    raise ValueError(f"no payload fits {max_len} characters")


def hostile_body(tag: str) -> str:
    """A Markdown body: raw HTML, script links, remote images and a table."""
    return (
        f"## {hostile(tag + 'h')}\n\n"
        f"{hostile(tag)}\n\n"
        f"[link](javascript:alert('{tag}')) <a href=\"javascript:alert('{tag}')\">a</a>\n\n"
        f'![pixel](https://tracker.example/{tag}.png) <img src="https://tracker.example/p.png">\n\n'
        f"<iframe src=\"https://evil.example/\"></iframe><svg onload=alert('{tag}')></svg>\n\n"
        f"| {hostile(tag + 'c', 40)} | b |\n|---|---|\n| 1 | {TEMPLATE_MARK} |\n"
    )


# -- the scanner -------------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}
FORBIDDEN_TAGS = {"iframe", "object", "embed", "base", "frame", "frameset"}


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and not str(values.get("src") or "").startswith("/static/"):
            self.found.append(f"<script> not from /static/: {attrs}")
        if tag in FORBIDDEN_TAGS:
            self.found.append(f"<{tag}> {attrs}")
        if tag == "meta" and values.get("http-equiv"):
            self.found.append(f"<meta http-equiv> {attrs}")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            cleaned = re.sub(r"[\x00-\x20]", "", value or "").lower()
            if name in URL_ATTRIBUTES and cleaned.startswith(
                ("javascript:", "vbscript:", "data:text/html")
            ):
                self.found.append(f"<{tag} {name}={value!r}>")
            if tag == "img" and name == "src" and cleaned.startswith(("http:", "https:", "//")):
                self.found.append(f"remote image <img src={value!r}>")

    handle_startendtag = handle_starttag


def problems(text: str) -> list[str]:
    """What a browser would run (or load from elsewhere) in this HTML or SVG."""
    scanner = _Scanner()
    scanner.feed(text)
    scanner.close()
    found = scanner.found
    for raw in ("<script>alert(", "Q49Q"):  # an escaped "onerror=" is harmless text
        at = text.find(raw)
        if at >= 0:
            found.append(f"raw {raw!r} in …{text[max(0, at - 80) : at + 80]}…")
    return found


# -- the data ----------------------------------------------------------------------------


@dataclass
class Hostile:
    """What the fixture made, and the values that fill each argument of the URL map."""

    fillers: dict[str, list[Any]] = field(default_factory=dict)
    # endpoint → full argument sets, for routes whose arguments must agree with each other
    endpoint_fillers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    usernames: list[str] = field(default_factory=list)
    # the main objects by name, for tests that visit particular pages
    named: dict[str, Any] = field(default_factory=dict)


def _user(session: Any, username: str) -> Any:
    from qms.auth.models import User

    return session.scalar(sa.select(User).where(User.username == username))


def _department(session: Any, code: str) -> Any:
    from qms.auth.models import Department

    return session.scalar(sa.select(Department).where(Department.code == code))


def _docx(tag: str) -> bytes:
    from docx import Document as new_docx

    from tests.word.conftest import PNG_1PX

    doc = new_docx()
    doc.add_heading(hostile(tag + "h", 100), level=1)
    doc.add_paragraph(hostile(tag))
    doc.add_picture(io.BytesIO(PNG_1PX))
    doc.add_comment(doc.paragraphs[-1].runs or doc.add_paragraph("x").runs, text=hostile(tag))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def build(app: Flask) -> Hostile:
    from qms.auth.models import Department, User
    from qms.auth.permissions import Role
    from qms.db import get_session
    from qms.distribution import copies, external, periodic, reading
    from qms.distribution.models import ExternalCategory, RecallOutcome
    from qms.documents import service as documents
    from qms.documents.models import DocKind, Family
    from qms.procedures import service as procedures
    from qms.procedures.models import LinkKind, StepType
    from qms.reviews import service as reviews
    from qms.reviews.models import Category, Conclusion, Severity
    from qms.word import service as word
    from qms.word.models import WordImport
    from qms.word.package import ImportLimits

    out = Hostile()
    with app.test_request_context():
        db = get_session()
        from qms.demo import DEMO_USERS

        if db.scalar(sa.select(User).where(User.username == DEMO_USERS[0][0])) is None:
            make_role_users()
        ids = [username for username, *_rest in DEMO_USERS]
        out.usernames = list(ids)
        for d in db.scalars(sa.select(Department)):
            d.name = hostile(f"dept{d.code}", 100)
            d.name_en = hostile(f"dept{d.code}en", 100)
        for u in db.scalars(sa.select(User)):
            u.display_name = hostile(f"user{u.username}", 100)
        db.flush()
        people = {name: _user(db, name) for name in ids}
        clerk, staff = people["clerk"], people["staff"]

        # who must read: everyone on staff, so the read page and the matrix have rows
        reading.save_rule(
            db, clerk, kind=None, department=None, roles=[Role.STAFF], departments=[], people=[]
        )

        effective = make_document(
            db,
            state="effective",
            title=hostile("title"),
            body=hostile_body("body"),
            author=clerk,
            reviewer=people["reviewer"],
            approver=people["approver"],
            clerk=clerk,
            department="KF",
        )
        in_force = effective.current_revision
        draft = documents.revise(
            db, clerk, effective, major_change=True, change_summary=hostile("summary")
        )
        documents.save_draft(
            db,
            clerk,
            draft,
            body=hostile_body("draftbody"),
            change_summary=hostile("summary2"),
            base_hash=draft.content_sha256,
            title=hostile("drafttitle"),
        )

        in_review = make_document(
            db,
            state="in_review",
            title=hostile("tasktitle"),
            body=hostile_body("rb"),
            author=clerk,
            reviewer=people["reviewer"],
            approver=people["gm"],
            department="KF",
        )
        reviewed = make_document(
            db,
            state="reviewed",
            title=hostile("reviewed"),
            body=hostile_body("rvb"),
            author=clerk,
            reviewer=people["reviewer"],
            approver=people["approver"],
            department="KF",
        )
        withdrawn = make_document(
            db,
            state="effective",
            title=hostile("withdrawn"),
            author=clerk,
            reviewer=people["reviewer"],
            approver=people["approver"],
            clerk=clerk,
        )
        documents.withdraw(
            db,
            clerk,
            withdrawn,
            reason=hostile("withdrawreason"),
            password=TEST_PASSWORD,
            content_sha256=withdrawn.current_revision.content_sha256,
        )

        # a procedure with hostile lanes, steps and links
        procedure = documents.create_document(
            db,
            clerk,
            title=hostile("proc"),
            kind=DocKind.PROCESS,
            department=_department(db, "KF"),
            body=hostile_body("procbody"),
            change_summary=hostile("procsummary"),
        )
        lane_a, lane_b = hostile("laneA", 60), hostile("laneB", 60)
        step = {"lane": lane_a, "explanation": hostile("stepwhy")}
        procedures.set_structure(
            db,
            procedure.working_revision,
            links={
                LinkKind.CONTROLLED_BY: [effective.number],
                LinkKind.REFERENCES: [hostile("ref", 32)],
            },
            iso_clauses=["8.5.1"],
            gap_note=hostile("gap"),
            lanes=[lane_a, lane_b],
            steps=[
                {
                    **step,
                    "number": 1,
                    "type": StepType.START,
                    "title": hostile("s1", 100),
                    "next_steps": [2],
                },
                {
                    **step,
                    "number": 2,
                    "lane": lane_b,
                    "type": StepType.DECISION,
                    "title": hostile("s2", 100),
                    "if_yes": 3,
                    "if_no": 1,
                    "forms_used": [hostile("form", 32)],
                },
                {**step, "number": 3, "type": StepType.END, "title": hostile("s3", 100)},
            ],
            actor=clerk,
        )
        rev = procedure.working_revision
        documents.submit_for_review(
            db,
            clerk,
            rev,
            reviewers=[people["reviewer"]],
            approver=people["approver"],
            password=TEST_PASSWORD,
            content_sha256=rev.content_sha256,
        )
        seen = rev.content_sha256
        documents.review(db, people["reviewer"], rev, password=TEST_PASSWORD, content_sha256=seen)
        documents.approve(db, people["approver"], rev, password=TEST_PASSWORD, content_sha256=seen)
        documents.issue(db, clerk, rev, password=TEST_PASSWORD, content_sha256=seen)

        # a rejected draft (the reviewer's comment) and a periodic review's comment
        rejected = make_document(
            db,
            state="in_review",
            title=hostile("rejected"),
            author=clerk,
            reviewer=people["reviewer"],
            approver=people["approver"],
            department="KF",
        )
        documents.reject(
            db, people["reviewer"], rejected.working_revision, comment=hostile("rejectcomment")
        )
        periodic.review_without_change(
            db, clerk, procedure, password=TEST_PASSWORD, comment=hostile("periodiccomment")
        )

        # external documents
        ext = external.register_external(
            db,
            clerk,
            title=hostile("exttitle"),
            category=ExternalCategory.NATIONAL_STANDARD,
            source=hostile("source"),
            reference=hostile("reference", 100),
            edition=hostile("edition", 100),
            url="https://std.example/?q=\"><script>alert('url')</script>",
            notes=hostile_body("extnotes"),
            department=_department(db, "PZ"),
            owner=staff,
        )
        external.check_currency(db, clerk, ext, note=hostile("currency"))

        # controlled copies: one held, one recalled, one waiting for its recall
        held = copies.issue_copy(
            db, clerk, in_force, holder_user=staff, location=hostile("location")
        )
        recalled = copies.issue_copy(
            db,
            clerk,
            in_force,
            holder_department=_department(db, "KF"),
            location=hostile("location2"),
        )
        waiting = copies.issue_copy(
            db, clerk, in_force, holder_user=people["auditor"], location=hostile("location3")
        )
        copies.request_recall(db, clerk, recalled, reason=hostile("recallreason"))
        copies.record_recall(
            db, clerk, recalled, next(iter(RecallOutcome)), note=hostile("recallnote")
        )
        copies.request_recall(db, clerk, waiting, reason=hostile("recallreason2"))
        del held

        # the general manager delegates the approval of review plans, with a reason
        from qms.reviews import approvers

        approvers.delegate(db, None, people["manager"], hostile("delegation"))

        # a review meeting with defects, comments and a conclusion
        review = reviews.create_review(
            db,
            people["leader"],
            title=hostile("reviewtitle"),
            department=_department(db, "KF"),
            objects=[reviews.ObjectSpec(reviewed.working_revision, pages=10)],
            reviewers=[people["reviewer"]],
            approver=people["gm"],
            recorder=people["manager"],
            system_version=hostile("ver", 40),
            strategy=hostile("strategy"),
            deliverables=hostile("deliverables"),
            regression_criteria=hostile("regression"),
            meeting_place=hostile("place"),
            agenda=hostile("agenda"),
            checklist=[hostile("check", 200)],
            planned_pages_per_hour=5,
        )
        leader = people["leader"]
        reviews.submit_plan(db, leader, review)
        reviews.approve_plan(
            db,
            people["gm"],
            review,
            password=TEST_PASSWORD,
            content_sha256=reviews.plan_hash(review),
        )
        for person in review.people():
            if person.id != leader.id:
                reviews.confirm_participation(db, person, review)
        reviews.publish(db, leader, review)
        defect = reviews.add_defect(
            db,
            people["reviewer"],
            review,
            description=hostile("defect"),
            severity=Severity.GENERAL,
            category=Category.WRONG,
            chapter=hostile("chapter", 40),
            section=hostile("section", 40),
            page=hostile("page", 20),
        )
        reviews.respond(db, clerk, defect, hostile("response"))
        reviews.start_meeting(
            db, leader, review, place=hostile("place2"), agenda=hostile("agenda2")
        )
        reviews.add_defect(
            db,
            leader,
            review,
            description=hostile("defect2"),
            severity=Severity.SERIOUS,
            category=Category.MISSING,
            raised_by=people["reviewer"],
        )
        reviews.close_meeting(db, leader, review, minutes=60)
        reviews.dispose(db, leader, defect, "accepted", reason=hostile("disposition"))
        reviews.conclude(db, leader, review, Conclusion.MINOR, notes=hostile("conclusion"))

        nonconformity = _hostile_nonconformity(db, procedure.number)

        # a Word import whose file name, heading and text are hostile
        record = word.import_as_new_document(
            db,
            clerk,
            word.Upload(filename=hostile("file", 200) + ".docx", data=_docx("docx")),
            title="",
            kind=DocKind.REGULATION,
            department=_department(db, "KF"),
            family=Family.STANDARD,
            attachment_dir=Path(app.config["DATA_DIR"]) / "attachments",
            limits=ImportLimits.from_config(app.config),
        )
        assert isinstance(record, WordImport)
        imported = record.revision.document
        db.commit()
        cert, feed_token = _hostile_certification(db, app, clerk)
        db.commit()

        # the working-day calendar: a day's name, the year's source, the reasons
        from qms.calendar import manage as calendar

        admin = people["admin"]
        calendar.add_day(
            db, admin, 2026, "2026-12-31", "holiday", hostile("calday", 100), hostile("calwhy")
        )
        calendar.set_arrangement(
            db, admin, 2026, hostile("calsource", 200), True, hostile("calwhy2")
        )
        db.commit()
        audit_ids = _hostile_audits(app, db, people)
        writing_ids = _hostile_writing(db, people)
        db.commit()

        from qms.mail.models import MailMessage
        from qms.word.models import Attachment

        numbers = [
            effective,
            in_review,
            reviewed,
            withdrawn,
            procedure,
            ext.document,
            imported,
            rejected,
        ]
        out.fillers = {
            "number": [d.number for d in numbers],
            "review_id": [review.id],
            "revision_id": [in_force.id, draft.id],
            "user_id": [staff.id, people["clerk"].id],
            "code": ["KF"],
            "sha256": list(db.scalars(sa.select(Attachment.sha256)))[:1],
            "import_id": [record.id],
            "message_id": list(db.scalars(sa.select(MailMessage.id).order_by(MailMessage.id)))[:3],
            "year": [2026],
            "day": ["2026-12-31"],
            **audit_ids,
            # the hostile nonconformity, and the one the audit's finding raised
            "nc_id": [nonconformity.id, *audit_ids.get("nc_id", [])],
            **cert,
            **writing_ids,
            "action_id": [nonconformity.actions[0].id],
        }
        out.named = {
            "effective": effective.number,
            "draft_id": draft.id,
            "in_review": in_review.number,
            "procedure": procedure.number,
            "external": ext.document.number,
            "withdrawn": withdrawn.number,
            "review_id": review.id,
            "import_id": record.id,
            "imported": imported.number,
            "in_force_id": in_force.id,
        }
        out.endpoint_fillers = {
            "documents.edit": [
                {"number": effective.number, "revision_id": draft.id},
                {"number": imported.number, "revision_id": record.revision.id},
            ],
            # the feed answers a token, not a browser session
            "api.certification_api.calendar_feed": [{"token": feed_token}],
        }
    return out


def _hostile_certification(db: Any, app: Flask, clerk: Any) -> tuple[dict[str, list[int]], str]:
    """Certification (qms/certification): every text a user types, hostile."""
    from qms import clock
    from qms.certification import service as certification
    from qms.certification.models import UnitKind

    body = certification.create_body(
        db, clerk, name=hostile("cert_body"), accreditation_number=hostile("accr", 100),
        contact_name=hostile("cert_contact", 100), contact_phone=hostile("cert_phone", 50),
        contact_email=hostile("cert_mail"), address=hostile("cert_address"))
    certification.add_unit(db, clerk, body, kind=UnitKind.INSPECTION_GROUP,
                           name=hostile("unit"), contact_name=hostile("unit_contact", 100))
    consultant = certification.create_consultant(
        db, clerk, name=hostile("consultant", 100), organisation=hostile("consultant_org"))
    project = certification.create_project(
        db, clerk, title=hostile("cert_title"), body=body, consultant=consultant,
        standard=hostile("cert_standard", 100), scope=hostile("cert_scope"),
        sites=hostile("cert_sites"), application_text=hostile("application"),
        advice=hostile("advice"))
    step = certification.take_step(
        db, clerk, project, certification.StepIn(
            action="prepare_application", responsible=hostile("responsible"),
            note=hostile("step_note"),
            files=[certification.FileIn(hostile("cert_file") + ".pdf", b"%PDF-1.4 hostile")]),
        attachment_dir=Path(app.config["DATA_DIR"]) / "attachments", max_bytes=2**20)
    decision = clock.today() - __import__("datetime").timedelta(days=30)
    certificate = certification.issue_certificate(
        db, clerk, body, certification.CertificateIn(
            number=hostile("cert_number", 100), standard=hostile("cert_std2", 100),
            scope=hostile("cert_scope2"), sites=hostile("cert_sites2"),
            decision_date=decision, grant_date=decision,
            scan=certification.FileIn(hostile("scan") + ".pdf", b"%PDF-1.4 scan")),
        attachment_dir=Path(app.config["DATA_DIR"]) / "attachments", max_bytes=2**20)
    certification.record_audit(db, clerk, certificate, kind="surveillance", held_on=clock.today(),
                               on_time=True, major_nonconformities=1,
                               note=hostile("audit_note"))
    certification.change_status(db, clerk, certificate, "suspend",
                                reason=hostile("suspend_reason"))
    fillers = {"body_id": [body.id], "project_id": [project.id],
               "file_id": [step.files[0].id], "certificate_id": [certificate.id]}
    return fillers, certification.new_feed_token(db, clerk)


def _hostile_writing(db: Any, people: dict[str, Any]) -> dict[str, list[int]]:
    """A writing plan (qms/writing) in circulation: every text a user types, hostile."""
    from datetime import timedelta

    from qms import clock
    from qms.certification import service as certification
    from qms.writing import service as writing

    clerk, manager, staff = people["clerk"], people["manager"], people["staff"]
    consultant = certification.create_consultant(db, clerk, name=hostile("wp_consultant", 100))
    today = clock.today()

    def item(kind: str, writer: Any, tag: str) -> Any:
        return writing.ItemIn(kind=kind, title=hostile(tag), department=_department(db, "KF"),
                              writer=writer, start_on=today, draft_due=today,
                              final_due=today + timedelta(days=5))

    plan = writing.create_plan(
        db, clerk, title=hostile("wp_title"), scope=hostile("wp_scope"), consultant=consultant,
        training_on=today, trainer=hostile("wp_trainer"), training_notes=hostile("wp_notes"),
        items=[item("manual_section", staff, "wp_section"), item("form", clerk, "wp_form"),
               item("regulation", staff, "wp_regulation")])
    writing.take_step(db, manager, plan, "confirm")
    section = plan.items[0]
    regulation = plan.items[2]  # written on the plan by the staff member, not yet taken in
    writing.start_draft(db, staff, regulation)
    writing.save_text(db, staff, regulation, body=hostile_body("wp_regulation_body"),
                      base_version=1)
    writing.submit_draft(db, staff, regulation)
    writing.start_draft(db, staff, section)
    writing.save_text(db, staff, section, body=hostile_body("wp_body"), base_version=1)
    writing.submit_draft(db, staff, section)
    writing.record_delay(db, clerk, plan.items[1], reason=hostile("wp_delay"))
    question = writing.ask(db, staff, plan, text=hostile("wp_question"), item=section)
    writing.answer(db, manager, question, text=hostile("wp_answer"), consultant=consultant)
    writing.ask(db, staff, plan, text=hostile("wp_open_question"))
    writing.take_step(db, clerk, plan, "start_writing")
    writing.take_step(db, clerk, plan, "consolidate")
    writing.assemble_manual(db, clerk, plan)
    finding = writing.record_finding(db, clerk, plan, category="interfaces",
                                     text=hostile("wp_finding"), item=section)
    writing.resolve_finding(db, clerk, finding, note=hostile("wp_resolution"))
    writing.record_finding(db, clerk, plan, category="records", text=hostile("wp_finding2"))
    writing.take_step(db, clerk, plan, "circulate", deadline=today)
    comment = writing.add_comment(db, clerk, plan, department=_department(db, "KF"),
                                  person=hostile("wp_person", 100),
                                  clause=hostile("wp_clause", 100), text=hostile("wp_comment"))
    writing.decide_comment(db, clerk, comment, decision="not_adopted",
                           reason=hostile("wp_reason"), confirmed_by=hostile("wp_by", 100))
    writing.add_comment(db, clerk, plan, department=_department(db, "KF"), person="张三",
                        clause="4.1", text=hostile("wp_comment2"))
    return {"plan_id": [plan.id], "plan_item_id": [section.id, plan.items[1].id, regulation.id]}


def _hostile_nonconformity(db: Any, process: str) -> Any:
    """A nonconformity with every text hostile: raised, cause and plan, an action done,
    verified not effective (reopened) and a new action planned."""
    from datetime import timedelta

    from qms import clock
    from qms.nonconformity import service as nonconformities

    owner, staff, auditor = _user(db, "approver"), _user(db, "staff"), _user(db, "auditor")
    nc = nonconformities.raise_nonconformity(
        db,
        actor=auditor,
        source="complaint",
        source_id=None,
        source_label=hostile("nc_source", 200),
        department=_department(db, "KF"),
        clause="8.5.1",
        process_number=process,
        grade="serious",
        description=hostile("nc_description"),
        evidence=hostile("nc_evidence"),
        raised_on=clock.today() - timedelta(days=40),
        verification_interval_days=0,
    )
    nonconformities.record_cause_and_plan(
        db,
        owner,
        nc,
        whys=[hostile(f"nc_why{i}") for i in range(1, 6)],
        root_cause=hostile("nc_root_cause"),
        correction=hostile("nc_correction"),
        plan=hostile("nc_plan"),
        reason=hostile("nc_reason"),
    )
    action = nonconformities.add_action(
        db, owner, nc, description=hostile("nc_action"), owner=staff, due_on=clock.today()
    )
    nonconformities.start_actions(db, owner, nc)
    nonconformities.complete_action(db, staff, nc, action, note=hostile("nc_done_note"))
    nonconformities.submit_for_verification(db, owner, nc)
    nonconformities.verify(
        db,
        auditor,
        nc,
        effective=False,
        password=TEST_PASSWORD,
        content_sha256=nc.content_sha256(),
        comment=hostile("nc_verification"),
    )
    nonconformities.add_action(
        db, owner, nc, description=hostile("nc_action2"), owner=staff, due_on=clock.today()
    )
    return nc
def _hostile_audits(app: Flask, db: Any, people: dict[str, Any]) -> dict[str, list[Any]]:
    """An internal audit whose every text is hostile: programme notes, plan, checklist item,
    evidence, finding, report, a photo's file name; it runs to its report."""
    from datetime import date

    from qms.audits import service as audits
    from qms.audits.models import Meeting
    from qms.auth.models import Department

    manager, auditor = people["manager"], people["auditor"]
    programme = audits.create_programme(db, manager, year=2027, notes=hostile("notes"))
    kf = None
    for dept in db.scalars(sa.select(Department).order_by(Department.id)):
        audit = audits.plan_audit(
            db,
            manager,
            programme,
            department=dept,
            title=hostile("atitle", 200),
            audit_date=date(2027, 3, 16),
            objectives=hostile("objectives"),
            scope=hostile("scope"),
            place=hostile("aplace", 200),
            lead_auditor=auditor if dept.code != "PZ" else None,
            clauses=["8.5"],
        )
        if dept.code == "KF":
            kf = audit
    assert kf is not None
    audits.submit_programme(db, manager, programme)
    audits.approve_programme(
        db,
        people["gm"],
        programme,
        password=TEST_PASSWORD,
        content_sha256=audits.programme_hash(programme),
    )
    audits.notify(db, auditor, kf, notice_date=date(2027, 3, 1))
    audits.record_meeting(
        db, auditor, kf, Meeting.OPENING, present=[auditor.id], held_on=date(2027, 3, 16)
    )
    item = audits.add_item(
        db, auditor, kf, question=hostile("question"), source=hostile("source", 64)
    )
    audits.edit_item(db, auditor, kf, item.id, result="nonconformity", evidence=hostile("evidence"))
    photo = audits.add_photo(
        db,
        auditor,
        kf,
        item.id,
        filename=hostile("photo", 200) + ".png",
        data=b"\x89PNG\r\n\x1a\n hostile",
        data_dir=app.config["DATA_DIR"],
    )
    finding = audits.raise_finding(
        db,
        auditor,
        kf,
        grade="general",
        description=hostile("finding"),
        evidence=hostile("fevidence"),
        criterion=hostile("criterion"),
        clause="8.5",
        item_id=item.id,
    )
    audits.record_meeting(
        db, auditor, kf, Meeting.CLOSING, present=[auditor.id], held_on=date(2027, 3, 17)
    )
    audits.edit_report(
        db,
        auditor,
        kf,
        conclusions=hostile("conclusions"),
        conformity_degree=hostile("degree"),
        diverging_opinions=hostile("diverging"),
        distribution=hostile("distribution"),
    )
    db.commit()
    return {
        "audit_id": [kf.id],
        "programme_id": [programme.id],
        "photo_id": [photo.id],
        # the nonconformity the finding raised on BD-PZ-008
        "nc_id": [finding.nonconformity_id],
    }
