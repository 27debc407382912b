"""The LIMS web application: REST under /api/v1, the zh-CN web UI under /, OpenAPI at /openapi.json."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from api import middleware
from api.auth_routes import router as auth_router
from api.deps import FactoryDep, read_service
from api.docs_assets import install_local_docs
from api.input_guard import BodySizeLimit, validation_problem
from api.instruments import router as instruments_router
from api.instruments import worklist_router
from api.lifecycle import router as lifecycle_router
from api.methods import router as methods_router
from api.ops import document_error_shapes
from api.ops import router as ops_router
from api.pages import PageJSON, page_of
from api.pt import router as pt_router
from api.quality import router as quality_router
from api.quality_registers import router as quality_registers_router
from api.readings import queue_router as unmatched_router
from api.readings import router as readings_router
from api.schemas import MAX_DB_INT
from api.security import (
    FRAMEWORK_PUBLIC_PATHS,
    Permission,
    Principal,
    RejectNulBytes,
    declare_public,
    require,
    require_ui,
)
from api.ui import UiRoute, dashboard_page
from api.ui import router as ui_router
from api.upstream import router as upstream_router
from api.users_api import router as users_router
from api.verify import router as verify_router
from lims.config import get_settings
from lims.db import audit
from lims.db.engine import make_engine, make_session_factory
from lims.services import queries, throttle
from lims.services.views.results import ResultRow
from lims.services.views.samples import SampleRow

#: The web pages' own scripts (api/static/ui), served from this site.
UI_ASSETS = "/static/ui"


def _install_ui_assets(app: FastAPI) -> None:
    """The pages' own small scripts under :data:`UI_ASSETS`, open to all (the CSP allows scripts from
    this site only, never inline)."""
    app.mount(UI_ASSETS, StaticFiles(directory=str(Path(__file__).parent / "static" / "ui")), name="ui-assets")
    declare_public(app, UI_ASSETS)


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = max(1, get_settings().api_threads)
    # The ~190,000 objects of a started app (FastAPI, SQLAlchemy, numpy, reportlab) never die: keep them
    # out of the cyclic collector, whose full passes over them otherwise stall requests for tens of ms.
    gc.collect()
    gc.freeze()
    throttle.FAILURES.start(_app.state.session_factory)  # failed password checks, written in batches
    yield
    throttle.FAILURES.stop(_app.state.session_factory)


def create_app(engine: Engine | None = None) -> FastAPI:
    audit.install()
    engine = engine or make_engine()
    app = FastAPI(title="县级农产品质量安全检测 LIMS", version="0.1.0", lifespan=_lifespan,
                  description="样品、检测结果、审核签发与报告 / samples, results, review and reports",
                  docs_url=None, redoc_url=None)  # /docs and /redoc with local assets (api.docs_assets)
    app.state.session_factory = make_session_factory(engine)
    declare_public(app, *FRAMEWORK_PUBLIC_PATHS)
    app.add_middleware(RejectNulBytes)
    middleware.install(app)  # security headers; a lost database → 503 (zh-CN page / JSON problem)
    app.add_middleware(BodySizeLimit)  # outermost of the two: a body over its route's limit is never read whole
    app.add_exception_handler(RequestValidationError, validation_problem)  # capped, never echoes the input
    middleware.install_request_context(app)  # outermost: request ID, access log line, request metrics

    app.include_router(ops_router)  # /health, /ready, /metrics (issue 17)
    document_error_shapes(app)  # /openapi.json declares the 422 answers the routes really give
    install_local_docs(app)  # Swagger UI and ReDoc from the installed fastapi-offline package: they work offline
    _install_ui_assets(app)

    # The two busiest routes first: routes are matched in order.
    @app.get("/api/v1/samples", tags=["samples"], summary="样品列表 / list samples",
             dependencies=[require(Permission.SAMPLES_READ)], responses=page_of(SampleRow))
    def list_samples(factory: FactoryDep, status: str | None = None, task_code: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50,
                     offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0) -> PageJSON:
        return PageJSON(read_service(factory, lambda s: queries.list_samples(
            s, status=status, task_code=task_code, limit=limit, offset=offset)))

    @app.get("/api/v1/results", tags=["results"], summary="检测结果列表 / list results",
             dependencies=[require(Permission.RESULTS_READ)], responses=page_of(ResultRow))
    def list_results(factory: FactoryDep, status: str | None = None, sample_code: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50,
                     offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0) -> PageJSON:
        return PageJSON(read_service(factory, lambda s: queries.list_results(
            s, status=status, sample_code=sample_code, limit=limit, offset=offset)))

    app.include_router(auth_router)
    app.include_router(users_router)  # account life cycle (users:manage; own password)
    app.include_router(lifecycle_router)
    app.include_router(methods_router)  # a method's strategy, QC limits, validation data (issue 12)
    app.include_router(pt_router)
    app.include_router(quality_router)  # the quality system (issue 15)
    app.include_router(quality_registers_router)  # instruments, materials, staff, environment, statistics (issue 15)
    app.include_router(unmatched_router)  # unmatched readings (issue 13), before /{code} routes
    app.include_router(instruments_router)  # lims acquire status
    app.include_router(worklist_router)  # a batch's worklist (issue 13)
    app.include_router(readings_router)  # assign / dismiss an unmatched reading (issue 13)
    app.include_router(upstream_router)  # outbox state, requeue, the upstream record's JSON Schemas (issue 14)
    app.include_router(ui_router)  # the zh-CN web UI pages

    app.include_router(verify_router)  # public /verify/{report_no}: the page, or JSON when asked

    app.router.route_class = UiRoute  # the dashboard refuses with the zh-CN 403 page

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, factory: FactoryDep,
             me: Annotated[Principal, require_ui(Permission.SAMPLES_READ, Permission.RESULTS_READ)]) -> HTMLResponse:
        return dashboard_page(request, me, factory)

    return app
