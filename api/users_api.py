"""Account life cycle under /api/v1/auth: the list of accounts, disable/enable, password reset by an
administrator (the user must change it at the next login), role changes — permission users:manage — and
a person's own password change (re-entering the old one). Every change is audited
(lims.services.accounts) and ends cached sessions in every worker at once (lims.services.revocation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from api.auth_routes import UserOut
from api.deps import FactoryDep, read_service, run_service
from api.security import PRINCIPAL_CACHE, AccountUser, Permission, Principal, require
from lims.db.models import User
from lims.services import accounts, auth

router = APIRouter()
Admin = Annotated[Principal, require(Permission.USERS_MANAGE)]
Username = Annotated[str, Path(min_length=1, max_length=80)]
T = TypeVar("T")


class DisableIn(BaseModel):
    reason: str = Field(default="", max_length=500, description="why (kept in the audit trail)")


class ResetPasswordIn(BaseModel):
    new_password: str = Field(min_length=1, max_length=200,
                              description=f"temporary; ≥ {accounts.MIN_PASSWORD_LENGTH} characters, not common, "
                                          "not the username. The user must change it at the next login")


class RolesIn(BaseModel):
    roles: list[str] = Field(max_length=5, description="the complete new set (technician, reviewer, approver, "
                                                       "qa_manager, admin)")


class PasswordChangeIn(BaseModel):
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class PasswordChanged(BaseModel):
    username: str
    other_tokens_revoked: bool = Field(default=True, description="every other session and token of yours")


def _admin_change(factory: FactoryDep, me: Principal, username: str, reason: str,
                  change: Callable[..., object]) -> UserOut:
    def go(s):  # type: ignore[no-untyped-def]
        actor = auth.get_user(s, me.username)
        user = auth.get_user(s, username)
        change(s, actor, user)
        s.flush()
        return UserOut.of(user)

    out = run_service(factory, me.username, reason, go)
    PRINCIPAL_CACHE.clear()
    return out


@router.get("/api/v1/auth/users", tags=["auth"], response_model=list[UserOut],
            summary="用户账户列表 / list accounts")
def api_list_users(me: Admin, factory: FactoryDep) -> list[UserOut]:
    return read_service(factory, lambda s: [UserOut.of(u) for u in accounts.list_users(s)])


@router.post("/api/v1/auth/users/{username}/disable", tags=["auth"], response_model=UserOut,
             summary="停用账户 / disable an account (its tokens end at once)")
def api_disable_user(username: Username, body: DisableIn, me: Admin, factory: FactoryDep) -> UserOut:
    return _admin_change(factory, me, username, f"disable account {username}",
                         lambda s, a, u: accounts.set_active(s, a, u, False, reason=body.reason))


@router.post("/api/v1/auth/users/{username}/enable", tags=["auth"], response_model=UserOut,
             summary="启用账户 / enable an account")
def api_enable_user(username: Username, me: Admin, factory: FactoryDep) -> UserOut:
    return _admin_change(factory, me, username, f"enable account {username}",
                         lambda s, a, u: accounts.set_active(s, a, u, True))


@router.post("/api/v1/auth/users/{username}/reset-password", tags=["auth"], response_model=UserOut,
             summary="重置密码 / reset a password (changed by the user at the next login)")
def api_reset_password(username: Username, body: ResetPasswordIn, me: Admin, factory: FactoryDep) -> UserOut:
    return _admin_change(factory, me, username, f"reset password of {username}",
                         lambda s, a, u: accounts.reset_password(s, a, u, body.new_password))


@router.put("/api/v1/auth/users/{username}/roles", tags=["auth"], response_model=UserOut,
            summary="设置角色 / set an account's roles")
def api_set_roles(username: Username, body: RolesIn, me: Admin, factory: FactoryDep) -> UserOut:
    return _admin_change(factory, me, username, f"set roles of {username}",
                         lambda s, a, u: accounts.set_roles(s, a, u, body.roles))


@router.post("/api/v1/auth/password", tags=["auth"], response_model=PasswordChanged,
             summary="修改本人密码 / change your own password",
             responses={429: {"description": "too many wrong old passwords (Retry-After)"}})
def api_change_password(body: PasswordChangeIn, request: Request, me: AccountUser,
                        factory: FactoryDep) -> PasswordChanged:
    remote = request.client.host if request.client else ""

    def go(s):  # type: ignore[no-untyped-def]
        user: User = auth.get_user(s, me.username)
        auth.change_own_password(s, user, body.old_password, body.new_password, keep_token_id=me.token_id,
                                 remote=remote)
        return PasswordChanged(username=user.username)

    out = run_service(factory, me.username, "password change", go)
    PRINCIPAL_CACHE.clear()
    return out
