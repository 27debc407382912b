"""Instruments: the overview (status, capture counts, parse errors, unmatched readings) and each instrument's
console — link state, fitness for use, last readings, the raw-capture viewer (frames with their control bytes
named, the readings decoded, the parse error), re-parse, held readings to release and unmatched readings to
assign or dismiss. Writes go through the services of lims.acquisition (the same as /api/v1)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Form, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require_ui
from api.ui.base import InstrumentsPage, InstrumentsWriter, Offset, area_router, not_found, render, ui_error
from api.ui.labels import FIELD_ZH, P
from drivers.errors import DriverError
from lims.acquisition.events import EVENT_LABELS
from lims.acquisition.holds import release_hold
from lims.acquisition.reparse import reparse_instrument
from lims.acquisition.unmatched import assign_reading, dismiss_reading
from lims.services.views import instrument_console as console
from lims.services.views.instruments import instruments_overview
from lims.vocabulary import ParseStatus

router = area_router()
ReadingsWriter = Annotated[Principal, require_ui(P.RESULTS_ENTER)]
Code = Annotated[str, Path(max_length=60)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Reason = Annotated[str, Form(max_length=500)]
STATUSES = [st.value for st in ParseStatus]
#: Instrument event kinds in words (Chinese, English), link alerts included (lims.acquisition.events).
EVENT_WORDS = EVENT_LABELS
#: Reading value states (lims.acquisition.values) in words: (Chinese, English).
VALUE_WORDS = {"sentinel": ("仪器报告无数值", "no value (instrument code)"), "nan": ("非数值", "not a number"),
               "infinite": ("无穷大", "infinite"), "out_of_range": ("超出量程", "out of range")}


@router.get("/instruments", response_class=HTMLResponse)
def instruments_page(request: Request, me: InstrumentsPage, factory: FactoryDep,
                     reparsed: Annotated[str, Query(max_length=60)] = "",
                     readings: Annotated[int, Query(ge=0)] = 0,
                     errors: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    done = {"code": reparsed, "readings": readings, "errors": errors} if reparsed else None
    return render(request, me, "ui_instruments.html", "/instruments", data=read_service(factory, instruments_overview),
                  statuses=list(ParseStatus), can_reparse=me.can(P.INSTRUMENTS_WRITE), reparsed=done,
                  event_words=EVENT_WORDS)


def _console(request: Request, me: Principal, factory: sessionmaker[Session], code: str, *, status: int = 200,
             capture_status: str = "", offset: int = 0, notice: dict[str, Any] | None = None,
             error: dict[str, Any] | None = None) -> HTMLResponse:
    data = read_service(factory, lambda s: console.instrument_console(
        s, code, capture_status=capture_status or None, capture_offset=offset))
    if data is None:
        return not_found(request, me, "/instruments", f"仪器 {code} / instrument {code}")
    can_assign = me.can(P.RESULTS_ENTER)
    analyses = read_service(factory, console.open_analyses) if can_assign and data["unmatched"]["total"] else []
    return render(request, me, "ui_instrument.html", "/instruments", status=status, data=data,
                  capture_status=capture_status, offset=offset, page_size=console.CAPTURES_SHOWN,
                  statuses=STATUSES, can_reparse=me.can(P.INSTRUMENTS_WRITE), can_assign=can_assign,
                  analyses=analyses, notice=notice, error=error, event_words=EVENT_WORDS, value_words=VALUE_WORDS)


@router.get("/instruments/{code}", response_class=HTMLResponse)
def instrument_page(code: Code, request: Request, me: InstrumentsPage, factory: FactoryDep,
                    capture_status: Annotated[str, Query(max_length=20)] = "", offset: Offset = 0,
                    done: Annotated[str, Query(max_length=20)] = "", reading: Annotated[int, Query(ge=0)] = 0,
                    readings: Annotated[int, Query(ge=0)] = 0, errors: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    """仪器控制台: one instrument's link, readings, raw captures, held and unmatched readings."""
    if capture_status not in ("", *STATUSES):
        capture_status = ""
    notice = {"done": done, "reading": reading, "readings": readings, "errors": errors} if done else None
    return _console(request, me, factory, code, capture_status=capture_status, offset=offset, notice=notice)


