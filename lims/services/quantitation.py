"""Calibration strategies in batch quantitation, from the stored curve record (never a new fit).

A method declares its strategy (``method_qc.calibration_strategy``, :class:`lims.vocabulary.CalibrationStrategy`);
the curve is made by it and records it (``calibration_curve.strategy`` / ``strategy_detail``), and the
result is computed from the curve's stored fit (:mod:`calibration.stored`) by the same strategy:

- external standard — the response is inverted on the curve;
- internal standard — the curve is the response ratio analyte/IS; the sample's own ratio is inverted;
- matrix-matched — the curve is made in blank matrix extract; ME % = (b_matrix/b_solvent − 1)·100 against
  a solvent curve is recorded on the curve and on every result (SANTE/11312/2021 v2);
- bracketing — the sample is quantified only between two passing CCVs of the batch (opening and closing
  bracket, drift within the method's CCV limit, EPA SW-846 8000D §11.7), or, when the curve was made from an
  opening and a closing calibration set, from their combined fit if the closing set's drift is within it;
- standard addition — the curve belongs to one sample's extract; the concentration is its x-intercept
  (Miller & Miller §5.9).

Identification (LC-MS/MS, GC-MS): the method's rule (SANTE or GB 23200) checks the peak's retention time and
ion ratio against the references recorded with the curve's standards (:func:`calibration.qc.identify`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from calibration.errors import CalibrationError
from calibration.qc import CCV_MAX_DRIFT_PERCENT, Identification, QcLimits, identify
from lims.db.models import Analysis, CalibrationCurve, QcSample, Result
from lims.services.errors import Conflict, InvalidInput
from lims.vocabulary import CalibrationStrategy, QcKind, QcOutcome

if TYPE_CHECKING:  # the fitting modules (numpy) load when a curve is fitted or used, not with the web app
    from calibration.curves import CurveFit

Strategy = CalibrationStrategy


@dataclass(frozen=True)
class CurvePoints:
    """The standards of a curve and what its strategy needs besides them."""

    concentrations: list[float]
    responses: list[float]
    model: str = "linear"
    weight: str = "none"
    is_responses: list[float] | None = None  # internal standard: the IS response in each standard
    solvent_concentrations: list[float] | None = None  # matrix-matched: the solvent curve for ME %
    solvent_responses: list[float] | None = None
    analysis_id: int | None = None  # standard addition: the sample whose extract was spiked
    reference_retention_time_min: float | None = None  # identification references from the standards
    reference_ion_ratio: float | None = None
    closing_concentrations: list[float] | None = None  # bracketing: the calibration set after the samples
    closing_responses: list[float] | None = None


def fit_by_strategy(strategy: Strategy, pts: CurvePoints,
                    ccv_max_drift_percent: float = CCV_MAX_DRIFT_PERCENT) -> tuple[CurveFit, dict[str, Any]]:
    """The curve's fit and the strategy's record (ME %, IS responses, the spiked sample, bracket drifts…)."""
    from calibration.curves import fit_curve

    detail: dict[str, Any] = {}
    for key, v in (("reference_rt_min", pts.reference_retention_time_min),
                   ("reference_ion_ratio", pts.reference_ion_ratio)):
        if v is not None:
            if not math.isfinite(v) or v <= 0:
                raise InvalidInput(f"{key} must be a number > 0", field=key)
            detail[key] = float(v)
    if strategy == Strategy.INTERNAL_STANDARD:
        fit = _internal_standard(pts, detail)
    elif strategy == Strategy.MATRIX_MATCHED:
        fit = _matrix_matched(pts, detail)
    elif strategy == Strategy.STANDARD_ADDITION:
        fit = _standard_addition_curve(pts, detail)
    elif strategy == Strategy.BRACKETING and (pts.closing_concentrations, pts.closing_responses) != (None, None):
        fit = _bracketing_sets(pts, ccv_max_drift_percent, detail)
    else:
        fit = fit_curve(pts.concentrations, pts.responses, model=pts.model, weight=pts.weight)
    return fit, detail


def _points(xs: tuple[float, ...], ys: tuple[float, ...]) -> list[list[float]]:
    return [[float(x), float(y)] for x, y in zip(xs, ys, strict=True)]


def _internal_standard(pts: CurvePoints, detail: dict[str, Any]) -> CurveFit:
    if pts.is_responses is None:
        raise InvalidInput("internal-standard calibration needs the IS response of every standard",
                           field="is_responses", code="batches.is_response_missing")
    from calibration.strategies import fit_internal_standard

    cal = fit_internal_standard(pts.concentrations, pts.responses, pts.is_responses, model=pts.model,
                                weight=pts.weight)
    detail.update(basis=cal.basis, is_responses=[float(v) for v in pts.is_responses],
                  analyte_responses=[float(v) for v in pts.responses])
    return cal.fit


def _matrix_matched(pts: CurvePoints, detail: dict[str, Any]) -> CurveFit:
    if pts.solvent_concentrations is None or pts.solvent_responses is None:
        raise InvalidInput("matrix-matched calibration records ME %: give the solvent standards too",
                           field="solvent_responses", code="batches.solvent_curve_missing")
    from calibration.strategies import matrix_effect

    me = matrix_effect(pts.solvent_concentrations, pts.solvent_responses, pts.concentrations, pts.responses,
                       model=pts.model, weight=pts.weight)
    detail.update(matrix_effect_percent=me.matrix_effect_percent, matrix_matched_required=me.matrix_matched_required,
                  solvent_slope=me.solvent.params["slope"], matrix_slope=me.matrix.params["slope"],
                  solvent_points=_points(me.solvent.concentrations, me.solvent.responses))
    return me.matrix


def _standard_addition_curve(pts: CurvePoints, detail: dict[str, Any]) -> CurveFit:
    if pts.analysis_id is None:
        raise InvalidInput("a standard-addition curve is made on one sample: name its analysis",
                           field="analysis_id", code="batches.standard_addition_sample")
    from calibration.curves import fit_curve
    from calibration.strategies import standard_addition_from_fit

    fit = fit_curve(pts.concentrations, pts.responses, model="linear")
    standard_addition_from_fit(fit)  # refuses a line that does not cross below zero
    detail["analysis_id"] = int(pts.analysis_id)
    return fit


def _bracketing_sets(pts: CurvePoints, drift_limit: float, detail: dict[str, Any]) -> CurveFit:
    if pts.closing_concentrations is None or pts.closing_responses is None:
        raise InvalidInput("a closing calibration set needs its concentrations and responses",
                           field="closing_responses")
    from calibration.strategies import bracketing_calibration

    bc = bracketing_calibration(pts.concentrations, pts.responses, pts.closing_concentrations,
                                pts.closing_responses, model=pts.model, weight=pts.weight,
                                max_drift_percent=drift_limit)
    detail.update(closing_points=_points(bc.after.concentrations, bc.after.responses),
                  drifts_percent=[[c, d] for c, d in bc.drifts_percent], max_drift_percent=bc.max_drift_percent,
                  drift_limit_percent=bc.limit_percent, bracket_passed=bc.passed)
    return bc.fit


@dataclass(frozen=True)
class Injection:
    """What the instrument gave for the sample: the response and what the strategy needs besides it."""

    analysis_id: int
    response: float
    is_response: float | None = None
    bracketing_ccv_ids: tuple[int, ...] | None = None


def stored_fit_of(curve: CalibrationCurve) -> CurveFit:
    """The curve's stored fit; a curve stored before fits were kept is refused, never re-fitted."""
    if curve.fit is None:
        raise Conflict(f"curve {curve.id} (version {curve.version}) has no stored fit: it was stored before fits "
                       "were kept with the curve; store the curve again (a new version) to quantify with it",
                       field="curve_id", code="batches.curve_fit_missing")
    from calibration.stored import from_stored

    try:
        return from_stored(curve.fit)
    except CalibrationError as exc:
        raise Conflict(f"curve {curve.id}: its stored fit cannot be read ({exc})", field="curve_id",
                       code="batches.curve_fit_missing") from None


