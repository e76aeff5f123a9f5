"""Security headers on every response, and templates that a CSP without 'unsafe-inline'
does not break: no inline script, event handler, javascript: link or style attribute."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qms.config import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates"
STATIC = PROJECT_ROOT / "static"


def _directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def _assert_secure(response, path: str) -> None:
    headers = response.headers
    policy = _directives(headers.get("Content-Security-Policy", ""))
    assert policy, path
    assert policy["script-src"] == ["'self'"], path
    assert "'unsafe-inline'" not in policy["style-src"], path
    assert policy["frame-ancestors"] == ["'none'"], path
    assert policy["img-src"] == ["'self'", "data:"], path
    assert policy["object-src"] == ["'none'"], path
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("Referrer-Policy") in ("same-origin", "strict-origin-when-cross-origin")


@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/",
        "/documents/",
        "/no-such-page",
        "/api/v1/me",
        "/healthz",
        "/static/qms.css",
        "/search?q=a",
    ],
)
def test_every_kind_of_response_carries_the_security_headers(client_as, client, path):
    for c in (client, client_as("staff")):  # signed out: sign-in page, redirects, 401
        with c.get(path) as response:
            _assert_secure(response, path)


def test_a_refused_form_post_and_a_server_error_carry_the_headers(app):
    @app.route("/boom-for-test")
    def boom():  # pragma: no cover - the view exists to fail
        raise RuntimeError("boom")

    boom.public = True  # type: ignore[attr-defined]
    client = app.test_client()
    refused = client.post("/login", data={"csrf_token": ""})
    assert refused.status_code == 400
    _assert_secure(refused, "csrf")
    response = client.get("/boom-for-test")
    assert response.status_code == 500
    _assert_secure(response, "500")


def _templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*.html") if "mail" not in p.parts)


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script> (move it to static/)"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler (use addEventListener)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute (use a class in static/*.css)"),
    (re.compile(r"<style[\s>]", re.I), "a <style> block (move it to static/*.css)"),
]


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_carry_nothing_the_policy_blocks(template: Path):
    """E-mail templates are exempt: mail clients ignore our CSP and need inline style."""
    text = template.read_text(encoding="utf-8")
    found = [why for pattern, why in INLINE if pattern.search(text)]
    assert found == [], f"{template.relative_to(PROJECT_ROOT)} has {', '.join(found)}"


def test_static_scripts_neither_eval_nor_write_inline_style():
    for script in STATIC.glob("*.js"):
        text = script.read_text(encoding="utf-8")
        assert not re.search(r"\beval\(|new Function\(|setAttribute\(\s*['\"]style", text), script
