"""Probes for operators (issue 17): ``/health`` (liveness: the process answers; no database), ``/ready``
(readiness: lims.ops.status — database, migrations at head, report folder writable, upstream backlog age),
both public JSON with 200 or 503; and ``/metrics`` in the Prometheus text format (lims.ops.metrics).

``/metrics`` is not public: with ``LIMS_METRICS_TOKEN`` set it needs ``Authorization: Bearer <token>``;
unset, it answers clients on the loopback address only (a Prometheus on the same host). Behind a reverse
proxy every client looks like loopback, so the proxy must not forward ``/metrics`` (deploy/nginx/lims.conf
refuses it) — or set the token.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api.deps import FactoryDep
from api.security import public
from lims.config import get_settings
from lims.ops import metrics, status

router = APIRouter(tags=["operations"])
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_NO_STORE = {"Cache-Control": "no-store"}


class HealthOut(BaseModel):
    status: str


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class ReadyOut(BaseModel):
    status: str
    checks: list[CheckOut]


@router.get("/health", summary="存活检查 / liveness", response_model=HealthOut, dependencies=[public()])
def health() -> JSONResponse:
    """The process answers (no database is touched: a lost database is /ready's business)."""
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


@router.get("/ready", summary="就绪检查 / readiness", response_model=ReadyOut, dependencies=[public()],
            responses={503: {"model": ReadyOut, "description": "a check failed"}})
def ready(factory: FactoryDep) -> JSONResponse:
    """200 when every check passes, else 503 naming the failed checks (lims.ops.status)."""
    settings = get_settings()
    checks = status.readiness(factory.kw["bind"], getattr(factory, "read", factory), settings.report_dir,
                              settings.ready_outbox_max_age_s)
    ok = all(c.ok for c in checks)
    body = {"status": "ready" if ok else "not ready",
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]}
    return JSONResponse(body, status_code=200 if ok else 503, headers=_NO_STORE)


def _allowed(request: Request) -> bool:
    token = get_settings().metrics_token
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return (request.client.host if request.client else "") in LOOPBACK


@router.get("/metrics", summary="Prometheus 指标 / metrics (token or loopback)", dependencies=[public()],
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format 0.0.4"},
                       403: {"description": "no metrics token given and not from loopback"}})
def metrics_text(request: Request, factory: FactoryDep) -> Response:
    """The request counters and latency histogram, and the database's figures (lims.ops.metrics)."""
    if not _allowed(request):
        return JSONResponse({"detail": {"message": "指标仅限本机或持令牌访问 / metrics: loopback or token only",
                                        "field": None, "code": "metrics.forbidden"}}, status_code=403)
    read = getattr(factory, "read", factory)

    def figures() -> tuple[Any, dict[str, Any] | None]:
        with read() as s:
            return status.gauges(s), status.last_verify(get_settings().audit_status_file)

    return Response(metrics.exposition(metrics.DatabaseCollector(figures)), media_type=metrics.CONTENT_TYPE,
                    headers=_NO_STORE)


#: A refusal's ``detail`` (api.deps.run_service, api/input_guard.py): the stable code, the field, the text.
PROBLEM_SCHEMA = {"title": "Problem", "type": "object", "required": ["message", "code"],
                  "properties": {"message": {"type": "string"}, "field": {"type": ["string", "null"]},
                                 "code": {"type": "string"}}}


def document_error_shapes(app: Any) -> None:
    """The 422 answers as the app really gives them, in /openapi.json: FastAPI declares only its list of
    validation problems, but a business rule (an unknown status, a NUL character, a wrong old password)
    answers 422 with one problem object {message, field, code} — found by tests/ops/test_schemathesis.py."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema  # type: ignore[no-any-return]
        doc: dict[str, Any] = generate()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["Problem"] = PROBLEM_SCHEMA
            detail = schemas["HTTPValidationError"].setdefault("properties", {}).get("detail", {})
            schemas["HTTPValidationError"]["properties"]["detail"] = {
                "anyOf": [detail or {"type": "array"}, {"$ref": "#/components/schemas/Problem"}], "title": "Detail"}
            schemas["HTTPValidationError"]["properties"].update(
                {"problems_total": {"type": "integer"}, "problems_shown": {"type": "integer"}})
        return doc

    app.openapi = openapi