@router.get("/instruments/{code}/captures/{capture_id}", response_class=HTMLResponse)
def capture_page(code: Code, capture_id: RowId, request: Request, me: InstrumentsPage,
                 factory: FactoryDep) -> HTMLResponse:
    """原始数据查看: one capture's bytes as frames, its parse error and the readings decoded from it."""
    data = read_service(factory, lambda s: console.capture_detail(s, code, capture_id))
    if data is None:
        return not_found(request, me, "/instruments", f"仪器 {code} 的原始数据 #{capture_id} / capture {capture_id}")
    return render(request, me, "ui_capture.html", "/instruments", data=data, can_reparse=me.can(P.INSTRUMENTS_WRITE),
                  value_words=VALUE_WORDS)


def _back(code: str, **query: Any) -> RedirectResponse:
    return RedirectResponse(f"/instruments/{quote(code, safe='')}?{urlencode(query)}#done", status_code=303)


@router.post("/instruments/{code}/reparse", response_class=HTMLResponse)
def instrument_reparse(code: Code, request: Request, me: InstrumentsWriter, factory: FactoryDep) -> Response:
    """重新解析: parse the instrument's captures in error again (after a profile fix)."""
    try:
        stats = reparse_instrument(factory, code, actor=me.username)
    except LookupError:
        return not_found(request, me, "/instruments", f"仪器 {code} / instrument {code}")
    except DriverError as e:
        return _console(request, me, factory, code, status=422,
                        error={"zh": "仪器配置无法加载，未重新解析", "en": str(e), "field": "profile",
                               "field_zh": FIELD_ZH["profile"], "status": 422})
    return _back(code, done="reparsed", readings=stats.readings, errors=stats.errors)


def _reading_action(request: Request, me: Principal, factory: sessionmaker[Session], code: str, done: str,
                    reading_id: int, why: str, fn: Any) -> Response:
    try:
        run_service(factory, me.username, why, fn)
    except HTTPException as e:
        return _console(request, me, factory, code, status=e.status_code, error=ui_error(e.status_code, e.detail))
    return _back(code, done=done, reading=reading_id)


@router.post("/instruments/{code}/readings/{reading_id}/assign", response_class=HTMLResponse)
def reading_assign(code: Code, reading_id: RowId, request: Request, me: ReadingsWriter, factory: FactoryDep,
                   reason: Reason = "", analysis_id: Annotated[str, Form(max_length=12)] = "") -> Response:
    """指派: make the result of an unmatched reading in the analysis chosen (audited, with the reason)."""
    if not analysis_id.isdigit() or not 1 <= int(analysis_id) <= 2**31 - 1:
        return _console(request, me, factory, code, status=422, error=ui_error(422, {
            "message": "choose the analysis to assign the reading to", "field": "analysis_id",
            "code": "reading.analysis_not_found"}))
    target = int(analysis_id)
    return _reading_action(request, me, factory, code, "assigned", reading_id,
                           f"assign reading {reading_id} to analysis {target}: {reason}",
                           lambda s: assign_reading(s, reading_id, target, reason, analyst_id=me.user_id))


@router.post("/instruments/{code}/readings/{reading_id}/dismiss", response_class=HTMLResponse)
def reading_dismiss(code: Code, reading_id: RowId, request: Request, me: ReadingsWriter, factory: FactoryDep,
                    reason: Reason = "") -> Response:
    """忽略: take an unmatched reading out of the queue with a reason (audited)."""
    return _reading_action(request, me, factory, code, "dismissed", reading_id,
                           f"dismiss reading {reading_id}: {reason}", lambda s: dismiss_reading(s, reading_id, reason))


@router.post("/instruments/{code}/readings/{reading_id}/release", response_class=HTMLResponse)
def reading_release(code: Code, reading_id: RowId, request: Request, me: InstrumentsWriter, factory: FactoryDep,
                    reason: Reason = "") -> Response:
    """解除暂挂: release a reading held for review (audited, with the reason)."""
    return _reading_action(request, me, factory, code, "released", reading_id,
                           f"release held reading {reading_id}: {reason}",
                           lambda s: release_hold(s, code, reading_id, reason))
