"""Security headers on every response, set in one place.

The Content-Security-Policy allows scripts and styles only from our own ``static/`` files
(no ``unsafe-inline``: templates carry no inline script, event handler or style
attribute, which ``tests/web/test_security_headers.py`` checks), images only from this
site or ``data:`` (a document body cannot make the reader's browser call another site),
and no framing.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Cross-Origin-Opener-Policy": "same-origin",
}


def add_security_headers(response: Response, policy: str) -> Response:
    # setdefault: a view that needs a stricter header of its own keeps it
    response.headers.setdefault("Content-Security-Policy", policy)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    policy = app.config.get("CONTENT_SECURITY_POLICY") or CONTENT_SECURITY_POLICY

    @app.after_request
    def security_headers(response: Response) -> Response:
        return add_security_headers(response, policy)