def extract_mg_l(s: Session, curve: CalibrationCurve, inj: Injection, limits: QcLimits,
                 details: dict[str, Any]) -> float:
    """The extract's concentration (curve units) by the curve's strategy; the trail goes into ``details``."""
    from calibration.stored import fit_digest

    fit = stored_fit_of(curve)
    strategy = Strategy(curve.strategy)
    record: dict[str, Any] = curve.strategy_detail or {}
    details.update(strategy=strategy.value, curve_fit_sha256=fit_digest(curve.fit or {}))
    if strategy == Strategy.STANDARD_ADDITION:
        return _standard_addition(fit, record, inj.analysis_id, details)
    y = inj.response
    if strategy == Strategy.INTERNAL_STANDARD:
        if inj.is_response is None or not math.isfinite(inj.is_response) or inj.is_response <= 0:
            raise InvalidInput("internal-standard calibration needs the sample's IS response > 0",
                               field="is_response", code="batches.is_response_missing")
        y = inj.response / inj.is_response
        details.update(is_response=inj.is_response, response_ratio=y)
    elif strategy == Strategy.MATRIX_MATCHED:
        details["matrix_effect_percent"] = record.get("matrix_effect_percent")
    elif strategy == Strategy.BRACKETING and "bracket_passed" in record:  # bracketed by calibration sets
        if not record["bracket_passed"]:
            raise Conflict(f"the closing calibration set drifted {record['max_drift_percent']:.1f} % (allowed "
                           f"±{record['drift_limit_percent']:g} %): the samples between the sets are re-injected",
                           field="curve_id", code="batches.bracketing_ccv_failed")
        details["bracketing_sets"] = {"max_drift_percent": record["max_drift_percent"]}
    elif strategy == Strategy.BRACKETING:
        details["bracketing_ccvs"] = _bracketing_ccvs(s, curve, inj.bracketing_ccv_ids, limits)
    return _invert(fit, y, details)


