"""The one visibility rule, cell by cell: revision state × confidentiality × who reads."""

import pytest

from qms.auth.permissions import ROLE_PERMISSIONS, Permission, Role
from qms.documents.lifecycle import RevState
from qms.documents.models import Confidentiality
from qms.documents.visibility import (
    DocumentFacts,
    Reader,
    RevisionFacts,
    index_viewers,
    may_read_document,
    may_see_revision,
    reader_viewer_terms,
)

KF, GC, ZJ = 10, 20, 1  # Customer Service, Engineering, the General Manager's office
ME = 7

PUB, INT, CONF = Confidentiality.PUBLIC, Confidentiality.INTERNAL, Confidentiality.CONFIDENTIAL


def reader(role, *, departments=(KF,), scopes=()):
    return Reader(
        user_id=ME,
        permissions=ROLE_PERMISSIONS[role],
        departments=frozenset(departments),
        approval_scopes=frozenset(scopes),
    )


STAFF_KF = reader(Role.STAFF)  # a customer-service employee
STAFF_GC = reader(Role.STAFF, departments=(GC,))  # an engineer
GM_OFFICE = reader(Role.STAFF, departments=(ZJ, KF, GC))  # the office above every department
CLERK = reader(Role.QUALITY_CLERK, departments=(99,))
MANAGER = reader(Role.QUALITY_MANAGER, departments=(99,))
LEADER = reader(Role.REVIEW_LEADER, departments=(99,))
AUDITOR = reader(Role.AUDITOR, departments=(99,))
ADMIN = reader(Role.ADMIN, departments=(98,))
APPROVER_KF = reader(Role.APPROVER, departments=(GC,), scopes=[(None, KF)])
APPROVER_REGS = reader(Role.APPROVER, departments=(GC,), scopes=[("regulation", None)])
APPROVER_FORMS_KF = reader(Role.APPROVER, departments=(GC,), scopes=[("form", KF)])
REVIEWER_GC = reader(Role.REVIEWER, departments=(GC,))
NOBODY = Reader(user_id=ME, permissions=frozenset())


def doc(level, department=KF, kind="regulation"):
    return DocumentFacts(confidentiality=level, department_id=department, kind=kind)


def rev(state, *named):
    return RevisionFacts(state=RevState(state), named=frozenset(named))


# (reader, confidentiality, state, named on the revision, history blocked, expected)
TABLE = [
    # effective revisions: every reader, unless the document is confidential
    (STAFF_GC, PUB, "effective", False, False, True),
    (STAFF_GC, INT, "effective", False, False, True),
    (STAFF_GC, CONF, "effective", False, False, False),
    (STAFF_KF, CONF, "effective", False, False, True),  # own department
    (GM_OFFICE, CONF, "effective", False, False, True),  # the department above
    (CLERK, CONF, "effective", False, False, True),
    (MANAGER, CONF, "effective", False, False, True),
    (LEADER, CONF, "effective", False, False, True),
    (AUDITOR, CONF, "effective", False, False, True),
    (ADMIN, CONF, "effective", False, False, False),  # keeps accounts, not documents
    (ADMIN, INT, "effective", False, False, True),
    (APPROVER_KF, CONF, "effective", False, False, True),  # approves for KF
    (APPROVER_REGS, CONF, "effective", False, False, True),  # approves regulations
    (APPROVER_FORMS_KF, CONF, "effective", False, False, False),  # forms only
    (REVIEWER_GC, CONF, "effective", False, False, False),
    (REVIEWER_GC, CONF, "effective", True, False, True),  # named on this revision
    (NOBODY, PUB, "effective", False, False, False),
    # history: for readers unless blocked; blocked, for the history permission only
    (STAFF_GC, INT, "superseded", False, False, True),
    (STAFF_GC, INT, "superseded", False, True, False),
    (STAFF_GC, INT, "obsolete", False, True, False),
    (CLERK, INT, "obsolete", False, True, True),
    (AUDITOR, INT, "superseded", False, True, True),
    (STAFF_KF, CONF, "superseded", False, False, True),
    (STAFF_GC, CONF, "superseded", False, False, False),
    # unissued revisions: document control and the people named on them only
    (STAFF_KF, INT, "draft", False, False, False),
    (STAFF_KF, PUB, "in_review", False, False, False),
    (STAFF_KF, INT, "approved", False, False, False),
    (STAFF_KF, INT, "cancelled", False, False, False),
    (STAFF_KF, INT, "draft", True, False, True),
    (REVIEWER_GC, INT, "in_review", True, False, True),
    (REVIEWER_GC, CONF, "in_review", True, False, True),  # named: chosen by document control
    (AUDITOR, INT, "draft", False, False, False),
    (ADMIN, INT, "draft", False, False, False),
    (LEADER, INT, "in_review", False, False, False),
    (APPROVER_KF, INT, "in_review", False, False, False),
    (APPROVER_KF, INT, "in_review", True, False, True),
    (CLERK, INT, "draft", False, False, True),
    (CLERK, CONF, "draft", False, False, True),
    (MANAGER, CONF, "approved", False, False, True),
    (NOBODY, INT, "draft", True, False, False),
]


@pytest.mark.parametrize(("who", "level", "state", "named", "block", "expected"), TABLE)
def test_may_see_revision(who, level, state, named, block, expected):
    revision = rev(state, *([ME] if named else []))
    assert may_see_revision(who, doc(level), revision, block_history=block) is expected


@pytest.mark.parametrize(
    ("who", "level", "named", "expected"),
    [
        (STAFF_GC, INT, False, True),
        (STAFF_GC, CONF, False, False),
        (STAFF_GC, CONF, True, True),
        (STAFF_KF, CONF, False, True),
        (ADMIN, CONF, False, False),
        (AUDITOR, CONF, False, True),
        (NOBODY, PUB, True, False),
    ],
)
def test_may_read_document(who, level, named, expected):
    assert may_read_document(who, doc(level), named=named) is expected


def _index_agrees(who, document, revision):
    """The search index's terms say the same as the rule (document control aside, which
    the index does not filter)."""
    terms = reader_viewer_terms(who)
    if terms is None:
        return True
    return bool(set(terms) & set(index_viewers(document, revision)))


@pytest.mark.parametrize(("who", "level", "state", "named", "block", "expected"), TABLE)
def test_search_terms_agree_with_the_rule(who, level, state, named, block, expected):
    if block or not who.can(Permission.READ_DOCUMENTS):
        pytest.skip("history blocking and sign-in are filtered apart from the terms")
    revision = rev(state, *([ME] if named else []))
    assert _index_agrees(who, doc(level), revision) is expected


def test_every_reader_role_is_in_the_table():
    roles = set(Role)
    covered = {
        Role.STAFF,
        Role.QUALITY_CLERK,
        Role.QUALITY_MANAGER,
        Role.REVIEW_LEADER,
        Role.AUDITOR,
        Role.ADMIN,
        Role.APPROVER,
        Role.REVIEWER,
    }
    assert covered == roles
