"""The nonconformities' part of the certification evidence pack: each closed nonconformity
with its cause, actions and verification (read by qms/certification/evidence.py)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qms.nonconformity.models import Nonconformity
from qms.nonconformity.rules import NcState


def evidence_files(session: Session) -> list[tuple[str, bytes]]:
    from qms.nonconformity.api import nc_json

    closed = session.scalars(
        sa.select(Nonconformity)
        .where(Nonconformity.state == NcState.CLOSED)
        .order_by(Nonconformity.id)
    )
    return [
        (
            f"{nc.number}.json",
            json.dumps(
                nc_json(nc, full=True, asker=False), ensure_ascii=False, indent=2, default=str
            ).encode(),
        )
        for nc in closed
    ]
