"""Batches: the list (search, status, dates, sort) and a new batch made from the queue of open analyses. One
batch is shown by :mod:`api.ui.batch_detail`; its entry, QC and worklist by :mod:`api.ui.bench`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require_ui
from api.ui.base import (
    PAGE_SIZE,
    Offset,
    ResultsPage,
    area_router,
    pager,
    parse_ids,
    render,
)
from api.ui.bench import shown_error
from api.ui.labels import P
from lims.clock import utcnow
from lims.services import batches as batch_service
from lims.services.signoff import TZ_CHINA
from lims.services.views import bench as bench_views
from lims.vocabulary import BatchStatus

router = area_router()
BenchWriter = Annotated[Principal, require_ui(P.RESULTS_ENTER)]
Short = Annotated[str, Query(max_length=60)]


def _day(raw: str) -> dt.date | None:
    """A date typed in the filter (YYYY-MM-DD), or None (empty or not a date)."""
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, me: ResultsPage, factory: FactoryDep, offset: Offset = 0, q: Short = "",
                 method: Short = "", status: Short = "", date_from: Short = "", date_to: Short = "",
                 sort: Short = "created", order: Short = "desc") -> HTMLResponse:
    """批次列表: search by code, filter by method, status and creation date (Beijing days), sort."""
    status = status if status in BatchStatus.labels() else ""
    sort = sort if sort in bench_views.BATCH_SORTS else "created"
    order = "asc" if order == "asc" else "desc"
    start, end = _day(date_from), _day(date_to)
    bad_date = next((f for f, raw, d in (("date_from", date_from, start), ("date_to", date_to, end)) if raw and d is None),
                    None)
    data = read_service(factory, lambda s: {
        "page": bench_views.search_batches(s, q=q.strip(), method_code=method, status=status, date_from=start,
                                           date_to=end, sort=sort, ascending=order == "asc", limit=PAGE_SIZE,
                                           offset=offset),
        "choices": bench_views.form_choices(s)})
    params = {"q": q, "method": method, "status": status, "date_from": date_from, "date_to": date_to,
              "sort": sort, "order": order}
    error = shown_error(422, {"message": "dates are written YYYY-MM-DD", "field": bad_date, "code": "ui.bad_date"}) \
        if bad_date else None
    return render(request, me, "ui_batches.html", "/batches", batches=data["page"]["items"], error=error,
                  methods=data["choices"]["methods"], filters=params, can_create=me.can(P.RESULTS_ENTER),
                  sort_url=lambda key: "/batches?" + urlencode({k: v for k, v in params.items() if v} | {
                      "sort": key, "order": "asc" if sort == key and order == "desc" else "desc"}),
                  pager=pager("/batches", params, offset, PAGE_SIZE, data["page"]["total"], data["page"]["exact"]))


def _new_page(request: Request, me: Principal, factory: sessionmaker[Session], *, method: str = "",
              commodity: str = "", q: str = "", status: int = 200, error: dict[str, Any] | None = None,
              form: dict[str, Any] | None = None) -> HTMLResponse:
    today = utcnow().astimezone(TZ_CHINA).date()
    data = read_service(factory, lambda s: {
        "choices": bench_views.form_choices(s), "suggested": bench_views.suggested_batch_code(s, today),
        "queue": bench_views.open_analyses(s, method_code=method, commodity_code=commodity, q=q.strip())})
    form = form or {}
    return render(request, me, "ui_batch_new.html", "/batches/new", status=status, error=error,
                  queue=data["queue"], choices=data["choices"], filters={"method": method, "commodity": commodity,
                                                                         "q": q},
                  form={"code": form.get("code", data["suggested"]), "method_code": form.get("method_code", method),
                        "instrument_code": form.get("instrument_code", ""),
                        "selected": set(form.get("selected", ()))})


@router.get("/batches/new", response_class=HTMLResponse)
def new_batch_page(request: Request, me: BenchWriter, factory: FactoryDep, method: Short = "", commodity: Short = "",
                   q: Short = "") -> HTMLResponse:
    """新建批次: pick open analyses from the queue (filtered by method, commodity, sample code)."""
    return _new_page(request, me, factory, method=method, commodity=commodity, q=q)


Field60 = Annotated[str, Form(max_length=60)]


@router.post("/batches/new", response_class=HTMLResponse)
def create_batch(request: Request, me: BenchWriter, factory: FactoryDep, code: Field60 = "",
                 method_code: Field60 = "", instrument_code: Field60 = "",
                 analysis_id: Annotated[list[str] | None, Form()] = None, filter_method: Field60 = "",
                 filter_commodity: Field60 = "", filter_q: Field60 = "") -> Response:
    """Create the batch (lims.services.batches.create_batch, as POST /api/v1/batches); its method is the one
    chosen, or that of the checked analyses when they share one."""
    ids = parse_ids(analysis_id)
    code = code.strip()
    form = {"code": code, "method_code": method_code, "instrument_code": instrument_code, "selected": ids or []}
    problem = None
    if not code:
        problem = {"message": "give the batch a code", "field": "code", "code": "ui.batch_code_required"}
    elif not ids:
        problem = {"message": "check at least one analysis", "field": "analysis_ids", "code": "ui.no_analysis_selected"}
    if problem is None:
        assert ids is not None
        try:
            run_service(factory, me.username, "create batch (web UI)", lambda s: batch_service.create_batch(
                s, code=code, method_code=method_code or _method_of(s, ids), instrument_code=instrument_code or None,
                analysis_ids=ids))
        except HTTPException as e:
            return _new_page(request, me, factory, method=filter_method, commodity=filter_commodity, q=filter_q,
                             status=e.status_code, error=shown_error(e.status_code, e.detail), form=form)
        return RedirectResponse(f"/batches/{quote(code, safe='')}/entry?done=created&n={len(ids)}", status_code=303)
    return _new_page(request, me, factory, method=filter_method, commodity=filter_commodity, q=filter_q,
                     status=422, error=shown_error(422, problem), form=form)


def _method_of(s: Session, ids: list[int]) -> str:
    """The one method of the checked analyses (the service refuses a mix, naming the analysis)."""
    return bench_views.method_of_analyses(s, ids)
