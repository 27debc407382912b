"""Login, tokens, API keys, the zh-CN form login with its CSRF double-submit token, and the UI session
cookie, through the real app on SQLite and PostgreSQL (demo users of ``lims demo``)."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Annotated

import pytest
from fastapi import FastAPI, Form
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.security import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    Permission,
    RejectNulBytes,
    csrf_for_session,
    public,
    require_ui,
)
from lims import demo
from lims.db.engine import session_scope
from lims.db.models import ApiToken, User
from lims.demo import PASSWORDS
from lims.demo import reference as demo_reference
from lims.security import hash_password
from lims.services import auth, throttle

_HASHES: dict[str, str] = {}


def _hash_once(password: str) -> str:
    """argon2 costs ~0.3 s per hash here: the demo users' hashes are computed once per test run."""
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


@pytest.fixture
def client(db_engine, db_factory, monkeypatch) -> TestClient:
    monkeypatch.setattr(demo_reference, "hash_password", _hash_once)
    demo.seed_reference(db_factory)
    return TestClient(create_app(db_engine), raise_server_exceptions=False)


def _login(client: TestClient, username: str) -> str:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORDS[username]})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _form_csrf(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    assert client.cookies.get(CSRF_COOKIE) == match.group(1)
    return match.group(1)


def test_api_login_me_and_logout(client):
    r = client.post("/api/v1/auth/login", json={"username": "liqiang", "password": PASSWORDS["liqiang"]})
    body = r.json()
    assert r.status_code == 200 and body["token_type"] == "bearer" and body["kind"] == "bearer"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(days=29) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=auth.BEARER_DEFAULT_DAYS)
    me = client.get("/api/v1/auth/me", headers=_bearer(body["token"])).json()
    assert me["username"] == "liqiang" and me["roles"] == ["reviewer"]
    assert "results:review" in me["permissions"] and "results:approve" not in me["permissions"]
    assert client.get("/api/v1/samples", headers=_bearer(body["token"])).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=_bearer(body["token"])).status_code == 204
    r = client.get("/api/v1/auth/me", headers=_bearer(body["token"]))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_wrong_password_then_throttled_with_retry_after(client, monkeypatch):
    monkeypatch.setattr(throttle, "login_guard", lambda guard=throttle.PasswordGuard.for_logins(2): guard)
    for _ in range(2):
        r = client.post("/api/v1/auth/login", json={"username": "zhangwei", "password": "wrong-password!"})
        assert r.status_code == 401 and "wrong username or password" in r.json()["detail"]
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORDS["zhangwei"]})
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60
    assert "too many failed logins" in r.json()["detail"] and "retry after" in r.json()["detail"]
    time.sleep(int(r.headers["retry-after"]) + 0.05)  # a wait, never a lock (issue 11)
    assert client.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORDS["zhangwei"]}
                       ).status_code == 200


def test_disabled_account_is_refused(client, db_factory):
    token = _login(client, "zhangwei")
    with session_scope(db_factory, actor="admin") as s:
        s.execute(select(User).where(User.username == "zhangwei")).scalar_one().active = False
    r = client.post("/api/v1/auth/login", json={"username": "zhangwei", "password": PASSWORDS["zhangwei"]})
    assert r.status_code == 401 and "disabled" in r.json()["detail"]
    assert client.get("/api/v1/samples", headers=_bearer(token)).status_code == 401


