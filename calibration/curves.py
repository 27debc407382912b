"""Standard curves: fitting, inverse prediction with intervals, limits and acceptance.

Models (parameter names are part of the CLI contract, CONTRACTS.md):

- ``linear``: y = intercept + slope·x
- ``linear-origin``: y = slope·x
- ``quadratic``: y = intercept + slope·x + curvature·x²
- ``4pl``: y = bottom + (top − bottom) / (1 + (x/ec50)^hill)   (x = 0 gives top)
- ``5pl``: y = bottom + (top − bottom) / (1 + (x/ec50)^hill)^asymmetry
- ``avg-rf``: y = rf·x with rf the mean response factor (EPA SW-846 8000D §11.5.2)

Weights ``none``, ``1/x``, ``1/x2``, ``1/y``, ``1/y2`` multiply each squared residual.

Inverse prediction uses the delta method: for a mean ȳ0 of m readings,
var(x̂) = [σ²/(w0·m) + gᵀ·Cov(θ)·g] / (∂f/∂x)², with g = ∂f/∂θ at x̂. For the unweighted
straight line this is exactly ISO 8466-1 / DIN 32645:
s(x̂) = (s_y/b)·√(1/m + 1/n + (ȳ0 − ȳ)²/(b²·Sxx)); the interval is x̂ ± t(1 − α/2, n − p)·s(x̂).

Linear models are solved by QR on column-scaled weighted design matrices (no normal equations),
which reproduces the NIST StRD certified values (see tests/calibration).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, stats

from calibration.errors import CalibrationError
from calibration.logistic import fit_logistic_batch, logistic_grad_natural, logistic_value

#: Points may be given as any sequence of numbers or a 1-D numpy array.
FloatArray = Sequence[float] | np.ndarray

MODELS = ("linear", "linear-origin", "quadratic", "4pl", "5pl", "avg-rf")
WEIGHTS = ("none", "1/x", "1/x2", "1/y", "1/y2")
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "linear": ("intercept", "slope"),
    "linear-origin": ("slope",),
    "quadratic": ("intercept", "slope", "curvature"),
    "4pl": ("bottom", "top", "ec50", "hill"),
    "5pl": ("bottom", "top", "ec50", "hill", "asymmetry"),
    "avg-rf": ("rf",),
}
#: EPA SW-846 8000D §11.5: at least five levels, six for a quadratic (second-order) curve.
MIN_LEVELS = {"quadratic": 6}
DEFAULT_MIN_LEVELS = 5
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
    def theta(self) -> np.ndarray:
        return np.array([self.params[k] for k in PARAM_NAMES[self.model]], dtype=float)

    @property
    def levels(self) -> tuple[float, ...]:
        return tuple(sorted(set(self.concentrations)))

    def predict(self, concentration: float | np.ndarray) -> np.ndarray:
        """Response predicted at the given concentration(s)."""
        return model_value(self.model, np.asarray(concentration, dtype=float), self.theta)


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
    if model == "linear":
        return np.asarray(theta[0] + theta[1] * x, dtype=float)
    if model in ("linear-origin", "avg-rf"):
        return np.asarray(theta[0] * x, dtype=float)
    if model == "quadratic":
        return np.asarray(theta[0] + theta[1] * x + theta[2] * x * x, dtype=float)
    if model in ("4pl", "5pl"):
        return logistic_value(x, theta)
    raise CalibrationError(f"unknown model {model!r} (expected one of {', '.join(MODELS)})")


def _grad_theta(model: str, x: float, theta: np.ndarray) -> np.ndarray:
    if model == "linear":
        return np.array([1.0, x])
    if model in ("linear-origin", "avg-rf"):
        return np.array([x])
    if model == "quadratic":
        return np.array([1.0, x, x * x])
    g, _ = logistic_grad_natural(np.array([x]), theta)
    return np.asarray(g[0], dtype=float)


def parameter_gradient(model: str, x: float, theta: np.ndarray) -> np.ndarray:
    """∂f/∂θ at one concentration (θ in ``PARAM_NAMES`` order)."""
    return _grad_theta(model, x, theta)


def _dfdx(model: str, x: float, theta: np.ndarray) -> float:
    if model == "linear":
        return float(theta[1])
    if model in ("linear-origin", "avg-rf"):
        return float(theta[0])
    if model == "quadratic":
        return float(theta[1] + 2.0 * theta[2] * x)
    _, d = logistic_grad_natural(np.array([x]), theta)
    return float(d[0])


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


def _solve_linear(design: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted least squares by QR of the column-scaled design (returns β, (XᵀWX)⁻¹, rss)."""
    sw = np.sqrt(w)
    a = design * sw[:, None]
    scale = np.linalg.norm(a, axis=0)
    if np.any(scale == 0):
        raise CalibrationError("design matrix has an all-zero column (all concentrations are 0?)",
                               field="concentration")
    q, r = np.linalg.qr(a / scale)
    diag = np.abs(np.diag(r))
    if diag.min() <= 1e-13 * diag.max():
        raise CalibrationError("concentrations do not determine the curve (too few distinct levels)",
                               field="concentration")
    beta_s = linalg.solve_triangular(r, q.T @ (y * sw))
    beta = beta_s / scale
    resid = y - design @ beta
    rss = float(np.sum(w * resid * resid))
    rinv = linalg.solve_triangular(r, np.eye(r.shape[0]))
    xtwx_inv = (rinv @ rinv.T) / np.outer(scale, scale)
    return beta, xtwx_inv, rss


