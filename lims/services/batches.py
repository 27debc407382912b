"""Batches (worklists), standard curves, confirmatory quantitation and batch QC.

A batch groups analyses run together on one instrument with its calibration standards and QC
samples (reagent/matrix blank, spike, duplicate, CCV, reference material). Curves are stored as
versioned records; every quantified result links to the exact curve it came from and keeps its
calculation trail. A failed QC holds the batch: its results cannot be reviewed until the batch is
re-run (SANTE/11312/2021; ISO/IEC 17025 7.7).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from calibration import qc as qcm
from calibration.qc import QcLimits
from calibration.quantify import report_value, sample_concentration_mg_kg
from lims.db.models import (
    Analysis,
    Analyte,
    Batch,
    CalibrationCurve,
    Instrument,
    Lab,
    Method,
    QcSample,
    Reading,
    Result,
    Sample,
    SampleStatus,
)
from lims.quality.materials import usable_lots, use_lots
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.limits import decide_result
from lims.services.lookup import code_exists, get_by_code, known_by_code
from lims.services.method_data import calibration_strategy, qc_limits
from lims.services.quantitation import (
    CurvePoints,
    Injection,
    extract_mg_l,
    fit_by_strategy,
    identification_of,
    identification_record,
)
from lims.services.results_guard import refuse_second_result
from lims.vocabulary import AnalysisKind, AnalysisStatus, BatchStatus, QcKind, Verdict
from lims.vocabulary import QcOutcome as QcMark  # one QC sample's pass/fail (QcOutcome below: the batch's)
from lims.workflow import transition

QC_KINDS = tuple(k.value for k in QcKind)


@dataclass(frozen=True)
class QcOutcome:
    passed: bool
    failures: tuple[str, ...]


def _refuse_stopped_work(s: Session, method_code: str, instrument_code: str | None) -> None:
    from lims.quality.nonconformity import active_containment

    for kind, ref in (("method", method_code), ("instrument", instrument_code)):
        stopped = [row for row in active_containment(s, kind, ref) if row.containment == "stop_work"] if ref else []
        if stopped:
            raise Conflict(f"work on {kind} {ref} is stopped by NC-{stopped[0].nonconformity_id}: {stopped[0].note}",
                           field=f"{kind}_code", code="quality.work_stopped")


def create_batch(s: Session, *, code: str, method_code: str, instrument_code: str | None,
                 analysis_ids: list[int], material_lots: Sequence[str] = ()) -> Batch:
    """``material_lots``: reagent/standard/reference-material lots the batch uses (an expired one refuses it)."""
    if code_exists(s, Batch, code):
        raise Conflict(f"batch {code} already exists", field="code", code="batches.code_taken")
    usable_lots(s, material_lots)  # issue 15: 409 material.expired before anything is made
    method = known_by_code(s, Method, method_code, field="method_code")
    instrument = None
    if instrument_code:
        instrument = known_by_code(s, Instrument, instrument_code, field="instrument_code")
    _refuse_stopped_work(s, method_code, instrument_code)  # issue 15: an open NC may stop work on either
    lab = s.execute(select(Lab).order_by(Lab.id)).scalars().first()
    assert lab is not None
    batch = Batch(code=code, lab_id=lab.id, method_id=method.id, instrument_id=instrument.id if instrument else None)
    s.add(batch)
    s.flush()
    refuse_second_result(s, analysis_ids, field="analysis_ids")  # issue 11: a new batch makes no second result
    if material_lots:
        use_lots(s, batch, material_lots)
    for aid in analysis_ids:
        a = s.get(Analysis, aid)
        if a is None:
            raise NotFound(f"analysis {aid} does not exist", field="analysis_ids")
        if a.method_id != method.id:
            raise InvalidInput(f"analysis {aid} uses another method", field="analysis_ids",
                               code="batches.method_mismatch")
        if a.batch_id is not None:
            raise Conflict(f"analysis {aid} is already in batch {a.batch_id}", field="analysis_ids",
                           code="batches.analysis_in_batch")
        a.batch_id = batch.id
        transition(a, AnalysisStatus.IN_ANALYSIS)
        transition(a.sample, SampleStatus.IN_ANALYSIS)
    return batch


def store_curve(s: Session, *, batch: Batch, analyte_code: str, concentrations: list[float],
                responses: list[float], model: str = "linear", weight: str = "none",
                is_responses: list[float] | None = None, solvent_concentrations: list[float] | None = None,
                solvent_responses: list[float] | None = None, analysis_id: int | None = None,
                reference_retention_time_min: float | None = None, reference_ion_ratio: float | None = None,
                closing_concentrations: list[float] | None = None,
                closing_responses: list[float] | None = None, material_lots: Sequence[str] = ()) -> CalibrationCurve:
    """Fit a new curve version by the method's calibration strategy and store it with its fit record
    (calibration.stored: what every result of the curve is computed from) and its acceptance outcome."""
    from calibration.curves import acceptance, detection_limits  # numpy: loaded when a curve is fitted
    from calibration.stored import stored_fit

    analyte = known_by_code(s, Analyte, analyte_code, field="analyte_code")
    usable_lots(s, material_lots)  # issue 15: the curve's standards must be in date (409 material.expired)
    strategy = calibration_strategy(s, batch.method_id)
    fit, strategy_detail = fit_by_strategy(strategy, CurvePoints(
        concentrations, responses, model, weight, is_responses, solvent_concentrations, solvent_responses,
        analysis_id, reference_retention_time_min, reference_ion_ratio, closing_concentrations, closing_responses),
        qc_limits(s, batch.method_id).ccv_max_drift_percent)
    acc = acceptance(fit)
    limits = detection_limits(fit)
    previous = s.execute(select(CalibrationCurve).where(
        CalibrationCurve.batch_id == batch.id, CalibrationCurve.analyte_id == analyte.id)
        .order_by(CalibrationCurve.version.desc())).scalars().first()
    curve = CalibrationCurve(
        batch_id=batch.id, method_id=batch.method_id, analyte_id=analyte.id,
        version=(previous.version + 1) if previous else 1, model=fit.model, weight=fit.weight,
        points=[[float(x), float(y)] for x, y in zip(concentrations, responses, strict=True)],
        params={k: float(v) for k, v in fit.params.items()}, residual_sd=float(fit.residual_sd),
        r2=_num(fit.r2), passed=bool(acc.passed), fit=stored_fit(fit), strategy=strategy.value,
        strategy_detail=strategy_detail or None,
        acceptance={"passed": bool(acc.passed), "checks": [
            {"name": c.name, "passed": bool(c.passed), "value": _num(c.value), "limit": _num(c.limit)} for c in acc.checks]},
        lod_curve_units=limits.detection_limit if limits else None,
        loq_curve_units=limits.quantification_limit if limits else None)
    s.add(curve)
    s.flush()
    if material_lots:
        use_lots(s, batch, material_lots, curve=curve)
    return curve


def next_result_version(s: Session, analysis_id: int) -> int:
    """Versions of an analysis's results count up across re-tests and amendments."""
    return latest_result_versions(s, [analysis_id]).get(analysis_id, 0) + 1


