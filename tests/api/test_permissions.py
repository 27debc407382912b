"""The permission matrix: every route of ``create_app`` × every role, allow/deny derived from the declared
permissions and ROLE_PERMISSIONS (issue 6: "a new endpoint without one fails the test").

Routes are discovered from the app itself, so routes added later are checked without editing this file.
Path parameters get dummy values: a 404 or 422 still proves "not forbidden".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.security import (
    API_KEY_PERMISSIONS,
    ROLE_PERMISSIONS,
    AppRoute,
    Permission,
    iter_routes,
    permissions_for,
    public,
    require,
    route_access,
)
from api.ui import UiRoute
from api.ui import router as ui_router
from lims.db.engine import session_scope
from lims.db.models import Lab, Role, User, UserRole
from lims.security import hash_password
from lims.services import auth

PASSWORD = "Matrix-Test-Pass-2026"
#: The roles a technician must never hold rights of, and those an administrator must not have by default.
_NEVER_TECHNICIAN = {Permission.RESULTS_REVIEW, Permission.RESULTS_APPROVE, Permission.REPORTS_ISSUE,
                     Permission.USERS_MANAGE}
_NOT_ADMIN_BY_DEFAULT = {Permission.RESULTS_ENTER, Permission.RESULTS_REVIEW, Permission.RESULTS_APPROVE,
                         Permission.REPORTS_ISSUE}


@dataclass(frozen=True)
class Caller:
    name: str
    username: str
    kind: auth.TokenKind
    permissions: frozenset[Permission]


def _http_routes(app: FastAPI) -> list[tuple[AppRoute, str]]:
    out = []
    for route in iter_routes(app):
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((route, method))
    return out


def _fill(path: str) -> str:
    """Dummy path parameters ("1" parses as int, str and path alike)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def _request(client: TestClient, method: str, path: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs: dict[str, object] = {"headers": headers, "follow_redirects": False}
    if method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    return client.request(method, _fill(path), **kwargs)  # type: ignore[arg-type]


@dataclass
class Matrix:
    app: FastAPI
    client: TestClient
    callers: list[Caller]
    pools: dict[str, list[str]]

    def fresh_token(self, caller: Caller) -> str:
        """A new token per request, so a route that revokes the caller's token cannot skew the rest."""
        return self.pools[caller.username].pop()


_PEOPLE = {f"only-{r.value}": [r] for r in Role} | {"every-role": list(Role)}


@pytest.fixture
def matrix(db_engine: Engine, db_factory: sessionmaker[Session]) -> Matrix:
    """The app, one person per single role plus one holding every role, and an instrument's API key whose
    service user holds every role; tokens are minted in bulk (one per route and method)."""
    with session_scope(db_factory, actor="test:setup") as s:
        lab = Lab(code="LAB-PERM", name="权限矩阵测试站")
        s.add(lab)
        s.flush()
        shared_hash = hash_password(PASSWORD)  # one argon2 hash for all test people (keeps the test fast)
        for username, roles in _PEOPLE.items():
            s.add(User(lab_id=lab.id, username=username, full_name=username, password_hash=shared_hash,
                       roles=[UserRole(role=r.value) for r in roles]))
        svc = auth.create_service_user(s, "instrument-gc01", "GC-01", [r.value for r in Role], lab_id=lab.id)
        admin_like = User(lab_id=lab.id, username="setup-admin", full_name="setup",
                          password_hash=auth.SERVICE_PASSWORD_HASH, roles=[UserRole(role="admin")])
        s.add(admin_like)
        s.flush()
        assert auth.create_api_key(s, admin_like, svc, label="matrix").kind == auth.TokenKind.API_KEY
    app = create_app(db_engine)
    callers = [Caller(username, username, auth.TokenKind.BEARER,
                      permissions_for([x.value for x in roles], auth.TokenKind.BEARER))
               for username, roles in _PEOPLE.items()]
    callers.append(Caller("api-key(every role)", "instrument-gc01", auth.TokenKind.API_KEY,
                          permissions_for([r.value for r in Role], auth.TokenKind.API_KEY)))
    n = len(_http_routes(app)) + 1
    pools: dict[str, list[str]] = {}
    with session_scope(db_factory, actor="test:setup") as s:
        for c in callers:
            user = auth.get_user(s, c.username)
            pools[c.username] = [auth.issue_token(s, user, c.kind, expires_at=None, label="matrix").token
                                 for _ in range(n)]
    return Matrix(app, TestClient(app, raise_server_exceptions=False), callers, pools)


def test_every_route_declares_its_permission(db_engine):
    app = create_app(db_engine)
    undeclared = [f"{sorted(r.methods)} {r.path}" for r in iter_routes(app) if route_access(app, r) is None]
    assert not undeclared, ("routes without require(...)/public() (see api/security.py): "
                            + ", ".join(undeclared))
    paths = {r.path for r in iter_routes(app)}
    assert {"/api/v1/samples", "/api/v1/results", "/", "/verify/{report_no}", "/login"} <= paths


def test_the_walker_catches_an_undeclared_route():
    app = FastAPI()

    @app.get("/declared", dependencies=[require(Permission.SAMPLES_READ)])
    def declared() -> None: ...

    @app.get("/open", dependencies=[public()])
    def open_() -> None: ...

    @app.get("/forgotten")
    def forgotten() -> None: ...

    found = {r.path: route_access(app, r) for r in iter_routes(app)}
    assert found["/forgotten"] is None
    assert found["/open"] is not None and found["/open"].public
    assert found["/declared"] is not None and found["/declared"].permissions == {Permission.SAMPLES_READ}


def test_role_map_is_least_privilege():
    assert not ROLE_PERMISSIONS[Role.TECHNICIAN] & _NEVER_TECHNICIAN
    assert Permission.RESULTS_ENTER in ROLE_PERMISSIONS[Role.TECHNICIAN]
    assert Permission.RESULTS_REVIEW in ROLE_PERMISSIONS[Role.REVIEWER]
    assert not ROLE_PERMISSIONS[Role.REVIEWER] & {Permission.RESULTS_APPROVE, Permission.RESULTS_ENTER}
    assert {Permission.RESULTS_APPROVE, Permission.REPORTS_ISSUE} <= ROLE_PERMISSIONS[Role.APPROVER]
    assert {Permission.PT_MANAGE, Permission.LIMITS_MANAGE, Permission.AUDIT_READ} <= ROLE_PERMISSIONS[
        Role.QA_MANAGER]
    assert Permission.USERS_MANAGE in ROLE_PERMISSIONS[Role.ADMIN]
    assert not ROLE_PERMISSIONS[Role.ADMIN] & _NOT_ADMIN_BY_DEFAULT
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert all(Permission.PUBLIC not in perms for perms in ROLE_PERMISSIONS.values())
    everything = permissions_for([r.value for r in Role], auth.TokenKind.API_KEY)
    assert everything <= API_KEY_PERMISSIONS and Permission.USERS_MANAGE not in everything


def test_permission_matrix_every_route_times_every_role(matrix):
    app, client, callers, fresh_token = matrix.app, matrix.client, matrix.callers, matrix.fresh_token
    for username in _PEOPLE:  # each person can log in through the API and is known by their token
        r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
        assert me["username"] == username
    mismatches: list[str] = []
    checked = 0
    #: a require_ui route refuses with the zh-CN 403 page (api.ui.UiRoute), an API route with JSON
    assert all(isinstance(r, UiRoute) for r in ui_router.routes)
    for route, method in _http_routes(app):
        access = route_access(app, route)
        assert access is not None, route.path  # covered by test_every_route_declares_its_permission
        where = f"{method} {route.path}"
        anonymous = _request(client, method, route.path, None)
        if access.public:
            if anonymous.status_code == 401:
                mismatches.append(f"{where}: declared public but answers 401")
            continue
        if access.ui:
            if anonymous.status_code != 303 or not anonymous.headers.get("location", "").startswith("/login"):
                mismatches.append(f"{where}: anonymous got {anonymous.status_code}, expected 303 → /login")
        elif anonymous.status_code != 401 or "bearer" not in anonymous.headers.get("www-authenticate", "").lower():
            mismatches.append(f"{where}: anonymous got {anonymous.status_code}, expected 401 + WWW-Authenticate")
        for caller in callers:
            expected_allowed = access.permissions <= caller.permissions
            r = _request(client, method, route.path, fresh_token(caller))
            checked += 1
            if expected_allowed and r.status_code in (401, 403):
                mismatches.append(f"{where} as {caller.name}: {r.status_code} but the role holds "
                                  f"{sorted(p.value for p in access.permissions)}: {r.text[:200]}")
            elif not expected_allowed:
                missing = sorted(p.value for p in access.permissions - caller.permissions)
                if r.status_code != 403:
                    mismatches.append(f"{where} as {caller.name}: {r.status_code}, expected 403 (lacks {missing})")
                    continue
                html = r.headers["content-type"].startswith("text/html")
                if access.ui and not html:
                    mismatches.append(f"{where} as {caller.name}: a UI page refused with "
                                      f"{r.headers['content-type']}, expected the zh-CN 403 page")
                elif not access.ui and html:
                    mismatches.append(f"{where} as {caller.name}: an API route refused with an HTML page")
                elif not any(m in (r.text if html else r.json().get("detail", "")) for m in missing):
                    mismatches.append(f"{where} as {caller.name}: 403 does not name {missing}")
    assert not mismatches, "\n".join(mismatches)
    assert checked >= 6 * 8  # at least the routes this module knows of, for every caller


def test_an_unknown_or_malformed_token_is_401_everywhere(matrix):
    app, client = matrix.app, matrix.client
    for route, method in _http_routes(app):
        access = route_access(app, route)
        if access is None or access.public or access.ui:
            continue
        for header in ("Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "):
            r = client.request(method, _fill(route.path), headers={"Authorization": header},
                               follow_redirects=False)
            assert r.status_code == 401, (method, route.path, header, r.status_code)
            assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_no_route_leaks_a_traceback_on_bad_input(matrix):
    """Every route, called by a principal holding every permission, with hostile input: a clean 4xx."""
    app, client, fresh_token = matrix.app, matrix.client, matrix.fresh_token
    everyone = next(c for c in matrix.callers if c.name == "every-role")
    bodies = [b"{not json", b'{"username": 12, "password": null, "roles": "x", "kind": "root"}',
              b'["a"]', b'{"username": "' + b"x" * 5000 + b'"}']
    for route, method in _http_routes(app):
        token = fresh_token(everyone)
        path = re.sub(r"\{[^}]+\}", "%00%27%22;DROP", route.path)
        attempts = [client.request(method, path, headers={"Authorization": f"Bearer {token}"},
                                   params={"limit": "-1", "offset": "x", "status": "'\"<script>"},
                                   follow_redirects=False)]
        if method in {"POST", "PUT", "PATCH"}:
            for body in bodies:
                attempts.append(client.request(method, _fill(route.path), content=body, follow_redirects=False,
                                               headers={"Authorization": f"Bearer {token}",
                                                        "Content-Type": "application/json"}))
        for r in attempts:
            assert r.status_code < 500, (method, route.path, r.status_code, r.text[:300])
            assert "Traceback" not in r.text and 'File "' not in r.text, (method, route.path)
