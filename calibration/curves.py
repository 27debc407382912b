"""Standard curves: fitting, inverse prediction with intervals, limits and acceptance.

Models and their parameter names: :mod:`calibration.models` (one class per model family).

Weights ``none``, ``1/x``, ``1/x2``, ``1/y``, ``1/y2`` multiply each squared residual.

Inverse prediction uses the delta method: for a mean ȳ0 of m readings,
var(x̂) = [σ²/(w0·m) + gᵀ·Cov(θ)·g] / (∂f/∂x)², with g = ∂f/∂θ at x̂. For the unweighted
straight line this is exactly ISO 8466-1 / DIN 32645:
s(x̂) = (s_y/b)·√(1/m + 1/n + (ȳ0 − ȳ)²/(b²·Sxx)); the interval is x̂ ± t(1 − α/2, n − p)·s(x̂).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from calibration.errors import CalibrationError
from calibration.models import CURVE_MODELS, DEFAULT_MIN_LEVELS, CurveModel, curve_model

#: Points may be given as any sequence of numbers or a 1-D numpy array.
FloatArray = Sequence[float] | np.ndarray

MODELS: tuple[str, ...] = tuple(CURVE_MODELS)
WEIGHTS = ("none", "1/x", "1/x2", "1/y", "1/y2")
PARAM_NAMES: dict[str, tuple[str, ...]] = {name: m.param_names for name, m in CURVE_MODELS.items()}
#: EPA SW-846 8000D §11.5: at least five levels, six for a quadratic (second-order) curve.
MIN_LEVELS = {name: m.min_levels for name, m in CURVE_MODELS.items() if m.min_levels != DEFAULT_MIN_LEVELS}
#: SANTE/11312/2021 v2 C.8 (back-calculated concentrations within ±20 %).
BACK_CALC_TOLERANCE_PERCENT = 20.0
#: EPA SW-846 8000D §11.5.3: linear r ≥ 0.995; §11.5.4: RSE ≤ 20 %; §11.5.2: RSD of RF ≤ 20 %.
MIN_CORRELATION = 0.995
MAX_RSE_PERCENT = 20.0
MAX_RF_RSD_PERCENT = 20.0


@dataclass(frozen=True)
class CurveFit:
    """A fitted standard curve. ``covariance`` is in the order of ``PARAM_NAMES[model]``."""

    model: str
    weight: str
    n: int
    params: dict[str, float]
    stderr: dict[str, float]
    rss: float
    residual_sd: float
    r2: float
    concentrations: tuple[float, ...]
    responses: tuple[float, ...]
    weights: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    dof: int
    converged: bool = True
    iterations: int = 0
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def curve_model(self) -> CurveModel:
        return curve_model(self.model)

    @property
    def theta(self) -> np.ndarray:
        return np.array([self.params[k] for k in self.curve_model.param_names], dtype=float)

    @property
    def levels(self) -> tuple[float, ...]:
        return tuple(sorted(set(self.concentrations)))

    def predict(self, concentration: float | np.ndarray) -> np.ndarray:
        """Response predicted at the given concentration(s)."""
        return self.curve_model.value(np.asarray(concentration, dtype=float), self.theta)


@dataclass(frozen=True)
class Prediction:
    """Inverse prediction of one mean response. ``concentration`` is None when the response is
    outside the calibrated range (``out_of_range`` says which side) — never a silent extrapolation."""

    response: float
    replicates: int
    concentration: float | None
    stderr: float | None
    ci_low: float | None
    ci_high: float | None
    alpha: float
    out_of_range: str | None = None
    extrapolated_concentration: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class DetectionLimits:
    """Decision limit (x_NG / x_C), detection limit (x_NWG / x_D) and LOQ (x_BG) in concentration units."""

    decision_limit: float
    detection_limit: float
    quantification_limit: float
    method: str


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    value: float | None
    limit: float | None
    rule: str


@dataclass(frozen=True)
class Acceptance:
    passed: bool
    checks: tuple[Check, ...]


# --------------------------------------------------------------------------- model algebra

def model_value(model: str, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """f(x; θ) for any supported model (θ in ``PARAM_NAMES`` order)."""
    return curve_model(model).value(x, theta)


def parameter_gradient(model: str, x: float, theta: np.ndarray) -> np.ndarray:
    """∂f/∂θ at one concentration (θ in ``PARAM_NAMES`` order)."""
    return curve_model(model).grad_theta(x, theta)


def weight_values(weight: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-point weights; raises CalibrationError naming the point that cannot be weighted."""
    if weight not in WEIGHTS:
        raise CalibrationError(f"unknown weight {weight!r} (expected one of {', '.join(WEIGHTS)})")
    if weight == "none":
        return np.ones_like(x)
    base, fieldname = (x, "concentration") if weight in ("1/x", "1/x2") else (y, "response")
    bad = np.flatnonzero(base <= 0)
    if bad.size:
        i = int(bad[0])
        raise CalibrationError(f"weight {weight} needs {fieldname} > 0 (got {base[i]:g})", point=i, field=fieldname)
    return 1.0 / base if weight in ("1/x", "1/y") else 1.0 / (base * base)


