"""Instruments: status, capture counts, parse errors, and re-parse."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import FactoryDep, read_service
from api.ui.base import InstrumentsPage, InstrumentsWriter, area_router, not_found, render
from api.ui.labels import FIELD_ZH, P
from drivers.errors import DriverError
from lims.acquisition.reparse import reparse_instrument
from lims.services.views.instruments import instruments_overview
from lims.vocabulary import ParseStatus

router = area_router()


@router.get("/instruments", response_class=HTMLResponse)
def instruments_page(request: Request, me: InstrumentsPage, factory: FactoryDep,
                     reparsed: Annotated[str, Query(max_length=60)] = "",
                     readings: Annotated[int, Query(ge=0)] = 0,
                     errors: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    done = {"code": reparsed, "readings": readings, "errors": errors} if reparsed else None
    return render(request, me, "ui_instruments.html", "/instruments", data=read_service(factory, instruments_overview),
                  statuses=list(ParseStatus), can_reparse=me.can(P.INSTRUMENTS_WRITE), reparsed=done)


@router.post("/instruments/{code}/reparse", response_class=HTMLResponse)
def instrument_reparse(code: str, request: Request, me: InstrumentsWriter, factory: FactoryDep) -> Response:
    """重新解析: parse the instrument's captures in error again (after a profile fix)."""
    try:
        stats = reparse_instrument(factory, code, actor=me.username)
    except LookupError:
        return not_found(request, me, "/instruments", f"仪器 {code} / instrument {code}")
    except DriverError as e:
        return render(request, me, "ui_instruments.html", "/instruments", status=422,
                      data=read_service(factory, instruments_overview), statuses=list(ParseStatus),
                      can_reparse=True, reparsed=None,
                      error={"zh": "仪器配置无法加载，未重新解析", "en": str(e), "field": "profile",
                             "field_zh": FIELD_ZH["profile"], "status": 422})
    query = urlencode({"reparsed": code, "readings": stats.readings, "errors": stats.errors})
    return RedirectResponse(f"/instruments?{query}", status_code=303)

