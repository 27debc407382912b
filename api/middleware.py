"""App-wide middleware and handlers: security headers on every response, and a lost database answered
with 503 — a zh-CN page for the web UI, a JSON problem for the API — instead of a bare 500.

Recovery needs nothing here: SQLAlchemy invalidates a pooled connection that broke (PostgreSQL restarted,
connection killed) and the next request opens a fresh one; while the server is away each request gets
the 503 at once (connect refused) and the first request after it returns is served normally.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)
access_log = logging.getLogger("lims.access")

#: ``detail.code`` of the 503 answers (zh-CN texts in api.ui.labels.ERROR_ZH).
DB_UNAVAILABLE = "db.unavailable"
DB_BUSY = "db.busy"
DB_DISK_FULL = "db.disk_full"
RETRY_AFTER_S = 5


#: Content-Security-Policy of the app's own pages: no inline or foreign scripts (the UI has none), inline
#: styles allowed (the templates carry <style> blocks), no framing, forms post only here.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: FastAPI's /docs and /redoc load Swagger UI / ReDoc from jsDelivr with an inline start-up script.
CSP_DOCS = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
            "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
_DOC_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """ASGI middleware: X-Frame-Options DENY, X-Content-Type-Options nosniff, a Content-Security-Policy
    and Referrer-Policy on every HTTP response (a header the route set itself is kept)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = CSP_DOCS if scope.get("path", "").startswith(_DOC_PATHS) else CSP
        extra = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                 (b"content-security-policy", csp.encode()), (b"referrer-policy", b"same-origin")]

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{zh}</title>
<style>body{{font-family:sans-serif;margin:3rem;color:#222}} .en{{color:#666;font-size:.9rem}}</style></head>
<body><h1>{zh}</h1><p class="en">{en}</p><p>请稍后刷新本页。<span class="en">Please reload this page in a moment.</span></p>
</body></html>"""

_TEXTS = {
    DB_UNAVAILABLE: ("数据库暂时无法连接，系统将在数据库恢复后自动恢复服务",
                     "the database cannot be reached; the service resumes by itself when it is back"),
    DB_BUSY: ("数据库繁忙，请稍后重试", "the database is busy; please try again"),
    DB_DISK_FULL: ("数据库所在磁盘已满或无法写入，本次未保存任何数据，请联系系统管理员",
                   "the disk is full (or cannot be written) under the database: nothing was saved"),
}
#: SQLite's words for a write the file system refused (SQLITE_FULL: ENOSPC; SQLITE_IOERR_WRITE: EFBIG, EIO).
_DISK_FULL = ("database or disk is full", "disk i/o error")


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/verify/", "/openapi.json")):
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "GET"


def database_unavailable(request: Request, error: Exception) -> Response:
    """503 for a database that is away (or, on SQLite, locked past the busy timeout)."""
    words = str(error).lower()
    code = (DB_DISK_FULL if any(w in words for w in _DISK_FULL) else
            DB_BUSY if "locked" in words or isinstance(error, sa_exc.TimeoutError) else DB_UNAVAILABLE)
    zh, en = _TEXTS[code]
    status = 507 if code == DB_DISK_FULL else 503  # 507 Insufficient Storage (RFC 4918)
    log.log(logging.ERROR if code == DB_DISK_FULL else logging.WARNING, "%s %s: %s: %s", request.method,
            request.url.path, code, str(error).splitlines()[0] if str(error) else type(error).__name__)
    headers = {"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"}
    if _wants_html(request):
        return HTMLResponse(_PAGE.format(zh=zh, en=en), status_code=status, headers=headers)
    return JSONResponse({"detail": {"message": f"{zh} / {en}", "field": None, "code": code}},
                        status_code=status, headers=headers)


async def _handler(request: Request, error: Exception) -> Response:
    return database_unavailable(request, error)


#: A client's X-Request-ID is kept when it looks like an ID (a proxy's, a UUID); anything else is replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestContext:
    """ASGI middleware, outermost: the request ID (the client's ``X-Request-ID`` when it looks like one,
    else a new one) is set for every log line of the request (lims.ops.logs.REQUEST_ID) and echoed in the
    response; one access line (method, path without its query string, route template, status, duration)
    is logged, and the request is counted in the metrics by route template (lims.ops.metrics)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from lims.ops import logs, metrics

        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        token = logs.REQUEST_ID.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            metrics.observe(scope["method"], route, status, elapsed)
            access_log.info("%s %s %s %.1f ms", scope["method"], scope.get("path", ""), status, elapsed * 1000,
                            extra={"method": scope["method"], "path": scope.get("path", ""), "route": route,
                                   "status": status, "duration_ms": round(elapsed * 1000, 2),
                                   "client": (scope.get("client") or ("-",))[0]})
            logs.REQUEST_ID.reset(token)


def install_request_context(app: FastAPI) -> None:
    """Add :class:`RequestContext` as the outermost middleware (call after every other ``add_middleware``)."""
    app.add_middleware(RequestContext)


def install(app: FastAPI) -> None:
    """Register the security headers and the database-unavailable answers on ``app``."""
    app.add_middleware(SecurityHeaders)
    for error in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError):
        app.add_exception_handler(error, _handler)


