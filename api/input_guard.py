"""The edge of the API against hostile or careless input: request bodies of bounded size, validation answers
of bounded size that never echo the input.

:class:`BodySizeLimit` counts the bytes of a request body as they stream in (a ``Content-Length`` above the
limit is refused before anything is read) and answers 413 with a problem document; the limit is per route
(:func:`body_limit_for`): small for JSON and form bodies, larger for the CSV upload routes and any
``multipart/form-data`` file upload, both from
the settings (``LIMS_MAX_BODY_BYTES``, ``LIMS_MAX_UPLOAD_BYTES``). :func:`validation_problem` answers a
request that fails validation with at most ``LIMS_MAX_PROBLEMS`` problems, each naming where and what, and
never the value sent (a 13 MB body once came back as an 87 MB answer).
"""

from __future__ import annotations

import json
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


def body_limit_for(path: str, settings: Settings | None = None, *, multipart: bool = False) -> int:
    """The largest request body (bytes) the route at ``path`` accepts: the upload limit for the upload routes
    and for any file upload (``multipart/form-data``; each such route still checks its own file size)."""
    settings = settings or get_settings()
    return settings.max_upload_bytes if multipart or UPLOAD_PATHS.match(path) else settings.max_body_bytes


class BodyTooLarge(HTTPException):
    """413: the body is larger than its route accepts. An HTTPException, so FastAPI's body parsing passes it
    through (any other exception there becomes a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=too_large_detail(limit))


class NulInBody(HTTPException):
    """422: a NUL character in a JSON or form body (PostgreSQL text cannot hold one: a 500 once, on anonymous
    login). The typed fields say which field (lims/text.py); this catches the bodies of every other route."""

    def __init__(self, field: str = "body") -> None:
        super().__init__(422, detail={"message": f"{field}: NUL characters (U+0000) are not allowed",
                                      "field": field, "code": "request.nul_character"})


def nul_field(doc: Any, where: str = "body") -> str | None:
    """The dotted place of the first string (or key) of a JSON document holding a NUL, e.g. ``body.results.3.unit``."""
    if isinstance(doc, str):
        return where if "\x00" in doc else None
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        if isinstance(key, str) and "\x00" in key:
            return where
        found = nul_field(value, f"{where}.{key}")
        if found:
            return found
    return None


#: A JSON ``\u0000`` escape (not itself escaped: preceded by an even number of backslashes), or ``%00`` in a
#: form; a literal NUL byte in either.
_NUL = {"json": re.compile(rb"(?<!\\)(?:\\\\)*\\u0000|\x00"), "form": re.compile(rb"%00|\x00")}
#: Bytes of the previous chunk kept so that a pattern split between two chunks is still seen.
_OVERLAP = 16


def _body_kind(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";")[0].strip().lower()
            if media == b"application/json" or media.endswith(b"+json"):
                return "json"
            if media == b"application/x-www-form-urlencoded":
                return "form"
            if media == b"multipart/form-data":
                return "multipart"
    return None


def too_large_detail(limit: int) -> dict[str, Any]:
    return {"message": f"request body larger than {limit} bytes (the limit of this route)", "field": "body",
            "code": "request.too_large", "limit_bytes": limit}


class _BodyWatch:
    """The ``receive`` of one request, counting body bytes against ``limit`` and looking for NUL characters
    in JSON and form bodies (a NUL split between two chunks is still seen: :data:`_OVERLAP`)."""

    def __init__(self, receive: Receive, limit: int, kind: str | None) -> None:
        self.receive, self.limit, self.kind = receive, limit, kind
        self.nul = _NUL.get(kind or "")
        self.seen = 0
        self.chunks: list[bytes] = []
        self.tail = b""

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] != "http.request":
            return message
        chunk = message.get("body", b"")
        self.seen += len(chunk)
        if self.seen > self.limit:
            raise BodyTooLarge(self.limit)
        if self.nul is not None and chunk:
            if self.kind == "json":
                self.chunks.append(chunk)
            if self.nul.search(self.tail + chunk):
                raise NulInBody(await self._where(message) if self.kind == "json" else "body")
            self.tail = (self.tail + chunk)[-_OVERLAP:]
        return message

    async def _where(self, message: Message) -> str:
        """Read the rest of the (bounded) JSON body and name the field holding the NUL."""
        while message.get("more_body", False) and self.seen <= self.limit:
            message = await self.receive()
            self.chunks.append(message.get("body", b""))
            self.seen += len(self.chunks[-1])
        try:
            return nul_field(json.loads(b"".join(self.chunks))) or "body"
        except ValueError:
            return "body"


class BodySizeLimit:
    """ASGI middleware: refuses a request body above :func:`body_limit_for` its path with 413, and a NUL
    character in a JSON or form body with 422 naming the field."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = _body_kind(scope)
        limit = body_limit_for(scope.get("path", ""), multipart=kind == "multipart")
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _BodyWatch(receive, limit, kind), watched)
        except (BodyTooLarge, NulInBody) as e:
            if started:
                raise
            await JSONResponse({"detail": e.detail}, status_code=e.status_code,
                               headers={"Connection": "close"} if e.status_code == 413 else None)(scope, receive, send)


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
