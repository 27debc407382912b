"""Login, logout and tokens: JSON under /api/v1/auth, the zh-CN login form at /login.

Routes call :mod:`lims.services.auth`; each unit of work is one ``session_scope`` (audited). The
form login sets the UI session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) and is protected
by the double-submit CSRF token of :mod:`api.security`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from api.deps import FactoryDep
from api.schemas import DbId  # ids beyond 2^31: 422, never a database overflow
from api.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    PASSWORD_PAGE,
    PRINCIPAL_CACHE,
    SESSION_COOKIE,
    AccountUser,
    CurrentUser,
    Permission,
    Principal,
    csrf_for_session,
    ensure_csrf_cookie,
    expected_csrf,
    public,
    require,
)
from lims.config import get_settings
from lims.db.engine import session_scope
from lims.db.models import User
from lims.security import AuthenticationError
from lims.services import auth, throttle
from lims.services.errors import ServiceError

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))

router = APIRouter()


# ---------------------------------------------------------------------------------------------- models


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)
    label: str = Field(default="", max_length=120, description="what the token is for, e.g. a script's name")


class TokenOut(BaseModel):
    token: str = Field(description="shown once; only its SHA-256 is stored")
    token_type: Literal["bearer"] = "bearer"
    kind: str
    token_id: int
    username: str
    expires_at: dt.datetime | None
    must_change_password: bool = Field(default=False, description="an administrator reset the password: "
                                       "only POST /api/v1/auth/password is allowed until it is changed")


class TokenIn(BaseModel):
    kind: Literal["bearer", "api_key"] = "bearer"
    username: str | None = Field(default=None, max_length=60,
                                 description="owner; default yourself. Others need users:manage")
    label: str = Field(default="", max_length=120)
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class TokenInfo(BaseModel):
    token_id: int
    kind: str
    label: str
    expires_at: dt.datetime | None
    created_at: dt.datetime


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=60)
    full_name: str = Field(min_length=1, max_length=120)
    roles: list[str] = Field(default_factory=list, max_length=5)
    password: str | None = Field(default=None, max_length=200,
                                 description=f"≥ {auth.MIN_PASSWORD_LENGTH} characters; omit for a service user")
    service: bool = Field(default=False, description="an instrument's or hub's account (API keys only)")


class UserOut(BaseModel):
    username: str
    full_name: str
    roles: list[str]
    service: bool
    kind: str = Field(default="person", description="person | service (UserKind)")
    active: bool = True
    must_change_password: bool = False
    actor_name: str = Field(default="", description="how the account is named in the audit trail "
                                                    "(service:NAME for a service account)")

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(username=user.username, full_name=user.full_name, roles=sorted(user.role_names),
                   service=auth.is_service_user(user), kind=user.kind, active=user.active,
                   must_change_password=user.must_change_password, actor_name=auth.principal_name(user))


class MeOut(BaseModel):
    username: str
    full_name: str
    roles: list[str]
    permissions: list[str]
    token_kind: str
    must_change_password: bool = False


def _error(e: ServiceError) -> HTTPException:
    return HTTPException(e.status_code, detail=str(e))


def _remote(request: Request) -> str:
    return request.client.host if request.client else ""


def _login_refused(e: AuthenticationError) -> HTTPException:
    if isinstance(e, auth.LoginThrottled):
        return HTTPException(429, detail=str(e), headers={"Retry-After": str(e.retry_after_s)})
    return HTTPException(401, detail=str(e), headers={"WWW-Authenticate": 'Bearer realm="lims"'})


# ---------------------------------------------------------------------------------------------- JSON API


@router.post("/api/v1/auth/login", tags=["auth"], dependencies=[public()], response_model=TokenOut,
             summary="登录获取令牌 / log in for a bearer token",
             responses={401: {"description": "wrong username or password"},
                        429: {"description": "too many failed password checks (Retry-After)"}})
def api_login(body: LoginIn, request: Request, factory: FactoryDep) -> TokenOut:
    remote = _remote(request)
    try:
        user_id = check_login(factory, body.username, body.password, remote)
        with session_scope(factory, actor=f"anonymous@{remote}", reason="login") as s:
            user = s.get(User, user_id)
            assert user is not None
            issued = auth.open_session(s, user, remote=remote, kind=auth.TokenKind.BEARER, label=body.label)
            username = user.username
    except AuthenticationError as e:
        raise _login_refused(e) from None
    except ServiceError as e:
        raise _error(e) from None
    return TokenOut(token=issued.token, kind=str(issued.kind), token_id=issued.token_id, username=username,
                    expires_at=issued.expires_at, must_change_password=user.must_change_password)


def check_login(factory: FactoryDep, username: str, password: str, remote: str) -> int:
    """The password check on a read-only session: a failed login writes nothing (its failure is logged in
    memory and written in batches, lims.services.throttle), so a login flood never queues other requests
    behind the database's write lock."""
    wait = throttle.login_guard().retry_after_s(username, remote)
    if wait:  # answered before queueing for the password check
        raise auth.LoginThrottled(username, wait, code="auth.login_throttled")
    if not throttle.LOGIN_GATE.enter():  # a flood never holds every request thread (argon2 is slow)
        raise auth.LoginThrottled(username, 1, code="auth.login_busy")

    def check() -> int:
        with getattr(factory, "read", factory)() as rs:
            return auth.check_login(rs, username, password, remote=remote).id

    return int(throttle.LOGIN_GATE.run(check))


