"""Access control of the web app: the permission catalogue, the role map, and `require(...)`.

Every route declares what it needs, in one of three ways (a test walks ``app.routes`` and fails on a
route that declares nothing — see :func:`route_access`):

* ``dependencies=[require(Permission.SAMPLES_READ)]`` or a parameter
  ``user: Annotated[Principal, require(Permission.RESULTS_APPROVE)]`` — an authenticated principal
  holding every named permission; 401 (with ``WWW-Authenticate``, RFC 6750 §3) when there is none,
  403 naming the missing permission otherwise;
* ``require_ui(...)`` — the same for HTML pages, but an anonymous visitor is redirected to /login, and on a
  route of the web UI's router (``api.ui.UiRoute``) the 403 (or a failed CSRF check) is a zh-CN page;
* ``public()`` — deliberately open (report verification, the login form); framework routes without
  dependencies (/openapi.json, /docs) are declared open with :func:`declare_public`.

Credentials: ``Authorization: Bearer <token>`` (bearer tokens and API keys) or the UI session cookie
(:data:`SESSION_COOKIE`, HttpOnly, SameSite=Lax). A cookie-authenticated unsafe request (POST, PUT,
PATCH, DELETE) must also carry the CSRF token: header :data:`CSRF_HEADER` or form field :data:`CSRF_FIELD`
equal to HMAC-SHA256 of the session token (:func:`csrf_for_session`; OWASP CSRF Prevention Cheat Sheet,
"signed double-submit cookie"), so a token planted in a cookie from a sibling site does not pass. Before
login (the login form) it is the plain double-submit of cookie :data:`CSRF_COOKIE`.

Every response carries X-Frame-Options, Content-Security-Policy and X-Content-Type-Options
(:class:`SecurityHeaders`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lims.clock import utcnow
from lims.config import get_settings
from lims.db.models import Role
from lims.security import AuthenticationError, token_digest
from lims.services import auth
from lims.services.revocation import generation_on
from lims.vocabulary import Permission  # with its zh-CN/English labels

SESSION_COOKIE = "lims_session"
CSRF_COOKIE = "lims_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Where a person whose password was reset is sent until they change it (api.ui.users).
PASSWORD_PAGE = "/account/password"
#: Framework routes that are open by declaration (FastAPI's own OpenAPI and docs pages).
FRAMEWORK_PUBLIC_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")

P = Permission
#: What every lab role may read (the lab's own records; ISO/IEC 17025 staff need them to work).
_LAB_READ = frozenset({P.AUTHENTICATED, P.ACCOUNT_SELF, P.SAMPLES_READ, P.RESULTS_READ, P.REPORTS_READ, P.LIMITS_READ,
                       P.TASKS_READ, P.PT_READ, P.INSTRUMENTS_READ})

#: Every lab role reads the quality records and may raise a nonconformity or a complaint, record a QC run
#: (ISO/IEC 17025 7.10: anyone who finds nonconforming work reports it); managing them is the QA manager's.
_QUALITY_STAFF = frozenset({P.QUALITY_READ, P.QUALITY_RAISE})

#: Least privilege per role; a user holding several roles gets the union. Segregation of duties
#: (issue: reviewer ≠ analyst, approver ≠ reviewer) is enforced per record by lims.services.signoff;
#: here: technicians enter but never review or approve, reviewers review, approvers approve and issue
#: reports, the QA manager runs PT, limits, audits, tasks and instrument records, and the administrator
#: manages accounts but holds no review/approve/issue rights unless also given those roles.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.TECHNICIAN: _LAB_READ | _QUALITY_STAFF | {P.SAMPLES_WRITE, P.RESULTS_ENTER, P.PT_SUBMIT, P.REGISTERS_READ},
    Role.REVIEWER: _LAB_READ | _QUALITY_STAFF | {P.RESULTS_REVIEW},
    Role.APPROVER: _LAB_READ | _QUALITY_STAFF | {P.RESULTS_APPROVE, P.REPORTS_ISSUE},
    Role.QA_MANAGER: _LAB_READ | _QUALITY_STAFF | {P.QUALITY_MANAGE, P.PT_MANAGE, P.PT_SUBMIT, P.LIMITS_MANAGE,
                                  P.AUDIT_READ, P.TASKS_MANAGE, P.INSTRUMENTS_WRITE, P.METHODS_MANAGE, P.UPSTREAM_MANAGE,
                                  P.REGISTERS_READ, P.REGISTERS_WRITE, P.REGISTERS_EXCEPT},
    Role.ADMIN: _LAB_READ | {P.USERS_MANAGE, P.AUDIT_READ, P.INSTRUMENTS_WRITE, P.REGISTERS_READ,
                             P.REGISTERS_WRITE},
    Role.PT_PARTICIPANT: frozenset({P.AUTHENTICATED, P.ACCOUNT_SELF, P.PT_READ, P.PT_SUBMIT}),  # issue 11
}

#: An API key (instrument, hub) never holds more than this, whatever its service user's roles:
#: it may deliver readings and results and read what it needs to match them, nothing else.
API_KEY_PERMISSIONS = frozenset({P.AUTHENTICATED, P.SAMPLES_READ, P.RESULTS_READ, P.RESULTS_ENTER,
                                 P.INSTRUMENTS_READ, P.INSTRUMENTS_WRITE, P.TASKS_READ, P.LIMITS_READ})


#: A person whose password an administrator reset may only do this until they change it.
MUST_CHANGE_PERMISSIONS = frozenset({P.AUTHENTICATED, P.ACCOUNT_SELF})


def permissions_for(roles: Iterable[str], token_kind: str = auth.TokenKind.BEARER, *,
                    must_change_password: bool = False) -> frozenset[Permission]:
    """Effective permissions of a principal with these roles presenting this kind of token."""
    if must_change_password:
        return MUST_CHANGE_PERMISSIONS
    granted: set[Permission] = set()
    for r in roles:
        try:
            granted |= ROLE_PERMISSIONS[Role(r)]
        except ValueError:
            continue  # an unknown role string grants nothing
    if token_kind == auth.TokenKind.API_KEY:
        granted &= API_KEY_PERMISSIONS
    return frozenset(granted)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request (detached from the database session)."""

    user_id: int
    username: str
    full_name: str
    roles: frozenset[str]
    permissions: frozenset[Permission]
    token_id: int
    token_kind: str
    via_cookie: bool
    #: An administrator reset the password: only the password change is open (the UI redirects there).
    must_change_password: bool = False
    #: The web UI's language ("zh-CN" or "en"), the user's own setting (User.language).
    language: str = "zh-CN"

    def can(self, permission: Permission | str) -> bool:
        return Permission(permission) in self.permissions


