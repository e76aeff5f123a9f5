"""The authorization matrix: every route × every demo role (and an anonymous visitor) ×
every method the route accepts, judged against the table in tests/web/route_matrix.py.

Routes with arguments are filled from one set of factory-made records (an effective
document, a draft, a procedure, a review with a defect and a checklist, a controlled copy,
an external document, a reading rule, a mail message, a Word import, an attachment...).
A refused write must answer 403 (401 or the sign-in page when anonymous) and leave every
table's row count, the trail included, as it was. Nothing may answer 500.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.routing import Rule

from qms.auth.permissions import Role
from qms.models import metadata
from tests.factories import TEST_PASSWORD, make_document
from tests.web.route_matrix import ANONYMOUS, ROUTES, SIGNED_IN, Access

MATRIX_FILE = "tests/web/route_matrix.py"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
ROLES = [*sorted(SIGNED_IN), ANONYMOUS]


def _rules(app: Flask) -> list[Rule]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint != "static"),
        key=lambda r: (r.rule, r.endpoint),
    )


def _methods(rule: Rule) -> set[str]:
    return set(rule.methods or ()) - {"HEAD", "OPTIONS"}


# -- the declaration is complete --------------------------------------------------------


def test_every_route_is_declared_in_the_matrix(app: Flask) -> None:
    by_endpoint: dict[str, tuple[set[str], list[str]]] = {}
    for rule in _rules(app):
        methods, paths = by_endpoint.setdefault(rule.endpoint, (set(), []))
        methods |= _methods(rule)
        paths.append(rule.rule)
    problems = []
    for endpoint, (methods, paths) in sorted(by_endpoint.items()):
        access = ROUTES.get(endpoint)
        if access is None:
            example = ", ".join(f"{m.lower()}=<roles>" for m in sorted(methods))
            problems.append(
                f"{'/'.join(sorted(methods))} {' '.join(paths)}: endpoint {endpoint!r} is not "
                f"declared. Add `{endpoint!r}: Access({example}),` to ROUTES in "
                f"{MATRIX_FILE}, naming the roles that may use it (SIGNED_IN, "
                f"DOCUMENT_CONTROL, ADMIN, ... or ANYONE for a public route)."
            )
        elif set(access.methods()) != methods:
            problems.append(
                f"{' '.join(paths)}: {MATRIX_FILE} declares {sorted(access.methods())} for "
                f"{endpoint!r} but the route accepts {sorted(methods)}; declare exactly the "
                "methods the route accepts."
            )
    for endpoint in sorted(set(ROUTES) - set(by_endpoint)):
        problems.append(
            f"{MATRIX_FILE} declares {endpoint!r}, which is no longer a route: remove it."
        )
    assert not problems, "\n".join(problems)


def test_every_view_declares_who_may_use_it(app: Flask) -> None:
    undeclared = [
        rule.rule
        for rule in _rules(app)
        if not getattr(app.view_functions[rule.endpoint], "public", False)
        and not hasattr(app.view_functions[rule.endpoint], "required_permissions")
    ]
    assert undeclared == []


def test_public_routes_are_marked_public_on_the_view(app: Flask) -> None:
    """A route the table opens to anonymous visitors is a @public view, and only those."""
    for rule in _rules(app):
        access = ROUTES.get(rule.endpoint, Access())
        open_to_anyone = any(ANONYMOUS in roles for roles in access.methods().values())
        assert open_to_anyone == getattr(app.view_functions[rule.endpoint], "public", False), (
            rule.rule
        )


# -- the records the routes' arguments name ---------------------------------------------


def build_world(app: Flask) -> dict[str, Any]:
    """One of each record a route can name, made through the real services by the demo
    users, committed. Returns the values of the routes' arguments."""
    from qms.auth import service as auth_service
    from qms.auth.models import Department, User
    from qms.db import get_session
    from qms.distribution import copies, external, reading
    from qms.distribution.models import ExternalCategory
    from qms.mail.service import queue_mail
    from qms.procedures.models import DocumentLink, FlagReason, LinkKind, ReviewFlag
    from qms.reviews import service as reviews
    from qms.reviews.models import Category, Severity
    from qms.word.models import Attachment, WordImport

    with app.test_request_context():
        s = get_session()
        u = {user.username: user for user in s.scalars(sa.select(User))}
        kf = s.scalar(sa.select(Department).where(Department.code == "KF"))
        people = {"author": u["clerk"], "reviewer": u["reviewer"], "approver": u["approver"]}
        effective = make_document(s, state="effective", clerk=u["clerk"], **people)
        procedure = make_document(
            s, state="effective", kind="process", clerk=u["clerk"], title="投诉处理程序", **people
        )
        # a link that is our reading of the handbook, for the clerk to confirm
        s.add(
            DocumentLink(
                revision_id=procedure.current_revision_id,
                kind=LinkKind.CONTROLLED_BY,
                target_number=effective.number,
                inferred=True,
            )
        )
        draft = make_document(s, state="draft", author=u["clerk"], title="访客管理制度")
        under_review = make_document(s, state="in_review", title="装修管理制度", **people)

        review = reviews.create_review(
            s,
            u["leader"],
            title="客户服务体系评审",
            department=kf,
            objects=[reviews.ObjectSpec(under_review.working_revision, pages=10)],
            reviewers=[u["reviewer"]],
            approver=u["gm"],
            planned_pages_per_hour=5,
        )
        reviews.submit_plan(s, u["leader"], review)
        reviews.approve_plan(
            s, u["gm"], review, password=TEST_PASSWORD, content_sha256=reviews.plan_hash(review)
        )
        for person in review.people():
            if person.id != u["leader"].id:
                reviews.confirm_participation(s, person, review)
        reviews.publish(s, u["leader"], review)
        defect = reviews.add_defect(
            s,
            u["reviewer"],
            review,
            description="错字",
            severity=Severity.GENERAL,
            category=Category.WRONG,
        )

        copy = copies.issue_copy(
            s, u["clerk"], effective.current_revision, holder_user=u["staff"], location="前台"
        )
        ext = external.register_external(
            s,
            u["clerk"],
            title="物业管理条例",
            category=ExternalCategory.LAW,
            source="国务院",
            department=kf,
            owner=u["staff"],
        )
        rule = reading.save_rule(
            s,
            u["clerk"],
            kind=None,
            department=None,
            roles=[Role.STAFF],
            departments=[],
            people=[],
        )
        message = queue_mail(s, u["staff"], "文件发布通知", "请阅读。")
        flag = ReviewFlag(
            document_id=procedure.id,
            procedure_revision_id=procedure.current_revision_id,
            cause_number=effective.number,
            cause_label="A/0",
            reason=FlagReason.REVISED,
        )
        word_import = WordImport(
            document_id=draft.id,
            revision_id=draft.working_revision.id,
            filename="访客.docx",
            file_sha256="0" * 64,
            size=1,
            imported_by_id=u["clerk"].id,
            unconverted=[],
        )
        picture = b"\x89PNG\r\n\x1a\n matrix"
        sha = hashlib.sha256(picture).hexdigest()
        folder = Path(app.config["DATA_DIR"]) / "attachments"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / sha).write_bytes(picture)
        s.add_all([flag, word_import])
        s.add(
            Attachment(
                document_id=effective.id,
                revision_id=effective.current_revision_id,
                sha256=sha,
                filename="logo.png",
                content_type="image/png",
                size=len(picture),
                uploaded_by_id=u["clerk"].id,
            )
        )
        nc = _make_nonconformity(s, u, procedure.number)
        # the staff member's own API token: others may not revoke it (404), an admin may
        token, _secret = auth_service.issue_token(s, u["staff"], u["staff"], "matrix")
        cert = _certification_world(s, u, app)
        writing = _writing_world(s, u)
        s.commit()
        audits = _audit_world(app, s, u)
        assert message is not None
        return {
            "token_id": token.id,
            "number": effective.number,
            "procedure": procedure.number,
            "draft": draft.number,
            "draft_revision_id": draft.working_revision.id,
            "draft_sha256": draft.working_revision.content_sha256,
            "revision_id": effective.current_revision_id,
            "review_id": review.id,
            "defect": defect.number,
            "item_id": review.checklist[0].id,
            "copy_id": copy.id,
            "external": ext.document.number,
            "rule_id": rule.id,
            "message_id": message.id,
            "flag_id": flag.id,
            "import_id": word_import.id,
            "sha256": sha,
            "user_id": u["staff"].id,
            "code": "KF",
            # the working-day calendar: a year and a day of the shipped data
            "year": 2026,
            "day": "2026-10-01",
            **audits,
            **cert,
            **writing,
            "nc_id": nc.id,
            "action_id": nc.actions[0].id,
        }


