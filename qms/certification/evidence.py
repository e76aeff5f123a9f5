"""The evidence pack for the certification auditor: one .zip of the effective quality
manual, regulations and procedures as controlled copies, the certificates and projects, and
what other packages contribute (audit programmes and reports, closed nonconformities with
their verification) when they are installed; MANIFEST.json lists every file's SHA-256."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.auth.models import User
from qms.certification.models import Certificate, CertificationProject
from qms.documents.lifecycle import RevState
from qms.documents.models import DocKind, Document

PACK_KINDS = (
    DocKind.QUALITY_MANUAL,
    DocKind.POLICY,
    DocKind.REGULATION,
    DocKind.PROCEDURE,
    DocKind.PROCESS,
)
# packages that may add their records: module → function(session) -> [(path, bytes)]
OPTIONAL_SOURCES = {
    "audits": ("qms.audits.evidence", "evidence_files"),
    "nonconformities": ("qms.nonconformity.evidence", "evidence_files"),
}


def _optional(module: str, name: str) -> Callable[[Session], list[tuple[str, bytes]]] | None:
    try:
        found = importlib.import_module(module)
    except ImportError:
        return None
    return getattr(found, name, None)


def build_pack(
    session: Session, actor: User, *, today: date, attachment_dir: Path | None
) -> tuple[bytes, dict[str, Any]]:
    from qms.trail import service as trail
    from qms.word.service import controlled_copy

    copy_number = f"RZ{today:%Y%m%d}"
    files: list[tuple[str, bytes, str]] = []
    documents = session.scalars(
        sa.select(Document)
        .where(Document.kind.in_(PACK_KINDS), Document.status == RevState.EFFECTIVE)
        .order_by(Document.kind, Document.number)
    ).all()
    for document in documents:
        revision = document.current_revision
        if revision is None:
            continue
        data, name = controlled_copy(session, actor, revision, copy_number, attachment_dir)
        files.append(
            (f"documents/{document.kind}/{name}", data, f"{document.number} {revision.label}")
        )
    certificates = session.scalars(sa.select(Certificate).order_by(Certificate.id)).all()
    files.append(
        (
            "certification/certificates.json",
            _json(
                [
                    {
                        "number": c.number,
                        "body": c.body.name,
                        "standard": c.standard,
                        "scope": c.scope,
                        "sites": c.sites,
                        "decision_date": c.decision_date.isoformat(),
                        "grant_date": c.grant_date.isoformat(),
                        "expiry_date": c.expiry_date.isoformat(),
                        "status": str(c.status),
                        "kind": str(c.kind),
                        "audits": [
                            {
                                "kind": a.kind,
                                "held_on": a.held_on.isoformat(),
                                "on_time": a.on_time,
                                "major_nonconformities": a.major_nonconformities,
                            }
                            for a in c.audits
                        ],
                    }
                    for c in certificates
                ]
            ),
            "certificates",
        )
    )
    projects = session.scalars(
        sa.select(CertificationProject).order_by(CertificationProject.id)
    ).all()
    files.append(
        (
            "certification/projects.json",
            _json(
                [
                    {
                        "ref": p.ref,
                        "title": p.title,
                        "body": p.body.name,
                        "state": str(p.state),
                        "steps": [
                            {
                                "action": str(s.action),
                                "on_date": s.on_date.isoformat(),
                                "responsible": s.responsible,
                                "note": s.note,
                                "files": [
                                    {
                                        "filename": f.filename,
                                        "sha256": f.sha256,
                                        "direction": f.direction,
                                    }
                                    for f in s.files
                                ],
                            }
                            for s in p.steps
                        ],
                    }
                    for p in projects
                ]
            ),
            "projects",
        )
    )
    skipped = []
    for section, (module, name) in OPTIONAL_SOURCES.items():
        source = _optional(module, name)
        if source is None:
            skipped.append(section)
            continue
        for path, data in source(session):
            files.append((f"{section}/{path}", data, section))
    manifest = {
        "generated_on": today.isoformat(),
        "generated_by": actor.username,
        "copy_number": copy_number,
        "not_included": skipped,
        "files": [
            {
                "path": path,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "source": source,
            }
            for path, data, source in files
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as pack:
        for path, data, _source in files:
            pack.writestr(path, data)
        pack.writestr("MANIFEST.json", _json(manifest))
    trail.record(
        session,
        actor,
        "evidence_pack",
        "cert_pack",
        today.isoformat(),
        new=f"{len(files)} file(s); copy {copy_number}",
    )
    return buffer.getvalue(), manifest


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode()
