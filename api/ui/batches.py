"""Batches: the list and one batch (curves, QC, analyses)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import FactoryDep, read_service
from api.ui.base import PAGE_SIZE, Offset, ResultsPage, area_router, not_found, pager, render
from lims.db.models import Analysis, Batch, CalibrationCurve, Instrument, Method, QcSample
from lims.services import queries

router = area_router()


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, me: ResultsPage, factory: FactoryDep, offset: Offset = 0) -> HTMLResponse:
    def go(s: Session) -> dict[str, Any]:
        q = (select(Batch, Method.code, Instrument.code).join(Method, Method.id == Batch.method_id)
             .outerjoin(Instrument, Instrument.id == Batch.instrument_id))
        total, exact = queries.count_capped(s, select(Batch.id))
        rows = s.execute(q.order_by(Batch.id.desc()).limit(PAGE_SIZE).offset(offset)).all()
        sizes = dict(s.execute(select(Analysis.batch_id, func.count()).where(
            Analysis.batch_id.in_([b.id for b, _m, _i in rows])).group_by(Analysis.batch_id)).all())
        return {"total": total, "exact": exact, "items": [
            {"code": b.code, "method": m, "instrument": i, "status": b.status, "qc_summary": b.qc_summary,
             "created_at": b.created_at, "analyses": sizes.get(b.id, 0)} for b, m, i in rows]}
    data = read_service(factory, go)
    return render(request, me, "ui_batches.html", "/batches", batches=data["items"],
                  pager=pager("/batches", {}, offset, PAGE_SIZE, data["total"], data["exact"]))


def batch_view(s: Session, code: str) -> dict[str, Any] | None:
    b = s.execute(select(Batch).where(Batch.code == code)).scalar_one_or_none()
    if b is None:
        return None
    method = s.get(Method, b.method_id)
    curves = s.execute(select(CalibrationCurve).where(CalibrationCurve.batch_id == b.id)
                       .order_by(CalibrationCurve.id)).scalars()
    qcs = s.execute(select(QcSample).where(QcSample.batch_id == b.id).order_by(QcSample.id)).scalars()
    analyses = s.execute(select(Analysis).where(Analysis.batch_id == b.id).order_by(Analysis.id)).scalars()
    return {"code": b.code, "status": b.status, "qc_summary": b.qc_summary, "created_at": b.created_at,
            "method": f"{method.code} {method.standard}" if method else "",
            "curves": [{"id": c.id, "version": c.version, "model": c.model, "weight": c.weight, "r2": c.r2,
                        "passed": c.passed, "lod": c.lod, "loq": c.loq} for c in curves],
            "qc": [{"kind": q.kind, "outcome": q.outcome, "nominal": q.nominal_value,
                    "measured": q.measured_value, "unit": q.unit, "metric": q.metric, "detail": q.detail}
                   for q in qcs],
            "analyses": [{"id": a.id, "sample_code": a.sample.code, "analyte": a.analyte.name_zh, "kind": a.kind,
                          "status": a.status} for a in analyses]}


@router.get("/batches/{code}", response_class=HTMLResponse)
def batch_page(code: str, request: Request, me: ResultsPage, factory: FactoryDep) -> HTMLResponse:
    batch = read_service(factory, lambda s: batch_view(s, code))
    if batch is None:
        return not_found(request, me, "/batches", f"批次 {code} / batch {code}")
    return render(request, me, "ui_batch.html", "/batches", batch=batch)

