"""Statements per page, as a fixed bound that does not grow with what the page lists (issue 13,
part 7: a procedure's page once asked for each linked document's revision in force, one by
one, and scanned every step of every procedure). Counts, never times."""

import pytest
import sqlalchemy as sa

from qms.auth.models import User
from qms.documents import service as documents
from qms.procedures import service as procedures
from qms.procedures.models import LinkKind, StepType
from tests.factories import TEST_PASSWORD, make_document
from tests.web.test_documents_pages import count_queries

# What each page may ask of the database at most (signed-in user and session included; the
# menu asks once whether the reader takes part in reviews; the document page shows the
# reviews of its revision and their open defects; the register asks, for the page's rows at
# once, which documents the reader may open; the document page asks once for the corrective
# action that started the revision shown).
DOCUMENT_PAGE_MAX = 20
REGISTER_PAGE_MAX = 10
LIST_API_MAX = 7
DOCUMENT_API_MAX = 10


def _people(db):
    names = ["clerk", "reviewer", "approver", "staff"]
    return {n: db.scalar(sa.select(User).where(User.username == n)) for n in names}


def _issue(db, people, revision):
    """Submit, review, approve and issue a draft through the services."""
    documents.submit_for_review(
        db,
        people["clerk"],
        revision,
        reviewers=[people["reviewer"]],
        approver=people["approver"],
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )
    for step, who in ((documents.review, "reviewer"), (documents.approve, "approver")):
        step(
            db,
            people[who],
            revision,
            password=TEST_PASSWORD,
            content_sha256=revision.content_sha256,
        )
    documents.issue(
        db,
        people["clerk"],
        revision,
        password=TEST_PASSWORD,
        content_sha256=revision.content_sha256,
    )


def _procedure(app, links: int) -> tuple[str, list[str]]:
    """An effective procedure controlled by a regulation, using `links` forms (half through
    its form list, half named only inside its steps) and referring to as many regulations."""
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        people = _people(db)

        def effective(kind, title):
            return make_document(
                db,
                state="effective",
                kind=kind,
                title=title,
                author=people["clerk"],
                reviewer=people["reviewer"],
                approver=people["approver"],
                clerk=people["clerk"],
            ).number

        controller = effective("regulation", "投诉管理制度")
        forms = [effective("form", f"投诉登记表{i}") for i in range(links)]
        references = [effective("regulation", f"相关制度{i}") for i in range(links)]
        draft = make_document(db, state="draft", kind="process", author=people["clerk"])
        half = links // 2
        procedures.set_structure(
            db,
            draft.working_revision,
            links={
                LinkKind.CONTROLLED_BY: [controller],
                LinkKind.USES_FORM: forms[:half],
                LinkKind.REFERENCES: references,
            },
            iso_clauses=["8.2.1"],
            gap_note="",
            lanes=["客户服务中心"],
            steps=[
                {
                    "number": 1 + i,
                    "lane": "客户服务中心",
                    "type": StepType.TASK,
                    "title": f"登记{i}",
                    "forms_used": [form],
                }
                for i, form in enumerate(forms[half:])
            ],
        )
        _issue(db, people, draft.working_revision)
        db.commit()
        return draft.number, forms


def _count(app, client, path, **kw):
    client.get(path, **kw)  # the day's activation check and the first-use caches
    with count_queries(app) as counted:
        response = client.get(path, **kw)
    assert response.status_code == 200
    return counted["n"], response


def test_document_page_of_a_procedure_does_not_ask_per_link(app, client_as, users):
    few, _few_forms = _procedure(app, 2)
    many, many_forms = _procedure(app, 20)
    staff = client_as("staff")
    n_few, _page = _count(app, staff, f"/documents/{few}")
    n_many, page_many = _count(app, staff, f"/documents/{many}")
    html = page_many.get_data(as_text=True)
    # every form of its form list is on the page, each with the state it is in
    assert all(
        f'data-number="{number}" data-status="effective"' in html for number in many_forms[:10]
    )
    assert 'data-status="effective"' in html
    assert n_many == n_few
    assert n_many <= DOCUMENT_PAGE_MAX


def test_a_form_page_lists_the_procedure_naming_it_in_a_step(app, client_as, users):
    number, forms = _procedure(app, 4)
    staff = client_as("staff")
    # the second half of the forms is named only inside the steps
    n, page = _count(app, staff, f"/documents/{forms[-1]}")
    html = page.get_data(as_text=True)
    assert "使用方" in html  # "Used by"
    assert f'data-number="{number}"' in html
    assert n <= DOCUMENT_PAGE_MAX
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        for form in forms:
            revision = documents.get_document(db, form).current_revision
            assert number in [t.number for t in procedures.links_for(db, revision).used_by]


def _documents(app, count):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()
        people = _people(db)
        for i in range(count):
            make_document(
                db,
                state="effective",
                title=f"制度{i}",
                author=people["clerk"],
                reviewer=people["reviewer"],
                approver=people["approver"],
                clerk=people["clerk"],
            )
        db.commit()


@pytest.mark.parametrize("username", ["staff", "clerk"])
def test_register_page_and_list_api_have_a_fixed_number_of_statements(
    app, client_as, users, username
):
    _documents(app, 3)
    client = client_as(username)
    with app.app_context():
        from qms.auth import service
        from qms.db import get_session

        s = get_session()
        user = service.user_by_username(s, username)
        token = service.create_token(s, user, user, "count")
        s.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    small_page, _page = _count(app, client, "/documents/")
    small_api, _json = _count(app, app.test_client(), "/api/v1/documents", headers=bearer)
    _documents(app, 30)
    large_page, page = _count(app, client, "/documents/")
    large_api, listing = _count(app, app.test_client(), "/api/v1/documents", headers=bearer)
    assert "制度29" in page.get_data(as_text=True)
    assert listing.get_json()["meta"]["total"] == 33
    assert large_page == small_page <= REGISTER_PAGE_MAX
    assert large_api == small_api <= LIST_API_MAX


def test_document_api_has_a_fixed_number_of_statements(app, users):
    number, _forms = _procedure(app, 2)
    with app.app_context():
        from qms.auth import service
        from qms.db import get_session

        s = get_session()
        user = service.user_by_username(s, "staff")
        token = service.create_token(s, user, user, "count")
        s.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    n, response = _count(app, app.test_client(), f"/api/v1/documents/{number}", headers=bearer)
    assert response.get_json()["number"] == number
    assert [s["meaning"] for s in response.get_json()["signatures"]] == [
        "authored",
        "reviewed",
        "approved",
        "issued",
    ]
    assert n <= DOCUMENT_API_MAX
