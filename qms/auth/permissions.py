"""Roles and the permissions they grant: the one place where rights are defined."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from flask_babel import lazy_gettext as _l


class Role(enum.StrEnum):
    ADMIN = "admin"
    QUALITY_MANAGER = "quality_manager"
    QUALITY_CLERK = "quality_clerk"
    REVIEW_LEADER = "review_leader"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    APPROVER = "approver"
    STAFF = "staff"


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.QUALITY_MANAGER: _l("Quality manager"),
    Role.QUALITY_CLERK: _l("Quality clerk"),
    Role.REVIEW_LEADER: _l("Review leader"),
    Role.REVIEWER: _l("Reviewer"),
    Role.AUDITOR: _l("Auditor"),
    Role.APPROVER: _l("Approver"),
    Role.STAFF: _l("Staff"),
}


class Permission(enum.StrEnum):
    READ_DOCUMENTS = "read_documents"  # effective revisions
    VIEW_OWN_TASKS = "view_own_tasks"
    VIEW_REGISTER = "view_register"  # the register, every revision, drafts included
    VIEW_HISTORY = "view_history"  # superseded and obsolete revisions
    DRAFT_DOCUMENTS = "draft_documents"
    REVIEW_DOCUMENTS = "review_documents"
    APPROVE_DOCUMENTS = "approve_documents"
    ISSUE_DOCUMENTS = "issue_documents"
    WITHDRAW_DOCUMENTS = "withdraw_documents"
    BREAK_LOCKS = "break_locks"
    MANAGE_USERS = "manage_users"
    MANAGE_APPROVAL_MATRIX = "manage_approval_matrix"
    VIEW_TRAIL = "view_trail"
    LEAD_REVIEWS = "lead_reviews"  # plan and run review meetings (评审组长)
    REASSIGN_APPROVERS = "reassign_approvers"  # name another approver of a submitted revision
    # confidential documents of every department (the rule: qms/documents/visibility.py)
    READ_CONFIDENTIAL = "read_confidential"
    # the working-day calendar (qms/calendar): kept by the administrator
    MANAGE_CALENDAR = "manage_calendar"
    VIEW_CALENDAR = "view_calendar"
    MANAGE_AUDITS = "manage_audits"  # the annual audit programme and its audits (内审)
    RUN_AUDITS = "run_audits"  # lead or join an internal audit (内审员)
    # certification (handbook 5.1): projects, certificates, the 17021 due dates
    VIEW_CERTIFICATION = "view_certification"
    MANAGE_CERTIFICATION = "manage_certification"
    # nonconformities and corrective actions (qms/nonconformity): every department's
    VIEW_NONCONFORMITIES = "view_nonconformities"
    RAISE_NONCONFORMITIES = "raise_nonconformities"
    MANAGE_NONCONFORMITIES = "manage_nonconformities"  # owners, plans, close, reopen
    VERIFY_NONCONFORMITIES = "verify_nonconformities"  # verification of effectiveness
    # the quality-manual writing plan (qms/writing): run plans; confirm them and answer
    MANAGE_WRITING_PLANS = "manage_writing_plans"
    CONFIRM_WRITING_PLANS = "confirm_writing_plans"


_EVERYONE = {Permission.READ_DOCUMENTS, Permission.VIEW_OWN_TASKS}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        _EVERYONE
        | {
            Permission.MANAGE_USERS,
            Permission.MANAGE_APPROVAL_MATRIX,
            Permission.VIEW_TRAIL,
            Permission.VIEW_REGISTER,
        }
    ),
    Role.QUALITY_MANAGER: frozenset(
        _EVERYONE
        | {
            Permission.VIEW_REGISTER,
            Permission.VIEW_HISTORY,
            Permission.DRAFT_DOCUMENTS,
            Permission.REVIEW_DOCUMENTS,
            Permission.APPROVE_DOCUMENTS,
            Permission.ISSUE_DOCUMENTS,
            Permission.WITHDRAW_DOCUMENTS,
            Permission.BREAK_LOCKS,
            Permission.VIEW_TRAIL,
            Permission.LEAD_REVIEWS,
            Permission.REASSIGN_APPROVERS,
            Permission.READ_CONFIDENTIAL,
            Permission.MANAGE_AUDITS,
            Permission.RUN_AUDITS,
            Permission.VIEW_CERTIFICATION,
            Permission.MANAGE_CERTIFICATION,
            Permission.VIEW_NONCONFORMITIES,
            Permission.RAISE_NONCONFORMITIES,
            Permission.MANAGE_NONCONFORMITIES,
            Permission.VERIFY_NONCONFORMITIES,
        }
    ),
    Role.QUALITY_CLERK: frozenset(
        _EVERYONE
        | {
            Permission.VIEW_REGISTER,
            Permission.VIEW_HISTORY,
            Permission.DRAFT_DOCUMENTS,
            Permission.ISSUE_DOCUMENTS,
            Permission.WITHDRAW_DOCUMENTS,
            Permission.BREAK_LOCKS,
            Permission.VIEW_TRAIL,
            Permission.READ_CONFIDENTIAL,
            Permission.MANAGE_AUDITS,
            Permission.VIEW_CERTIFICATION,
            Permission.MANAGE_CERTIFICATION,
            Permission.VIEW_NONCONFORMITIES,
            Permission.RAISE_NONCONFORMITIES,
            Permission.MANAGE_NONCONFORMITIES,
            Permission.VERIFY_NONCONFORMITIES,
        }
    ),
    Role.REVIEW_LEADER: frozenset(
        _EVERYONE
        | {
            Permission.VIEW_HISTORY,
            Permission.REVIEW_DOCUMENTS,
            Permission.LEAD_REVIEWS,
            Permission.READ_CONFIDENTIAL,
        }
    ),
    Role.REVIEWER: frozenset(_EVERYONE | {Permission.REVIEW_DOCUMENTS}),
    Role.AUDITOR: frozenset(
        _EVERYONE
        | {
            Permission.VIEW_REGISTER,
            Permission.VIEW_HISTORY,
            Permission.VIEW_TRAIL,
            Permission.READ_CONFIDENTIAL,
            Permission.RUN_AUDITS,
            Permission.VIEW_CERTIFICATION,
            Permission.VIEW_NONCONFORMITIES,
            Permission.RAISE_NONCONFORMITIES,
            Permission.VERIFY_NONCONFORMITIES,
        }
    ),
    # the general manager is an approver: reads the project to sign its application
    Role.APPROVER: frozenset(
        _EVERYONE
        | {Permission.VIEW_HISTORY, Permission.REVIEW_DOCUMENTS, Permission.APPROVE_DOCUMENTS,
           Permission.VIEW_CERTIFICATION}
    ),
    Role.STAFF: frozenset(_EVERYONE),
}

# The working-day calendar: the administrator keeps it, the quality manager sees it.
ROLE_PERMISSIONS[Role.ADMIN] |= {Permission.MANAGE_CALENDAR, Permission.VIEW_CALENDAR}
ROLE_PERMISSIONS[Role.QUALITY_MANAGER] |= {Permission.VIEW_CALENDAR}


def permissions_for(roles: Iterable[Role]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


# The quality-manual writing plan (handbook 5.3, qms/writing): the center runs plans, the
# quality manager confirms them and answers the writers' questions.
ROLE_PERMISSIONS[Role.QUALITY_MANAGER] |= {
    Permission.MANAGE_WRITING_PLANS,
    Permission.CONFIRM_WRITING_PLANS,
}
ROLE_PERMISSIONS[Role.QUALITY_CLERK] |= {Permission.MANAGE_WRITING_PLANS}