def _audit_world(app: Flask, s: Any, u: dict[str, Any]) -> dict[str, Any]:
    """An approved audit programme, an audit in its fieldwork with an answered checklist
    item (so that regenerating the checklist is refused), a finding and a photo."""
    from qms.audits import service as audits
    from tests.audits.conftest import make_audit_world, run_to_fieldwork

    w = make_audit_world(s, u)
    audit = run_to_fieldwork(s, w)
    item = audits.add_item(s, u["auditor"], audit, question="钥匙借用登记")
    audits.edit_item(s, u["auditor"], audit, item.id, result="conforms", evidence="已登记")
    finding = audits.raise_finding(
        s, u["auditor"], audit, grade="observation", description="登记字迹潦草", evidence=""
    )
    photo = audits.add_photo(
        s,
        u["auditor"],
        audit,
        item.id,
        filename="现场.png",
        data=b"\x89PNG\r\n\x1a\n audit",
        data_dir=app.config["DATA_DIR"],
    )
    s.commit()
    return {
        "audit_id": audit.id,
        "programme_id": w.programme.id,
        "audit_item_id": item.id,
        "audit_finding_number": finding.number,
        "criterion_id": audit.criteria[-1].id,
        "photo_id": photo.id,
    }
def _certification_world(s: Any, u: dict[str, Any], app: Flask) -> dict[str, Any]:
    from qms import clock
    from qms.certification import service as certification

    body = certification.create_body(s, u["manager"], name="华信质量认证有限公司")
    project = certification.create_project(
        s, u["manager"], title="初次认证", body=body, consultant=None,
        standard="GB/T 19001-2016", scope="物业管理服务")
    step = certification.take_step(
        s, u["clerk"], project, certification.StepIn(
            action="prepare_application",
            files=[certification.FileIn("申请书.pdf", b"%PDF-1.4 matrix")]),
        attachment_dir=Path(app.config["DATA_DIR"]) / "attachments", max_bytes=2**20)
    certificate = certification.issue_certificate(
        s, u["manager"], body, certification.CertificateIn(
            number="01326Q30117R0M", standard="GB/T 19001-2016", scope="物业管理服务",
            sites="", decision_date=clock.today(), grant_date=clock.today()))
    s.flush()
    return {"body_id": body.id, "project_id": project.id, "file_id": step.files[0].id,
            "certificate_id": certificate.id}


