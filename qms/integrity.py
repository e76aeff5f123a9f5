"""Checking the records as a whole: the audit trail (keyed chain, head, checkpoints) and
every signature against what it signed. `qms verify-trail` and `qms restore` share it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from qms.auth.models import Signature
from qms.auth.signatures import SignatureProblem, check_signatures
from qms.trail.service import TrailReport


@dataclass
class RecordsCheck:
    """What verification found: the trail's report and each invalid signature."""

    trail: TrailReport
    signature_problems: list[SignatureProblem] = field(default_factory=list)
    signatures: int = 0  # signatures checked (every one not voided)
    checkpoint_seq: int = 0  # the checkpoint written when everything verified

    @property
    def intact(self) -> bool:
        return self.trail.intact and not self.signature_problems

    def problem_messages(self) -> list[str]:
        """Each problem in the current locale (the trail's are capped, with a count)."""
        messages = [finding.message() for finding in self.trail.findings]
        if self.trail.count > len(self.trail.findings):
            more = self.trail.count - len(self.trail.findings)
            messages.append(_("… and %(count)s more problems in the trail.", count=more))
        messages += [problem.message() for problem in self.signature_problems]
        return messages


def check_records(session: Session) -> RecordsCheck:
    """Verify the trail with this installation's key and every signature; when all is
    intact, sign a checkpoint of the head."""
    from qms.distribution.integrity import periodic_review_content
    from qms.documents.integrity import revision_content
    from qms.reviews.integrity import review_plan_content, review_report_content
    from qms.trail import service as trail
    from qms.trail import verification
    from qms.trail.checkpoints import checkpoint_path
    from qms.trail.keys import current_key

    report = trail.verify_trail(session, current_key(), checkpoint_path(trail.data_dir()))
    hashers = {
        "revision": revision_content,
        "document_review": periodic_review_content,
        "review_plan": review_plan_content,
        "review_report": review_report_content,
    }
    result = RecordsCheck(trail=report)
    result.signature_problems = list(check_signatures(session, hashers))
    result.signatures = int(
        session.scalar(
            sa.select(sa.func.count()).select_from(Signature).where(Signature.voided_at.is_(None))
        )
        or 0
    )
    if result.intact:
        result.checkpoint_seq = trail.write_checkpoint(session)
    # the auditor's home page says when the records were last verified, and what was found
    verification.save(trail.data_dir(), verification.Verification(
        at=datetime.now(UTC), intact=result.intact, entries=report.entries,
        last_seq=report.last_seq, trail_problems=report.count,
        bad_signatures=len(result.signature_problems)))
    return result