def latest_result_versions(s: Session, analysis_ids: list[int]) -> dict[int, int]:
    """The highest result version of each analysis (absent: no result yet), in one query."""
    if not analysis_ids:
        return {}
    rows = s.execute(select(Result.analysis_id, func.max(Result.version)).where(
        Result.analysis_id.in_(analysis_ids)).group_by(Result.analysis_id)).all()
    return {int(a): int(v) for a, v in rows}


def _num(v: object) -> float | None:
    if isinstance(v, (int, float)) and math.isfinite(float(v)):
        return float(v)
    return None


@dataclass(frozen=True)
class QuantifyAnalysis:
    """A confirmatory measurement to quantify: the analysis, the curve, the instrument response and the
    sample preparation (mass, extract volume, dilution, recovery); LOD/LOQ default to the method's."""

    analysis_id: int
    curve_id: int
    response: float
    sample_mass_g: float
    extract_volume_ml: float
    dilution_factor: float = 1.0
    recovery_percent: float | None = None
    analyst_id: int | None = None
    lod_mg_kg: float | None = None
    loq_mg_kg: float | None = None
    reading_id: int | None = None
    is_response: float | None = None  # internal standard: the sample's IS response
    bracketing_ccv_ids: tuple[int, ...] | None = None  # bracketing: the CCVs before and after the sample
    retention_time_min: float | None = None  # identification (default: the peak reading's)
    ion_ratio: float | None = None  # qualifier/quantifier (default: the peak reading's, if it has one)


