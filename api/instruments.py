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
from lims.acquisition.reparse import reparse_instrument
from lims.services.views import instruments as instrument_views
from lims.services.views.instruments import CAPTURE_STATUSES, CaptureList, InstrumentList, ReparseOutcome

router = APIRouter(prefix="/api/v1/instruments", tags=["instruments"])


@router.get("", summary="仪器状态 / instrument status", dependencies=[require("instruments:read")])
def list_instruments(factory: FactoryDep) -> InstrumentList:
    return read_service(factory, instrument_views.list_instruments)


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