def test_expired_token_is_refused(client, db_factory):
    token = _login(client, "zhangwei")
    with session_scope(db_factory, actor="test") as s:
        for row in s.execute(select(ApiToken)).scalars():
            row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    r = client.get("/api/v1/results", headers=_bearer(token))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_tokens_and_api_keys(client):
    tech = _login(client, "zhangwei")
    admin = _login(client, "admin")
    r = client.post("/api/v1/auth/tokens", json={"label": "my script", "expires_days": 7}, headers=_bearer(tech))
    assert r.status_code == 201 and r.json()["username"] == "zhangwei"
    script_token = r.json()["token"]
    listed = client.get("/api/v1/auth/tokens", headers=_bearer(tech)).json()
    assert "my script" in {t["label"] for t in listed} and all("token" not in t for t in listed)
    # API keys and tokens for others need users:manage
    r = client.post("/api/v1/auth/tokens", json={"kind": "api_key", "username": "zhangwei"}, headers=_bearer(tech))
    assert r.status_code == 403 and "users:manage" in r.json()["detail"]
    r = client.post("/api/v1/auth/tokens", json={"username": "admin"}, headers=_bearer(tech))
    assert r.status_code == 403 and "users:manage" in r.json()["detail"]
    r = client.post("/api/v1/auth/users", json={"username": "gc-01", "full_name": "气相色谱仪 GC-01",
                                                "roles": ["technician"], "service": True}, headers=_bearer(admin))
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/auth/tokens", json={"kind": "api_key", "username": "gc-01", "label": "GC-01"},
                    headers=_bearer(admin))
    assert r.status_code == 201 and r.json()["kind"] == "api_key" and r.json()["expires_at"] is None
    key = r.json()["token"]
    assert client.get("/api/v1/samples", headers=_bearer(key)).status_code == 200
    me = client.get("/api/v1/auth/me", headers=_bearer(key)).json()
    assert me["token_kind"] == "api_key" and "account:self" not in me["permissions"]
    r = client.post("/api/v1/auth/tokens", json={}, headers=_bearer(key))
    assert r.status_code == 403 and "account:self" in r.json()["detail"]
    # an API key for a person is refused, naming the field
    r = client.post("/api/v1/auth/tokens", json={"kind": "api_key", "username": "zhangwei"}, headers=_bearer(admin))
    assert r.status_code == 422 and "username" in r.json()["detail"]
    # revoke the script token; another user's token id is not disclosed
    script_id = next(t["token_id"] for t in listed if t["label"] == "my script")
    assert client.delete(f"/api/v1/auth/tokens/{script_id}", headers=_bearer(_login(client, "liqiang"))
                         ).status_code == 404
    assert client.delete(f"/api/v1/auth/tokens/{script_id}", headers=_bearer(tech)).status_code == 204
    assert client.get("/api/v1/samples", headers=_bearer(script_token)).status_code == 401


def test_create_user_validates_and_names_the_field(client):
    admin = _login(client, "admin")
    r = client.post("/api/v1/auth/users", json={"username": "newtech", "full_name": "新人", "password": "short1",
                                                "roles": ["technician"]}, headers=_bearer(admin))
    assert r.status_code == 422 and r.json()["detail"].startswith("password:")
    r = client.post("/api/v1/auth/users", json={"username": "newtech", "full_name": "新人",
                                                "password": "Long-enough-2026", "roles": ["wizard"]},
                    headers=_bearer(admin))
    assert r.status_code == 422 and r.json()["detail"].startswith("roles:")
    r = client.post("/api/v1/auth/users", json={"username": "zhangwei", "full_name": "重名",
                                                "password": "Long-enough-2026", "roles": []}, headers=_bearer(admin))
    assert r.status_code == 409 and r.json()["detail"].startswith("username:")
    r = client.post("/api/v1/auth/users", json={"username": "newtech", "full_name": "新人",
                                                "password": "Long-enough-2026", "roles": ["technician"]},
                    headers=_bearer(admin))
    assert r.status_code == 201 and r.json()["roles"] == ["technician"]
    assert client.post("/api/v1/auth/login", json={
        "username": "newtech", "password": "Long-enough-2026"}).status_code == 200


