"""The web UI's frame: templates, the page layout, refusals as pages, the 403 page, pagers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from api.security import (
    CSRF_FIELD,
    ROLE_PERMISSIONS,
    AccessRefused,
    Permission,
    PermissionRefused,
    Principal,
    ensure_csrf_cookie,
    require_ui,
)
from api.ui.labels import ERROR_ZH, FIELD_ZH, GENERIC_ERROR_ZH, NAV
from lims.clock import as_utc
from lims.db.models import Role
from lims.services import signoff
from lims.vocabulary import VOCABULARY, Labelled

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
P = Permission

SamplesPage = Annotated[Principal, require_ui(P.SAMPLES_READ)]
SampleDetailPage = Annotated[Principal, require_ui(P.SAMPLES_READ, P.RESULTS_READ)]
ResultsPage = Annotated[Principal, require_ui(P.RESULTS_READ)]
Reviewer = Annotated[Principal, require_ui(P.RESULTS_REVIEW)]
Approver = Annotated[Principal, require_ui(P.RESULTS_APPROVE)]
ReportsPage = Annotated[Principal, require_ui(P.REPORTS_READ)]
ReportIssuer = Annotated[Principal, require_ui(P.REPORTS_ISSUE)]
PtPage = Annotated[Principal, require_ui(P.PT_READ)]
InstrumentsPage = Annotated[Principal, require_ui(P.INSTRUMENTS_READ)]
InstrumentsWriter = Annotated[Principal, require_ui(P.INSTRUMENTS_WRITE)]
AuditPage = Annotated[Principal, require_ui(P.AUDIT_READ)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
PAGE_SIZE = 50
QUEUE_SIZE = 200
AUDIT_PAGE_SIZE = 100

def local_time(value: Any) -> str:
    """A stored instant as Beijing time with its offset; naive values are UTC (as stored by utcnow)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return str(value)
    local = as_utc(value).astimezone(signoff.TZ_CHINA)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def label(value: Any, vocabulary: type[Labelled], lang: str = "zh-CN") -> str:
    """Template filter: a stored value's label (``{{ sample.status | label(SampleStatus) }}``); a value
    outside the vocabulary is shown as it is."""
    return vocabulary.label_of(value, lang)


#: The language of the page being rendered (set by :func:`render`), for macros imported without the page's
#: context (``{% import "ui_macros.html" as m %}``), whose ``tr`` sees no ``lang``.
PAGE_LANG: ContextVar[str] = ContextVar("PAGE_LANG", default="zh-CN")


def _lang(context: Any) -> str:
    return context.get("lang") or PAGE_LANG.get()


@pass_context
def tr(context: Any, zh: str, en: str) -> str:
    """Template global: the page's words in the user's language — ``{{ tr("样品", "Samples") }}``.
    Chinese is the default; English when the signed-in user chose it (User.language)."""
    return en if _lang(context) == "en" else zh


@pass_context
def label_in(context: Any, value: Any, vocabulary: type[Labelled]) -> str:
    """Template filter: a stored value's label in the user's language (``{{ s.status | label_in(SampleStatus) }}``)."""
    return vocabulary.label_of(value, "en" if _lang(context) == "en" else "zh-CN")


TEMPLATES.env.filters["local_time"] = local_time
TEMPLATES.env.filters["label"] = label
TEMPLATES.env.filters["label_in"] = label_in
TEMPLATES.env.globals["tr"] = tr
TEMPLATES.env.globals.update(VOCABULARY, field_zh=FIELD_ZH)


# ------------------------------------------------------------------------------------------ helpers


def ui_error(status: int, detail: Any) -> dict[str, Any]:
    """A refused request as shown on a page: {status, field, code, zh, en} — the Chinese of its ``code``
    (:data:`ERROR_ZH`, else :data:`GENERIC_ERROR_ZH`) first, the service's English words after."""
    if isinstance(detail, dict):
        message, field, code = str(detail.get("message", "")), detail.get("field"), detail.get("code")
    else:
        message, field, code = str(detail), None, None
    zh = ERROR_ZH.get(code, GENERIC_ERROR_ZH) if isinstance(code, str) else GENERIC_ERROR_ZH
    head, sep, tail = message.partition(" / ")  # a bilingual message "中文 / English": keep the English
    en = tail if sep and not head.isascii() else message
    return {"status": status, "field": field, "field_zh": FIELD_ZH.get(field or "", field), "code": code,
            "zh": zh, "en": en}


