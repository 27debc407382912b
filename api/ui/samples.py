"""Samples: the list with filters, and one sample's record (custody, analyses, results, reports)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.deps import FactoryDep, read_service
from api.ui.base import (
    PAGE_SIZE,
    Offset,
    SampleDetailPage,
    SamplesPage,
    area_router,
    not_found,
    pager,
    render,
)
from lims.db.models import SampleStatus
from lims.services import queries
from lims.services.views import samples as sample_views

router = area_router()


@router.get("/samples", response_class=HTMLResponse)
def samples_page(request: Request, me: SamplesPage, factory: FactoryDep,
                 status: Annotated[str, Query(max_length=40)] = "",
                 task: Annotated[str, Query(max_length=60)] = "", offset: Offset = 0) -> HTMLResponse:
    def go(s: Session) -> dict[str, Any]:
        return {"page": queries.list_samples(s, status=status or None, task_code=task or None, limit=PAGE_SIZE,
                                             offset=offset),
                "tasks": sample_views.task_choices(s)}
    data = read_service(factory, go)
    page = data["page"]
    return render(request, me, "ui_samples.html", "/samples", samples=page.items, tasks=data["tasks"],
                  status_filter=status, task=task, statuses=list(SampleStatus),
                  pager=pager("/samples", {"status": status, "task": task}, offset, PAGE_SIZE, page.total,
                              page.total_exact))


@router.get("/samples/{code}", response_class=HTMLResponse)
def sample_page(code: str, request: Request, me: SampleDetailPage, factory: FactoryDep) -> HTMLResponse:
    try:
        sample = read_service(factory, lambda s: sample_views.sample_record(s, code))
    except HTTPException:
        return not_found(request, me, "/samples", f"样品 {code} / sample {code}")
    return render(request, me, "ui_sample.html", "/samples", sample=sample)
