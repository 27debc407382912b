"""Unmatched instrument readings (issue 13): the queue (`GET /api/v1/instruments/unmatched`, per instrument
`GET /api/v1/instruments/{code}/readings/unmatched`) and a person's action on one reading
(`POST /api/v1/readings/{id}/assign`, `/dismiss`; audited). Routes are thin: lims.acquisition.unmatched."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require
from lims.acquisition.unmatched import (
    Disposed,
    UnmatchedList,
    assign_reading,
    dismiss_reading,
    unmatched_readings,
)

queue_router = APIRouter(prefix="/api/v1/instruments", tags=["instruments"])
router = APIRouter(prefix="/api/v1/readings", tags=["instruments"])
ReadingId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@queue_router.get("/unmatched", summary="待匹配读数 / unmatched readings of every instrument",
                  dependencies=[require("results:read")])
def list_unmatched(factory: FactoryDep, limit: Limit = 50, offset: Offset = 0) -> UnmatchedList:
    return read_service(factory, lambda s: unmatched_readings(s, limit=limit, offset=offset))


@queue_router.get("/{code}/readings/unmatched", summary="待匹配读数 / unmatched readings of an instrument",
                  dependencies=[require("results:read")])
def list_unmatched_of(code: str, factory: FactoryDep, limit: Limit = 50, offset: Offset = 0) -> UnmatchedList:
    return read_service(factory, lambda s: unmatched_readings(s, code, limit=limit, offset=offset))


class AssignIn(BaseModel):
    analysis_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class DismissIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


@router.post("/{reading_id}/assign", summary="指派读数到检测项目 / assign an unmatched reading (audited): enzyme "
             "channel, photometer or colloidal-gold strip → an open screening analysis; ASTM result → an open "
             "confirmatory analysis")
def assign(reading_id: ReadingId, body: AssignIn, factory: FactoryDep,
           who: Annotated[Principal, require("results:enter")]) -> Disposed:
    return run_service(factory, who.username, f"assign reading {reading_id} to analysis {body.analysis_id}: "
                       f"{body.reason}", lambda s: assign_reading(s, reading_id, body.analysis_id, body.reason,
                                                                  analyst_id=who.user_id))


@router.post("/{reading_id}/dismiss", summary="忽略读数 / dismiss an unmatched reading with a reason (audited)")
def dismiss(reading_id: ReadingId, body: DismissIn, factory: FactoryDep,
            who: Annotated[Principal, require("results:enter")]) -> Disposed:
    return run_service(factory, who.username, f"dismiss reading {reading_id}: {body.reason}",
                       lambda s: dismiss_reading(s, reading_id, body.reason))
