"""Accounts (系统管理员): the list of accounts with disable/enable, password reset (changed by the user at
the next login), roles and new accounts; and every person's own password page, where a person whose
password was reset is sent until they change it (api.security.PASSWORD_PAGE). Writes go through
lims.services.accounts in one unit of work each (api.deps.run_service), audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import PASSWORD_PAGE, PRINCIPAL_CACHE, Principal, require_ui
from api.ui.base import area_router, render, ui_error
from api.ui.labels import P
from lims.db.models import User
from lims.services import accounts, auth
from lims.vocabulary import Role, UserKind

router = area_router()
UsersAdmin = Annotated[Principal, require_ui(P.USERS_MANAGE)]
OwnAccount = Annotated[Principal, require_ui(P.ACCOUNT_SELF)]
PasswordField = Annotated[str, Form(max_length=200)]
USERS_PAGE = "/admin/users"
#: What the page says after a change (value of ?done=).
DONE_ZH = {"disable": ("已停用账户", "account disabled"), "enable": ("已启用账户", "account enabled"),
           "reset": ("已重置密码，用户下次登录须修改", "password reset; to be changed at the next login"),
           "roles": ("已更新角色", "roles updated"), "create": ("已创建账户", "account created")}


def _rows(s: Session) -> list[dict[str, Any]]:
    return [{"username": u.username, "full_name": u.full_name, "roles": sorted(u.role_names),
             "kind": u.kind, "active": u.active, "must_change_password": u.must_change_password,
             "actor_name": accounts.principal_name(u)} for u in accounts.list_users(s)]


def _users_page(request: Request, me: Principal, factory: sessionmaker[Session], *, status: int = 200,
                error: dict[str, Any] | None = None, done: str = "", who: str = "") -> HTMLResponse:
    users = read_service(factory, _rows)
    return render(request, me, "ui_users.html", USERS_PAGE, status=status, error=error, users=users,
                  roles=list(Role), done=DONE_ZH.get(done), who=who, kinds=UserKind,
                  min_length=accounts.MIN_PASSWORD_LENGTH)


@router.get(USERS_PAGE, response_class=HTMLResponse)
def users_page(request: Request, me: UsersAdmin, factory: FactoryDep,
               done: Annotated[str, Query(max_length=20)] = "",
               who: Annotated[str, Query(max_length=80)] = "") -> HTMLResponse:
    return _users_page(request, me, factory, done=done, who=who)


def _change(request: Request, me: Principal, factory: sessionmaker[Session], username: str, done: str,
            change: Callable[[Session, User | None, User], object]) -> Response:
    def go(s: Session) -> str:
        actor = auth.get_user(s, me.username)
        user = auth.get_user(s, username)
        change(s, actor, user)
        return user.username

    try:
        name = run_service(factory, me.username, f"{done} account {username} (web UI)", go)
    except HTTPException as e:
        return _users_page(request, me, factory, status=e.status_code, error=ui_error(e.status_code, e.detail))
    PRINCIPAL_CACHE.clear()
    return RedirectResponse(f"{USERS_PAGE}?{urlencode({'done': done, 'who': name})}", status_code=303)


@router.post(USERS_PAGE + "/{username}/disable", response_class=HTMLResponse)
def disable(request: Request, username: str, me: UsersAdmin, factory: FactoryDep,
            reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    return _change(request, me, factory, username, "disable",
                   lambda s, a, u: accounts.set_active(s, a, u, False, reason=reason))


@router.post(USERS_PAGE + "/{username}/enable", response_class=HTMLResponse)
def enable(request: Request, username: str, me: UsersAdmin, factory: FactoryDep) -> Response:
    return _change(request, me, factory, username, "enable", lambda s, a, u: accounts.set_active(s, a, u, True))


@router.post(USERS_PAGE + "/{username}/reset-password", response_class=HTMLResponse)
def reset_password(request: Request, username: str, me: UsersAdmin, factory: FactoryDep,
                   new_password: PasswordField = "") -> Response:
    return _change(request, me, factory, username, "reset",
                   lambda s, a, u: accounts.reset_password(s, a, u, new_password))


@router.post(USERS_PAGE + "/{username}/roles", response_class=HTMLResponse)
def set_roles(request: Request, username: str, me: UsersAdmin, factory: FactoryDep,
              role: Annotated[list[str] | None, Form()] = None) -> Response:
    return _change(request, me, factory, username, "roles",
                   lambda s, a, u: accounts.set_roles(s, a, u, role or []))


@router.post(USERS_PAGE, response_class=HTMLResponse)
def create(request: Request, me: UsersAdmin, factory: FactoryDep,
           username: Annotated[str, Form(max_length=80)] = "", full_name: Annotated[str, Form(max_length=120)] = "",
           kind: Annotated[str, Form(max_length=20)] = "person", password: PasswordField = "",
           role: Annotated[list[str] | None, Form()] = None) -> Response:
    def go(s: Session) -> str:
        if kind == UserKind.SERVICE:
            user = accounts.create_service_user(s, username, full_name, role or [])
        else:
            user = accounts.create_user(s, username, full_name, password, role or [])
        return user.username

    try:
        name = run_service(factory, me.username, f"create account {username} (web UI)", go)
    except HTTPException as e:
        return _users_page(request, me, factory, status=e.status_code, error=ui_error(e.status_code, e.detail))
    return RedirectResponse(f"{USERS_PAGE}?{urlencode({'done': 'create', 'who': name})}", status_code=303)


# ------------------------------------------------------------------------------------ own password


def _password_page(request: Request, me: Principal, *, status: int = 200,
                   error: dict[str, Any] | None = None) -> HTMLResponse:
    return render(request, me, "ui_password.html", PASSWORD_PAGE, status=status, error=error,
                  min_length=accounts.MIN_PASSWORD_LENGTH)


@router.get(PASSWORD_PAGE, response_class=HTMLResponse)
def password_page(request: Request, me: OwnAccount) -> HTMLResponse:
    return _password_page(request, me)


@router.post(PASSWORD_PAGE, response_class=HTMLResponse)
def change_password(request: Request, me: OwnAccount, factory: FactoryDep, old_password: PasswordField = "",
                    new_password: PasswordField = "", new_password_again: PasswordField = "") -> Response:
    if new_password != new_password_again:
        return _password_page(request, me, status=422, error=ui_error(422, {
            "message": "the two new passwords differ", "field": "new_password", "code": "ui.passwords_differ"}))
    remote = request.client.host if request.client else ""

    def go(s: Session) -> None:
        auth.change_own_password(s, auth.get_user(s, me.username), old_password, new_password,
                                 keep_token_id=me.token_id, remote=remote)

    try:
        run_service(factory, me.username, "password change (web UI)", go)
    except HTTPException as e:
        return _password_page(request, me, status=e.status_code, error=ui_error(e.status_code, e.detail))
    PRINCIPAL_CACHE.clear()
    return RedirectResponse("/?password=changed", status_code=303)


@router.post("/account/language", response_class=HTMLResponse)
def set_language(request: Request, me: OwnAccount, factory: FactoryDep,
                 language: Annotated[str, Form(max_length=10)] = "zh-CN",
                 back: Annotated[str, Form(max_length=500)] = "/") -> Response:
    """The language switch in the page header: kept on the user's account, back to the same page."""
    def go(s: Session) -> None:
        accounts.set_language(s, auth.get_user(s, me.username), language)

    try:
        run_service(factory, me.username, "language (web UI)", go)
    except HTTPException as e:
        return render(request, me, "ui_error.html", "/", status=e.status_code, error=ui_error(e.status_code, e.detail))
    PRINCIPAL_CACHE.clear()
    local = back if back.startswith("/") and not back.startswith("//") and "\\" not in back else "/"
    return RedirectResponse(local, status_code=303)