@router.post("/api/v1/auth/logout", tags=["auth"], status_code=204, summary="注销当前令牌 / revoke this token")
def api_logout(me: AccountUser, factory: FactoryDep) -> Response:
    with session_scope(factory, actor=me.username, reason="logout") as s:
        try:
            auth.revoke_token(s, me.token_id, actor=auth.get_user(s, me.username))
        except ServiceError as e:
            raise _error(e) from None
    PRINCIPAL_CACHE.clear()
    response = Response(status_code=204)
    if me.via_cookie:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/v1/auth/me", tags=["auth"], response_model=MeOut, summary="当前用户 / who am I")
def api_me(me: CurrentUser) -> MeOut:
    return MeOut(username=me.username, full_name=me.full_name, roles=sorted(me.roles),
                 permissions=sorted(p.value for p in me.permissions), token_kind=me.token_kind,
                 must_change_password=me.must_change_password)


@router.post("/api/v1/auth/tokens", tags=["auth"], status_code=201, response_model=TokenOut,
             summary="创建令牌或仪器密钥 / create a bearer token or an API key",
             description="A bearer token for yourself (nobody makes one for another person); an API key for a "
                         "service account (instrument, hub, script) needs permission users:manage.")
def api_create_token(body: TokenIn, me: AccountUser, factory: FactoryDep) -> TokenOut:
    for_other = body.username is not None and body.username != me.username
    if (body.kind == "api_key" or for_other) and not me.can(Permission.USERS_MANAGE):
        raise HTTPException(403, detail=f"permission {Permission.USERS_MANAGE.value} required "
                                        f"(user {me.username}, roles: {', '.join(sorted(me.roles)) or 'none'})")
    try:
        with session_scope(factory, actor=me.username, reason=f"create {body.kind}") as s:
            actor = auth.get_user(s, me.username)
            owner = auth.get_user(s, body.username) if body.username else actor
            if body.kind == "api_key":
                issued = auth.create_api_key(s, actor, owner, label=body.label, days=body.expires_days)
            else:
                issued = auth.create_bearer_token(s, actor, for_user=owner, label=body.label,
                                                  days=body.expires_days)
            owner_name = owner.username
    except ServiceError as e:
        raise _error(e) from None
    return TokenOut(token=issued.token, kind=str(issued.kind), token_id=issued.token_id, username=owner_name,
                    expires_at=issued.expires_at)


@router.get("/api/v1/auth/tokens", tags=["auth"], response_model=list[TokenInfo],
            summary="我的有效令牌 / my active tokens")
def api_list_tokens(me: AccountUser, factory: FactoryDep) -> list[TokenInfo]:
    with getattr(factory, "read", factory)() as s:  # a read: never the write lock
        rows = auth.active_tokens(s, auth.get_user(s, me.username))
        return [TokenInfo(token_id=r.id, kind=r.kind, label=r.label, expires_at=r.expires_at,
                          created_at=r.created_at) for r in rows]


@router.delete("/api/v1/auth/tokens/{token_id}", tags=["auth"], status_code=204,
               summary="吊销令牌 / revoke a token (yours, or any with users:manage)")
def api_revoke_token(token_id: DbId, me: AccountUser, factory: FactoryDep) -> Response:
    try:
        with session_scope(factory, actor=me.username, reason="revoke token") as s:
            auth.revoke_token(s, token_id, actor=auth.get_user(s, me.username))
        PRINCIPAL_CACHE.clear()
    except ServiceError as e:
        raise _error(e) from None
    return Response(status_code=204)


@router.post("/api/v1/auth/users", tags=["auth"], status_code=201, response_model=UserOut,
             summary="创建用户 / create a user or a service account")
