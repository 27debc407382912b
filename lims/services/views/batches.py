"""Batches as shown: the list (page), one batch with its curves, QC samples and analyses."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from lims.db.models import Analysis, Analyte, Batch, CalibrationCurve, Instrument, Method, QcSample, Sample
from lims.services import queries
from lims.services.lookup import find_by_code, get_by_code
from lims.services.reported import curve_limit_text, qc_value_text
from lims.services.views.common import iso


class CurveRow(TypedDict):
    """A stored calibration curve version with its fit and acceptance outcome."""

    id: int
    version: int
    model: str
    weight: str
    params: dict[str, float]
    r2: float | None
    passed: bool
    acceptance: dict[str, Any]
    lod: float | None
    loq: float | None
    #: The limits with their unit (mg/L of extract) and, for one shared preparation, in mg/kg of the sample.
    lod_text: str | None
    loq_text: str | None


class CurveStored(TypedDict):
    id: int
    version: int
    passed: bool
    params: dict[str, float]
    acceptance: dict[str, Any]
    #: The calibration strategy the curve was made by (CalibrationStrategy) and its record (ME %, IS, the
    #: spiked sample, RT/ion-ratio references); the stored fit itself is in calibration_curve.fit.
    strategy: str
    strategy_detail: dict[str, Any] | None


class QcRow(TypedDict):
    """A QC sample and its judgement."""

    id: int
    kind: str
    outcome: str
    metric: float | None
    detail: str


class BatchDetail(TypedDict):
    """A batch: status and QC summary, the ids of its analyses, its curves and QC samples."""

    code: str
    status: str
    qc_summary: str
    analyses: list[int]
    curves: list[CurveRow]
    qc: list[QcRow]


class QcOutcomeShown(TypedDict):
    passed: bool
    failures: list[str]


def curve_stored(c: CalibrationCurve) -> CurveStored:
    return {"id": c.id, "version": c.version, "passed": c.passed, "params": c.params, "acceptance": c.acceptance,
            "strategy": c.strategy, "strategy_detail": c.strategy_detail}


def qc_row(q: QcSample) -> QcRow:
    return {"id": q.id, "kind": q.kind, "outcome": q.outcome, "metric": q.metric, "detail": q.detail}


def batch_detail(s: Session, code: str) -> BatchDetail:
    """The batch ``code`` as REST answers it (NotFound when absent)."""
    return cast(BatchDetail, _detail(s, get_by_code(s, Batch, code)))


def _detail(s: Session, b: Batch) -> dict[str, Any]:
    curves = s.execute(select(CalibrationCurve).where(CalibrationCurve.batch_id == b.id)
                       .order_by(CalibrationCurve.id)).scalars()
    qcs = s.execute(select(QcSample).where(QcSample.batch_id == b.id).order_by(QcSample.id)).scalars()
    preps = {(a.sample_mass_g, a.extract_volume_ml, a.dilution_factor or 1.0) for a in s.execute(
        select(Analysis).where(Analysis.batch_id == b.id)).scalars() if a.sample_mass_g and a.extract_volume_ml}
    return {"code": b.code, "status": b.status, "qc_summary": b.qc_summary, "created_at": iso(b.created_at),
            "analyses": list(s.execute(select(Analysis.id).where(Analysis.batch_id == b.id)).scalars()),
            "curves": [{"id": c.id, "version": c.version, "model": c.model, "weight": c.weight, "params": c.params,
                        "r2": c.r2, "passed": c.passed, "acceptance": c.acceptance, "lod": c.lod_curve_units, "loq": c.loq_curve_units,
                        "lod_text": curve_limit_text(c.lod_curve_units, preps),
                        "loq_text": curve_limit_text(c.loq_curve_units, preps)}
                       for c in curves],
            "qc": [{"id": q.id, "kind": q.kind, "outcome": q.outcome, "nominal": q.nominal_value,
                    "measured": q.measured_value, "unit": q.unit, "metric": q.metric, "detail": q.detail,
                    "nominal_text": qc_value_text(q.nominal_value, q.unit),
                    "measured_text": qc_value_text(q.measured_value, q.unit)}
                   for q in qcs]}


def batch_record(s: Session, code: str) -> dict[str, Any] | None:
    """What the batch page shows: :func:`batch_detail` plus its method and its analyses in words
    (sample, analyte); None when there is no such batch."""
    b = find_by_code(s, Batch, code)
    if b is None:
        return None
    row = _detail(s, b)
    method = s.get(Method, b.method_id)
    row["method"] = f"{method.code} {method.standard}" if method else ""
    row["analysis_rows"] = [
        {"id": a.id, "sample_code": sample_code, "analyte": analyte, "kind": a.kind, "status": a.status}
        for a, sample_code, analyte in s.execute(
            select(Analysis, Sample.code, Analyte.name_zh).join(Sample, Sample.id == Analysis.sample_id)
            .join(Analyte, Analyte.id == Analysis.analyte_id).where(Analysis.batch_id == b.id)
            .order_by(Analysis.id)).all()]
    return row


def list_batches(s: Session, *, limit: int, offset: int) -> dict[str, Any]:
    """A page of batches, newest first: method, instrument, status, QC summary, number of analyses."""
    q = (select(Batch, Method.code, Instrument.code).join(Method, Method.id == Batch.method_id)
         .outerjoin(Instrument, Instrument.id == Batch.instrument_id))
    total, exact = queries.count_capped(s, select(Batch.id))
    rows = s.execute(q.order_by(Batch.id.desc()).limit(limit).offset(offset)).all()
    sizes = dict(s.execute(select(Analysis.batch_id, func.count()).where(
        Analysis.batch_id.in_([b.id for b, _m, _i in rows])).group_by(Analysis.batch_id)).all())
    return {"total": total, "exact": exact, "items": [
        {"code": b.code, "method": m, "instrument": i, "status": b.status, "qc_summary": b.qc_summary,
         "created_at": iso(b.created_at), "analyses": sizes.get(b.id, 0)} for b, m, i in rows]}