def render(request: Request, me: Principal, template: str, active: str, *, status: int = 200,
           **context: Any) -> HTMLResponse:
    """Render a page in the base layout (navigation, user, logout form with its CSRF token)."""
    holder = Response()
    csrf = ensure_csrf_cookie(request, holder)
    lang = "en" if me.language == "en" else "zh-CN"
    nav = [{"zh": zh, "en": en, "href": href, "active": href == active} for zh, en, href, perm in NAV
           if me.can(perm)]
    lang_token = PAGE_LANG.set(lang)
    try:
        page = TEMPLATES.TemplateResponse(request, template, {
            "me": me, "csrf": csrf, "csrf_field": CSRF_FIELD, "nav": nav, "active": active, "P": P, "lang": lang,
            "path": request.url.path, **context},
            status_code=status)
    finally:
        PAGE_LANG.reset(lang_token)
    page.raw_headers.extend(h for h in holder.raw_headers if h[0] == b"set-cookie")
    page.headers["Cache-Control"] = "no-store"  # records of identifiable producers: not for shared caches
    return page


def permission_words(missing: tuple[str, ...]) -> list[dict[str, str]]:
    """Missing permission values in words (zh, en) with the roles that grant each (ROLE_PERMISSIONS)."""
    out = []
    for value in missing:
        perm = Permission(value)
        roles = [r for r in Role if perm in ROLE_PERMISSIONS.get(r, frozenset())]
        out.append({"value": value, "zh": perm.zh, "en": perm.en, "roles_zh": "、".join(r.zh for r in roles) or "—",
                    "roles_en": ", ".join(r.value for r in roles) or "none"})
    return out


def refused_page(request: Request, refusal: AccessRefused) -> HTMLResponse:
    """The 403 page of a signed-in user: the permissions missing in words, or the stale form (CSRF)."""
    me = refusal.principal
    assert me is not None
    if isinstance(refusal, PermissionRefused):
        return render(request, me, "ui_forbidden.html", "/", status=403,
                      missing=permission_words(refusal.missing),
                      roles_zh="、".join(Role.label_of(r) for r in sorted(me.roles)) or "无")
    return render(request, me, "ui_error.html", "/", status=403, error=ui_error(403, refusal.detail))


class UiRoute(APIRoute):
    """A route of the web UI: an :class:`~api.security.AccessRefused` raised by ``require_ui`` (or its CSRF
    check) becomes a zh-CN page with status 403; API routes keep the JSON answer. Use it as the router's
    ``route_class`` (FastAPI "custom APIRoute class")."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except AccessRefused as refusal:
                if not refusal.ui or refusal.principal is None:
                    raise
                return refused_page(request, refusal)

        return handle


def area_router() -> APIRouter:
    """The router of one area of the UI (its routes refuse with the zh-CN 403 page)."""
    return APIRouter(include_in_schema=False, route_class=UiRoute)


def not_found(request: Request, me: Principal, active: str, what: str) -> HTMLResponse:
    return render(request, me, "ui_error.html", active, status=404,
                  error={"zh": f"未找到：{what}", "en": f"not found: {what}", "status": 404})


def parse_ids(raw: list[str] | None) -> list[int] | None:
    """Checked result ids from the form, or None when one is not an integer."""
    try:
        ids = sorted({int(x) for x in raw or []})
    except ValueError:
        return None
    return ids if all(1 <= i <= 2**31 - 1 for i in ids) else None  # beyond: refused, never a database overflow


def pager(base: str, params: dict[str, Any], offset: int, limit: int, total: int, exact: bool) -> dict[str, Any]:
    keep = {k: v for k, v in params.items() if v not in (None, "")}
    prev_url = f"{base}?{urlencode(keep | {'offset': max(0, offset - limit)})}" if offset > 0 else None
    next_url = f"{base}?{urlencode(keep | {'offset': offset + limit})}" if offset + limit < total or (
        not exact and offset + limit <= total) else None
    last = min(offset + limit, total) if exact else offset + limit
    return {"first": offset + 1 if total else 0, "last": last, "total": total, "exact": exact,
            "prev": prev_url, "next": next_url}