def _writing_world(s: Any, u: dict[str, Any]) -> dict[str, Any]:
    """A writing plan being written: the staff member writes its first manual section."""
    from tests.writing.conftest import make_plan

    plan = make_plan(s, u, "writing")
    return {"plan_id": plan.id, "plan_item_id": plan.items[0].id}


def _make_nonconformity(s: Any, u: dict[str, Any], process: str) -> Any:
    """A nonconformity of KF with its cause recorded and one action under way."""
    from datetime import timedelta

    from qms import clock
    from qms.nonconformity import service as nonconformities

    nc = nonconformities.raise_nonconformity(
        s,
        actor=u["auditor"],
        source="internal_audit",
        source_id=None,
        source_label="内审",
        department=u["staff"].department,
        clause="8.5.1",
        process_number=process,
        grade="general",
        description="回访记录缺失",
        evidence="抽查20份记录，3份无回访",
        raised_on=clock.today() - timedelta(days=3),
    )
    nonconformities.record_cause_and_plan(
        s, u["approver"], nc, whys=["未规定"], root_cause="流程缺失"
    )
    nonconformities.add_action(
        s, u["approver"], nc, description="修订流程", owner=u["staff"], due_on=clock.today()
    )
    nonconformities.record_cause_and_plan(
        s, u["approver"], nc, whys=["未规定"], root_cause="流程缺失"
    )
    nonconformities.add_action(s, u["approver"], nc, description="修订流程", owner=u["staff"],
                               due_on=clock.today())
    nonconformities.start_actions(s, u["approver"], nc)
    return nc


