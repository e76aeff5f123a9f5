"""Check against a running server (e.g. gunicorn -w 2) that a session cookie saved before
sign-out is refused by every worker afterwards, and that hostile `next` values stay on
the site. Usage:

    QMS_DATA_DIR=/tmp/qms-gu QMS_DEMO_PASSWORD=lantern-oyster-quietly-9 qms init
    QMS_DATA_DIR=/tmp/qms-gu gunicorn -w 2 -b 127.0.0.1:8765 'qms:create_app()' &
    python tools/session_replay.py 127.0.0.1 8765 staff lantern-oyster-quietly-9
"""

from __future__ import annotations

import http.client
import re
import sys
import urllib.parse

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def request(
    host: str, port: int, method: str, path: str, cookie: str | None = None, form=None
) -> tuple[int, str, str | None, str | None]:
    conn = http.client.HTTPConnection(host, port)
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = urllib.parse.urlencode(form)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode()
    found = re.match(r"session=([^;]*)", response.getheader("Set-Cookie") or "")
    return (
        response.status,
        text,
        f"session={found.group(1)}" if found else cookie,
        response.getheader("Location"),
    )


def sign_in(host: str, port: int, user: str, password: str, path: str = "/login"):
    _s, page, cookie, _l = request(host, port, "GET", "/login")
    token = TOKEN.search(page).group(1)
    form = {"csrf_token": token, "username": user, "password": password}
    return request(host, port, "POST", path, cookie, form)


def main(host: str, port: str, user: str, password: str) -> None:
    p = int(port)
    status, _t, saved, _l = sign_in(host, p, user, password)
    print("sign-in", status)
    print(
        "saved cookie before sign-out:",
        [request(host, p, "GET", "/account", saved)[0] for _ in range(10)],
    )
    _s, page, cookie, _l = request(host, p, "GET", "/account", saved)
    status, _t, _c, _l = request(
        host, p, "POST", "/logout", cookie, {"csrf_token": TOKEN.search(page).group(1)}
    )
    print("sign-out", status)
    print(
        "saved cookie after sign-out:",
        [request(host, p, "GET", "/account", saved)[0] for _ in range(20)],
    )
    for target in ["/%09/evil.example", "%0a", "//evil.example", "/%5Cevil.example"]:
        status, _t, _c, location = sign_in(host, p, user, password, f"/login?next={target}")
        print(f"next={target} -> {status} {location}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
