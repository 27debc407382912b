"""REST for upstream delivery (lims.upstream): the outbox's state, each message and result's delivery state,
re-queueing dead letters (``upstream:manage``, the quality manager; audited with the reason given), and the
canonical record's JSON Schemas (public: the hub and other labs validate against them)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from api.deps import FactoryDep, read_service, run_service
from api.schemas import MAX_DB_INT
from api.security import Principal, public, require
from lims.upstream import queue
from lims.upstream import schema as wire
from lims.vocabulary import Permission

router = APIRouter(prefix="/api/v1")
ResultsRead = Annotated[Principal, require(Permission.RESULTS_READ)]
UpstreamManage = Annotated[Principal, require(Permission.UPSTREAM_MANAGE)]
DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]


class UpstreamStatus(BaseModel):
    """Outbox counts over messages of every kind (results, amendments, retractions, checkpoints)."""

    pending: int
    delivered: int
    dead_letter: int
    failed: int = Field(description="pending messages whose last attempt failed (retried later)")
    oldest_pending_at: dt.datetime | None


class UpstreamMessage(BaseModel):
    id: int
    kind: str
    idempotency_key: str
    sample_code: str | None
    status: str = Field(description="pending | delivered | dead")
    status_label: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str = Field(description="the hub's reason (dead letter) or the last failure (pending)")
    receipt_id: str | None = Field(description="the hub's receipt id once delivered")
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    result_ids: list[int]


class UpstreamMessagePage(BaseModel):
    items: list[UpstreamMessage]
    total: int
    limit: int
    offset: int


class ResultDelivery(BaseModel):
    result_id: int
    state: str = Field(description="not_queued | pending | delivered | dead")
    state_label: str
    message_id: int | None
    receipt_id: str | None
    reason: str | None


class RequeueRequest(BaseModel):
    """Name the dead-lettered messages, or ``all_dead``; the reason goes into the audit trail."""

    message_ids: list[DbId] = Field(default_factory=list, max_length=1000)
    all_dead: bool = False
    reason: str = Field(min_length=5, max_length=500)


class RequeueAnswer(BaseModel):
    requeued: list[int]


class SchemaEntry(BaseModel):
    name: str
    version: int
    title: str
    description: str
    url: str


@router.get("/upstream/status", tags=["upstream"], summary="上报队列状态 / outbox counts")
def get_status(me: ResultsRead, factory: FactoryDep) -> UpstreamStatus:
    st = read_service(factory, queue.status)
    return UpstreamStatus(pending=st.pending, delivered=st.delivered, dead_letter=st.dead_letter, failed=st.failed,
                          oldest_pending_at=st.oldest_pending_at)


@router.get("/upstream/messages", tags=["upstream"], summary="上报消息 / outbox messages (newest first)")
def list_messages(me: ResultsRead, factory: FactoryDep, status: str | None = None,
                  kind: Annotated[str | None, Query(max_length=40)] = None,
                  sample_code: Annotated[str | None, Query(max_length=60)] = None,
                  result_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0) -> UpstreamMessagePage:
    rows, total = read_service(factory, lambda s: queue.list_messages(
        s, status_=status, kind=kind, sample_code=sample_code, result_id=result_id, limit=limit, offset=offset))
    return UpstreamMessagePage(items=[UpstreamMessage(**vars(r)) for r in rows], total=total, limit=limit,
                               offset=offset)


@router.get("/upstream/results/{result_id}", tags=["upstream"],
            summary="检测结果上报状态 / a result's delivery state")
def get_result_delivery(result_id: Annotated[int, Field(ge=1, le=MAX_DB_INT)], me: ResultsRead,
                        factory: FactoryDep) -> ResultDelivery:
    state = read_service(factory, lambda s: queue.result_delivery(s, [result_id]))[result_id]
    return ResultDelivery(**vars(state))


@router.post("/upstream/requeue", tags=["upstream"],
             summary="重新排队投递失败的消息 / re-queue dead-lettered messages (audited)")
def post_requeue(body: RequeueRequest, me: UpstreamManage, factory: FactoryDep) -> RequeueAnswer:
    ids = run_service(factory, me.username, body.reason,
                      lambda s: queue.requeue(s, list(body.message_ids), dead=body.all_dead))
    return RequeueAnswer(requeued=ids)


@router.get("/schemas/", tags=["schemas"], dependencies=[public()],
            summary="上报数据结构 / the upstream record's JSON Schemas")
def list_schemas(request: Request) -> list[SchemaEntry]:
    base = str(request.url_for("get_schema", name="_")).rsplit("/", 1)[0]
    return [SchemaEntry(**entry, url=f"{base}/{entry['name']}") for entry in wire.schema_index()]


@router.get("/schemas/{name}", tags=["schemas"], dependencies=[public()],
            summary="一个 JSON Schema (draft 2020-12) / one JSON Schema",
            responses={200: {"content": {"application/schema+json": {}}, "description": "the JSON Schema"}})
def get_schema(name: str, request: Request) -> dict[str, Any]:
    if name not in wire.SCHEMAS:
        raise HTTPException(404, detail={"message": f"no schema named {name!r}", "field": "name",
                                         "code": "upstream.unknown_schema"})
    base = str(request.url_for("get_schema", name="_")).rsplit("/", 1)[0]
    return wire.json_schema(name, base_url=base)
