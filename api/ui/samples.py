"""Samples: the list with filters, and one sample's record (custody, analyses, results, reports)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
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
from lims.db.models import Analysis, Batch, CustodyEvent, MonitoringTask, Report, Sample, SampleStatus
from lims.services import queries
from lims.services.errors import NotFound
from lims.services.sampling import SAMPLING_LINKS

router = area_router()


@router.get("/samples", response_class=HTMLResponse)
def samples_page(request: Request, me: SamplesPage, factory: FactoryDep,
                 status: Annotated[str, Query(max_length=40)] = "",
                 task: Annotated[str, Query(max_length=60)] = "", offset: Offset = 0) -> HTMLResponse:
    def go(s: Session) -> dict[str, Any]:
        found = queries.list_samples(s, status=status or None, task_code=task or None, limit=PAGE_SIZE,
                                     offset=offset)
        tasks = s.execute(select(MonitoringTask.code, MonitoringTask.name).order_by(MonitoringTask.id.desc())
                          .limit(200)).all()
        return {"page": found, "tasks": [{"code": c, "name": n} for c, n in tasks]}
    data = read_service(factory, go)
    page = data["page"]
    return render(request, me, "ui_samples.html", "/samples", samples=page.items, tasks=data["tasks"],
                  status_filter=status, task=task, statuses=list(SampleStatus),
                  pager=pager("/samples", {"status": status, "task": task}, offset, PAGE_SIZE, page.total,
                               page.total_exact))


def sample_view(s: Session, code: str) -> dict[str, Any]:
    """Everything the sample page shows: sampling record, custody, analyses, results with signatures, reports."""
    sample = s.execute(select(Sample).where(Sample.code == code)).scalar_one_or_none()
    if sample is None:
        raise NotFound(f"sample {code} does not exist", field="code")
    row = queries.sample_row(sample)
    producer = sample.producer
    task = (s.execute(select(MonitoringTask).where(MonitoringTask.code == sample.task_code)).scalar_one_or_none()
            if sample.task_code else None)
    row.update({
        "description": sample.description, "quantity": sample.quantity, "sampled_at": sample.sampled_at,
        "received_at": sample.received_at, "sampling_place": sample.sampling_place,
        "sampling_link": SAMPLING_LINKS.get(sample.sampling_link, sample.sampling_link),
        "certificate_no": sample.certificate_no, "trace_code": sample.trace_code, "samplers": sample.samplers,
        "condition": sample.condition, "commodity_en": sample.commodity.name_en,
        "commodity_category": sample.commodity.category,
        "producer": None if producer is None else {
            "name": producer.name, "credit_code": producer.credit_code, "kind": producer.kind,
            "region_code": producer.region_code, "address": producer.address},
        "task": None if task is None else {"code": task.code, "name": task.name,
                                           "programme_type": task.programme_type,
                                           "issuing_authority": task.issuing_authority}})
    row["custody"] = [{"kind": e.kind, "at": e.at, "actor": e.actor, "location": e.location,
                       "condition": e.condition, "sub_sample_code": e.sub_sample_code, "note": e.note}
                      for e in s.execute(select(CustodyEvent).where(CustodyEvent.sample_id == sample.id)
                                         .order_by(CustodyEvent.at, CustodyEvent.id)).scalars()]
    batch_codes = dict(s.execute(select(Batch.id, Batch.code).join(Analysis, Analysis.batch_id == Batch.id)
                                 .where(Analysis.sample_id == sample.id)).all())
    row["analyses"] = [{"id": a.id, "analyte": a.analyte.name_zh, "analyte_en": a.analyte.name_en,
                        "method": a.method.code, "standard": a.method.standard, "kind": a.kind,
                        "status": a.status, "batch": batch_codes.get(a.batch_id)}
                       for a in s.execute(select(Analysis).where(Analysis.sample_id == sample.id)
                                          .order_by(Analysis.id)).scalars()]
    row["results"] = queries.list_results(s, sample_code=code, limit=500).items
    row["reports"] = [{"report_no": r.report_no, "version": r.version, "status": r.status, "lang": r.lang,
                       "issued_at": r.issued_at}
                      for r in s.execute(select(Report).where(Report.sample_id == sample.id)
                                         .order_by(Report.version)).scalars()]
    return row


@router.get("/samples/{code}", response_class=HTMLResponse)
def sample_page(code: str, request: Request, me: SampleDetailPage, factory: FactoryDep) -> HTMLResponse:
    try:
        sample = read_service(factory, lambda s: sample_view(s, code))
    except HTTPException:
        return not_found(request, me, "/samples", f"样品 {code} / sample {code}")
    return render(request, me, "ui_sample.html", "/samples", sample=sample)

