"""Calibration strategies built on :mod:`calibration.curves`.

- Internal standard: the curve is the response ratio analyte/IS against the concentration (or the
  concentration ratio analyte/IS); a sample is quantified from its own ratio.
- Matrix-matched: a solvent curve and a matrix-matched curve; ME % = (b_matrix/b_solvent − 1)·100
  (SANTE/11312/2021 v2); with |ME| above the threshold (conventionally 20 %) the matrix-matched
  curve is the one to use.
- Standard addition: the sample concentration is the x-intercept a/b of the addition line; its
  standard deviation s_xE = (s_y/x / b)·√(1/n + ȳ²/(b²·Σ(x − x̄)²)) (Miller & Miller, Statistics
  and Chemometrics for Analytical Chemistry, §5.9; ISO 11843 uses the same propagation).
- Bracketing: calibration sets injected before and after the samples; the drift of the second set
  against the first (as for a continuing calibration verification, ≤ 20 %, EPA SW-846 8000D §11.7)
  decides whether the combined fit (or the mean of the bracketing responses) may be used.
- Single-point and two-point calibration (SANTE/11312/2021 v2, section C, calibration): a single
  level through the origin when the sample response is close to the standard's (``tolerance_percent``,
  30 % by default — configure it per method), two levels by interpolation only between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from calibration.curves import (
    CurveFit,
    FloatArray,
    Prediction,
    continuing_calibration_drift,
    fit_curve,
    inverse_predict,
)
from calibration.errors import CalibrationError
from calibration.qc import CCV_MAX_DRIFT_PERCENT, matrix_effect_percent

#: SANTE/11312/2021 v2 practice: a matrix effect beyond ±20 % calls for matrix-matched calibration.
MATRIX_EFFECT_THRESHOLD_PERCENT = 20.0
#: Default window of a single-point calibration: sample response within ±30 % of the standard's.
SINGLE_POINT_TOLERANCE_PERCENT = 30.0


# --------------------------------------------------------------------------- internal standard

@dataclass(frozen=True)
class InternalStandardCalibration:
    """Curve of response ratios (analyte/IS). ``basis`` is ``"concentration"`` (x = analyte
    concentration) or ``"concentration_ratio"`` (x = analyte/IS concentration)."""

    fit: CurveFit
    basis: str
    response_ratios: tuple[float, ...]


def _require_positive(values: np.ndarray, what: str, field: str) -> None:
    """Every value finite and > 0, else an error naming the first bad point."""
    bad = np.flatnonzero(~np.isfinite(values) | (values <= 0))
    if bad.size:
        i = int(bad[0])
        raise CalibrationError(f"{what} must be > 0 (got {values[i]:g})", point=i, field=field)


def response_ratios(analyte_responses: FloatArray, is_responses: FloatArray) -> np.ndarray:
    """Analyte/IS response ratios; an IS response ≤ 0 or non-finite is an error naming the point."""
    a = np.asarray(analyte_responses, dtype=float).ravel()
    s = np.asarray(is_responses, dtype=float).ravel()
    if a.shape != s.shape:
        raise CalibrationError(f"{a.size} analyte responses but {s.size} internal-standard responses")
    _require_positive(s, "internal-standard response", "is_response")
    return np.asarray(a / s, dtype=float)


def fit_internal_standard(concentrations: FloatArray, analyte_responses: FloatArray,
                          is_responses: FloatArray, *, is_concentrations: FloatArray | None = None,
                          model: str = "linear", weight: str = "none") -> InternalStandardCalibration:
    """Fit response ratio (analyte/IS) against concentration, or against the concentration ratio
    when ``is_concentrations`` (the IS concentration in each standard) is given."""
    ratios = response_ratios(analyte_responses, is_responses)
    x = np.asarray(concentrations, dtype=float).ravel()
    basis = "concentration"
    if is_concentrations is not None:
        c_is = np.asarray(is_concentrations, dtype=float).ravel()
        if c_is.shape != x.shape:
            raise CalibrationError(f"{x.size} concentrations but {c_is.size} internal-standard concentrations")
        _require_positive(c_is, "internal-standard concentration", "is_concentration")
        x = x / c_is
        basis = "concentration_ratio"
    fit = fit_curve(x, ratios, model=model, weight=weight)
    return InternalStandardCalibration(fit, basis, tuple(float(r) for r in ratios))


def predict_internal_standard(cal: InternalStandardCalibration, analyte_response: float, is_response: float, *,
                              is_concentration: float | None = None, replicates: int = 1,
                              alpha: float = 0.05) -> Prediction:
    """Concentration of a sample from its analyte and IS responses.

    For a ``concentration_ratio`` curve the IS concentration in the sample must be given; the
    predicted ratio (and its interval) is multiplied by it. ``Prediction.response`` is the ratio.
    """
    ratio = float(response_ratios([analyte_response], [is_response])[0])
    pred = inverse_predict(cal.fit, ratio, replicates=replicates, alpha=alpha)
    if cal.basis == "concentration":
        return pred
    if is_concentration is None or not math.isfinite(is_concentration) or is_concentration <= 0:
        raise CalibrationError("a concentration-ratio curve needs the sample's internal-standard concentration > 0",
                               field="is_concentration")
    k = is_concentration

    def scale(v: float | None) -> float | None:
        return None if v is None else v * k

    return replace(pred, concentration=scale(pred.concentration), stderr=scale(pred.stderr),
                   ci_low=scale(pred.ci_low), ci_high=scale(pred.ci_high),
                   extrapolated_concentration=scale(pred.extrapolated_concentration))


# --------------------------------------------------------------------------- matrix-matched

@dataclass(frozen=True)
class MatrixEffect:
    """Solvent vs matrix-matched curves. ``slope_t``/``slope_p``: Welch-type t-test of the slope
    difference (b_m − b_s)/√(se_m² + se_s²) on n_m + n_s − 4 degrees of freedom."""

    solvent: CurveFit
    matrix: CurveFit
    matrix_effect_percent: float
    threshold_percent: float
    matrix_matched_required: bool
    slope_t: float
    slope_p: float


def matrix_effect(solvent_concentrations: FloatArray, solvent_responses: FloatArray,
                  matrix_concentrations: FloatArray, matrix_responses: FloatArray, *,
                  model: str = "linear", weight: str = "none",
                  threshold_percent: float = MATRIX_EFFECT_THRESHOLD_PERCENT) -> MatrixEffect:
    """Fit both curves and compute ME % = (b_matrix/b_solvent − 1)·100 (SANTE/11312/2021 v2)."""
    from scipy import stats

    if model not in ("linear", "linear-origin"):
        raise CalibrationError(f"matrix effect compares straight-line slopes (model is {model})")
    solvent = fit_curve(solvent_concentrations, solvent_responses, model=model, weight=weight)
    matrix = fit_curve(matrix_concentrations, matrix_responses, model=model, weight=weight)
    bs, bm = solvent.params["slope"], matrix.params["slope"]
    me = matrix_effect_percent(bm, bs)
    se = math.hypot(solvent.stderr["slope"], matrix.stderr["slope"])
    t = (bm - bs) / se if se > 0 else math.copysign(math.inf, bm - bs) if bm != bs else 0.0
    dof = solvent.dof + matrix.dof
    p = float(2.0 * stats.t.sf(abs(t), dof)) if math.isfinite(t) else 0.0
    return MatrixEffect(solvent, matrix, me, threshold_percent, bool(abs(me) > threshold_percent), float(t), p)


# --------------------------------------------------------------------------- standard addition

@dataclass(frozen=True)
class StandardAddition:
    """x-intercept of the addition line (in the units of the added concentration) with its
    standard deviation and two-sided (1 − α) interval on n − 2 degrees of freedom."""

    fit: CurveFit
    concentration: float
    stderr: float
    ci_low: float
    ci_high: float
    alpha: float
    dof: int


def standard_addition(added_concentrations: FloatArray, responses: FloatArray, *,
                      alpha: float = 0.05) -> StandardAddition:
    """Unweighted addition line y = a + b·x_added; x_E = a/b and
    s_xE = (s_y/x / b)·√(1/n + ȳ²/(b²·Σ(x − x̄)²)) (Miller & Miller §5.9)."""
    return standard_addition_from_fit(fit_curve(added_concentrations, responses, model="linear"), alpha=alpha)


def standard_addition_from_fit(fit: CurveFit, *, alpha: float = 0.05) -> StandardAddition:
    """The x-intercept and its interval from an addition line already fitted (or rebuilt from its stored
    record, :func:`calibration.stored.from_stored`): no new fit."""
    from scipy import stats

    if not 0.0 < alpha < 1.0:
        raise CalibrationError(f"alpha must be between 0 and 1 (got {alpha})")
    if fit.model != "linear" or fit.weight != "none":
        raise CalibrationError(f"standard addition needs an unweighted straight line (got {fit.model}, "
                               f"weight {fit.weight})", field="model")
    a, b = fit.params["intercept"], fit.params["slope"]
    if b <= 0:
        raise CalibrationError(f"standard-addition slope must be > 0 (got {b:g}): the additions do not raise "
                               "the response", field="response")
    if a <= 0:
        raise CalibrationError(f"standard-addition intercept must be > 0 (got {a:g}): no analyte response in "
                               "the unspiked sample", field="response")
    x = np.array(fit.concentrations)
    y = np.array(fit.responses)
    sxx = float(np.sum((x - x.mean()) ** 2))
    x_e = a / b
    s = fit.residual_sd / b * math.sqrt(1.0 / fit.n + float(y.mean()) ** 2 / (b * b * sxx))
    t = float(stats.t.ppf(1.0 - alpha / 2.0, fit.dof))
    return StandardAddition(fit, x_e, s, x_e - t * s, x_e + t * s, alpha, fit.dof)


# --------------------------------------------------------------------------- bracketing

@dataclass(frozen=True)
class BracketingCalibration:
    """Two calibration sets around the samples. ``fit`` is the curve to quantify with (the combined
    fit or the fit of the averaged responses); ``drifts_percent`` are the CCV-style drifts of the
    closing standards read on the opening curve."""

    before: CurveFit
    after: CurveFit
    fit: CurveFit
    mode: str
    drifts_percent: tuple[tuple[float, float], ...]
    max_drift_percent: float
    limit_percent: float
    passed: bool


def bracketing_calibration(before_concentrations: FloatArray, before_responses: FloatArray,
                           after_concentrations: FloatArray, after_responses: FloatArray, *,
                           model: str = "linear", weight: str = "none", mode: str = "combined",
                           max_drift_percent: float = CCV_MAX_DRIFT_PERCENT) -> BracketingCalibration:
    """Bracketing calibration: ``mode`` ``"combined"`` fits all points of both sets; ``"average"``
    fits the mean of the two responses at each level (the levels of both sets must match).
    ``passed`` is False when any closing standard drifts more than ``max_drift_percent``."""
    if mode not in ("combined", "average"):
        raise CalibrationError(f"unknown bracketing mode {mode!r} (combined | average)")
    before = fit_curve(before_concentrations, before_responses, model=model, weight=weight)
    after = fit_curve(after_concentrations, after_responses, model=model, weight=weight)
    drifts: list[tuple[float, float]] = []
    for c, r in zip(after.concentrations, after.responses, strict=True):
        if c > 0:
            drifts.append((c, float(continuing_calibration_drift(before, c, r))))
    if not drifts:
        raise CalibrationError("the closing calibration set has no level above zero to check drift",
                               field="concentration")
    worst = float(max(abs(d) for _, d in drifts))
    if mode == "combined":
        fit = fit_curve(before.concentrations + after.concentrations, before.responses + after.responses,
                        model=model, weight=weight)
    else:
        xb, xa = np.array(before.concentrations), np.array(after.concentrations)
        if xb.shape != xa.shape or not np.array_equal(np.sort(xb), np.sort(xa)):
            raise CalibrationError("averaging bracketing responses needs the same levels in both sets",
                                   field="concentration")
        ob, oa = np.argsort(xb, kind="stable"), np.argsort(xa, kind="stable")
        yb, ya = np.array(before.responses)[ob], np.array(after.responses)[oa]
        fit = fit_curve(xb[ob], 0.5 * (yb + ya), model=model, weight=weight)
    return BracketingCalibration(before, after, fit, mode, tuple(drifts), worst, max_drift_percent,
                                 bool(worst <= max_drift_percent))


# --------------------------------------------------------------------------- single/two point

@dataclass(frozen=True)
class PointCalibration:
    """Result of a single- or two-point calibration. ``concentration`` is None when the rule does
    not allow it (``note`` says why; ``unchecked_concentration`` is the number it would have been)."""

    method: str
    concentration: float | None
    allowed: bool
    deviation_percent: float | None
    unchecked_concentration: float
    note: str | None = None


def single_point_concentration(standard_concentration: float, standard_response: float, sample_response: float,
                               *, tolerance_percent: float = SINGLE_POINT_TOLERANCE_PERCENT,
                               blank_response: float = 0.0) -> PointCalibration:
    """c = c_std·(R_sample − R_blank)/(R_std − R_blank), allowed only when the sample response lies
    within ±``tolerance_percent`` of the standard's (SANTE/11312/2021 v2, single-level calibration)."""
    for name, v in (("standard_concentration", standard_concentration), ("standard_response", standard_response),
                    ("sample_response", sample_response), ("blank_response", blank_response)):
        if not math.isfinite(v):
            raise CalibrationError(f"{name} is not a finite number", field=name)
    if standard_concentration <= 0:
        raise CalibrationError(f"standard concentration must be > 0 (got {standard_concentration:g})",
                               field="standard_concentration")
    net_std = standard_response - blank_response
    if net_std <= 0:
        raise CalibrationError("standard response must exceed the blank response", field="standard_response")
    net = sample_response - blank_response
    c = standard_concentration * net / net_std
    dev = 100.0 * (net / net_std - 1.0)
    if abs(dev) <= tolerance_percent + 1e-9:
        return PointCalibration("single-point", c, True, dev, c)
    return PointCalibration("single-point", None, False, dev, c,
                            f"sample response {dev:+.1f} % from the standard's (allowed ±{tolerance_percent:g} %): "
                            "inject a standard closer to the sample or use a multi-level curve")


