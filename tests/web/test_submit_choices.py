"""The submit form names again the people of the last submission: a revision sent back
by a reviewer goes to the same reviewers and approver unless the author changes them."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from tests.factories import make_document


def _selected(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select is not None
    return re.findall(r'<option value="([^"]+)" selected>', select.group(0))


def test_a_returned_revision_is_offered_to_the_same_people(
    app: Any, users: Any, client_as: Any
) -> None:
    from qms.auth.models import User
    from qms.db import get_session
    from qms.documents import service

    with app.test_request_context():
        s = get_session()
        u = {x.username: x for x in s.scalars(sa.select(User))}
        document = make_document(
            s, state="in_review", author=u["clerk"], reviewer=u["reviewer"], approver=u["approver"]
        )
        service.reject(s, u["reviewer"], document.working_revision, comment="第三条不清楚")
        s.commit()
        number = document.number
    page = client_as("clerk").get(f"/documents/{number}").get_data(as_text=True)
    assert 'id="submit-form"' in page
    assert _selected(page, "reviewers") == ["reviewer"]
    assert _selected(page, "approver") == ["approver"]
    # the trail says why in words
    trail = client_as("clerk").get("/trail/?action=void_signature").get_data(as_text=True)
    assert "驳回：第三条不清楚" in trail and "rejected:" not in trail


def test_a_first_submission_names_nobody_in_advance(app: Any, users: Any, client_as: Any) -> None:
    from qms.auth.models import User
    from qms.db import get_session

    with app.test_request_context():
        s = get_session()
        clerk = s.scalar(sa.select(User).where(User.username == "clerk"))
        number = make_document(s, state="draft", author=clerk).number
        s.commit()
    page = client_as("clerk").get(f"/documents/{number}").get_data(as_text=True)
    assert _selected(page, "reviewers") == []