def api_create_user(body: UserIn, me: Annotated[Principal, require(Permission.USERS_MANAGE)],
                    factory: FactoryDep) -> UserOut:
    try:
        with session_scope(factory, actor=me.username, reason=f"create user {body.username}") as s:
            if body.service:
                if body.password is not None:
                    raise HTTPException(422, detail={"message": "password: a service user has no password",
                                                     "field": "password", "code": "auth.service_no_password"})
                user = auth.create_service_user(s, body.username, body.full_name, body.roles)
            else:
                if body.password is None:
                    raise HTTPException(422, detail={"message": "password: required for a person's account",
                                                     "field": "password", "code": "auth.weak_password"})
                user = auth.create_user(s, body.username, body.full_name, body.password, body.roles)
            out = UserOut.of(user)
    except ServiceError as e:
        raise _error(e) from None
    return out


# ---------------------------------------------------------------------------------------------- HTML


def _safe_next(target: str | None) -> str:
    """Only a local path is followed after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or len(target) > 500:
        return "/"
    return target


def _login_page(request: Request, *, status: int = 200, error: str = "", username: str = "",
                next_url: str = "/") -> HTMLResponse:
    response = HTMLResponse("")
    csrf = ensure_csrf_cookie(request, response)
    page = TEMPLATES.TemplateResponse(request, "login.html", {
        "error": error, "username": username, "next": _safe_next(next_url), "csrf": csrf,
        "csrf_field": CSRF_FIELD}, status_code=status)
    for key, value in response.headers.items():
        if key == "set-cookie":
            page.headers.append("set-cookie", value)
    return page


@router.get("/login", response_class=HTMLResponse, include_in_schema=False, dependencies=[public()])
def login_form(request: Request, next_url: Annotated[str, Query(alias="next", max_length=1000)] = "/"
               ) -> HTMLResponse:
    return _login_page(request, next_url=next_url)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False, dependencies=[public()])
def login_submit(request: Request, factory: FactoryDep,
                 username: Annotated[str, Form(max_length=200)] = "",
                 password: Annotated[str, Form(max_length=200)] = "",
                 csrf_token: Annotated[str, Form(max_length=200)] = "",
                 next_url: Annotated[str, Form(alias="next", max_length=1000)] = "/") -> Response:
    expected = expected_csrf(request)
    if not expected or not csrf_token or not secrets.compare_digest(expected, csrf_token):
        return _login_page(request, status=403, username=username, next_url=next_url,
                           error="表单已失效，请重新登录 / the form expired (CSRF check failed), please try again")
    if not username or not password:
        return _login_page(request, status=422, username=username, next_url=next_url,
                           error="请输入用户名和密码 / enter your username and password")
    remote = _remote(request)
    try:
        user_id = check_login(factory, username, password, remote)
        with session_scope(factory, actor=f"anonymous@{remote}", reason="login") as s:
            user = s.get(User, user_id)
            assert user is not None
            issued = auth.open_session(s, user, remote=remote, kind=auth.TokenKind.SESSION)
            must_change = user.must_change_password
    except auth.LoginThrottled as e:
        page = _login_page(request, status=429, username=username, next_url=next_url, error=str(e))
        page.headers["Retry-After"] = str(e.retry_after_s)
        return page
    except (AuthenticationError, ServiceError) as e:
        return _login_page(request, status=401, username=username, next_url=next_url, error=str(e))
    response = RedirectResponse(PASSWORD_PAGE if must_change else _safe_next(next_url), status_code=303)
    response.set_cookie(SESSION_COOKIE, issued.token, max_age=get_settings().session_minutes * 60,
                        httponly=True, samesite="lax", path="/", secure=request.url.scheme == "https")
    # the session's own CSRF token (HMAC of the session token; login CSRF / fixation hygiene)
    response.set_cookie(CSRF_COOKIE, csrf_for_session(issued.token), httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return response


@router.get("/logout", response_class=HTMLResponse, include_in_schema=False, dependencies=[public()])
def logout_form(request: Request) -> HTMLResponse:
    response = HTMLResponse("")
    csrf = ensure_csrf_cookie(request, response)
    page = TEMPLATES.TemplateResponse(request, "login.html", {
        "logout": True, "csrf": csrf, "csrf_field": CSRF_FIELD, "error": "", "username": "", "next": "/"})
    for key, value in response.headers.items():
        if key == "set-cookie":
            page.headers.append("set-cookie", value)
    return page


@router.post("/logout", include_in_schema=False, dependencies=[public()])
def logout_submit(request: Request, factory: FactoryDep,
                  csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    expected = expected_csrf(request)
    if not expected or not csrf_token or not secrets.compare_digest(expected, csrf_token):
        raise HTTPException(403, detail="CSRF token missing or wrong")
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            with session_scope(factory, actor="logout", reason="logout") as s:
                auth.logout(s, token)
            PRINCIPAL_CACHE.clear()
        except ServiceError:
            pass  # an unknown cookie: nothing to revoke, the cookie is cleared below
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
