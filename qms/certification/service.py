"""Certification operations. Each takes what it needs, writes the audit trail in the same
transaction and only flushes; the view, the API or the worker commits once."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import Meaning, User
from qms.auth.permissions import Permission
from qms.certification import rules
from qms.certification.models import (
    BodyUnit,
    Certificate,
    CertificateAudit,
    CertificateStatus,
    CertificationBody,
    CertificationProject,
    Consultant,
    FeedToken,
    ProjectStep,
    StepFile,
    UnitKind,
)
from qms.certification.rules import CertificateKind, Facts, ProjectAction, ProjectState
from qms.db import utcnow
from qms.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from qms.trail import service as trail

# what a step's attachment may be: scans and office files, nothing executable
ALLOWED_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_MAGIC = {
    ".pdf": b"%PDF",
    ".png": b"\x89PNG",
    ".jpg": b"\xff\xd8",
    ".jpeg": b"\xff\xd8",
    ".docx": b"PK",
    ".xlsx": b"PK",
}


@dataclass
class FileIn:
    filename: str
    data: bytes
    direction: str = "received"  # received from the body, or sent to it


@dataclass
class CertificateIn:
    number: str
    standard: str
    scope: str
    sites: str
    decision_date: date | None
    grant_date: date | None
    expiry_date: date | None = None
    kind: CertificateKind = CertificateKind.INITIAL
    previous: Certificate | None = None
    scan: FileIn | None = None


@dataclass
class StepIn:
    action: str
    on_date: date | None = None
    responsible: str = ""
    note: str = ""
    files: list[FileIn] = field(default_factory=list)
    password: str = ""
    content_sha256: str | None = None
    certificate: CertificateIn | None = None


def _manage(actor: User) -> None:
    if not actor.can(Permission.MANAGE_CERTIFICATION):
        raise Forbidden(_l("Only the quality manager and the quality clerk manage certification."))


def _text(value: str, what: Any, limit: int = 200, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(_l("%(what)s is required.", what=what))
    if len(value) > limit:
        raise Invalid(_l("%(what)s is too long (at most %(n)d characters).", what=what, n=limit))
    return value


# -- registers ------------------------------------------------------------------------------


def create_body(
    session: Session,
    actor: User,
    *,
    name: str,
    accreditation_number: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    address: str = "",
) -> CertificationBody:
    _manage(actor)
    name = _text(name, _l("The name of the body"))
    if session.scalar(sa.select(CertificationBody.id).where(CertificationBody.name == name)):
        raise Conflict(
            _l("A certification body named %(name)s is already registered.", name=name),
            code="duplicate_body",
        )
    body = CertificationBody(
        name=name,
        accreditation_number=_text(accreditation_number, "", 100, False),
        contact_name=_text(contact_name, "", 100, False),
        contact_phone=_text(contact_phone, "", 50, False),
        contact_email=_text(contact_email, "", 200, False),
        address=_text(address, "", 300, False),
    )
    session.add(body)
    session.flush()
    trail.record(
        session,
        actor,
        "create",
        "cert_body",
        body.id,
        new=f"{body.name}; {body.accreditation_number}",
    )
    return body


def add_unit(
    session: Session,
    actor: User,
    body: CertificationBody,
    *,
    kind: UnitKind,
    name: str,
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
) -> BodyUnit:
    _manage(actor)
    unit = BodyUnit(
        body=body,
        kind=kind,
        name=_text(name, _l("The name")),
        contact_name=_text(contact_name, "", 100, False),
        contact_phone=_text(contact_phone, "", 50, False),
        contact_email=_text(contact_email, "", 200, False),
    )
    session.add(unit)
    session.flush()
    trail.record(session, actor, "add_unit", "cert_body", body.id, new=f"{kind}: {unit.name}")
    return unit


def create_consultant(
    session: Session,
    actor: User,
    *,
    name: str,
    organisation: str = "",
    contact_phone: str = "",
    contact_email: str = "",
) -> Consultant:
    _manage(actor)
    consultant = Consultant(
        name=_text(name, _l("The name"), 100),
        organisation=_text(organisation, "", 200, False),
        contact_phone=_text(contact_phone, "", 50, False),
        contact_email=_text(contact_email, "", 200, False),
    )
    session.add(consultant)
    session.flush()
    trail.record(
        session,
        actor,
        "create",
        "cert_consultant",
        consultant.id,
        new=f"{consultant.name}; {consultant.organisation}",
    )
    return consultant


def get_body(session: Session, body_id: Any) -> CertificationBody:
    body = session.get(CertificationBody, body_id) if isinstance(body_id, int) else None
    if body is None:
        raise Invalid(_l("Choose a registered certification body."), code="unknown_body")
    return body


# -- projects -------------------------------------------------------------------------------


def create_project(
    session: Session,
    actor: User,
    *,
    title: str,
    body: CertificationBody,
    consultant: Consultant | None,
    standard: str,
    scope: str,
    sites: str = "",
    application_text: str = "",
    advice: str = "",
    advice_on: date | None = None,
) -> CertificationProject:
    """A project starts with the consultant's advice (5.1 node 1)."""
    _manage(actor)
    on = _not_future(advice_on or clock.today())
    project = CertificationProject(
        title=_text(title, _l("The title")),
        body=body,
        consultant=consultant,
        standard=_text(standard, _l("The standard"), 100),
        scope=_text(scope, _l("The scope"), 2000),
        sites=_text(sites, "", 2000, False),
        application_text=_text(application_text, "", 20000, False),
        state=ProjectState.ADVICE,
        created_by_id=actor.id,
    )
    session.add(project)
    session.flush()
    session.add(
        ProjectStep(
            project=project,
            action=ProjectAction.PREPARE_APPLICATION,
            state_before=ProjectState.ADVICE,
            state_after=ProjectState.ADVICE,
            on_date=on,
            responsible=consultant.name if consultant else "",
            note=_text(advice, "", 5000, False),
            actor_id=actor.id,
        )
    )
    session.flush()
    trail.record(
        session,
        actor,
        "create",
        "cert_project",
        project.id,
        new=f"{project.title}; {body.name}; {project.standard}",
    )
    return project


