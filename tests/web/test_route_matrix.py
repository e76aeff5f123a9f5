"""Every route against every role: the permission declared on the view decides."""

import pytest

from qms.auth.permissions import ROLE_PERMISSIONS, Role
from qms.demo import DEMO_USERS

ROLE_OF = {username: role for username, _n, role, _d in DEMO_USERS}


def _views(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        yield rule, app.view_functions[rule.endpoint]


def test_every_view_declares_who_may_use_it(app):
    undeclared = [
        rule.rule
        for rule, view in _views(app)
        if not getattr(view, "public", False) and not hasattr(view, "required_permissions")
    ]
    assert undeclared == []


def _get_routes(app):
    routes = []
    for rule, view in _views(app):
        if "GET" not in rule.methods or rule.arguments or getattr(view, "public", False):
            continue
        routes.append((rule.rule, view.required_permissions))
    return sorted(routes)


@pytest.mark.parametrize("username", [u[0] for u in DEMO_USERS])
def test_get_routes_by_role(app, client_as, username):
    client = client_as(username)
    perms = ROLE_PERMISSIONS[ROLE_OF[username]]
    checked = 0
    for path, required in _get_routes(app):
        response = client.get(path)
        expected_ok = set(required) <= perms
        if expected_ok:
            assert response.status_code in (200, 302), (path, response.status_code)
            if response.status_code == 302:
                assert "/login" not in response.headers["Location"], path
        else:
            assert response.status_code == 403, (path, response.status_code)
        checked += 1
    assert checked >= 5


def test_anonymous_is_sent_to_sign_in(app, client):
    for path, _required in _get_routes(app):
        response = client.get(path)
        if path.startswith("/api/"):
            assert response.status_code == 401, path
        else:
            assert response.status_code == 302, path
            assert "/login" in response.headers["Location"]


def test_role_labels_cover_every_role():
    from qms.auth.permissions import ROLE_LABELS

    assert set(ROLE_LABELS) == set(Role)