@dataclass(frozen=True)
class RouteAccess:
    """What a route declares: the permissions it needs, or that it is public; ``ui`` redirects."""

    permissions: frozenset[Permission]
    public: bool
    ui: bool = False


@dataclass(frozen=True)
class _Credentials:
    principal: Principal | None
    error: str | None  # why presented credentials were refused (None: nothing presented)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return ""  # presented but malformed
    return value.strip()


#: Declares the bearer scheme in the OpenAPI document (Swagger's "Authorize"); parsing is ours.
_openapi_bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                             description="bearer token (POST /api/v1/auth/login) or instrument/hub API key")


class _PrincipalCache:
    """Recently verified tokens → principal, for ``auth_cache_seconds`` (default 5 s; 0 disables), as long
    as the revocation counter (lims.services.revocation) has not moved.

    Every request reads the counter (one primary-key read on a read-only session); a hit saves the token,
    user and role queries. Any revocation, logout, disabled account, role or password change — in any
    worker process — raises the counter, so this cache is dropped at the next request everywhere. Keys are
    token digests, never tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, bool], tuple[float, Principal]] = {}
        self._generation = -1

    def get(self, digest: str, via_cookie: bool, generation: int) -> Principal | None:
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
                return None
            hit = self._entries.get((digest, via_cookie))
            if hit is None:
                return None
            if hit[0] <= time.monotonic():
                del self._entries[(digest, via_cookie)]
                return None
            return hit[1]

    def put(self, digest: str, via_cookie: bool, principal: Principal, token_expires: dt.datetime | None,
            ttl_s: float, generation: int | None = None) -> None:
        until = time.monotonic() + ttl_s
        if token_expires is not None:
            left = (token_expires - utcnow()).total_seconds()
            until = min(until, time.monotonic() + left)
        with self._lock:
            if generation is not None and generation != self._generation:
                return  # verified under an older counter: do not keep it
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[(digest, via_cookie)] = (until, principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


PRINCIPAL_CACHE = _PrincipalCache()


async def _resolve_credentials(request: Request,
                               _doc: Annotated[HTTPAuthorizationCredentials | None, Depends(_openapi_bearer)]
                               ) -> _Credentials:
    """The bearer token or the session cookie → principal, looked up in the thread pool on a read-only
    session (no write transaction: a long write elsewhere never blocks authentication)."""
    bearer = _bearer(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if bearer is None and not cookie:
        return _Credentials(None, None)
    if bearer == "":
        return _Credentials(None, "Authorization header: expected 'Bearer <token>'")
    token = bearer if bearer is not None else cookie
    assert token is not None
    ttl_s = get_settings().auth_cache_seconds
    return await run_in_threadpool(_lookup_credentials, request, token, token_digest(token), bearer is None, ttl_s)


def _principal(found: auth.Authenticated, via_cookie: bool) -> Principal:
    user = found.user
    kind = str(found.kind)
    if not via_cookie and kind == auth.TokenKind.SESSION:
        raise AuthenticationError("token: a UI session is not an API token")
    if via_cookie and kind != auth.TokenKind.SESSION:
        raise AuthenticationError("token: the session cookie holds no UI session")
    must_change = bool(user.must_change_password)
    return Principal(user.id, auth.principal_name(user), user.full_name, frozenset(user.role_names),
                     permissions_for(user.role_names, kind, must_change_password=must_change),
                     found.token_id, kind, via_cookie=via_cookie, must_change_password=must_change,
                     language=user.language or "zh-CN")


def _lookup_credentials(request: Request, token: str, digest: str, via_cookie: bool,
                        ttl_s: float) -> _Credentials:
    factory = request.app.state.session_factory
    read = getattr(factory, "read", factory)
    with read.kw["bind"].connect() as conn:  # the cheapest read there is: no ORM session
        generation = generation_on(conn)
    if ttl_s > 0:
        cached = PRINCIPAL_CACHE.get(digest, via_cookie, generation)
        if cached is not None:
            return _Credentials(cached, None)
    try:
        with read() as s:
            found = auth.resolve_token(s, token)
            principal = _principal(found, via_cookie)
    except AuthenticationError as e:
        return _Credentials(None, str(e))
    if ttl_s > 0:
        PRINCIPAL_CACHE.put(digest, via_cookie, principal, found.expires_at, ttl_s, generation)
    return _Credentials(principal, None)


CredentialsDep = Annotated[_Credentials, Depends(_resolve_credentials)]


def _unauthenticated(request: Request, error: str | None, *, ui: bool) -> HTTPException:
    if ui:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return HTTPException(303, detail="login required", headers={"Location": f"/login?next={quote(target)}"})
    challenge = 'Bearer realm="lims"'
    if error:
        challenge += ', error="invalid_token", error_description="' + error.replace('"', "'") + '"'
    detail = f"authentication required: {error}" if error else "authentication required"
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": challenge})


#: ``detail.code`` of a refused CSRF check (the shape of a service error's detail, api.deps.service_error).
CSRF_FAILED = "auth.csrf_failed"


class AccessRefused(HTTPException):
    """403 for an authenticated principal. The API answers JSON; routes of the web UI (api.ui.UiRoute)
    render it as a page when ``ui`` (set by :func:`require_ui`) and the principal is known."""

    def __init__(self, detail: Any, *, principal: Principal | None = None, ui: bool = False) -> None:
        super().__init__(403, detail=detail)
        self.principal = principal
        self.ui = ui


class PermissionRefused(AccessRefused):
    """The principal lacks ``missing`` (permission values); the detail names them and the roles held."""

    def __init__(self, principal: Principal, missing: tuple[str, ...], *, ui: bool) -> None:
        roles = ", ".join(sorted(principal.roles)) or "none"
        super().__init__(f"permission {', '.join(missing)} required (user {principal.username}, roles: {roles})",
                         principal=principal, ui=ui)
        self.missing = missing


class CsrfRefused(AccessRefused):
    """The double-submit CSRF token was missing or wrong; detail ``{"message", "field", "code"}``."""


def csrf_for_session(session_token: str) -> str:
    """The CSRF token of a UI session: HMAC-SHA256 keyed by the (secret, HttpOnly) session token."""
    mac = hmac.new(session_token.encode(), b"lims-csrf-v1", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def expected_csrf(request: Request) -> str:
    """What an unsafe request must present: bound to the session cookie when there is one, else the
    plain double-submit cookie (the login form, before a session exists)."""
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        return csrf_for_session(session_token)
    return request.cookies.get(CSRF_COOKIE, "")


async def check_csrf(request: Request) -> None:
    """Header or form field equal to :func:`expected_csrf`, else 403 (:class:`CsrfRefused`)."""
    expected = expected_csrf(request)
    presented = request.headers.get(CSRF_HEADER, "")
    if not presented and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD, "")
        presented = value if isinstance(value, str) else ""
    if not expected or not presented or not secrets.compare_digest(expected, presented):
        raise CsrfRefused({"message": f"CSRF token missing or wrong: send header {CSRF_HEADER} or form field "
                                      f"{CSRF_FIELD} with the token of this session (the form's, or cookie "
                                      f"{CSRF_COOKIE})",
                           "field": CSRF_FIELD, "code": CSRF_FAILED})


def _make_checker(permissions: frozenset[Permission], *, ui: bool) -> Callable[..., Any]:
    async def check(request: Request, creds: CredentialsDep) -> Principal:
        principal = creds.principal
        if principal is None:
            raise _unauthenticated(request, creds.error, ui=ui)
        if principal.via_cookie and request.method not in SAFE_METHODS:
            try:
                await check_csrf(request)
            except CsrfRefused as e:
                e.principal, e.ui = principal, ui
                raise
        missing = tuple(sorted(p.value for p in permissions - principal.permissions))
        if missing and ui and principal.must_change_password:
            raise HTTPException(303, detail="password change required", headers={"Location": PASSWORD_PAGE})
        if missing:
            raise PermissionRefused(principal, missing, ui=ui)
        return principal

    check.access = RouteAccess(permissions, public=False, ui=ui)  # type: ignore[attr-defined]
    check.__name__ = "require_" + "_".join(p.value.replace(":", "_") for p in sorted(permissions))
    return check


def require(*permissions: Permission | str) -> Any:
    """A dependency needing an authenticated principal with every permission named.

    Use it in ``dependencies=[require(...)]`` or as ``Annotated[Principal, require(...)]``.
    """
    if not permissions:
        raise ValueError("require(): name at least one permission (or use public())")
    perms = frozenset(Permission(p) for p in permissions)
    if Permission.PUBLIC in perms:
        raise ValueError("require(): 'public' is declared with public(), not required")
    return Depends(_make_checker(perms, ui=False))


def require_ui(*permissions: Permission | str) -> Any:
    """Like :func:`require` for HTML pages: an anonymous visitor is redirected (303) to /login."""
    perms = frozenset(Permission(p) for p in permissions or (Permission.AUTHENTICATED,))
    return Depends(_make_checker(perms, ui=True))


def _public_marker() -> None:
    """Marks a route as deliberately open."""


_public_marker.access = RouteAccess(frozenset(), public=True)  # type: ignore[attr-defined]


def public() -> Any:
    """Declare a route deliberately open: ``dependencies=[public()]``."""
    return Depends(_public_marker)


def declare_public(app: FastAPI, *paths: str) -> None:
    """Declare routes without dependencies (framework pages, static mounts) open by path."""
    current: set[str] = getattr(app.state, "public_paths", set())
    app.state.public_paths = current | set(paths)


def _walk(dependant: Any) -> Iterator[RouteAccess]:
    for dep in getattr(dependant, "dependencies", ()):
        access = getattr(dep.call, "access", None)
        if isinstance(access, RouteAccess):
            yield access
        yield from _walk(dep)


@dataclass(frozen=True)
class AppRoute:
    """One effective route of an app (included routers flattened, their dependencies applied)."""

    path: str
    methods: frozenset[str]
    kind: str  # "http" | "websocket" | "mount" | "other"
    dependant: Any


def iter_routes(app: FastAPI) -> Iterator[AppRoute]:
    """Every route the app serves, with prefixes and router-level dependencies applied."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI ≥ 0.16x: lazily included routers
    except ImportError:  # pragma: no cover - older FastAPI keeps flat routes
        contexts: Iterable[Any] = app.routes
    else:
        contexts = iter_route_contexts(app.routes)
    for rc in contexts:
        path = getattr(rc, "path", None) or ""
        methods = getattr(rc, "methods", None)
        dependant = getattr(rc, "dependant", None)
        original = getattr(rc, "original_route", rc)
        name = type(original).__name__
        kind = ("websocket" if "WebSocket" in name else "mount" if name == "Mount"
                else "http" if methods else "other")
        yield AppRoute(path, frozenset(methods or ()), kind, dependant)