def quantify(s: Session, cmd: QuantifyAnalysis) -> Result:
    """Response → extract concentration (mg/L) from the curve's stored fit by its calibration strategy →
    mg/kg in the sample → identification (MS methods) → uncertainty and decision."""
    analysis, curve = _analysis_and_curve(s, cmd.analysis_id, cmd.curve_id)
    refuse_second_result(s, [analysis.id])  # issue 11: corrections go through amendment only
    q = _quantitation(s, cmd, analysis, curve)
    analysis.sample_mass_g = cmd.sample_mass_g
    analysis.extract_volume_ml = cmd.extract_volume_ml
    analysis.dilution_factor = cmd.dilution_factor
    result = Result(analysis_id=analysis.id, version=next_result_version(s, analysis.id), source="calculated",
                    analyst_id=cmd.analyst_id, **q.fields)
    s.add(result)
    s.flush()
    _decide(s, result, q)
    transition(analysis, AnalysisStatus.TO_BE_REVIEWED)
    transition(analysis.sample, SampleStatus.TO_BE_REVIEWED)
    s.flush()
    return result


def requantify_draft(s: Session, draft: Result, cmd: QuantifyAnalysis) -> None:
    """An unsigned draft result recalculated in place from ``cmd`` (a re-integrated peak's area): the numbers,
    texts, U and decision :func:`quantify` would give a new result, written onto the draft; nothing else of
    the draft, its analysis or sample changes."""
    analysis, curve = _analysis_and_curve(s, cmd.analysis_id, cmd.curve_id)
    q = _quantitation(s, cmd, analysis, curve)
    for name, value in q.fields.items():
        setattr(draft, name, value)
    # what a new result has before its decision (quantify's Result starts from the columns' defaults)
    draft.expanded_uncertainty = draft.coverage_factor = draft.limit_id = None
    draft.decision_rule = ""
    _decide(s, draft, q)


@dataclass(frozen=True)
class _Quantitation:
    """What quantify computes: the result's columns (``fields``), and whether its peak is identified and the
    analyte detected (the decision's inputs)."""

    fields: dict[str, object]
    identified: bool
    detected: bool


def _quantitation(s: Session, cmd: QuantifyAnalysis, analysis: Analysis, curve: CalibrationCurve) -> _Quantitation:
    limits = qc_limits(s, analysis.method_id)
    details: dict[str, object] = {"response": cmd.response, "curve_id": curve.id, "curve_version": curve.version,
                                  "sample_mass_g": cmd.sample_mass_g, "extract_volume_ml": cmd.extract_volume_ml,
                                  "dilution_factor": cmd.dilution_factor, "recovery_percent": cmd.recovery_percent}
    x_extract = extract_mg_l(s, curve, Injection(analysis.id, cmd.response, cmd.is_response, cmd.bracketing_ccv_ids),
                             limits, details)
    mg_kg = sample_concentration_mg_kg(x_extract, cmd.extract_volume_ml, cmd.sample_mass_g, cmd.dilution_factor,
                                       cmd.recovery_percent)
    lod = cmd.lod_mg_kg if cmd.lod_mg_kg is not None else analysis.method.lod_mg_kg
    loq = cmd.loq_mg_kg if cmd.loq_mg_kg is not None else analysis.method.loq_mg_kg
    reported = report_value(mg_kg, lod, loq)
    text = {"ND": f"未检出（<{lod:g}）" if lod is not None else "未检出",
            "<LOQ": f"<{loq:g}（定量限）" if loq is not None else "<LOQ"}.get(reported.qualifier, reported.text)
    details["mg_kg_unrounded"] = mg_kg
    detected = reported.qualifier != "ND"
    identified = _identification(s, cmd, limits, curve, analysis, details, detected=detected)
    value = float(reported.value) if reported.value is not None else None
    return _Quantitation({"value": value, "value_text": text, "unit": "mg/kg", "lod": lod, "loq": loq,
                          "curve_id": curve.id, "details": details, "reading_id": cmd.reading_id},
                         identified, detected)


def _decide(s: Session, result: Result, q: _Quantitation) -> None:
    """U and the limit decision of an identified result; an unidentified peak gets neither."""
    if q.identified:
        decide_result(s, result, value_mg_kg=result.value, detected=q.detected, decision_limit_mg_kg=result.lod)
    else:  # a peak that is not identified is no detection and no conformity decision: approval refuses it
        result.verdict = Verdict.NOT_EVALUATED
        result.details = {**(result.details or {}), "decision": {
            "statement_zh": "确证鉴定条件（保留时间、离子丰度比）未满足，不能报告为检出，需复测",
            "statement_en": "identification criteria (retention time, ion ratio) not met: cannot be reported "
                            "as detected; re-test", "limit_mg_kg": None}}


