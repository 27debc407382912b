"""A person signed in to the web UI as a browser would: the login form with its CSRF token, then the
session cookie on every later request (demo passwords)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from lims.demo import PASSWORDS

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(app, username: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    token = CSRF.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    r = client.post("/login", data={"username": username, "password": PASSWORDS[username], "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client