# Which record an argument names, where it is not the argument's own name in the world.
ARGUMENTS: dict[str, dict[str, str]] = {
    "documents.edit": {"number": "draft", "revision_id": "draft_revision_id"},
    "api.documents_api.patch_draft": {"number": "draft"},
    "procedures.show": {"number": "procedure"},
    "procedures.chart": {"number": "procedure"},
    "procedures.confirm_link": {"number": "procedure", "target": "number"},
    "api.procedures_api.procedure": {"number": "procedure"},
    "reviews.update_defect": {"number": "defect"},
    "api.reviews_api.update_defect": {"number": "defect"},
    "distribution.external_detail": {"number": "external"},
    "distribution.external_check": {"number": "external"},
    "distribution.external_edit": {"number": "external"},
    "distribution.external_edition": {"number": "external"},
    "api.writing_api.take_in": {"item_id": "plan_item_id"},
    "audits.update_item": {"item_id": "audit_item_id"},
    "audits.delete_item": {"item_id": "audit_item_id"},
    "audits.add_photo": {"item_id": "audit_item_id"},
    "audits.acknowledge": {"number": "audit_finding_number"},
}
# Arguments whose value is fixed rather than a record.
FIXED = {"main.set_language": {"code": "en"}}


def url_for_rule(rule: Rule, world: dict[str, Any]) -> str:
    names = ARGUMENTS.get(rule.endpoint, {})
    values = dict(FIXED.get(rule.endpoint, {}))
    for arg in sorted(rule.arguments - set(values)):
        record = names.get(arg, arg)
        if record not in world:
            raise AssertionError(
                f"{rule.rule} ({rule.endpoint}) takes <{arg}>, and the matrix has no record "
                f"for it: make one in build_world() of tests/web/test_route_matrix.py, or "
                f"name the record it takes in ARGUMENTS there."
            )
        values[arg] = world[record]
    _domain, path = rule.build(values)
    return path


def table_fingerprint(app: Flask) -> tuple[int, ...]:
    """The row count of every table (the trail's among them), in one query."""
    counts = [
        sa.select(sa.func.count()).select_from(table).scalar_subquery()
        for table in metadata.sorted_tables
    ]
    with app.extensions["qms.engine"].connect() as conn:
        return tuple(conn.execute(sa.select(*counts)).one())


# -- the matrix ---------------------------------------------------------------------------


def _requests(app: Flask) -> list[tuple[Rule, str]]:
    """Reads first, then writes; signing out last, so it does not end the session early."""
    pairs = [(rule, method) for rule in _rules(app) for method in sorted(_methods(rule))]
    return sorted(pairs, key=lambda p: (p[0].endpoint == "auth.logout", p[1] in WRITES, p[0].rule))


def _signed_out(response: Any) -> bool:
    return response.status_code == 302 and "/login" in response.headers.get("Location", "")


def judge(role: str, rule: Rule, method: str, response: Any, changed: bool) -> str | None:
    """What is wrong with the answer, or None."""
    access = ROUTES[rule.endpoint]
    allowed = role in access.methods()[method]
    status = response.status_code
    api = rule.rule.startswith("/api/")
    if status >= 500:
        return f"answered {status}"
    if not allowed:
        if role == ANONYMOUS:
            if api and status != 401:
                return f"anonymous got {status}, expected 401"
            if not api and not _signed_out(response):
                return f"anonymous got {status}, expected a redirect to sign in"
        elif status != 403:
            return f"got {status}, expected 403 (not declared for {role})"
        if changed:
            return "a refused write changed the database"
        return None
    if status == 401 or (_signed_out(response) and rule.endpoint != "auth.logout"):
        return f"declared for {role} but answered {status} (sign in)"
    if status == 403:
        if not access.object_rule:
            return f"declared for {role} but answered 403"
        if changed:
            return "a write refused by the object rule changed the database"
        return None
    if method == "GET" and status >= 400 and not (access.object_rule and status == 404):
        return f"declared for {role} but answered {status}"
    return None


