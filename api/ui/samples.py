"""Samples: the list (search by code, 追溯码, 合格证 number or producer; status, task and date filters; order),
and the printable label of a sample and its sub-samples (Code 128 and QR as inline SVG, :mod:`lims.symbols`).
The sample's page with its reception forms is in :mod:`api.ui.reception`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.deps import FactoryDep, read_service
from api.ui.base import PAGE_SIZE, Offset, SamplesPage, area_router, not_found, pager, render
from lims.db.models import SampleStatus
from lims.services.views import samples as sample_views
from lims.symbols import code128_svg, qr_svg
from lims.vocabulary import SamplingLink

router = area_router()
Filter = Annotated[str, Query(max_length=100)]


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/samples", response_class=HTMLResponse)
def samples_page(request: Request, me: SamplesPage, factory: FactoryDep, q: Filter = "", status: Filter = "",
                 task: Filter = "", date_from: Filter = "", date_to: Filter = "", sort: Filter = "new",
                 offset: Offset = 0) -> HTMLResponse:
    """样品列表: search and filters in the query string (a link keeps them); a bad date is named, not applied."""
    day_from, day_to = _date(date_from), _date(date_to)
    bad_dates = [name for name, text, day in (("date_from", date_from, day_from), ("date_to", date_to, day_to))
                 if text and day is None]
    sort = sort if sort in sample_views.SAMPLE_SORTS else "new"
    status = status if status in SampleStatus.labels() else ""

    def go(s: Session) -> dict[str, Any]:
        return {"page": sample_views.sample_list(s, q=q, status=status, task_code=task, date_from=day_from,
                                                 date_to=day_to, sort=sort, limit=PAGE_SIZE, offset=offset),
                "tasks": sample_views.task_choices(s)}
    data = read_service(factory, go)
    page = data["page"]
    params = {"q": q, "status": status, "task": task, "date_from": date_from, "date_to": date_to, "sort": sort}
    return render(request, me, "ui_samples.html", "/samples", samples=page.items, tasks=data["tasks"],
                  filters=params, statuses=list(SampleStatus), sorts=sample_views.SAMPLE_SORTS,
                  bad_dates=bad_dates, links_en={x.zh: x.en for x in SamplingLink},
                  pager=pager("/samples", params, offset, PAGE_SIZE, page.total, page.total_exact))


def label_symbols(code: str) -> dict[str, str]:
    """One label's code with its barcode and QR code (both carry the code itself); Code 128 holds ASCII only,
    so a code with other characters (a sub-sample code given through the API) gets the QR code alone."""
    printable = code.isascii() and code.isprintable()
    return {"code": code, "barcode": code128_svg(code) if printable else "", "qr": qr_svg(code)}


@router.get("/samples/{code}/label", response_class=HTMLResponse)
def label_page(code: str, request: Request, me: SamplesPage, factory: FactoryDep) -> HTMLResponse:
    """样品标签: the sample's label and one per sub-sample, for a label or A4 printer (CSS ``@media print``)."""
    try:
        sample = read_service(factory, lambda s: sample_views.sample_record(s, code))
    except HTTPException:
        return not_found(request, me, "/samples", f"样品 {code} / sample {code}")
    labels = [label_symbols(sample["code"]) | {"part": "main"}]
    labels += [label_symbols(sub) | {"part": "sub"} for sub in sample["sub_samples"]]
    return render(request, me, "ui_label.html", "/samples", sample=sample, labels=labels)