def test_ui_redirects_to_login_then_form_login_with_csrf(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/"
    csrf = _form_csrf(client)
    form = {"username": "zhangwei", "password": PASSWORDS["zhangwei"], "next": "/"}
    # no token, a wrong token, and no cookie are all refused before the password is looked at
    assert client.post("/login", data=form, follow_redirects=False).status_code == 403
    assert client.post("/login", data=form | {"csrf_token": "forged"}, follow_redirects=False).status_code == 403
    saved = client.cookies.get(CSRF_COOKIE)
    client.cookies.delete(CSRF_COOKIE)
    assert client.post("/login", data=form | {"csrf_token": csrf}, follow_redirects=False).status_code == 403
    client.cookies.set(CSRF_COOKIE, saved)
    r = client.post("/login", data=form | {"csrf_token": csrf, "password": "wrong-password!"},
                    follow_redirects=False)
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    r = client.post("/login", data=form | {"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "="))
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "max-age=" in cookie.lower()
    page = client.get("/")
    assert page.status_code == 200 and "样品" in page.text
    # the session cookie is for the UI: it is not an API bearer token
    session_token = client.cookies.get(SESSION_COOKIE)
    assert TestClient(client.app).get("/api/v1/auth/me", headers=_bearer(session_token)).status_code == 401


def test_open_redirect_is_refused(client):
    csrf = _form_csrf(client)
    r = client.post("/login", data={"username": "zhangwei", "password": PASSWORDS["zhangwei"], "csrf_token": csrf,
                                    "next": "//evil.example/phish"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_cookie_requests_that_change_state_need_the_csrf_header_and_logout_ends_the_session(client):
    csrf = _form_csrf(client)
    r = client.post("/login", data={"username": "zhangwei", "password": PASSWORDS["zhangwei"],
                                    "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    csrf = client.cookies.get(CSRF_COOKIE)  # renewed at login
    assert client.get("/api/v1/auth/me").json()["token_kind"] == "session"  # safe method: cookie suffices
    r = client.post("/api/v1/auth/tokens", json={})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]["message"]
    assert r.json()["detail"]["code"] == "auth.csrf_failed" and r.json()["detail"]["field"] == "csrf_token"
    assert client.post("/api/v1/auth/tokens", json={}, headers={CSRF_HEADER: "forged"}).status_code == 403
    assert client.post("/api/v1/auth/tokens", json={}, headers={CSRF_HEADER: csrf}).status_code == 201
    # logout: the form needs the token too
    logout_csrf = _form_csrf(client, "/logout")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    r = client.post("/logout", data={"csrf_token": logout_csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_rejects_bad_input_without_a_traceback(client):
    for body in (b"{", b"[]", b'{"username": "", "password": "x"}', b'{"username": "a", "password": null}',
                 ('{"username": "' + "名" * 100 + '", "password": "x"}').encode()):
        r = client.post("/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (body, r.status_code)
        assert "Traceback" not in r.text
    r = client.post("/login", data={"username": "x" * 300, "password": "y", "csrf_token": "z"})
    assert r.status_code < 500 and "Traceback" not in r.text


def test_cookie_form_posts_carry_the_csrf_field(client, db_factory):
    """A UI form posted with the session cookie passes with the double-submit field, not without it."""
    app = FastAPI()
    app.state.session_factory = db_factory

    @app.post("/form", dependencies=[require_ui(Permission.SAMPLES_WRITE)])
    def form_post(note: Annotated[str, Form()] = "") -> dict[str, str]:
        return {"note": note}

    with session_scope(db_factory, actor="zhangwei") as s:
        session_token = auth.issue_token(s, auth.get_user(s, "zhangwei"), auth.TokenKind.SESSION,
                                         expires_at=None).token
    # Issue 11 changes this: a cookie/field pair the attacker chose (a cookie planted from a sibling
    # site) used to pass the double-submit check; the token is now bound to the session (HMAC).
    ui = TestClient(app, cookies={SESSION_COOKIE: session_token, CSRF_COOKIE: "t0k3n-value"})
    assert ui.post("/form", data={"note": "x"}).status_code == 403
    assert ui.post("/form", data={"note": "x", "csrf_token": "other"}).status_code == 403
    assert ui.post("/form", data={"note": "x", "csrf_token": "t0k3n-value"}).status_code == 403
    bound = csrf_for_session(session_token)
    assert bound != csrf_for_session(session_token + "x") and session_token not in bound
    r = ui.post("/form", data={"note": "x", "csrf_token": bound})
    assert r.status_code == 200 and r.json() == {"note": "x"}
    anonymous = TestClient(app)
    r = anonymous.post("/form", data={"note": "x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/form"


def test_nul_bytes_in_path_or_query_are_a_clean_400():
    app = FastAPI()
    app.add_middleware(RejectNulBytes)

    @app.get("/items/{code}", dependencies=[public()])
    def item(code: str, q: str = "") -> dict[str, str]:
        return {"code": code, "q": q}

    c = TestClient(app)
    r = c.get("/items/a%00b")
    assert r.status_code == 400 and r.json()["detail"].startswith("path:")
    r = c.get("/items/ab", params={"q": "x\x00y"})
    assert r.status_code == 400 and r.json()["detail"].startswith("query:")
    assert c.get("/items/ab", params={"q": "x%y"}).json() == {"code": "ab", "q": "x%y"}
