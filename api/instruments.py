"""Instrument status and raw captures (`/api/v1/instruments`): what `lims acquire` is doing, what failed
to parse, and re-parsing after a profile fix. Routes read; the re-parse goes through the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require
from drivers.errors import DriverError
from lims.acquisition.events import EventKind, EventList, list_events
from lims.acquisition.holds import HeldList, Released, held_readings, release_hold
from lims.acquisition.orders import StoredWorklist, Worklist, build_worklist, list_worklists, send_worklist
from lims.acquisition.reparse import reparse_instrument
from lims.services.views import instruments as instrument_views
from lims.services.views.instruments import (
    CAPTURE_STATUSES,
    CaptureList,
    InstrumentList,
    LinkAlerts,
    ReparseOutcome,
)

router = APIRouter(prefix="/api/v1/instruments", tags=["instruments"])
#: worklists built from a batch (issue 13: both directions; lims.acquisition.orders)
worklist_router = APIRouter(tags=["instruments"])
Code = Annotated[str, Path(min_length=1, max_length=60)]


@worklist_router.get("/api/v1/batches/{code}/worklist", summary="批次工作清单 / a batch's worklist (position → sample → analyses)",
                     dependencies=[require("results:read")])
def batch_worklist(code: Code, factory: FactoryDep,
                   instrument: Annotated[str | None, Query(max_length=60)] = None) -> Worklist:
    return read_service(factory, lambda s: build_worklist(s, batch_code=code, instrument_code=instrument))


class WorklistIn(BaseModel):
    batch: Annotated[str | None, Field(min_length=1, max_length=60)] = None  # default: the open queue


@router.get("/{code}/worklist", summary="仪器待检清单 / the instrument's open queue as a worklist",
            dependencies=[require("results:read")])
def queue_worklist(code: Code, factory: FactoryDep) -> Worklist:
    return read_service(factory, lambda s: build_worklist(s, instrument_code=code))


@router.get("/{code}/worklists", summary="已下发工作清单 / worklists stored for the instrument and their status",
            dependencies=[require("results:read")])
def stored_worklists(code: Code, factory: FactoryDep,
                     limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[StoredWorklist]:
    return read_service(factory, lambda s: list_worklists(s, code, limit=limit))


@router.post("/{code}/worklist", status_code=201,
             summary="下发工作清单 / send a batch's (or the open queue's) worklist to the instrument (audited)")
def send(code: Code, body: WorklistIn, factory: FactoryDep,
         who: Annotated[Principal, require("results:enter")]) -> StoredWorklist:
    return run_service(factory, who.username, f"worklist for {code}" + (f" from batch {body.batch}" if body.batch else ""),
                       lambda s: send_worklist(s, code, batch_code=body.batch))


@router.get("", summary="仪器状态 / instrument status", dependencies=[require("instruments:read")])
def list_instruments(factory: FactoryDep) -> InstrumentList:
    return read_service(factory, instrument_views.list_instruments)


@router.get("/alerts", summary="仪器链路告警 / open link alerts (devices silent past their expected interval)",
            dependencies=[require("instruments:read")])
def alerts(factory: FactoryDep) -> LinkAlerts:
    return read_service(factory, instrument_views.link_alerts)


@router.get("/{code}/captures", summary="原始数据 / raw captures of an instrument",
            dependencies=[require("instruments:read")])
def list_captures(code: str, factory: FactoryDep, status: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> CaptureList:
    found = read_service(factory, lambda s: instrument_views.list_captures(s, code, status=status, limit=limit,
                                                                             offset=offset))
    if found is None:
        raise HTTPException(404, detail={"message": f"instrument {code} not found", "field": "code"})
    if status is not None and status not in CAPTURE_STATUSES:
        raise HTTPException(422, detail={"message": f"status must be one of {', '.join(CAPTURE_STATUSES)}",
                                         "field": "status"})
    return found


@router.get("/{code}/events", summary="仪器事件 / instrument events (incomplete runs, sequence gaps, refused files)",
            dependencies=[require("instruments:read")])
def instrument_events(code: str, factory: FactoryDep, kind: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 50,
                      offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> EventList:
    if kind is not None and kind not in set(EventKind):
        raise HTTPException(422, detail={"message": f"kind must be one of {', '.join(EventKind)}", "field": "kind"})
    found = read_service(factory, lambda s: list_events(s, code, kind=kind, limit=limit, offset=offset))
    if found is None:
        raise HTTPException(404, detail={"message": f"instrument {code} not found", "field": "code"})
    return found


@router.get("/{code}/readings/held", summary="待复核读数 / readings held for review (incomplete runs, gaps)",
            dependencies=[require("instruments:read")])
def list_held(code: str, factory: FactoryDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> HeldList:
    return read_service(factory, lambda s: held_readings(s, code, limit=limit, offset=offset))


class ReleaseIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


@router.post("/{code}/readings/{reading_id}/release", summary="解除读数复核暂挂 / release a held reading (audited)")
def release(code: str, reading_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: ReleaseIn, factory: FactoryDep,
            who: Annotated[Principal, require("instruments:write")]) -> Released:
    return run_service(factory, who.username, f"release held reading {reading_id}: {body.reason}",
                       lambda s: release_hold(s, code, reading_id, body.reason))


@router.post("/{code}/reparse", summary="重新解析 / re-parse captures in error")
def reparse(code: str, factory: FactoryDep,
            who: Annotated[Principal, require("instruments:write")]) -> ReparseOutcome:
    try:
        stats = reparse_instrument(factory, code, actor=who.username)
    except LookupError:
        raise HTTPException(404, detail={"message": f"instrument {code} not found", "field": "code"}) from None
    except DriverError as exc:  # the instrument's profile itself does not load
        raise HTTPException(422, detail={"message": str(exc), "field": "profile"}) from None
    return {"instrument": code, "readings": stats.readings, "errors": stats.errors,
            "error_messages": stats.error_messages[:100]}