def get_project(session: Session, project_id: int) -> CertificationProject:
    project = session.get(CertificationProject, project_id)
    if project is None:
        raise NotFound(_l("There is no certification project %(id)s.", id=project_id))
    return project


def application_hash(project: CertificationProject) -> str:
    """What the general manager signs: the application as the body will receive it."""
    return _hash(
        {
            "title": project.title,
            "body": project.body.name,
            "standard": project.standard,
            "scope": project.scope,
            "sites": project.sites,
            "application": project.application_text,
        }
    )


def contract_hash(project: CertificationProject) -> str:
    return _hash(
        {
            "body": project.body.name,
            "standard": project.standard,
            "scope": project.scope,
            "sites": project.sites,
            "contract": project.contract_text,
            "application": application_hash(project),
        }
    )


def _hash(data: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def signed_hash(project: CertificationProject, action: ProjectAction) -> str:
    return (
        application_hash(project)
        if action == ProjectAction.SIGN_APPLICATION
        else (contract_hash(project))
    )


def facts(project: CertificationProject) -> Facts:
    return Facts(
        audit_report=project.audit_report_on is not None,
        inspection_report=project.inspection_report_on is not None,
    )


def next_actions(project: CertificationProject, user: User, gm: User | None) -> list[str]:
    out = []
    for action in rules.allowed_actions(project.state, facts(project)):
        if action in rules.SIGNED_ACTIONS:
            if gm is not None and gm.id == user.id:
                out.append(str(action))
        elif user.can(Permission.MANAGE_CERTIFICATION):
            out.append(str(action))
    return out


REFUSALS = {
    "unknown_action": _l("There is no such step."),
    "out_of_order": _l(
        "This step cannot be taken now: the project is at “%(state)s”. "
        "Take the steps in the order of the certification process."
    ),
    "reports_missing": _l(
        "The decision cannot be recorded until both reports are in: the "
        "inspection group's audit report and the inspection institution's "
        "inspection report."
    ),
    "report_already_received": _l("This report has already been received."),
}


def _not_future(day: date) -> date:
    if day > clock.today():
        raise Invalid(_l("A step cannot be dated in the future."), code="future_date")
    return day


def take_step(
    session: Session,
    actor: User,
    project: CertificationProject,
    step: StepIn,
    *,
    attachment_dir: Path,
    max_bytes: int,
) -> ProjectStep:
    """Take one step of 5.1: check the order (and the reports before a decision), the
    signer's password and the text they read, the files; record the step and its trail."""
    from qms.certification.labels import STATE_LABELS

    try:
        action = ProjectAction(step.action)
    except ValueError:
        raise Invalid(REFUSALS["unknown_action"], code="unknown_action") from None
    if action in rules.SIGNED_ACTIONS:
        from qms.reviews.approvers import general_manager

        gm = general_manager(session)
        if gm is None or gm.id != actor.id:
            raise Forbidden(
                _l("Only the general manager signs the application and the contract."),
                code="not_general_manager",
            )
    else:
        _manage(actor)
    try:
        new_state = rules.transition(project.state, action, facts(project))
    except rules.StepRefused as refused:
        raise Conflict(
            REFUSALS[refused.code] % {"state": STATE_LABELS[project.state]}
            if refused.code == "out_of_order"
            else REFUSALS[refused.code],
            code=refused.code,
        ) from None
    from qms.certification.findings import check_no_open_major

    check_no_open_major(session, project, action)
    on = _not_future(step.on_date or clock.today())
    if project.steps and on < max(s.on_date for s in project.steps):
        raise Invalid(
            _l("A step cannot be dated before the step that came before it."),
            code="date_before_previous",
        )
    files = [_check_file(f, max_bytes) for f in step.files]
    signature = None
    if action in rules.SIGNED_ACTIONS:
        from qms.auth.signatures import check_seen, sign

        current = signed_hash(project, action)
        check_seen(step.content_sha256, current)
        signature = sign(
            session,
            actor,
            step.password,
            Meaning.APPROVED,
            content_sha256=current,
            object_type="cert_project",
            object_id=project.id,
            comment=step.note,
        )
    certificate = None
    if action == ProjectAction.CERTIFY:
        if step.certificate is None:
            raise Invalid(_l("Record the certificate the body granted."), code="certificate")
        certificate = issue_certificate(
            session,
            actor,
            project.body,
            step.certificate,
            project=project,
            attachment_dir=attachment_dir,
            max_bytes=max_bytes,
        )
        last = max((s.on_date for s in project.steps), default=certificate.decision_date)
        if certificate.decision_date < last:
            raise Invalid(
                _l(
                    "The decision cannot be dated before the reports it rests on (%(date)s).",
                    date=last.isoformat(),
                ),
                code="decision_before_reports",
            )
        if step.on_date is None:
            on = certificate.decision_date  # the step is the body's decision
    if action == ProjectAction.RECEIVE_AUDIT_REPORT:
        project.audit_report_on = on
    if action == ProjectAction.RECEIVE_INSPECTION_REPORT:
        project.inspection_report_on = on
    record = ProjectStep(
        project=project,
        action=action,
        state_before=project.state,
        state_after=new_state,
        on_date=on,
        responsible=_text(step.responsible, "", 200, False),
        note=_text(step.note, "", 5000, False),
        actor_id=actor.id,
        signature=signature,
    )
    session.add(record)
    for f, content_type in files:
        sha = hashlib.sha256(f.data).hexdigest()
        _store(attachment_dir, sha, f.data)
        session.add(
            StepFile(
                step=record,
                direction=f.direction,
                filename=f.filename[:255],
                content_type=content_type,
                size=len(f.data),
                sha256=sha,
            )
        )
    old = project.state
    project.state = new_state
    session.flush()
    trail.record(
        session,
        actor,
        str(action),
        "cert_project",
        project.id,
        field="state",
        old=str(old),
        new=str(new_state),
        reason="; ".join(
            x
            for x in (
                str(on),
                step.responsible.strip(),
                step.note.strip(),
                *(f.filename for f, _ in files),
            )
            if x
        ),
    )
    return record


def _check_file(f: FileIn, max_bytes: int) -> tuple[FileIn, str]:
    name = (f.filename or "").strip()
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_TYPES or not f.data.startswith(_MAGIC[suffix]):
        raise Invalid(
            _l(
                "%(name)s is not a PDF, image, Word or Excel file; only those may be attached.",
                name=name or "?",
            ),
            code="file_type",
        )
    if len(f.data) > max_bytes:
        raise TooLarge(
            _l("%(name)s is larger than %(mb)d MB.", name=name, mb=max_bytes // (1024 * 1024))
        )
    if f.direction not in ("received", "sent"):
        raise Invalid(_l("Say whether the file was received or sent."))
    return FileIn(name, f.data, f.direction), ALLOWED_TYPES[suffix]


def _store(directory: Path, sha256: str, data: bytes) -> None:
    from qms.word.service import store_file

    # content-addressed: a file left behind by a rolled-back step is harmless
    store_file(directory, sha256, data)


def set_texts(
    session: Session,
    actor: User,
    project: CertificationProject,
    *,
    application_text: str | None = None,
    contract_text: str | None = None,
    scope: str | None = None,
    sites: str | None = None,
) -> None:
    """Edit what will be signed: only while it is not signed yet."""
    _manage(actor)
    changes: dict[str, tuple[Any, Any]] = {}
    if application_text is not None or scope is not None or sites is not None:
        if project.state not in (ProjectState.ADVICE, ProjectState.APPLICATION):
            raise Conflict(
                _l("The application was signed; it can be changed only after the body returns it."),
                code="signed",
            )
        for name, value, limit in (
            ("application_text", application_text, 20000),
            ("scope", scope, 2000),
            ("sites", sites, 2000),
        ):
            if value is not None:
                changes[name] = (getattr(project, name), _text(value, "", limit, False))
    if contract_text is not None:
        if project.state != ProjectState.ACCEPTED:
            raise Conflict(
                _l(
                    "The contract text can be set only once the application is "
                    "accepted and before it is signed."
                ),
                code="signed",
            )
        changes["contract_text"] = (project.contract_text, _text(contract_text, "", 20000, False))
    for name, (_old, new) in changes.items():
        setattr(project, name, new)
    session.flush()
    trail.record_changes(session, actor, "update", "cert_project", project.id, changes)


# -- certificates ---------------------------------------------------------------------------


def issue_certificate(
    session: Session,
    actor: User,
    body: CertificationBody,
    data: CertificateIn,
    *,
    project: CertificationProject | None = None,
    attachment_dir: Path | None = None,
    max_bytes: int = 20 * 2**20,
) -> Certificate:
    """Record a certificate the body granted, with the rules of 17021-1 on its dates."""
    _manage(actor)
    number = _text(data.number, _l("The certificate number"), 100)
    if data.decision_date is None or data.grant_date is None:
        raise Invalid(_l("The decision date and the grant date are required."), code="dates")
    if session.scalar(
        sa.select(Certificate.id).where(
            Certificate.body_id == body.id, Certificate.number == number
        )
    ):
        raise Conflict(
            _l(
                "%(body)s has already issued a certificate numbered %(number)s.",
                body=body.name,
                number=number,
            ),
            code="duplicate_number",
        )
    if data.grant_date < data.decision_date:
        raise Invalid(
            _l("The grant date cannot be before the certification decision."),
            code="grant_before_decision",
        )
    _not_future(data.decision_date)
    previous = data.previous
    if data.kind != CertificateKind.INITIAL and previous is None:
        raise Invalid(
            _l("A recertification or a restoration continues an earlier certificate: name it."),
            code="previous_required",
        )
    if (
        data.kind == CertificateKind.RECERTIFICATION
        and previous is not None
        and not (rules.recertification_on_time(previous.expiry_date, data.decision_date))
    ):
        raise Invalid(
            _l(
                "The earlier certificate expired on %(date)s: after expiry the "
                "certificate can only be restored (within six months).",
                date=previous.expiry_date.isoformat(),
            ),
            code="recertification_late",
        )
    if (
        data.kind == CertificateKind.RESTORATION
        and previous is not None
        and not (rules.restoration_possible(previous.expiry_date, data.decision_date))
    ):
        raise Invalid(
            _l(
                "A certificate can be restored only within six months after its "
                "expiry (%(date)s at the latest).",
                date=rules.restoration_deadline(previous.expiry_date).isoformat(),
            ),
            code="restoration_late",
        )
    expected = rules.expected_expiry(
        data.kind, data.decision_date, previous.expiry_date if previous else None
    )
    if data.expiry_date is not None and data.expiry_date != expected:
        message = (
            _l(
                "The expiry must be three years after the decision: %(date)s.",
                date=expected.isoformat(),
            )
            if data.kind == CertificateKind.INITIAL
            else _l(
                "The new cycle keeps the earlier certificate's cycle: it expires on %(date)s.",
                date=expected.isoformat(),
            )
        )
        raise Invalid(message, code="wrong_expiry")
    certificate = Certificate(
        number=number,
        body=body,
        project_id=project.id if project else None,
        previous_id=previous.id if previous else None,
        kind=data.kind,
        standard=_text(data.standard, _l("The standard"), 100),
        scope=_text(data.scope, _l("The scope"), 2000),
        sites=_text(data.sites, "", 2000, False),
        decision_date=data.decision_date,
        grant_date=data.grant_date,
        expiry_date=expected,
        status=CertificateStatus.VALID,
    )
    session.add(certificate)
    if previous is not None and previous.status != CertificateStatus.WITHDRAWN:
        old = previous.status
        previous.status = CertificateStatus.SUPERSEDED
        trail.record(
            session,
            actor,
            "supersede",
            "cert_certificate",
            previous.id,
            field="status",
            old=str(old),
            new="superseded",
        )
    session.flush()
    if data.scan is not None:
        if attachment_dir is None:
            raise Invalid(_l("The scan cannot be stored here."))
        certificate.scan_document_id = _store_scan(
            session, actor, certificate, data.scan, attachment_dir, max_bytes
        )
    trail.record(
        session,
        actor,
        "issue_certificate",
        "cert_certificate",
        certificate.id,
        new=f"{body.name} {number}; {certificate.standard}; decision "
        f"{certificate.decision_date}; granted {certificate.grant_date}; "
        f"expires {certificate.expiry_date}; {certificate.kind}",
    )
    return certificate


def _store_scan(
    session: Session,
    actor: User,
    certificate: Certificate,
    scan: FileIn,
    attachment_dir: Path,
    max_bytes: int,
) -> int:
    """The certificate's scan is kept as an external document (5.1 node 12)."""
    from qms.auth.models import Department
    from qms.distribution.external import register_external
    from qms.distribution.models import ExternalCategory
    from qms.word.models import Attachment

    scan, content_type = _check_file(scan, max_bytes)
    department = session.scalar(sa.select(Department).where(Department.code == "PZ")) or (
        session.scalar(sa.select(Department).order_by(Department.id))
    )
    if department is None:
        raise Invalid(_l("No department is registered to keep the certificate."))
    sha = hashlib.sha256(scan.data).hexdigest()
    ext = register_external(
        session,
        actor,
        title=f"{certificate.body.name} {certificate.number}",
        category=ExternalCategory.OTHER,
        source=certificate.body.name,
        department=department,
        owner=actor,
        reference=certificate.number,
        edition=certificate.standard,
        notes=f"![{scan.filename}](/attachments/{sha})",
        effective_date=certificate.grant_date,
    )
    _store(attachment_dir, sha, scan.data)
    session.add(
        Attachment(
            document_id=ext.document.id,
            sha256=sha,
            filename=scan.filename,
            content_type=content_type,
            size=len(scan.data),
            uploaded_by_id=actor.id,
        )
    )
    session.flush()
    return ext.document.id


def optional_consultant(session: Session, consultant_id: int | None) -> Consultant | None:
    """The registered consultant of that id, or None when none is named."""
    if not consultant_id:
        return None
    consultant = session.get(Consultant, consultant_id)
    if consultant is None:
        raise Invalid(_l("Choose a registered consultant."))
    return consultant


def get_certificate(session: Session, certificate_id: int) -> Certificate:
    certificate = session.get(Certificate, certificate_id)
    if certificate is None:
        raise NotFound(_l("There is no certificate %(id)s.", id=certificate_id))
    return certificate


def get_certificate_audit(
    session: Session, certificate: Certificate, audit_id: int
) -> CertificateAudit:
    audit = session.get(CertificateAudit, audit_id)
    if audit is None or audit.certificate_id != certificate.id:
        raise NotFound(
            _l(
                "Certificate %(number)s has no audit %(id)s.",
                number=certificate.number,
                id=audit_id,
            )
        )
    return audit


def record_audit(
    session: Session,
    actor: User,
    certificate: Certificate,
    *,
    kind: str,
    held_on: date | None,
    on_time: bool,
    major_nonconformities: int = 0,
    note: str = "",
) -> CertificateAudit:
    """A surveillance or recertification audit held. Whether it was on time is computed: one
    recorded as on time after its limit is refused."""
    _manage(actor)
    if kind not in ("surveillance", "recertification"):
        raise Invalid(_l("An audit is a surveillance or a recertification."), code="kind")
    if held_on is None:
        raise Invalid(_l("The audit date is required."), code="dates")
    _not_future(held_on)
    if certificate.status not in (CertificateStatus.VALID, CertificateStatus.SUSPENDED):
        raise Conflict(_l("Audits are recorded on a valid or suspended certificate."))
    if held_on < certificate.decision_date:
        raise Invalid(
            _l("The audit cannot be before the certification decision."), code="before_decision"
        )
    if major_nonconformities < 0:
        raise Invalid(_l("The number of major nonconformities cannot be negative."))
    earlier = [a.held_on for a in certificate.audits if a.kind == "surveillance"]
    if kind == "surveillance":
        due = rules.next_surveillance_due(
            certificate.decision_date, certificate.expiry_date, [d for d in earlier if d < held_on]
        )
        computed = rules.surveillance_on_time(
            certificate.decision_date, certificate.expiry_date, earlier, held_on
        )
    else:
        due = certificate.expiry_date
        computed = rules.recertification_on_time(certificate.expiry_date, held_on)
    if on_time and not computed:
        raise Invalid(
            _l(
                "This audit was due by %(date)s; held on %(held)s it was late and "
                "cannot be recorded as on time.",
                date=due.isoformat() if due else certificate.expiry_date.isoformat(),
                held=held_on.isoformat(),
            ),
            code="late_audit",
        )
    audit = CertificateAudit(
        certificate=certificate,
        kind=kind,
        held_on=held_on,
        on_time=computed,
        major_nonconformities=major_nonconformities,
        note=_text(note, "", 5000, False),
        recorded_by_id=actor.id,
    )
    session.add(audit)
    session.flush()
    trail.record(
        session,
        actor,
        "record_audit",
        "cert_certificate",
        certificate.id,
        new=f"{kind} {held_on}; on time: {computed}; "
        f"major nonconformities: {major_nonconformities}",
        reason=note,
    )
    return audit


STATUS_MOVES = {
    "suspend": ({CertificateStatus.VALID}, CertificateStatus.SUSPENDED),
    "reinstate": ({CertificateStatus.SUSPENDED}, CertificateStatus.VALID),
    "withdraw": (
        {CertificateStatus.VALID, CertificateStatus.SUSPENDED},
        CertificateStatus.WITHDRAWN,
    ),
}


def change_status(
    session: Session,
    actor: User,
    certificate: Certificate,
    move: str,
    *,
    on: date | None = None,
    reason: str = "",
) -> Certificate:
    _manage(actor)
    if move not in STATUS_MOVES:
        raise Invalid(_l("There is no such change of status."))
    sources, target = STATUS_MOVES[move]
    if certificate.status not in sources:
        raise Conflict(_l("This certificate's status does not allow that."), code="status_refused")
    reason = _text(reason, _l("The reason"), 2000)
    on = _not_future(on or clock.today())
    if (
        move == "reinstate"
        and certificate.suspended_on is not None
        and (on > rules.suspension_limit(certificate.suspended_on))
    ):
        raise Conflict(
            _l(
                "A suspension lasts at most six months (until %(date)s): the "
                "certificate must be withdrawn.",
                date=rules.suspension_limit(certificate.suspended_on).isoformat(),
            ),
            code="suspension_too_long",
        )
    old = certificate.status
    certificate.status = target
    certificate.suspended_on = on if target == CertificateStatus.SUSPENDED else None
    certificate.status_reason = reason
    session.flush()
    trail.record(
        session,
        actor,
        move,
        "cert_certificate",
        certificate.id,
        field="status",
        old=str(old),
        new=str(target),
        reason=reason,
    )
    return certificate


def expire_certificates(session: Session, today: date) -> list[Certificate]:
    """Certificates past their expiry become expired (the worker's daily job)."""
    done = list(
        session.scalars(
            sa.select(Certificate).where(
                Certificate.status.in_([CertificateStatus.VALID, CertificateStatus.SUSPENDED]),
                Certificate.expiry_date < today,
            )
        )
    )
    for certificate in done:
        old = certificate.status
        certificate.status = CertificateStatus.EXPIRED
        trail.record(
            session,
            None,
            "expire",
            "cert_certificate",
            certificate.id,
            field="status",
            old=str(old),
            new="expired",
        )
    session.flush()
    return done


# -- due dates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueItem:
    certificate: Certificate
    kind: str
    due: date

    @property
    def days_left(self) -> int:
        return rules.days_left(self.due, clock.today())


CURRENT = (CertificateStatus.VALID, CertificateStatus.SUSPENDED, CertificateStatus.EXPIRED)


def current_certificates(session: Session) -> list[Certificate]:
    """Certificates still to keep: valid, suspended, or expired but restorable."""
    return list(
        session.scalars(
            sa.select(Certificate)
            .where(Certificate.status.in_(CURRENT))
            .order_by(Certificate.expiry_date.desc(), Certificate.id)
        )
    )


def due_items(
    session: Session, today: date | None = None, certificates: list[Certificate] | None = None
) -> list[DueItem]:
    from qms.certification import findings

    today = today or clock.today()
    out: list[DueItem] = []
    if certificates is None:
        certificates = current_certificates(session)
    majors = findings.major_counts(
        session,
        [a.id for c in certificates for a in c.audits if a.major_nonconformities],
    )
    for certificate in certificates:
        surveillances = [a.held_on for a in certificate.audits if a.kind == "surveillance"]
        for due in rules.due_dates(
            decision=certificate.decision_date,
            expiry=certificate.expiry_date,
            surveillances=surveillances,
            status=str(certificate.status),
            suspended_on=certificate.suspended_on,
            today=today,
        ):
            out.append(DueItem(certificate, due.kind, due.due))
        if certificate.status in (CertificateStatus.VALID, CertificateStatus.SUSPENDED):
            # majors from an audit: due 6 months after it until each is recorded, corrected
            # and verified; past the deadline they stay, overdue
            for audit in certificate.audits:
                recorded = majors.get(audit.id, (0, 0))
                if findings.majors_outstanding(audit.major_nonconformities, recorded):
                    deadline = rules.major_nonconformity_deadline(audit.held_on)
                    out.append(DueItem(certificate, "major_nonconformities", deadline))
    return sorted(out, key=lambda d: (d.due, d.kind))


# -- the calendar feed token -----------------------------------------------------------------


def new_feed_token(session: Session, user: User) -> str:
    """A new secret for the user's calendar feed URL; the old one stops working."""
    if not user.can(Permission.VIEW_CERTIFICATION):
        raise Forbidden(_l("You cannot subscribe to the certification calendar."))
    raw = secrets.token_urlsafe(32)
    row = session.get(FeedToken, user.id)
    if row is None:
        row = FeedToken(user_id=user.id, token_sha256="")
        session.add(row)
    row.token_sha256 = hashlib.sha256(raw.encode()).hexdigest()
    row.created_at = utcnow()
    session.flush()
    trail.record(session, user, "new_feed_token", "user", user.id)
    return raw


def user_for_feed_token(session: Session, raw: str) -> User | None:
    if not raw or len(raw) > 200:
        return None
    row = session.scalar(
        sa.select(FeedToken).where(
            FeedToken.token_sha256 == hashlib.sha256(raw.encode()).hexdigest()
        )
    )
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active or not user.can(Permission.VIEW_CERTIFICATION):
        return None
    return user