def route_access(app: FastAPI, route: AppRoute) -> RouteAccess | None:
    """The access a route declares, or None when it declares nothing (a test fails on that)."""
    found = list(_walk(route.dependant))
    if not found:
        if route.path in getattr(app.state, "public_paths", set()):
            return RouteAccess(frozenset(), public=True)
        return None
    perms: frozenset[Permission] = frozenset().union(*(a.permissions for a in found))
    return RouteAccess(perms, public=all(a.public for a in found), ui=any(a.ui for a in found))


def ensure_csrf_cookie(request: Request, response: Response) -> str:
    """The CSRF token to embed in a form: the session's (:func:`csrf_for_session`) when signed in, else a
    random double-submit token; the cookie is (re)set when it differs."""
    session_token = request.cookies.get(SESSION_COOKIE)
    current = request.cookies.get(CSRF_COOKIE)
    token = csrf_for_session(session_token) if session_token else current
    if not token or len(token) > 100:
        token = secrets.token_urlsafe(32)
    if token != current:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
    return token


#: Any authenticated caller (API keys included).
CurrentUser = Annotated[Principal, require(Permission.AUTHENTICATED)]
#: A person acting on their own account (not an API key).
AccountUser = Annotated[Principal, require(Permission.ACCOUNT_SELF)]


class RejectNulBytes:
    """ASGI middleware: 400 for a NUL byte (%00) in the path or query string.

    PostgreSQL text cannot hold NUL (psycopg raises DataError → 500), SQLite stores it silently; neither
    is a valid identifier here. Install with ``app.add_middleware(RejectNulBytes)``.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            where = ("path" if "\x00" in scope.get("path", "") else
                     "query" if b"%00" in scope.get("query_string", b"") else None)
            if where is not None:
                response = JSONResponse({"detail": f"{where}: NUL bytes (%00) are not allowed"}, status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

