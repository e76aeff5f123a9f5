"""API fuzzing from the OpenAPI document (schemathesis, driven through its Python API
against the WSGI app): every operation, as a quality clerk and as staff, authenticated by
a Bearer token. No answer may be a 500, and every answer must be a status the document
lists for the operation, with the documented content type and a body matching the
documented schema.

A third pass, as a review leader (who may reach the review writes), sends data that breaks
the documented request schema (schemathesis' negative mode): still no 500, and only
documented statuses.

Budget: MAX_EXAMPLES generated requests per operation and pass, derandomized (the same
requests every run), no shrinking; the three passes take about two minutes on two cores.
Path parameters are drawn half from the document (random) and half from records that
exist, so the handlers behind the 404 are reached too.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _token(app: Flask, username: str) -> str:
    from qms.auth import service
    from qms.db import get_session

    with app.app_context():
        s = get_session()
        user = service.user_by_username(s, username)
        token = service.create_token(s, user, user, "fuzz")
        s.commit()
        return token


def _records(app: Flask) -> dict[str, Any]:
    """Records for the path parameters: an effective document, a draft, a procedure and a
    review with a defect, made by the demo users through the real services."""
    from tests.web.test_route_matrix import build_world

    return build_world(app)


def _real_path_parameters(path: str, world: dict[str, Any]) -> dict[str, Any]:
    if path.startswith("/api/v1/reviews/"):
        return {"review_id": world["review_id"], "number": world["defect"]}
    if path.startswith("/api/v1/procedures/"):
        return {"number": world["procedure"]}
    if path.startswith("/api/v1/nonconformities/"):
        return {"nc_id": world["nc_id"]}
    if path.endswith("/draft"):
        return {"number": world["draft"]}
    return {"number": world["number"]}


def _known_good(label: str, world: dict[str, Any]) -> dict[str, Any] | None:
    """A request the clerk may make with success, so the 2xx answers are checked too."""
    return {
        "POST /api/v1/documents": {
            "title": "访客登记制度",
            "kind": "regulation",
            "department": "KF",
            "body": "## 总则\n\n访客须登记。",
            "change_summary": "首次发布",
        },
        "PATCH /api/v1/documents/{number}/draft": {
            "body": "## 总则\n\n访客须登记并佩戴访客证。",
            "base_hash": world["draft_sha256"],
        },
        "POST /api/v1/documents/{number}/transitions": {"action": "revise", "comment": "修订"},
        "POST /api/v1/nonconformities": {
            "department": "KF",
            "clause": "8.5.1",
            "grade": "general",
            "description": "回访记录缺失",
            "evidence": "抽查20份，3份无回访记录",
        },
        "POST /api/v1/nonconformities/{nc_id}/actions": {
            "description": "培训",
            "owner": "staff",
            "due_on": date.today().isoformat(),
        },
    }.get(label)


@pytest.fixture
def _search_index_after_commit_off(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hundreds of quick writes through the after-commit indexer leave Whoosh reader files
    # to the garbage collector (ResourceWarning, an error in this suite); that is the
    # search package's to fix, not this contract test's. Search is still fuzzed.
    monkeypatch.setattr("qms.search.service.drain", lambda *_a, **_k: 0)
    # Generated signatures carry wrong passwords; the lockout they earn (tested in
    # tests/web/test_sign_in.py) would lock the fuzzing user's password.
    app.config["LOCKOUT_ATTEMPTS"] = 10**9
    app.config["ADDRESS_ATTEMPTS"] = 10**9


@pytest.mark.usefixtures("_search_index_after_commit_off")
@pytest.mark.parametrize(
    ("username", "mode"),
    [
        ("clerk", GenerationMode.POSITIVE),
        ("staff", GenerationMode.POSITIVE),
        ("leader", GenerationMode.NEGATIVE),
    ],
)
def test_api_answers_as_documented(
    app: Flask, users: Any, username: str, mode: GenerationMode
) -> None:
    world = _records(app)
    headers = {"Authorization": f"Bearer {_token(app, username)}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        strategies = [operation.as_strategy(mode)]
        names = {p.name for p in operation.path_parameters}
        real = {k: v for k, v in _real_path_parameters(operation.path, world).items() if k in names}
        if names:
            strategies.append(operation.as_strategy(mode, path_parameters=real))
        good = _known_good(operation.label, world)
        if good is not None and mode == GenerationMode.POSITIVE:
            strategies.append(operation.as_strategy(mode, path_parameters=real, body=good))
        strategy = st.one_of(*strategies)

        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def exercise(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            exercise()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label} as {username} ({mode.value}):\n{exc}")
    assert operations >= 19
    assert not failures, "\n\n".join(failures)
