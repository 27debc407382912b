"""Hub mode: the upstream receiver (``lims hub serve``)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from api.deps import FactoryDep
from api.input_guard import BodySizeLimit
from lims.config import Settings
from lims.db import audit
from lims.db.engine import make_engine, make_session_factory
from lims.services.hub import accept_message


def create_hub_app(engine: Engine | None = None) -> FastAPI:
    audit.install()
    if engine is None:
        settings = Settings()
        engine = make_engine(settings.hub_database_url or settings.database_url)
    app = FastAPI(title="农产品质量安全监测数据汇交中心 / Monitoring data hub", version="1")
    app.state.session_factory = make_session_factory(engine)
    app.add_middleware(BodySizeLimit)  # a message body above LIMS_MAX_UPLOAD_BYTES: 413 (api/input_guard.py)

    @app.post("/hub/v1/messages", summary="接收检测结果 / receive a signed result message")
    async def receive(request: Request, factory: FactoryDep) -> JSONResponse:
        body = await request.body()
        with factory() as s:
            s.info["actor"] = f"hub:{request.headers.get('x-lab-code', '?')}"
            answer = accept_message(s, body, dict(request.headers))
            if answer.status_code < 300:
                s.commit()
        return JSONResponse(answer.body, status_code=answer.status_code)

    @app.get("/hub/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