def fit_curve(concentrations: FloatArray, responses: FloatArray, model: str = "linear",
              weight: str = "none") -> CurveFit:
    """Fit a standard curve (see the module docstring for models and weights).

    Raises CalibrationError for too few points, non-finite values, negative concentrations,
    points that cannot be weighted (x = 0 with 1/x) and fits that do not converge.
    """
    if model not in MODELS:
        raise CalibrationError(f"unknown model {model!r} (expected one of {', '.join(MODELS)})")
    x, y = _as_points(concentrations, responses)
    w = weight_values(weight, x, y)
    names = PARAM_NAMES[model]
    p = len(names)
    n = x.size
    if n <= p:
        raise CalibrationError(f"too few points for model {model}: n = {n}, needs at least {p + 1}",
                               field="concentration")
    extras: dict[str, float] = {}
    converged, iterations = True, 0
    if model == "avg-rf":
        if weight != "none":
            raise CalibrationError("avg-rf is an unweighted mean of response factors (use --weight none)")
        zero = np.flatnonzero(x <= 0)
        if zero.size:
            raise CalibrationError("avg-rf needs concentration > 0 at every point", point=int(zero[0]),
                                   field="concentration")
        rfs = y / x
        rf = float(np.mean(rfs))
        sd_rf = float(np.std(rfs, ddof=1))
        theta = np.array([rf])
        cov = np.array([[sd_rf * sd_rf / n]])
        resid = y - rf * x
        rss = float(np.sum(resid * resid))
        extras["rf_rsd_percent"] = 100.0 * sd_rf / abs(rf) if rf != 0 else math.inf
        tss = float(np.sum(y * y))
    elif model in ("4pl", "5pl"):
        res = fit_logistic_batch(x[None, :], y[None, :], w[None, :], model=model)
        theta = res.params[0]
        converged, iterations = bool(res.converged[0]), int(res.iterations[0])
        if not np.all(np.isfinite(theta)):
            raise CalibrationError(f"{model} fit did not converge")
        rss = float(res.rss[0])
        g, _ = logistic_grad_natural(x, theta)
        jw = g * np.sqrt(w)[:, None]
        try:
            xtwx_inv = np.linalg.inv(jw.T @ jw)
        except np.linalg.LinAlgError:
            raise CalibrationError(f"{model} fit is singular: the data do not determine all parameters") from None
        cov = xtwx_inv * (rss / (n - p))
        tss = float(np.sum(w * (y - np.average(y, weights=w)) ** 2))
    else:
        if model == "linear":
            design = np.column_stack([np.ones(n), x])
        elif model == "linear-origin":
            design = x[:, None]
        else:
            design = np.column_stack([np.ones(n), x, x * x])
        theta, xtwx_inv, rss = _solve_linear(design, y, w)
        cov = xtwx_inv * (rss / (n - p))
        if model == "linear-origin":
            tss = float(np.sum(w * y * y))  # uncentred R² for a line through the origin (NIST StRD)
        else:
            tss = float(np.sum(w * (y - np.average(y, weights=w)) ** 2))
    dof = n - p
    residual_sd = math.sqrt(rss / dof)
    r2 = 1.0 - rss / tss if tss > 0 else math.nan
    stderr = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return CurveFit(
        model=model, weight=weight, n=n,
        params={k: float(v) for k, v in zip(names, theta, strict=True)},
        stderr={k: float(v) for k, v in zip(names, stderr, strict=True)},
        rss=rss, residual_sd=residual_sd, r2=r2,
        concentrations=tuple(float(v) for v in x), responses=tuple(float(v) for v in y),
        weights=tuple(float(v) for v in w),
        covariance=tuple(tuple(float(c) for c in row) for row in cov),
        dof=dof, converged=converged, iterations=iterations, extras=extras,
    )


