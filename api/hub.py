"""Hub mode (``lims hub serve``): the upstream receiver and the hub's read API and pages.

Routes: ``POST /hub/v1/messages`` (signed messages; lims.hub.receive), ``POST /hub/v1/reconcile`` (signed:
which of a lab's message ids the hub holds), ``GET /hub/v1/labs``, ``/stats``, ``/alerts``,
``/non-compliant`` (JSON) and ``/non-compliant.csv``, ``/producers``, ``/health``; registry writes
``POST /hub/v1/labs`` and ``POST /hub/v1/labs/{code}/keys/{fingerprint}/retire``; zh-CN pages in
api/hub_pages.py. Labs, stats, alerts, producers, the registry writes and the labs page require an operator
bearer token (api/hub_auth.py); the non-compliant publication and health are public. The database (``LIMS_HUB_DATABASE_URL``) is migrated on start and this month's partitions
are added (PostgreSQL).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from api import hub_auth, middleware
from api.deps import FactoryDep
from api.hub_auth import OPERATOR, OperatorDep
from api.input_guard import BodySizeLimit
from api.ui.labels import ERROR_ZH
from lims.config import Settings
from lims.csv_export import to_csv
from lims.db import audit
from lims.db.engine import make_engine, make_session_factory, session_scope
from lims.db.migrate import upgrade
from lims.hub import alerts, analytics, reconcile, registry, tasks
from lims.hub.partitions import ensure_partitions
from lims.hub.receive import HubAnswer, authenticate, receive, refusal
from lims.hub.rules import Problem, Refused, parse_json
from lims.services.errors import ServiceError


class KeyOut(BaseModel):
    fingerprint: str
    created_at: str | None
    retired_at: str | None


class LabOut(BaseModel):
    code: str
    name: str
    region_code: str
    kind: str
    keys: list[KeyOut]


class LabIn(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    public_key_pem: str = Field(min_length=1, max_length=4000)
    region: str | None = Field(None, max_length=6)
    name: str | None = Field(None, max_length=200)
    relay: bool = False


class ReconcileIn(BaseModel):
    lab: str = Field(min_length=1, max_length=40)
    ids: list[str] = Field(max_length=reconcile.MAX_IDS)


class ReconcileOut(BaseModel):
    lab: str
    held: list[str]
    missing: list[str]


def _answer(a: HubAnswer) -> JSONResponse:
    return JSONResponse(a.body, status_code=a.status_code, headers=a.headers, media_type=a.media_type)


def lab_out(v: registry.LabView) -> LabOut:
    return LabOut(code=v.code, name=v.name, region_code=v.region_code, kind=v.kind,
                  keys=[KeyOut(fingerprint=k.fingerprint, created_at=k.created_at.isoformat() if k.created_at else None,
                               retired_at=k.retired_at.isoformat() if k.retired_at else None) for k in v.keys])


def _reconcile(factory: Any, body: bytes, headers: dict[str, str], settings: Settings) -> JSONResponse:
    try:
        with factory() as s:
            signed = authenticate(s, body, headers, settings)
            try:
                req = ReconcileIn.model_validate(parse_json(body))
            except ValueError as exc:
                raise Refused(Problem(422, "schema", "请求格式错误 / invalid request", str(exc)[:500])) from None
            if req.lab != signed.signer and signed.kind != "hub":
                raise Refused(Problem(403, "lab.mismatch", "报文机构与签名机构不一致 / body names another lab",
                                      f"{signed.signer} may not reconcile {req.lab}", "/lab"))
            got = reconcile.held(s, req.lab, req.ids)
    except Refused as exc:
        return _answer(refusal(exc.problem))
    return JSONResponse(ReconcileOut(lab=req.lab, **got).model_dump())


def _signed_routes(app: FastAPI, settings: Settings) -> None:
    """The routes a lab (or a lower hub) calls with a signed request."""
    @app.post("/hub/v1/messages", summary="接收检测结果 / receive a signed message")
    async def receive_message(request: Request, factory: FactoryDep) -> JSONResponse:
        body = await request.body()
        from starlette.concurrency import run_in_threadpool

        return _answer(await run_in_threadpool(receive, factory, body, dict(request.headers), settings))

    @app.post("/hub/v1/reconcile", summary="对账 / which of a lab's message ids the hub holds",
              response_model=ReconcileOut)
    async def reconcile_ids(request: Request, factory: FactoryDep) -> JSONResponse:
        body = await request.body()
        return _reconcile(factory, body, dict(request.headers), settings)

    @app.get("/hub/v1/tasks", summary="任务下达 / monitoring tasks for a lab (signed request)")
    async def task_list(request: Request, factory: FactoryDep, lab: str = Query(min_length=1, max_length=40)
                        ) -> JSONResponse:
        body = await request.body()
        try:
            with factory.read() as s:  # type: ignore[attr-defined]
                signed = authenticate(s, body, dict(request.headers), settings)
                if lab != signed.signer and signed.kind != "hub":
                    raise Refused(Problem(403, "lab.mismatch", "请求机构与签名机构不一致 / another lab's tasks",
                                          f"{signed.signer} may not read the tasks of {lab}", "/lab"))
                return JSONResponse(tasks.tasks_for(s, lab).wire())
        except Refused as exc:
            return _answer(refusal(exc.problem))


def _registry_write(factory: Any, actor: str, action: Any) -> Any:
    """``action(session)`` in one unit of work; a ServiceError → its problem+json (Refused)."""
    try:
        with session_scope(factory, actor=f"hub-token:{actor}") as s:
            return lab_out(action(s))
    except ServiceError as exc:
        code = exc.code or "invalid"
        raise Refused(Problem(exc.status_code, code, f"{ERROR_ZH.get(code, '请求被拒绝')} / refused", str(exc),
                              f"/{exc.field}" if exc.field else "")) from None


def _registry_routes(app: FastAPI) -> None:
    """The lab registry over the API (the same service as ``lims hub lab add|retire-key|list``)."""
    @app.get("/hub/v1/labs", summary="登记的机构与密钥 / registered labs and keys", dependencies=OPERATOR)
    def labs(factory: FactoryDep) -> list[LabOut]:
        with factory() as s:
            return [lab_out(v) for v in registry.list_labs(s)]

    @app.post("/hub/v1/labs", summary="登记机构或新密钥（轮换） / register a lab or a new key (rotation)")
    def lab_add(body: LabIn, factory: FactoryDep, operator: OperatorDep) -> LabOut:
        return _registry_write(factory, operator, lambda s: registry.add_lab_key(  # type: ignore[no-any-return]
            s, body.code, body.public_key_pem, region_code=body.region, name=body.name,
            kind="hub" if body.relay else None))

    @app.post("/hub/v1/labs/{code}/keys/{fingerprint}/retire", summary="停用密钥 / retire a key")
    def key_retire(code: str, fingerprint: str, factory: FactoryDep, operator: OperatorDep) -> LabOut:
        return _registry_write(factory, operator,  # type: ignore[no-any-return]
                               lambda s: registry.retire_key(s, code, fingerprint))


def _routes(app: FastAPI, settings: Settings) -> None:
    """The hub's read API (analytics, publication)."""
    @app.get("/hub/v1/stats", summary="统计 / stats (lims hub stats)", dependencies=OPERATOR)
    def stats(factory: FactoryDep, by: str = "") -> JSONResponse:
        try:
            fields = analytics.parse_by(by)
        except analytics.UnknownField as exc:
            return _answer(refusal(Problem(422, "query.by", "统计字段错误 / unknown field", str(exc), "/by")))
        with factory() as s:
            return JSONResponse(analytics.stats(s, fields))

    @app.get("/hub/v1/alerts", summary="预警列表 / alerts", dependencies=OPERATOR)
    def alert_list(factory: FactoryDep, region: str | None = None) -> list[dict[str, Any]]:
        with factory() as s:
            return alerts.list_alerts(s, region=region)

    @app.get("/hub/v1/non-compliant", summary="不合格农产品信息公开 / non-compliant products (JSON)")
    def non_compliant(factory: FactoryDep, month: str | None = Query(None, pattern=r"^\d{4}-\d{2}$"),
                      region: str | None = Query(None, pattern=r"^\d{1,6}$")) -> list[dict[str, Any]]:
        with factory() as s:
            return analytics.non_compliant_list(s, month=month, region=region)

    @app.get("/hub/v1/non-compliant.csv", summary="不合格农产品信息公开 / non-compliant products (CSV)")
    def non_compliant_csv(factory: FactoryDep, month: str | None = Query(None, pattern=r"^\d{4}-\d{2}$"),
                          region: str | None = Query(None, pattern=r"^\d{1,6}$")) -> Response:
        with factory() as s:
            rows = analytics.non_compliant_list(s, month=month, region=region)
        heads = dict(zip(analytics.PUBLIC_COLUMNS, analytics.PUBLIC_HEADERS_ZH, strict=True))
        text = to_csv(analytics.PUBLIC_HEADERS_ZH, [{heads[k]: v for k, v in r.items()} for r in rows])
        return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="non-compliant.csv"'})

    @app.get("/hub/v1/producers", summary="生产者诚信档案 / producer credit records", dependencies=OPERATOR)
    def producers(factory: FactoryDep, code: str | None = None) -> list[dict[str, Any]]:
        with factory() as s:
            return analytics.producer_records(s, code=code)

    @app.get("/hub/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}


def create_hub_app(engine: Engine | None = None) -> FastAPI:
    audit.install()
    settings = Settings()
    if engine is None:
        engine = make_engine(settings.hub_database_url or settings.database_url)
    upgrade(engine)
    ensure_partitions(engine)
    app = FastAPI(title="农产品质量安全监测数据汇交中心 / Monitoring data hub", version="1")
    app.state.session_factory = make_session_factory(engine)
    app.add_middleware(BodySizeLimit)  # a message body above LIMS_MAX_UPLOAD_BYTES: 413 (api/input_guard.py)
    middleware.install_request_context(app)  # request IDs on every log line, one access line per request
    hub_auth.install(app)
    _signed_routes(app, settings)
    _registry_routes(app)
    _routes(app, settings)
    from api.hub_pages import add_pages

    add_pages(app)
    return app