def _identification(s: Session, cmd: QuantifyAnalysis, limits: QcLimits, curve: CalibrationCurve,
                    analysis: Analysis, details: dict[str, object], *, detected: bool) -> bool:
    """Check identity (RT, ion ratio) of a detected peak by the method's rule; the record goes into
    ``details``. False: not identified (no decision, approval refused)."""
    rt, ratio = cmd.retention_time_min, cmd.ion_ratio
    if cmd.reading_id is not None:
        reading = s.get(Reading, cmd.reading_id)
        fields = reading.fields if reading is not None and isinstance(reading.fields, dict) else {}
        rt = rt if rt is not None else _num(fields.get("retention_time_min"))
        ratio = ratio if ratio is not None else _num(fields.get("ion_ratio"))
    ident = identification_of(limits, curve, analysis, rt, ratio) if detected else None
    if ident is None:
        return True
    details["identification"] = identification_record(ident)
    return ident.identified


def _analysis_and_curve(s: Session, analysis_id: int, curve_id: int) -> tuple[Analysis, CalibrationCurve]:
    """The analysis and the accepted curve of its analyte to quantify it by."""
    analysis = s.get(Analysis, analysis_id)
    if analysis is None:
        raise NotFound(f"analysis {analysis_id} does not exist", field="analysis_id")
    curve = s.get(CalibrationCurve, curve_id)
    if curve is None:
        raise NotFound(f"curve {curve_id} does not exist", field="curve_id")
    if curve.analyte_id != analysis.analyte_id:
        raise InvalidInput("the curve is for another analyte", field="curve_id")
    if not curve.passed:
        raise Conflict(f"curve {curve_id} failed its acceptance criteria; recalibrate", field="curve_id")
    return analysis, curve


def add_qc(s: Session, batch_code: str, *, kind: str, analyte_code: str | None = None,
           nominal_value: float | None = None, measured_value: float | None = None,
           second_value: float | None = None, reporting_limit: float | None = None) -> QcSample:
    """Record a QC sample and judge it at once by the batch method's QC limits (method_qc; without a row the
    SANTE/11312/2021 routine defaults: recovery 60–140 %, CCV drift ≤ 20 %, blank ≤ 30 % of the reporting
    limit, duplicate RPD ≤ 20 %, reference material within ±20 %). The limits applied are named in the detail."""
    if kind not in QC_KINDS:
        raise InvalidInput(f"unknown QC kind {kind!r}; one of {', '.join(QC_KINDS)}", field="kind")
    batch = get_by_code(s, Batch, batch_code, field="batch_code")
    analyte = None
    if analyte_code:
        analyte = known_by_code(s, Analyte, analyte_code, field="analyte_code")
    if measured_value is None:
        raise InvalidInput("a QC sample needs its measured value", field="measured_value",
                           code="batches.qc_value_missing")
    passed, metric, detail = _judge(kind, nominal_value, measured_value, second_value, reporting_limit,
                                    qc_limits(s, batch.method_id))
    q = QcSample(batch_id=batch.id, kind=kind, analyte_id=analyte.id if analyte else None,
                 nominal_value=nominal_value, measured_value=measured_value, second_value=second_value,
                 outcome=QcMark.PASS if passed else QcMark.FAIL, metric=metric, detail=detail)
    s.add(q)
    s.flush()
    return q


def _judge(kind: str, nominal: float | None, measured: float, second: float | None,
           reporting_limit: float | None, lim: QcLimits) -> tuple[bool, float | None, str]:
    if kind in ("reagent_blank", "matrix_blank"):
        if reporting_limit is None:
            raise InvalidInput("a blank is judged against the reporting limit", field="reporting_limit",
                               code="batches.qc_value_missing")
        bad = qcm.blank_contaminated(measured, reporting_limit, lim.blank_max_fraction_of_rl)
        return not bad, measured, (f"blank {measured:g} vs {lim.blank_max_fraction_of_rl * 100:g} % of reporting "
                                   f"limit {reporting_limit:g}")
    if kind == "duplicate":
        if second is None:
            raise InvalidInput("a duplicate needs its second value", field="second_value",
                               code="batches.qc_value_missing")
        rpd = qcm.relative_percent_difference(measured, second)
        return rpd <= lim.duplicate_max_rpd_percent, rpd, f"RPD {rpd:.1f} % (≤ {lim.duplicate_max_rpd_percent:g} %)"
    if nominal is None:
        raise InvalidInput(f"{kind} needs its nominal value", field="nominal_value", code="batches.qc_value_missing")
    if kind == "spike":
        rec = qcm.recovery_percent(measured, nominal)
        lo, hi = lim.recovery_range
        return qcm.recovery_ok(rec, lim.recovery_range), rec, f"recovery {rec:.1f} % ({lo:g}–{hi:g} %)"
    drift = (measured - nominal) / nominal * 100.0
    if kind == "ccv":
        return (qcm.ccv_drift_ok(drift, lim.ccv_max_drift_percent), drift,
                f"CCV drift {drift:+.1f} % (|drift| ≤ {lim.ccv_max_drift_percent:g} %)")
    return (abs(drift) <= lim.reference_max_bias_percent, drift,
            f"reference material bias {drift:+.1f} % (≤ ±{lim.reference_max_bias_percent:g} %)")


