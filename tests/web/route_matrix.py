"""Who may use which route: the authorization matrix, one entry per endpoint.

tests/web/test_route_matrix.py walks the app's URL map and sends every method of every
route as every demo role and as an anonymous visitor, then checks the answer against this
table. A route that is not here fails the suite: add its endpoint below.

Reading an entry: ``"documents.new": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL)``
says that the quality manager and the quality clerk may open and submit the form, and that
every other role is refused (403; anonymous visitors are sent to sign in, or get 401 from
the API). A refused write changes nothing in the database.

``object_rule`` names a check the view makes on the object itself after the role check
(only the named approver, only the review's leader, only the copy's holder...). Roles in
the entry may then still be refused on the matrix's sample object (403 or 404); that rule
is tested by the feature's own tests, and the matrix only checks the role layer and that
nothing answers 500.
"""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS = "anonymous"

# The demo roles, by username (qms.demo.DEMO_USERS).
SIGNED_IN = frozenset(
    {"admin", "manager", "clerk", "leader", "reviewer", "auditor", "approver", "gm", "staff"}
)
ANYONE = SIGNED_IN | {ANONYMOUS}
ADMIN = frozenset({"admin"})
# Document control (DRAFT_DOCUMENTS, ISSUE_DOCUMENTS): the quality manager and the clerk.
DOCUMENT_CONTROL = frozenset({"manager", "clerk"})
# The register with drafts, the trail (VIEW_REGISTER, VIEW_TRAIL).
REGISTER_READERS = frozenset({"admin", "manager", "clerk", "auditor"})
TRAIL_READERS = frozenset({"admin", "manager", "clerk", "auditor"})
# Plan and run review meetings (LEAD_REVIEWS).
REVIEW_LEADERS = frozenset({"manager", "leader"})
# Name another approver of a submitted revision (REASSIGN_APPROVERS).
QUALITY_MANAGER = frozenset({"manager"})
NOBODY: frozenset[str] = frozenset()
# Plan internal audits (MANAGE_AUDITS): the quality manager and the clerk.
AUDIT_PLANNERS = frozenset({"manager", "clerk"})
# The audit programme: its planners, the auditors and the general manager.
AUDIT_PEOPLE = frozenset({"manager", "clerk", "auditor", "gm"})
_AUDIT_SEEN = (
    "an audit is shown to its planners, auditors, the general manager and the audited department"
)
# Certification (VIEW_CERTIFICATION): the center, auditors, approvers and the general manager.
CERT_READERS = frozenset({"manager", "clerk", "auditor", "approver", "gm"})
# Raise nonconformities and verify their effectiveness (RAISE_ / VERIFY_NONCONFORMITIES).
NC_RAISERS = frozenset({"manager", "clerk", "auditor"})
NC_VERIFIERS = frozenset({"manager", "clerk", "auditor"})
# A writing plan: the quality center sees every plan, a writer the plans they write for.
_WRITING_SEEN = "the quality center and the plan's writers (the staff member writes a section)"


@dataclass(frozen=True)
class Access:
    """The roles that may send each method; a method the route does not accept is None."""

    get: frozenset[str] | None = None
    post: frozenset[str] | None = None
    patch: frozenset[str] | None = None
    put: frozenset[str] | None = None
    delete: frozenset[str] | None = None
    object_rule: str = ""

    def methods(self) -> dict[str, frozenset[str]]:
        declared = {
            "GET": self.get,
            "POST": self.post,
            "PATCH": self.patch,
            "PUT": self.put,
            "DELETE": self.delete,
        }
        return {method: roles for method, roles in declared.items() if roles is not None}


