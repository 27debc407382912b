"""API keys of the service accounts (系统管理员): instruments, the hub relay and scripts authenticate with a key
owned by a service account (they cannot log in or sign). The page lists each service account's keys in
force (label, created, expiry; never the key, only its digest is stored), creates a key — shown once, on
the answer page only — and revokes one at once (:func:`lims.services.auth.create_api_key`,
:func:`~lims.services.auth.revoke_token`, audited; every worker's cached sessions end). Accounts and roles
stay at /admin/users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import PRINCIPAL_CACHE, Principal, require_ui
from api.ui.base import P, area_router, render, ui_error
from api.ui.quality import form_of
from lims.services import accounts, auth
from lims.services.errors import InvalidInput
from lims.vocabulary import UserKind

router = area_router()
KeysAdmin = Annotated[Principal, require_ui(P.USERS_MANAGE)]
PAGE = "/admin/keys"


def _services(s: Session) -> list[dict[str, Any]]:
    out = []
    for u in accounts.list_users(s):
        if u.kind != UserKind.SERVICE:
            continue
        out.append({"username": u.username, "full_name": u.full_name, "active": u.active,
                    "roles": sorted(u.role_names),
                    "api_keys": [{"id": t.id, "label": t.label, "created_at": t.created_at, "expires_at": t.expires_at}
                             for t in auth.active_tokens(s, u) if t.kind == auth.TokenKind.API_KEY]})
    return out


def _page(request: Request, me: Principal, factory: sessionmaker[Session], *, status: int = 200,
          error: dict[str, Any] | None = None, issued: dict[str, Any] | None = None, done: str = "") -> HTMLResponse:
    return render(request, me, "ui_keys.html", "/admin/users", status=status, error=error, issued=issued,
                  revoked=done == "revoked", services=read_service(factory, _services))


@router.get(PAGE, response_class=HTMLResponse)
def keys_page(request: Request, me: KeysAdmin, factory: FactoryDep, done: str = "") -> HTMLResponse:
    return _page(request, me, factory, done=done[:20])


def _days(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 6:
        raise InvalidInput(f"expires_days: a whole number of days (got {raw[:20]!r})", field="expires_days",
                           code="quality.bad_value")
    return int(raw)


@router.post(PAGE, response_class=HTMLResponse)
async def create_key(request: Request, me: KeysAdmin, factory: FactoryDep) -> Response:
    form = await form_of(request)

    def go(s: Session) -> dict[str, Any]:
        issued = auth.create_api_key(s, auth.get_user(s, me.username), auth.get_user(s, form.get("username", "")),
                                     label=form.get("label", ""), days=_days(form.get("expires_days", "")))
        return {"token": issued.token, "username": form.get("username", ""), "expires_at": issued.expires_at}
    try:
        issued = run_service(factory, me.username, f"create API key for {form.get('username', '')} (web UI)", go)
    except HTTPException as e:
        return _page(request, me, factory, status=e.status_code, error=ui_error(e.status_code, e.detail))
    return _page(request, me, factory, issued=issued)


@router.post(PAGE + "/{token_id}/revoke", response_class=HTMLResponse)
def revoke_key(token_id: int, request: Request, me: KeysAdmin, factory: FactoryDep) -> Response:
    try:
        run_service(factory, me.username, f"revoke API key {token_id} (web UI)",
                    lambda s: auth.revoke_token(s, token_id, actor=auth.get_user(s, me.username)))
    except HTTPException as e:
        return _page(request, me, factory, status=e.status_code, error=ui_error(e.status_code, e.detail))
    PRINCIPAL_CACHE.clear()
    return RedirectResponse(f"{PAGE}?done=revoked", status_code=303)