def two_point_concentration(low_concentration: float, low_response: float, high_concentration: float,
                            high_response: float, sample_response: float) -> PointCalibration:
    """Linear interpolation between two bracketing standards; a response outside [R_low, R_high]
    is not extrapolated (``deviation_percent`` is then the distance beyond the nearer level)."""
    vals = (low_concentration, low_response, high_concentration, high_response, sample_response)
    if not all(math.isfinite(v) for v in vals):
        raise CalibrationError("two-point calibration values must be finite numbers")
    if not 0 <= low_concentration < high_concentration:
        raise CalibrationError(f"need 0 ≤ low < high concentration (got {low_concentration:g}, "
                               f"{high_concentration:g})", field="concentration")
    if high_response <= low_response:
        raise CalibrationError("the high standard's response must exceed the low standard's", field="response")
    slope = (high_response - low_response) / (high_concentration - low_concentration)
    c = low_concentration + (sample_response - low_response) / slope
    if low_response <= sample_response <= high_response:
        return PointCalibration("two-point", c, True, None, c)
    if sample_response > high_response:
        dev: float | None = 100.0 * (sample_response / high_response - 1.0)
        note = "response above the high standard: dilute the extract and re-inject"
    else:
        dev = 100.0 * (sample_response / low_response - 1.0) if low_response > 0 else None
        note = "response below the low standard: report as below the lowest level"
    return PointCalibration("two-point", None, False, dev, c, note)