def _weight_at(weight: str, x: float, y: float, fit: CurveFit) -> float:
    """Weight of a new reading (the weighted variant of the ISO 8466-1 interval)."""
    if weight == "none":
        return 1.0
    if weight in ("1/x", "1/x2"):
        floor = min((c for c in fit.concentrations if c > 0), default=1.0)
        v = max(x, floor)
        return 1.0 / v if weight == "1/x" else 1.0 / (v * v)
    floor = min(r for r in fit.responses if r > 0)
    v = max(y, floor)
    return 1.0 / v if weight == "1/y" else 1.0 / (v * v)


# --------------------------------------------------------------------------- fitting

def _as_points(concentrations: FloatArray, responses: FloatArray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(concentrations, dtype=float).ravel()
    y = np.asarray(responses, dtype=float).ravel()
    if x.shape != y.shape:
        raise CalibrationError(f"{x.size} concentrations but {y.size} responses")
    for arr, name in ((x, "concentration"), (y, "response")):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise CalibrationError("not a finite number", point=int(bad[0]), field=name)
    neg = np.flatnonzero(x < 0)
    if neg.size:
        raise CalibrationError(f"negative concentration {x[neg[0]]:g}", point=int(neg[0]), field="concentration")
    return x, y


def fit_curve(concentrations: FloatArray, responses: FloatArray, model: str = "linear",
              weight: str = "none") -> CurveFit:
    """Fit a standard curve (see :mod:`calibration.models` for models, the module docstring for weights).

    Raises CalibrationError for too few points, non-finite values, negative concentrations,
    points that cannot be weighted (x = 0 with 1/x) and fits that do not converge.
    """
    family = curve_model(model)
    x, y = _as_points(concentrations, responses)
    w = weight_values(weight, x, y)
    names = family.param_names
    p = len(names)
    n = x.size
    if n <= p:
        raise CalibrationError(f"too few points for model {model}: n = {n}, needs at least {p + 1}",
                               field="concentration")
    sol = family.fit(x, y, w, weight)
    dof = n - p
    residual_sd = math.sqrt(sol.rss / dof)
    r2 = 1.0 - sol.rss / sol.tss if sol.tss > 0 else math.nan
    stderr = np.sqrt(np.maximum(np.diag(sol.covariance), 0.0))
    return CurveFit(
        model=model, weight=weight, n=n,
        params={k: float(v) for k, v in zip(names, sol.theta, strict=True)},
        stderr={k: float(v) for k, v in zip(names, stderr, strict=True)},
        rss=sol.rss, residual_sd=residual_sd, r2=r2,
        concentrations=tuple(float(v) for v in x), responses=tuple(float(v) for v in y),
        weights=tuple(float(v) for v in w),
        covariance=tuple(tuple(float(c) for c in row) for row in sol.covariance),
        dof=dof, converged=sol.converged, iterations=sol.iterations, extras=sol.extras,
    )


# --------------------------------------------------------------------------- inverse prediction

def invert(fit: CurveFit, response: float) -> float | None:
    """Concentration whose predicted response equals ``response`` (None if the curve never reaches it)."""
    return fit.curve_model.invert(fit.theta, response, fit.concentrations)


def inverse_predict(fit: CurveFit, response: float, replicates: int = 1, alpha: float = 0.05) -> Prediction:
    """Concentration for the mean of ``replicates`` readings with a two-sided (1 − α) interval.

    Linear: ISO 8466-1 / DIN 32645 (weighted variant with the weight of the new reading);
    nonlinear: delta method. A response outside the calibrated range gives ``concentration``
    None with ``out_of_range`` = ``above_highest_level`` (dilute and re-inject),
    ``below_lowest_level`` or ``not_invertible``.
    """
    from scipy import stats

    if replicates < 1:
        raise CalibrationError(f"replicates must be ≥ 1 (got {replicates})")
    if not 0.0 < alpha < 1.0:
        raise CalibrationError(f"alpha must be between 0 and 1 (got {alpha})")
    if not math.isfinite(response):
        raise CalibrationError("response is not a finite number", field="response")
    x_hat = invert(fit, response)
    lo, hi = min(fit.concentrations), max(fit.concentrations)
    resp_at = fit.predict(np.array([lo, hi]))
    increasing = bool(resp_at[1] >= resp_at[0])
    if x_hat is None or not math.isfinite(x_hat):
        above = (response > max(resp_at)) if increasing else (response < min(resp_at))
        side = "above_highest_level" if above else "not_invertible"
        note = ("response beyond the highest calibration level: dilute the extract and re-inject"
                if above else "response outside the range the curve can reach")
        return Prediction(response, replicates, None, None, None, None, alpha, side, None, note)
    se = _prediction_stderr(fit, x_hat, response, replicates)
    tval = float(stats.t.ppf(1.0 - alpha / 2.0, fit.dof))
    tol = 1e-9 * max(abs(hi), 1.0)
    if x_hat > hi + tol:
        return Prediction(response, replicates, None, None, None, None, alpha, "above_highest_level", x_hat,
                          f"above the highest calibration level ({hi:g}): dilute the extract and re-inject")
    if x_hat < lo - tol:
        return Prediction(response, replicates, None, None, None, None, alpha, "below_lowest_level", x_hat,
                          f"below the lowest calibration level ({lo:g}): report as < lowest level")
    return Prediction(response, replicates, x_hat, se, x_hat - tval * se, x_hat + tval * se, alpha)


def _prediction_stderr(fit: CurveFit, x_hat: float, response: float, replicates: int) -> float:
    th = fit.theta
    family = fit.curve_model
    cov = np.array(fit.covariance)
    g = family.grad_theta(x_hat, th)
    slope = family.dfdx(x_hat, th)
    if slope == 0 or not math.isfinite(slope):
        return math.inf
    w0 = _weight_at(fit.weight, x_hat, response, fit)
    var = fit.residual_sd ** 2 / (w0 * replicates) + float(g @ cov @ g)
    return math.sqrt(max(var, 0.0)) / abs(slope)


# --------------------------------------------------------------------------- limits

def detection_limits(fit: CurveFit, alpha: float = 0.05, k: float = 3.0, replicates: int = 1,
                     beta: float | None = None) -> DetectionLimits | None:
    """DIN 32645:2008 / ISO 11843-2 calibration method for an unweighted straight line.

    x_NG = s_x0·t(f, 1 − α)·√(1/m + 1/n + x̄²/Q_x) (decision limit, 'Nachweisgrenze');
    x_NWG = s_x0·(t(f, 1 − α) + t(f, 1 − β))·√(1/m + 1/n + x̄²/Q_x) (detection limit, = 2·x_NG for α = β);
    x_BG = k·s_x0·t(f, 1 − α/2)·√(1/m + 1/n + (x_BG − x̄)²/Q_x) (LOQ, solved by iteration),
    with s_x0 = s_y/b, f = n − 2. Returns None for other models and weighted lines.
    """
    from scipy import stats

    if fit.model != "linear" or fit.weight != "none":
        return None
    beta = alpha if beta is None else beta
    x = np.array(fit.concentrations)
    n = fit.n
    b = fit.params["slope"]
    sx0 = fit.residual_sd / abs(b)
    xbar = float(np.mean(x))
    qx = float(np.sum((x - xbar) ** 2))
    f = fit.dof
    t_a = float(stats.t.ppf(1 - alpha, f))
    t_b = float(stats.t.ppf(1 - beta, f))
    root = math.sqrt(1 / replicates + 1 / n + xbar * xbar / qx)
    x_ng = sx0 * t_a * root
    x_nwg = sx0 * (t_a + t_b) * root
    t2 = float(stats.t.ppf(1 - alpha / 2, f))
    x_bg = k * x_ng
    for _ in range(200):
        nxt = k * sx0 * t2 * math.sqrt(1 / replicates + 1 / n + (x_bg - xbar) ** 2 / qx)
        if abs(nxt - x_bg) <= 1e-14 * max(abs(nxt), 1e-300):
            x_bg = nxt
            break
        x_bg = nxt
    return DetectionLimits(x_ng, x_nwg, x_bg, "DIN 32645 calibration method")


def detection_limits_sd(fit: CurveFit, lod_factor: float = 3.3, loq_factor: float = 10.0) -> tuple[float, float]:
    """The 3.3σ/10σ estimates (ICH Q2): LOD = 3.3·s_y/b, LOQ = 10·s_y/b (straight lines only)."""
    if not fit.curve_model.straight_line:
        raise CalibrationError(f"the 3.3σ/10σ limits need a straight line (model is {fit.model})")
    b = fit.params.get("slope", fit.params.get("rf"))
    assert b is not None
    s = fit.residual_sd / abs(b)
    return lod_factor * s, loq_factor * s


# --------------------------------------------------------------------------- acceptance

def back_calculated_deviations(fit: CurveFit) -> list[tuple[float, float | None]]:
    """(nominal concentration, deviation %) per calibration point with concentration > 0."""
    out: list[tuple[float, float | None]] = []
    for xi, yi in zip(fit.concentrations, fit.responses, strict=True):
        if xi <= 0:
            continue
        xh = invert(fit, yi)
        out.append((xi, None if xh is None else 100.0 * (xh - xi) / xi))
    return out


def acceptance(fit: CurveFit, *, back_calc_tolerance_percent: float = BACK_CALC_TOLERANCE_PERCENT,
               min_levels: int | None = None, min_r: float = MIN_CORRELATION,
               max_rse_percent: float = MAX_RSE_PERCENT,
               max_rf_rsd_percent: float = MAX_RF_RSD_PERCENT) -> Acceptance:
    """SANTE/11312/2021 back-calculation (±20 % at every level), EPA 8000D number of levels
    (≥ 5; ≥ 6 quadratic) and linearity (r ≥ 0.995 or RSE ≤ 20 %; RSD of RF ≤ 20 % for avg-rf)."""
    checks: list[Check] = []
    devs = back_calculated_deviations(fit)
    worst = None
    ok_bc = bool(devs)
    for _, d in devs:
        if d is None:
            ok_bc = False
            continue
        worst = abs(d) if worst is None else max(worst, abs(d))
        ok_bc = ok_bc and abs(d) <= back_calc_tolerance_percent
    checks.append(Check("back_calculated_deviation_percent", ok_bc, worst, back_calc_tolerance_percent,
                        "SANTE/11312/2021: every back-calculated level within ±20 %"))
    need = min_levels if min_levels is not None else fit.curve_model.min_levels
    n_levels = len(fit.levels)
    checks.append(Check("levels", n_levels >= need, float(n_levels), float(need),
                        "EPA 8000D: at least 5 levels (6 for quadratic)"))
    rse = relative_standard_error(fit)
    rse_ok = rse is not None and rse <= max_rse_percent
    if fit.model == "avg-rf":
        rsd = fit.extras.get("rf_rsd_percent")
        rsd_ok = rsd is not None and rsd <= max_rf_rsd_percent
        checks.append(Check("rf_rsd_percent", rsd_ok, rsd, max_rf_rsd_percent,
                            "EPA 8000D: RSD of response factors ≤ 20 %"))
        fit_ok = rsd_ok
    else:
        r = math.sqrt(fit.r2) if fit.r2 >= 0 and math.isfinite(fit.r2) else None
        r_ok = r is not None and r >= min_r
        checks.append(Check("correlation_coefficient", r_ok, r, min_r, "EPA 8000D: r ≥ 0.995 (or RSE ≤ 20 %)"))
        checks.append(Check("relative_standard_error_percent", rse_ok, rse, max_rse_percent,
                            "EPA 8000D: RSE ≤ 20 % (or r ≥ 0.995)"))
        fit_ok = r_ok or rse_ok
    passed = ok_bc and n_levels >= need and fit_ok
    return Acceptance(passed, tuple(checks))


def relative_standard_error(fit: CurveFit) -> float | None:
    """EPA 8000D eq. (RSE) = 100·√(Σ((x'_i − x_i)/x_i)² / (n − p)) over points with x_i > 0."""
    devs = back_calculated_deviations(fit)
    if not devs or any(d is None for _, d in devs):
        return None
    p = len(fit.curve_model.param_names)
    dof = len(devs) - p
    if dof <= 0:
        return None
    return math.sqrt(sum((d / 100.0) ** 2 for _, d in devs if d is not None) / dof) * 100.0


def continuing_calibration_drift(fit: CurveFit, nominal: float, response: float) -> float:
    """CCV drift % = (found − nominal)/nominal × 100 (EPA 8000D §11.7: |drift| ≤ 20 %)."""
    if nominal <= 0:
        raise CalibrationError(f"CCV nominal concentration must be > 0 (got {nominal})")
    found = invert(fit, response)
    if found is None:
        raise CalibrationError("CCV response is outside the range the curve can reach")
    return 100.0 * (found - nominal) / nominal