def _invert(fit: CurveFit, y: float, details: dict[str, Any]) -> float:
    from calibration.curves import inverse_predict

    pred = inverse_predict(fit, y)
    if pred.out_of_range == "above_highest_level":
        raise Conflict(f"response {y} is above the highest calibration level: dilute the extract and "
                       "re-inject (no extrapolation)", field="response")
    if pred.concentration is None:
        details["note"] = pred.note or pred.out_of_range
        return 0.0  # below the lowest level / not invertible → reported against LOD/LOQ
    x_extract = max(pred.concentration, 0.0)
    details["extract_mg_l"] = x_extract
    details["extract_ci"] = [pred.ci_low, pred.ci_high]
    return x_extract


def _standard_addition(fit: CurveFit, record: dict[str, Any], analysis_id: int, details: dict[str, Any]) -> float:
    if record.get("analysis_id") != analysis_id:
        raise InvalidInput("this standard-addition curve was made on another sample's extract",
                           field="curve_id", code="batches.standard_addition_sample")
    from calibration.strategies import standard_addition_from_fit

    sa = standard_addition_from_fit(fit)
    details.update(extract_mg_l=sa.concentration, extract_ci=[sa.ci_low, sa.ci_high],
                   standard_addition={"x_intercept": sa.concentration, "stderr": sa.stderr, "dof": sa.dof})
    return sa.concentration


def _bracketing_ccvs(s: Session, curve: CalibrationCurve, ids: tuple[int, ...] | None,
                     limits: QcLimits) -> list[dict[str, Any]]:
    """The opening and closing CCVs around the sample: both of this batch and analyte, both passed."""
    if ids is None or len(set(ids)) != 2:
        raise InvalidInput("bracketing calibration quantifies between two CCVs: name the one injected before "
                           "and the one after the sample", field="bracketing_ccv_ids",
                           code="batches.bracketing_ccv_missing")
    out = []
    for qid in ids:
        q = s.get(QcSample, qid)
        if q is None or q.batch_id != curve.batch_id or q.kind != QcKind.CCV or q.analyte_id not in (None, curve.analyte_id):
            raise InvalidInput(f"QC sample {qid} is not a CCV of this batch and analyte", field="bracketing_ccv_ids",
                               code="batches.bracketing_ccv_missing")
        drift = q.metric
        if q.outcome != QcOutcome.PASS or drift is None or abs(drift) > limits.ccv_max_drift_percent:
            shown = "?" if drift is None else f"{drift:+.1f}"
            raise Conflict(f"bracketing CCV {qid} drifted {shown} % (allowed ±{limits.ccv_max_drift_percent:g} %): "
                           "the samples between the brackets are re-injected", field="bracketing_ccv_ids",
                           code="batches.bracketing_ccv_failed")
        out.append({"qc_sample_id": qid, "drift_percent": drift})
    return out


def identification_of(limits: QcLimits, curve: CalibrationCurve, analysis: Analysis, rt_min: float | None,
                      ion_ratio: float | None) -> Identification | None:
    """The identity check of a confirmatory result (None: the method's rule is ``none``)."""
    if limits.identification == "none" or analysis.kind != "confirmatory":
        return None
    ref = curve.strategy_detail or {}
    return identify(limits.identification, rt_min, ref.get("reference_rt_min"), ion_ratio,
                    ref.get("reference_ion_ratio"), limits)


def identification_record(ident: Identification) -> dict[str, Any]:
    return {**asdict(ident), "reasons": list(ident.reasons)}


def not_identified(result: Result) -> bool:
    """True when the result's peak failed its identification check (approval refuses it)."""
    ident = (result.details or {}).get("identification")
    return isinstance(ident, dict) and ident.get("identified") is False
