"""The edge of the API against hostile or careless input: request bodies of bounded size, validation answers
of bounded size that never echo the input.

:class:`BodySizeLimit` counts the bytes of a request body as they stream in (a ``Content-Length`` above the
limit is refused before anything is read) and answers 413 with a problem document; the limit is per route
(:func:`body_limit_for`): small for JSON and form bodies, larger for the CSV/file upload routes, both from
the settings (``LIMS_MAX_BODY_BYTES``, ``LIMS_MAX_UPLOAD_BYTES``). :func:`validation_problem` answers a
request that fails validation with at most ``LIMS_MAX_PROBLEMS`` problems, each naming where and what, and
never the value sent (a 13 MB body once came back as an 87 MB answer).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from lims.config import Settings, get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Routes that take a CSV or file upload (or a batch of signed messages): the larger limit applies.
UPLOAD_PATHS = re.compile(r"^(/api/v1/pt/rounds/[^/]+/results\.csv|/api/v1/limits/import|/hub/v1/messages)$")


def body_limit_for(path: str, settings: Settings | None = None) -> int:
    """The largest request body (bytes) the route at ``path`` accepts."""
    settings = settings or get_settings()
    return settings.max_upload_bytes if UPLOAD_PATHS.match(path) else settings.max_body_bytes


class BodyTooLarge(HTTPException):
    """413: the body is larger than its route accepts. An HTTPException, so FastAPI's body parsing passes it
    through (any other exception there becomes a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=too_large_detail(limit))


def too_large_detail(limit: int) -> dict[str, Any]:
    return {"message": f"request body larger than {limit} bytes (the limit of this route)", "field": "body",
            "code": "request.too_large", "limit_bytes": limit}


class BodySizeLimit:
    """ASGI middleware: refuses a request body above :func:`body_limit_for` its path with 413."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = JSONResponse({"detail": too_large_detail(limit)}, status_code=413, headers={"Connection": "close"})
    await response(scope, receive, send)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validation_problems(errors: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    """At most ``cap`` problems in FastAPI's shape (``loc``, ``msg``, ``type``) plus ``field``, the dotted
    location (``body.results.3.unit``); never the value sent (pydantic's ``input`` and ``ctx`` are left out)."""
    return [{"loc": list(e.get("loc", ())), "field": _where(tuple(e.get("loc", ()))), "msg": str(e.get("msg", "")),
             "type": e.get("type")} for e in errors[:cap]]


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    """422 for a request that fails validation: ``detail`` lists the first ``LIMS_MAX_PROBLEMS`` problems
    (FastAPI's list shape, without the input), ``problems_total`` says how many there were."""
    errors = list(exc.errors()) if isinstance(exc, RequestValidationError) else []
    problems = validation_problems(errors, max(1, get_settings().max_problems))
    return JSONResponse(status_code=422, content={"detail": problems, "problems_total": len(errors),
                                                  "problems_shown": len(problems)})