def test_route_matrix(app: Flask, users: dict[str, Any]) -> None:
    """One set of records for every role: each write is judged by its own before/after
    row counts, so what an earlier role was allowed to change does not blur the answer."""
    from tests.conftest import login

    world = build_world(app)
    requests = _requests(app)
    failures = []
    for role in ROLES:
        client = app.test_client()
        if role != ANONYMOUS:
            assert login(client, role).status_code == 302
        for rule, method in requests:
            if rule.endpoint not in ROUTES:  # test_every_route_is_declared_in_the_matrix says so
                failures.append(f"{method} {rule.rule}: {rule.endpoint!r} is not declared")
                continue
            url = url_for_rule(rule, world)
            before = table_fingerprint(app) if method in WRITES else None
            body: dict[str, Any] = {"json": {}} if rule.rule.startswith("/api/") else {"data": {}}
            response = client.open(url, method=method, **(body if method in WRITES else {}))
            response.close()  # a file sent by send_file stays open until then
            changed = before is not None and table_fingerprint(app) != before
            problem = judge(role, rule, method, response, changed)
            if problem:
                failures.append(f"{method} {url} ({rule.endpoint}) as {role}: {problem}")
    assert not failures, "\n".join(failures)
    assert len(requests) > 90


# -- numbers out of range -----------------------------------------------------------------


@pytest.mark.parametrize("huge", [2**31, 2**64])
def test_ids_beyond_the_database_integer_are_404(
    app: Flask, users: Any, client_as: Any, huge: int
) -> None:
    """`<int:…>` in any route refuses a number above 2**31 - 1 with 404, not an overflow
    (2**31 overflows PostgreSQL's integer, 2**64 SQLite's)."""
    from werkzeug.routing import IntegerConverter

    world = build_world(app)
    clients: dict[str, Any] = {}
    checked = []
    for rule in _rules(app):
        ids = [a for a, c in rule._converters.items() if isinstance(c, IntegerConverter)]
        if not ids:
            continue
        names = ARGUMENTS.get(rule.endpoint, {})
        url = url_for_rule(rule, {**world, **{names.get(a, a): huge for a in ids}})
        for method in sorted(_methods(rule)):
            # as someone the route is open to, so the role check cannot answer first
            declared = ROUTES.get(rule.endpoint, Access(**{method.lower(): SIGNED_IN}))
            role = min(declared.methods().get(method, SIGNED_IN) - {ANONYMOUS} or SIGNED_IN)
            client = clients.get(role) or clients.setdefault(role, client_as(role))
            body = {"json": {}} if rule.rule.startswith("/api/") else {"data": {}}
            response = client.open(url, method=method, **(body if method in WRITES else {}))
            assert response.status_code == 404, (method, url, role, response.status_code)
            checked.append(url)
    assert len(checked) > 20
    client = client_as("leader")
    assert client.get(f"/api/v1/reviews/{huge}").get_json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/reviews/{world['review_id']}").status_code == 200


# -- the judge itself can fail ------------------------------------------------------------


class _Answer:
    def __init__(self, status: int, location: str = "") -> None:
        self.status_code = status
        self.headers = {"Location": location} if location else {}


def _rule(app: Flask, endpoint: str) -> Rule:
    return next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)


def test_the_judge_refuses_what_the_table_does_not_allow(app: Flask) -> None:
    trail = _rule(app, "trail.entries")
    assert judge("staff", trail, "GET", _Answer(200), False) is not None
    assert judge("staff", trail, "GET", _Answer(403), False) is None
    assert judge("auditor", trail, "GET", _Answer(403), False) is not None
    assert judge("auditor", trail, "GET", _Answer(500), False) is not None
    assert judge(ANONYMOUS, trail, "GET", _Answer(200), False) is not None
    assert judge(ANONYMOUS, trail, "GET", _Answer(302, "/login?next=/trail/"), False) is None
    me = _rule(app, "api.auth_api.me")
    assert judge(ANONYMOUS, me, "GET", _Answer(302, "/login"), False) is not None
    assert judge(ANONYMOUS, me, "GET", _Answer(401), False) is None
    create = _rule(app, "api.documents_api.create_document")
    assert judge("staff", create, "POST", _Answer(403), True) is not None
    assert judge("staff", create, "POST", _Answer(403), False) is None
    assert judge("clerk", create, "POST", _Answer(403), False) is not None
    assert judge("clerk", create, "POST", _Answer(422), True) is None
    attendance = _rule(app, "reviews.attendance")
    assert judge("staff", attendance, "POST", _Answer(403), False) is None  # object rule
    assert judge("staff", attendance, "POST", _Answer(403), True) is not None
