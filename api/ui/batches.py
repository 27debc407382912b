"""Batches: the list and one batch (curves, QC, analyses)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.deps import FactoryDep, read_service
from api.ui.base import PAGE_SIZE, Offset, ResultsPage, area_router, not_found, pager, render
from lims.services.views import batches as batch_views

router = area_router()


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, me: ResultsPage, factory: FactoryDep, offset: Offset = 0) -> HTMLResponse:
    data = read_service(factory, lambda s: batch_views.list_batches(s, limit=PAGE_SIZE, offset=offset))
    return render(request, me, "ui_batches.html", "/batches", batches=data["items"],
                  pager=pager("/batches", {}, offset, PAGE_SIZE, data["total"], data["exact"]))


@router.get("/batches/{code}", response_class=HTMLResponse)
def batch_page(code: str, request: Request, me: ResultsPage, factory: FactoryDep) -> HTMLResponse:
    batch = read_service(factory, lambda s: batch_views.batch_record(s, code))
    if batch is None:
        return not_found(request, me, "/batches", f"批次 {code} / batch {code}")
    return render(request, me, "ui_batch.html", "/batches", batch=batch)