# --------------------------------------------------------------------------- inverse prediction

def invert(fit: CurveFit, response: float) -> float | None:
    """Concentration whose predicted response equals ``response`` (None if the curve never reaches it)."""
    th = fit.theta
    m = fit.model
    if m == "linear":
        return (response - th[0]) / th[1] if th[1] != 0 else None
    if m in ("linear-origin", "avg-rf"):
        return response / th[0] if th[0] != 0 else None
    if m == "quadratic":
        a, b, c = th[0] - response, th[1], th[2]
        if c == 0:
            return -a / b if b != 0 else None
        disc = b * b - 4 * c * a
        if disc < 0:
            return None
        sq = math.sqrt(disc)
        # numerically stable roots; pick the one on the calibrated branch (closest to the range)
        qv = -0.5 * (b + math.copysign(sq, b))
        roots = [r for r in (qv / c, a / qv if qv != 0 else math.nan) if math.isfinite(r)]
        if not roots:
            return None
        lo, hi = min(fit.concentrations), max(fit.concentrations)
        mid = 0.5 * (lo + hi)
        inside = [r for r in roots if lo <= r <= hi and b + 2 * c * r != 0]
        cands = inside or roots
        return min(cands, key=lambda r: abs(r - mid))
    bottom, top, ec50, hill = th[0], th[1], th[2], th[3]
    g = th[4] if m == "5pl" else 1.0
    frac = (response - bottom) / (top - bottom) if top != bottom else math.nan
    if not (0.0 < frac < 1.0):
        return None
    if frac == 1.0:
        return 0.0
    inner = (1.0 / frac) ** (1.0 / g) - 1.0
    if inner <= 0:
        return 0.0
    return float(ec50 * inner ** (1.0 / hill))


def inverse_predict(fit: CurveFit, response: float, replicates: int = 1, alpha: float = 0.05) -> Prediction:
    """Concentration for the mean of ``replicates`` readings with a two-sided (1 − α) interval.

    Linear: ISO 8466-1 / DIN 32645 (weighted variant with the weight of the new reading);
    nonlinear: delta method. A response outside the calibrated range gives ``concentration``
    None with ``out_of_range`` = ``above_highest_level`` (dilute and re-inject),
    ``below_lowest_level`` or ``not_invertible``.
    """
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
    cov = np.array(fit.covariance)
    g = _grad_theta(fit.model, x_hat, th)
    slope = _dfdx(fit.model, x_hat, th)
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
    if fit.model not in ("linear", "linear-origin", "avg-rf"):
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
    need = min_levels if min_levels is not None else MIN_LEVELS.get(fit.model, DEFAULT_MIN_LEVELS)
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
    p = len(PARAM_NAMES[fit.model])
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
