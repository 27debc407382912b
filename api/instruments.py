"""Instrument status and raw captures (`/api/v1/instruments`): what `lims acquire` is doing, what failed
to parse, and re-parsing after a profile fix. Routes read; the re-parse goes through the service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select

from api.deps import FactoryDep, SessionDep
from api.security import Principal, require
from drivers.errors import DriverError
from lims.acquisition.reparse import reparse_instrument
from lims.db.models import Instrument, RawCapture

router = APIRouter(prefix="/api/v1/instruments", tags=["instruments"])
CAPTURE_STATUSES = ("pending", "parsed", "error", "rejected", "incomplete", "duplicate")


def _instrument(inst: Instrument) -> dict[str, Any]:
    return {"code": inst.code, "name": inst.name, "profile": inst.profile, "transport_url": inst.transport_url,
            "connected": inst.connected,
            "last_message_at": inst.last_message_at.isoformat() if inst.last_message_at else None,
            "message_count": inst.message_count, "error_count": inst.error_count,
            "duplicate_resends": inst.duplicate_resends}


@router.get("", summary="仪器状态 / instrument status", dependencies=[require("instruments:read")])
def list_instruments(s: SessionDep) -> dict[str, Any]:
    rows = s.execute(select(Instrument).order_by(Instrument.code)).scalars().all()
    return {"instruments": [_instrument(i) for i in rows]}


@router.get("/{code}/captures", summary="原始数据 / raw captures of an instrument",
            dependencies=[require("instruments:read")])
def list_captures(code: str, s: SessionDep, status: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    inst = s.execute(select(Instrument).where(Instrument.code == code)).scalar_one_or_none()
    if inst is None:
        raise HTTPException(404, detail={"message": f"instrument {code} not found", "field": "code"})
    if status is not None and status not in CAPTURE_STATUSES:
        raise HTTPException(422, detail={"message": f"status must be one of {', '.join(CAPTURE_STATUSES)}",
                                         "field": "status"})
    q = select(RawCapture).where(RawCapture.instrument_id == inst.id)
    if status is not None:
        q = q.where(RawCapture.parse_status == status)
    caps = s.execute(q.order_by(RawCapture.id.desc()).limit(limit).offset(offset)).scalars().all()
    return {"instrument": code, "captures": [
        {"id": c.id, "received_at": c.received_at.isoformat() if c.received_at else None,
         "stream_offset": c.stream_offset, "source": c.source, "profile": c.profile, "sha256": c.sha256,
         "length": len(c.data), "data_latin1": c.data[:2000].decode("latin-1"), "parse_status": c.parse_status,
         "error": c.error} for c in caps]}


@router.post("/{code}/reparse", summary="重新解析 / re-parse captures in error")
def reparse(code: str, factory: FactoryDep,
            who: Annotated[Principal, require("instruments:write")]) -> dict[str, Any]:
    try:
        stats = reparse_instrument(factory, code, actor=who.username)
    except LookupError:
        raise HTTPException(404, detail={"message": f"instrument {code} not found", "field": "code"}) from None
    except DriverError as exc:  # the instrument's profile itself does not load
        raise HTTPException(422, detail={"message": str(exc), "field": "profile"}) from None
    return {"instrument": code, "readings": stats.readings, "errors": stats.errors,
            "error_messages": stats.error_messages[:100]}
