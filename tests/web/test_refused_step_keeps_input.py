"""A signing step refused on the document page (here: a mistyped password) comes back on
the same page with the reason and with what the user typed into that step's form."""

import html

import sqlalchemy as sa

from qms.auth.models import Meaning, Signature, User
from tests.factories import make_document
from tests.forms import find_form, submit_form

WRONG = "not-my-password-1"


def _document(app, state):
    with app.test_request_context():
        from qms.db import get_session

        db = get_session()

        def who(name):
            return db.scalar(sa.select(User).where(User.username == name))

        document = make_document(
            db,
            state=state,
            author=who("clerk"),
            reviewer=who("reviewer"),
            approver=who("approver"),
            clerk=who("clerk"),
        )
        db.commit()
        return document.number


def _signatures(app, meaning):
    with app.app_context():
        from qms.db import get_session

        return get_session().scalar(
            sa.select(sa.func.count(Signature.id)).where(Signature.meaning == meaning)
        )


def test_refused_approval_keeps_the_comment(app, users, client_as):
    number = _document(app, "reviewed")
    client = client_as("approver")
    page = client.get(f"/documents/{number}?revision=A/0")
    # the approve form's own button names the action (name="action" value="approve")
    form = find_form(page.get_data(as_text=True), f"/documents/{number}/transition")
    assert {"comment", "password"} <= form.names
    response = client.post(
        f"/documents/{number}/transition",
        data={**form.fields, "comment": "同意 <发布>", "password": WRONG, "action": "approve"},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "密码错误，签名未生效。" in text
    assert f'rows="2">{html.escape("同意 <发布>", quote=False)}</textarea>' in text
    assert _signatures(app, Meaning.APPROVED) == 0


def test_refused_withdrawal_keeps_the_reason(app, users, client_as):
    number = _document(app, "effective")
    client = client_as("clerk")
    page = client.get(f"/documents/{number}")
    response = submit_form(
        client,
        page,
        f"/documents/{number}/transition",
        {"action": "withdraw"},
        comment="不再适用",
        password=WRONG,
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "密码错误，签名未生效。" in text
    assert 'name="comment" required value="不再适用"' in text
    assert _signatures(app, Meaning.WITHDRAWN) == 0
    # the other forms of the page stay empty
    assert text.count('value="不再适用"') == 1