ROUTES: dict[str, Access] = {
    # -- open to anyone ------------------------------------------------------------------
    "main.healthz": Access(get=ANYONE),
    "main.favicon": Access(get=ANYONE),
    "main.set_language": Access(post=ANYONE),
    "auth.login": Access(get=ANYONE, post=ANYONE),
    "api.api_core.openapi": Access(get=ANYONE),
    # -- every signed-in person ----------------------------------------------------------
    "main.home": Access(get=SIGNED_IN),
    "auth.account": Access(get=SIGNED_IN, post=SIGNED_IN),
    "auth.logout": Access(post=SIGNED_IN),
    "tasks.mine": Access(get=SIGNED_IN),
    "search.search_page": Access(get=SIGNED_IN),
    "mail.outbox": Access(get=SIGNED_IN),
    "mail.message": Access(
        get=SIGNED_IN, object_rule="a message is shown to its recipient and the administrator"
    ),
    # -- administration ------------------------------------------------------------------
    "admin.users": Access(get=ADMIN),
    "admin.new_user": Access(get=ADMIN, post=ADMIN),
    "admin.edit_user": Access(get=ADMIN, post=ADMIN),
    "admin.departments": Access(get=ADMIN, post=ADMIN),
    "admin.edit_department": Access(get=ADMIN, post=ADMIN),
    "documents.approval_matrix": Access(get=ADMIN, post=ADMIN),
    "documents.numbering": Access(get=ADMIN, post=ADMIN),
    "mail.resend": Access(post=ADMIN),
    # -- trail ---------------------------------------------------------------------------
    "trail.entries": Access(get=TRAIL_READERS),
    "trail.export": Access(get=TRAIL_READERS),
    # -- documents -----------------------------------------------------------------------
    "documents.register": Access(get=SIGNED_IN),
    "documents.register_csv": Access(get=SIGNED_IN),
    "documents.show": Access(get=SIGNED_IN),
    "documents.compare": Access(get=SIGNED_IN),
    "documents.document_trail": Access(get=SIGNED_IN),
    "documents.new": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "documents.edit": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "documents.reassign_approver": Access(
        post=QUALITY_MANAGER, object_rule="only while the revision is in review"
    ),
    "documents.transition": Access(
        post=SIGNED_IN,
        object_rule="each lifecycle action has its own role and person (author, named "
        "reviewers and approver, document control)",
    ),
    # -- Word ----------------------------------------------------------------------------
    "word.export": Access(get=SIGNED_IN),
    "word.export_register": Access(get=SIGNED_IN),
    "word.import_document": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "word.import_revision": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "word.import_result": Access(
        get=SIGNED_IN, object_rule="the importer and those who may see the revision it made"
    ),
    "word.attachment": Access(get=SIGNED_IN),
    # -- procedures ----------------------------------------------------------------------
    "procedures.index": Access(get=SIGNED_IN),
    "procedures.show": Access(get=SIGNED_IN),
    "procedures.chart": Access(get=SIGNED_IN),
    "procedures.traceability": Access(get=SIGNED_IN),
    "procedures.needs_review": Access(get=SIGNED_IN),
    "procedures.clear_flag": Access(post=DOCUMENT_CONTROL),
    "procedures.confirm_link": Access(post=DOCUMENT_CONTROL),
    "procedures.edit_links": Access(
        post=DOCUMENT_CONTROL, object_rule="only a draft the poster may edit and read"
    ),
    # -- reviews -------------------------------------------------------------------------
    "reviews.index": Access(get=SIGNED_IN),
    "reviews.metrics": Access(get=REVIEW_LEADERS),
    "reviews.plan_approvers": Access(get=ADMIN, post=ADMIN),
    "reviews.new": Access(get=REVIEW_LEADERS, post=REVIEW_LEADERS),
    "reviews.detail": Access(
        get=SIGNED_IN, object_rule="a review is shown to its team and to review leaders"
    ),
    "reviews.meeting": Access(
        get=SIGNED_IN, object_rule="the meeting page is for the review's team"
    ),
    "reviews.defects_csv": Access(
        get=SIGNED_IN, object_rule="a review is shown to its team and to review leaders"
    ),
    "reviews.record_docx": Access(
        get=SIGNED_IN, object_rule="a review is shown to its team and to review leaders"
    ),
    "reviews.move": Access(
        post=SIGNED_IN, object_rule="each step of a review has its own person (leader, approver)"
    ),
    "reviews.edit_plan": Access(post=SIGNED_IN, object_rule="only the review's leader"),
    "reviews.attendance": Access(post=SIGNED_IN, object_rule="only the review's leader"),
    "reviews.tick": Access(post=SIGNED_IN, object_rule="only the review's leader"),
    "reviews.conclusion": Access(post=SIGNED_IN, object_rule="only the review's leader"),
    "reviews.regression": Access(post=SIGNED_IN, object_rule="only the review's leader"),
    "reviews.preparation": Access(post=SIGNED_IN, object_rule="only the review's participants"),
    "reviews.add_defect": Access(post=SIGNED_IN, object_rule="only the review's team"),
    "reviews.update_defect": Access(
        post=SIGNED_IN, object_rule="the leader, the defect's author and the document's author"
    ),
    # -- distribution --------------------------------------------------------------------
    "distribution.copies_index": Access(get=REGISTER_READERS),
    "distribution.copy_register": Access(get=REGISTER_READERS),
    "distribution.issue_copy": Access(post=DOCUMENT_CONTROL),
    "distribution.record_recall": Access(post=DOCUMENT_CONTROL),
    "distribution.confirm_receipt": Access(
        post=SIGNED_IN, object_rule="only the copy's holder (or document control)"
    ),
    "distribution.recalls": Access(get=REGISTER_READERS),
    "distribution.my_copies": Access(get=SIGNED_IN),
    "distribution.external_register": Access(get=SIGNED_IN),
    "distribution.external_detail": Access(get=SIGNED_IN),
    "distribution.external_new": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "distribution.external_edit": Access(post=DOCUMENT_CONTROL),
    "distribution.external_edition": Access(post=DOCUMENT_CONTROL),
    "distribution.external_check": Access(
        post=SIGNED_IN, object_rule="the external document's owner (or document control)"
    ),
    "distribution.periodic_reviews": Access(get=REGISTER_READERS),
    "distribution.periodic_review": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "distribution.set_interval": Access(post=DOCUMENT_CONTROL),
    "distribution.read": Access(get=SIGNED_IN, post=SIGNED_IN),
    "distribution.reading_matrix": Access(get=REGISTER_READERS),
    "distribution.reading_document": Access(get=REGISTER_READERS),
    "distribution.assign_reading": Access(post=DOCUMENT_CONTROL),
    "distribution.reading_person": Access(
        get=SIGNED_IN, object_rule="a person's reading record: themselves and register readers"
    ),
    "distribution.reading_rules": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "distribution.delete_reading_rule": Access(post=DOCUMENT_CONTROL),
    # -- API -----------------------------------------------------------------------------
    "api.auth_api.me": Access(get=SIGNED_IN),
    "api.auth_api.tokens": Access(get=SIGNED_IN),
    "api.auth_api.create_token": Access(
        post=SIGNED_IN, object_rule="the password is entered again before a token is made"
    ),
    "api.auth_api.revoke_token": Access(
        delete=SIGNED_IN, object_rule="one's own token; the administrator anyone's"
    ),
    "api.documents_api.reassign_approver": Access(
        post=QUALITY_MANAGER, object_rule="only while the revision is in review"
    ),
    "api.documents_api.list_documents": Access(get=SIGNED_IN),
    "api.documents_api.create_document": Access(post=DOCUMENT_CONTROL),
    "api.documents_api.get_document": Access(get=SIGNED_IN),
    "api.documents_api.list_revisions": Access(get=SIGNED_IN),
    "api.documents_api.document_trail": Access(get=SIGNED_IN),
    "api.documents_api.patch_draft": Access(patch=DOCUMENT_CONTROL),
    "api.documents_api.post_transition": Access(
        post=SIGNED_IN,
        object_rule="each lifecycle action has its own role and person (author, named "
        "reviewers and approver, document control)",
    ),
    "api.word_api.export": Access(get=SIGNED_IN),
    "api.procedures_api.procedures": Access(get=SIGNED_IN),
    "api.procedures_api.procedure": Access(get=SIGNED_IN),
    "api.procedures_api.document_links": Access(get=SIGNED_IN),
    "api.search_api.search": Access(get=SIGNED_IN),
    "api.reviews_api.list_reviews": Access(get=SIGNED_IN),
    "api.reviews_api.create_review": Access(post=REVIEW_LEADERS),
    "api.reviews_api.get_review": Access(
        get=SIGNED_IN, object_rule="a review is shown to its team and to review leaders"
    ),
    "api.reviews_api.add_defect": Access(post=SIGNED_IN, object_rule="only the review's team"),
    "api.reviews_api.update_defect": Access(
        patch=SIGNED_IN, object_rule="the leader, the defect's author and the document's author"
    ),
    "api.reviews_api.transition": Access(
        post=SIGNED_IN, object_rule="each step of a review has its own person (leader, approver)"
    ),
    # -- working-day calendar: the administrator keeps it, the quality manager sees it ----
    "calendar.index": Access(get=frozenset({"admin", "manager"})),
    "calendar.add_day": Access(post=ADMIN),
    "calendar.change_day": Access(post=ADMIN),
    "calendar.remove_day": Access(post=ADMIN),
    "calendar.arrangement": Access(post=ADMIN),
    "calendar.import_year": Access(post=ADMIN),
    "calendar.calculator": Access(get=SIGNED_IN),
    "api.calendar_api.year": Access(get=SIGNED_IN, put=ADMIN),
    "api.calendar_api.add_day": Access(post=ADMIN),
    "api.calendar_api.working_days": Access(get=SIGNED_IN),
    # -- internal audits ------------------------------------------------------------------
    "audits.index": Access(get=SIGNED_IN),
    "audits.results": Access(get=SIGNED_IN),
    "audits.new_programme": Access(post=AUDIT_PLANNERS),
    "audits.programme": Access(get=AUDIT_PEOPLE),
    "audits.programme_calendar": Access(get=AUDIT_PEOPLE),
    "audits.plan_audit": Access(post=AUDIT_PLANNERS),
    "audits.programme_move": Access(
        post=AUDIT_PEOPLE,
        object_rule="submit: the planners; approve and return: the general manager",
    ),
    "audits.detail": Access(get=SIGNED_IN, object_rule=_AUDIT_SEEN),
    "audits.checklist": Access(get=SIGNED_IN, object_rule=_AUDIT_SEEN),
    "audits.plan_docx": Access(get=SIGNED_IN, object_rule=_AUDIT_SEEN),
    "audits.report_docx": Access(get=SIGNED_IN, object_rule=_AUDIT_SEEN),
    "audits.photo": Access(get=SIGNED_IN, object_rule=_AUDIT_SEEN),
    "audits.edit_plan": Access(post=SIGNED_IN, object_rule="the planners and the lead auditor"),
    "audits.add_criterion": Access(post=SIGNED_IN, object_rule="the planners and the lead auditor"),
    "audits.move_pin": Access(post=SIGNED_IN, object_rule="only the lead auditor"),
    "audits.move": Access(
        post=SIGNED_IN,
        object_rule="each step has its person (planners, lead auditor, general manager)",
    ),
    "audits.add_finding": Access(post=SIGNED_IN, object_rule="only the audit team"),
    "audits.acknowledge": Access(post=SIGNED_IN, object_rule="only the audited department's head"),
    "audits.edit_report": Access(post=SIGNED_IN, object_rule="only the lead auditor"),
    "audits.generate_checklist": Access(post=SIGNED_IN, object_rule="only the audit team"),
    "audits.add_item": Access(post=SIGNED_IN, object_rule="only the audit team"),
    "audits.update_item": Access(post=SIGNED_IN, object_rule="only the audit team"),
    "audits.delete_item": Access(post=SIGNED_IN, object_rule="only the audit team"),
    "audits.add_photo": Access(post=SIGNED_IN, object_rule="only the audit team"),
    "api.audits_api.list_audits": Access(get=SIGNED_IN),
    "api.audits_api.create_audit": Access(post=AUDIT_PLANNERS),
    "api.audits_api.get_audit": Access(get=SIGNED_IN, object_rule=_AUDIT_SEEN),
    "api.audits_api.add_finding": Access(post=SIGNED_IN, object_rule="only the audit team"),
    "api.audits_api.transition": Access(
        post=SIGNED_IN,
        object_rule="each step has its person (planners, lead auditor, general manager, "
        "auditee head)",
    ),
    "api.audits_api.list_programmes": Access(get=AUDIT_PEOPLE),
    "api.audits_api.create_programme": Access(post=AUDIT_PLANNERS),
    "api.audits_api.get_programme": Access(
        get=SIGNED_IN, object_rule="the planners, the auditors and the general manager"
    ),
    "api.audits_api.programme_transition": Access(
        post=SIGNED_IN, object_rule="submit: the planners; approve and return: the general manager"
    ),
    # certification (qms/certification): the center manages, the general manager signs
    "certification.index": Access(get=CERT_READERS),
    "certification.bodies": Access(get=CERT_READERS, post=DOCUMENT_CONTROL),
    "certification.body": Access(get=CERT_READERS, post=DOCUMENT_CONTROL),
    "certification.new_project": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "certification.project": Access(
        get=CERT_READERS, post=DOCUMENT_CONTROL | {"gm"},
        object_rule="the general manager only signs the application and the contract"),
    "certification.project_texts": Access(post=DOCUMENT_CONTROL),
    "certification.project_finding": Access(post=DOCUMENT_CONTROL),
    "api.certification_api.raise_finding": Access(post=DOCUMENT_CONTROL),
    "certification.step_file": Access(get=CERT_READERS),
    "certification.new_certificate": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "certification.certificate": Access(get=CERT_READERS, post=DOCUMENT_CONTROL),
    "certification.calendar_page": Access(get=CERT_READERS, post=CERT_READERS),
    "certification.calendar_download": Access(get=CERT_READERS),
    "certification.evidence_pack": Access(post=DOCUMENT_CONTROL),
    "api.certification_api.list_projects": Access(get=CERT_READERS),
    "api.certification_api.create_project": Access(post=DOCUMENT_CONTROL),
    "api.certification_api.get_project": Access(get=CERT_READERS),
    "api.certification_api.transition": Access(
        post=CERT_READERS,
        object_rule="the general manager signs; the center takes the other steps"),
    "api.certification_api.list_certificates": Access(get=CERT_READERS),
    "api.certification_api.get_certificate": Access(get=CERT_READERS),
    "api.certification_api.record_audit": Access(post=DOCUMENT_CONTROL),
    "api.certification_api.raise_audit_finding": Access(post=DOCUMENT_CONTROL),
    "certification.certificate_finding": Access(post=DOCUMENT_CONTROL),
    # a token only (API token or feed token): a browser session is refused
    "api.certification_api.calendar_feed": Access(get=NOBODY),
    # the quality-manual writing plan (qms/writing): the center runs it, writers write
    "writing.index": Access(get=SIGNED_IN),
    "writing.new": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "writing.plan": Access(get=SIGNED_IN, post=SIGNED_IN, object_rule=_WRITING_SEEN),
    "writing.item": Access(get=SIGNED_IN, post=SIGNED_IN, object_rule=_WRITING_SEEN),
    "writing.consolidation": Access(get=DOCUMENT_CONTROL, post=DOCUMENT_CONTROL),
    "writing.form_006": Access(get=SIGNED_IN, object_rule=_WRITING_SEEN),
    "writing.form_007": Access(get=DOCUMENT_CONTROL),
    "writing.form_006_docx": Access(get=SIGNED_IN, object_rule=_WRITING_SEEN),
    "writing.form_007_docx": Access(get=DOCUMENT_CONTROL),
    "api.writing_api.list_plans": Access(get=SIGNED_IN),
    "api.writing_api.create_plan": Access(post=DOCUMENT_CONTROL),
    "api.writing_api.get_plan": Access(get=SIGNED_IN, object_rule=_WRITING_SEEN),
    "api.writing_api.transition": Access(
        post=DOCUMENT_CONTROL, object_rule="confirm: the quality manager only"
    ),
    "api.writing_api.take_in": Access(
        post=DOCUMENT_CONTROL, object_rule="a submitted text written on the plan only"
    ),
    # -- nonconformities ---------------------------------------------------------------
    "nonconformity.register": Access(get=SIGNED_IN),
    "nonconformity.new": Access(get=NC_RAISERS, post=NC_RAISERS),
    "nonconformity.detail": Access(
        get=SIGNED_IN,
        object_rule="quality staff and auditors see all; others their department's and "
        "what they own",
    ),
    "nonconformity.cause": Access(post=SIGNED_IN, object_rule="the owner and quality staff"),
    "nonconformity.add_action": Access(post=SIGNED_IN, object_rule="the owner and quality staff"),
    "nonconformity.complete_action": Access(
        post=SIGNED_IN, object_rule="the action's owner, the owner and quality staff"
    ),
    "nonconformity.document_change": Access(
        post=SIGNED_IN, object_rule="the owners and quality staff who may draft documents"
    ),
    "nonconformity.step": Access(
        post=SIGNED_IN, object_rule="each step has its person (owner, quality manager)"
    ),
    "nonconformity.verify": Access(
        post=NC_VERIFIERS, object_rule="neither an action owner nor from the department"
    ),
    "api.nonconformity_api.list_nonconformities": Access(get=SIGNED_IN),
    "api.nonconformity_api.raise_nonconformity": Access(post=NC_RAISERS),
    "api.nonconformity_api.get_nonconformity": Access(
        get=SIGNED_IN,
        object_rule="quality staff and auditors see all; others their department's and "
        "what they own",
    ),
    "api.nonconformity_api.add_action": Access(
        post=SIGNED_IN, object_rule="the owner and quality staff"
    ),
    "api.nonconformity_api.transition": Access(
        post=SIGNED_IN, object_rule="each step has its person (owner, action owner, verifier)"
    ),
}