def evaluate_batch_qc(s: Session, batch_code: str) -> QcOutcome:
    """Close the batch's QC: any failure holds every result of the batch (qc_failed)."""
    batch = get_by_code(s, Batch, batch_code, field="batch_code")
    qcs = s.execute(select(QcSample).where(QcSample.batch_id == batch.id).order_by(QcSample.id)).scalars().all()
    if not qcs:
        raise Conflict(f"batch {batch_code} has no QC samples", field="batch_code")
    failures = tuple(f"{q.kind}: {q.detail}" for q in qcs if q.outcome == QcMark.FAIL)
    was_failed = batch.status == BatchStatus.QC_FAILED
    transition(batch, BatchStatus.QC_FAILED if failures else BatchStatus.QC_PASSED)
    batch.qc_summary = "; ".join(failures) if failures else f"{len(qcs)} QC samples passed"
    if failures and not was_failed:  # issue 15: a failed batch QC opens a nonconformity (ISO/IEC 17025 7.10)
        from lims.quality.nonconformity import raise_nc

        raise_nc(s, source="qc", risk="high", raised_by=str(s.info.get("actor") or "system"), source_ref=batch.code,
                 description=f"批次 {batch.code} 质控不通过，结果暂停：{batch.qc_summary}",
                 links=[("batch", batch.code)])
    s.flush()
    return QcOutcome(not failures, failures)


def batch_held(s: Session, analysis: Analysis) -> str | None:
    """Why the analysis's batch holds its results, or None."""
    if analysis.batch_id is None:
        return None
    batch = s.get(Batch, analysis.batch_id)
    if batch is None or batch.status == BatchStatus.QC_PASSED:
        return None
    if batch.status == BatchStatus.QC_FAILED:
        return f"batch {batch.code} failed QC: {batch.qc_summary}"
    if batch.status == "open" and analysis.kind == "confirmatory":
        return f"batch {batch.code} QC not yet evaluated"
    return None


def enter_manual_result(s: Session, *, analysis_id: int, value_text: str, value: float | None, unit: str,
                        reason: str, analyst_id: int) -> Result:
    """Manual entry is the exception: a reason is required and the entry is audited."""
    if len(reason.strip()) < 5:
        raise InvalidInput("manual entry needs a reason (at least 5 characters)", field="reason",
                           code="result.manual_reason_required")
    analysis = s.get(Analysis, analysis_id)
    if analysis is None:
        raise NotFound(f"analysis {analysis_id} does not exist", field="analysis_id")
    if value is not None and (not math.isfinite(value) or value < 0):
        raise InvalidInput("value must be a finite number ≥ 0", field="value", code="bench.bad_number")
    if not value_text.strip():
        raise InvalidInput("value_text is required", field="value_text", code="result.value_text_required")
    refuse_second_result(s, [analysis_id])  # issue 11: corrections go through amendment only
    if analysis.kind == AnalysisKind.CONFIRMATORY and analysis.batch_id is None:  # issue 11: never without QC
        raise Conflict(f"analysis {analysis_id} is confirmatory: its result needs its batch QC; put it in a batch "
                       "first", field="analysis_id", code="result.needs_batch_qc")
    result = Result(analysis_id=analysis.id, version=next_result_version(s, analysis_id), value=value, value_text=value_text, unit=unit,
                    source="manual", manual_reason=reason, analyst_id=analyst_id)
    s.add(result)
    s.flush()
    if unit == "mg/kg" and analysis.kind == "confirmatory":
        decide_result(s, result, value_mg_kg=value, detected=value is not None, decision_limit_mg_kg=analysis.method.lod_mg_kg)
    transition(analysis, AnalysisStatus.TO_BE_REVIEWED)
    sample = s.get(Sample, analysis.sample_id)
    assert sample is not None
    transition(sample, SampleStatus.TO_BE_REVIEWED)
    s.flush()
    return result
