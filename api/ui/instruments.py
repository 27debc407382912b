"""Instruments: status, capture counts, parse errors, and re-parse."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import FactoryDep, read_service
from api.ui.base import InstrumentsPage, InstrumentsWriter, area_router, not_found, render
from api.ui.labels import CAPTURE_STATUS_ZH, FIELD_ZH, P
from drivers.errors import DriverError
from lims.acquisition.reparse import reparse_instrument
from lims.db.models import Instrument, RawCapture

router = area_router()


def instruments_view(s: Session) -> dict[str, Any]:
    """Instrument status as GET /api/v1/instruments gives it, capture counts per status, recent parse errors."""
    insts = s.execute(select(Instrument).order_by(Instrument.code)).scalars().all()
    counts: dict[int, dict[str, int]] = {}
    for inst_id, st, n in s.execute(select(RawCapture.instrument_id, RawCapture.parse_status, func.count())
                                    .group_by(RawCapture.instrument_id, RawCapture.parse_status)).all():
        counts.setdefault(inst_id, {})[st] = n
    code_of = {i.id: i.code for i in insts}
    errors = s.execute(select(RawCapture).where(RawCapture.parse_status == "error")
                       .order_by(RawCapture.id.desc()).limit(50)).scalars().all()
    return {"instruments": [{"code": i.code, "name": i.name, "profile": i.profile,
                             "transport_url": i.transport_url, "connected": i.connected,
                             "last_message_at": i.last_message_at, "message_count": i.message_count,
                             "error_count": i.error_count, "captures": counts.get(i.id, {})} for i in insts],
            "errors": [{"id": c.id, "instrument": code_of.get(c.instrument_id, "?"), "received_at": c.received_at,
                        "source": c.source, "length": len(c.data), "error": c.error,
                        "preview": c.data[:160].decode("latin-1").encode("unicode_escape").decode("ascii")}
                       for c in errors]}


@router.get("/instruments", response_class=HTMLResponse)
def instruments_page(request: Request, me: InstrumentsPage, factory: FactoryDep,
                     reparsed: Annotated[str, Query(max_length=60)] = "",
                     readings: Annotated[int, Query(ge=0)] = 0,
                     errors: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    done = {"code": reparsed, "readings": readings, "errors": errors} if reparsed else None
    return render(request, me, "ui_instruments.html", "/instruments", data=read_service(factory, instruments_view),
                  statuses=list(CAPTURE_STATUS_ZH), can_reparse=me.can(P.INSTRUMENTS_WRITE), reparsed=done)


@router.post("/instruments/{code}/reparse", response_class=HTMLResponse)
def instrument_reparse(code: str, request: Request, me: InstrumentsWriter, factory: FactoryDep) -> Response:
    """重新解析: parse the instrument's captures in error again (after a profile fix)."""
    try:
        stats = reparse_instrument(factory, code, actor=me.username)
    except LookupError:
        return not_found(request, me, "/instruments", f"仪器 {code} / instrument {code}")
    except DriverError as e:
        return render(request, me, "ui_instruments.html", "/instruments", status=422,
                      data=read_service(factory, instruments_view), statuses=list(CAPTURE_STATUS_ZH),
                      can_reparse=True, reparsed=None,
                      error={"zh": "仪器配置无法加载，未重新解析", "en": str(e), "field": "profile",
                             "field_zh": FIELD_ZH["profile"], "status": 422})
    query = urlencode({"reparsed": code, "readings": stats.readings, "errors": stats.errors})
    return RedirectResponse(f"/instruments?{query}", status_code=303)

