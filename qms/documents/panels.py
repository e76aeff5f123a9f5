"""Home-page panels about documents, per role."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from qms import clock
from qms.auth.models import User
from qms.auth.permissions import Permission
from qms.documents.lifecycle import RevState
from qms.documents.models import Document, Revision
from qms.documents.periodic import DUE_WINDOW_DAYS
from qms.documents.visibility import readable_documents_clause, reader_for
from qms.home import Panel, panel_provider


@panel_provider
def recently_effective(session: Session, user: User) -> list[Panel]:
    rows = session.execute(
        sa.select(Document.number, Document.title, Revision.label, Revision.effective_date)
        .join(Revision, Revision.id == Document.current_revision_id)
        .where(
            Document.status == RevState.EFFECTIVE,
            readable_documents_clause(reader_for(session, user)),
        )
        .order_by(Revision.effective_at.desc().nulls_last(), Document.number)
        .limit(8)
    ).all()
    return [
        Panel(
            title=_l("Recently issued documents"),
            order=30,
            template="documents/_panel_recent.html",
            context={"rows": rows},
            links=[(_l("All documents"), "documents.register")],
        )
    ]


@panel_provider
def document_control(session: Session, user: User) -> list[Panel]:
    if not user.can(Permission.ISSUE_DOCUMENTS):
        return []
    today = clock.today()

    def count(*where: sa.ColumnElement[bool]) -> int:
        return session.scalar(sa.select(sa.func.count()).select_from(Document).where(*where)) or 0

    return [
        Panel(
            title=_l("Document control"),
            order=15,
            rows=[
                (_l("Drafts"), count(Document.status == RevState.DRAFT)),
                (_l("In review"), count(Document.status == RevState.IN_REVIEW)),
                (_l("Approved, waiting to be issued"), count(Document.status == RevState.APPROVED)),
                (_l("Effective"), count(Document.status == RevState.EFFECTIVE)),
                (
                    _l("Periodic review due within %(days)d days", days=DUE_WINDOW_DAYS),
                    count(
                        Document.status == RevState.EFFECTIVE,
                        Document.next_review_date >= today,
                        Document.next_review_date <= today + timedelta(days=DUE_WINDOW_DAYS),
                    ),
                ),
                (
                    _l("Periodic review overdue"),
                    count(Document.status == RevState.EFFECTIVE, Document.next_review_date < today),
                ),
            ],
            links=[
                (_l("Document register"), "documents.register"),
                (_l("New document"), "documents.new"),
            ],
        )
    ]
