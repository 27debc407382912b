"""Linearity test and residual diagnostics of a fitted curve.

- Mandel's fitting test (DIN 38402-51, ISO 8466-1): fit a straight line and a quadratic to the
  same points; DS² = (n − 2)·s²_lin − (n − 3)·s²_quad; test value PW = DS²/s²_quad against
  F(1, n − 3, 1 − α) (α = 0.01 in the standards). PW above the critical value: the quadratic fits
  significantly better, the straight line is not adequate.
- Residual diagnostics (any model; weighted fits use √w-scaled residuals): leverage h_ii (hat
  matrix of the weighted design or Jacobian), internally studentised residuals
  r_i = e_i·√w_i / (s·√(1 − h_ii)), Cook's distance D_i = r_i²·h_ii / (p·(1 − h_ii)) (Cook 1977),
  and the Wald–Wolfowitz runs test on the signs of the residuals in concentration order (too few
  runs = a trend the model does not follow). Flags: |r_i| > 2.5 (``outlier_limit``), h_ii > 2p/n,
  D_i > 4/n (or > 1, the classic hard limit, reported separately).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calibration.curves import PARAM_NAMES, CurveFit, FloatArray, fit_curve, parameter_gradient
from calibration.errors import CalibrationError

#: DIN 38402-51 / ISO 8466-1: Mandel's test at the 99 % level.
MANDEL_ALPHA = 0.01


@dataclass(frozen=True)
class MandelTest:
    """Mandel's fitting test. ``quadratic_better`` is True when PW > F(1, n − 3, 1 − α)."""

    statistic: float
    critical_value: float
    p_value: float
    alpha: float
    n: int
    residual_sd_linear: float
    residual_sd_quadratic: float
    variance_difference: float
    quadratic_better: bool


def mandel_test(concentrations: FloatArray, responses: FloatArray, *, alpha: float = MANDEL_ALPHA,
                weight: str = "none") -> MandelTest:
    """Mandel's test (DIN 38402-51 / ISO 8466-1) of a straight line against a quadratic."""
    from scipy import stats

    if not 0.0 < alpha < 1.0:
        raise CalibrationError(f"alpha must be between 0 and 1 (got {alpha})")
    lin = fit_curve(concentrations, responses, model="linear", weight=weight)
    if lin.n < 4:
        raise CalibrationError(f"Mandel's test needs at least 4 points (got {lin.n})", field="concentration")
    quad = fit_curve(concentrations, responses, model="quadratic", weight=weight)
    n = lin.n
    ds2 = lin.rss - quad.rss  # = (n − 2)·s²_lin − (n − 3)·s²_quad
    s2q = quad.residual_sd ** 2
    if s2q == 0:
        pw = 0.0 if ds2 <= 0 else math.inf
    else:
        pw = max(ds2, 0.0) / s2q
    f_crit = float(stats.f.ppf(1.0 - alpha, 1, n - 3))
    p = float(stats.f.sf(pw, 1, n - 3)) if math.isfinite(pw) else 0.0
    return MandelTest(pw, f_crit, p, alpha, n, lin.residual_sd, quad.residual_sd, ds2, pw > f_crit)


@dataclass(frozen=True)
class ResidualDiagnostics:
    """Per-point diagnostics in the order of the fit's points, plus the runs test."""

    residuals: tuple[float, ...]
    standardized_residuals: tuple[float, ...]
    leverage: tuple[float, ...]
    cooks_distance: tuple[float, ...]
    runs: int
    expected_runs: float
    runs_z: float
    runs_p_value: float
    outliers: tuple[int, ...]
    high_leverage: tuple[int, ...]
    influential: tuple[int, ...]


def _jacobian(fit: CurveFit) -> np.ndarray:
    th = fit.theta
    return np.array([parameter_gradient(fit.model, float(x), th) for x in fit.concentrations])


def runs_test(signs: Sequence[float]) -> tuple[int, float, float, float]:
    """Wald–Wolfowitz runs test on the signs of a sequence (zeros dropped).

    Returns (runs, expected runs, z, one-sided p for too few runs). Expected R = 2·n₊·n₋/n + 1,
    var R = 2·n₊·n₋·(2·n₊·n₋ − n)/(n²·(n − 1)); z uses the continuity correction of ½.
    """
    from scipy import stats

    s = np.sign(np.asarray(signs, dtype=float))
    s = s[s != 0]
    n = s.size
    npos = int(np.sum(s > 0))
    nneg = n - npos
    runs = int(1 + np.sum(s[1:] != s[:-1])) if n else 0
    if npos == 0 or nneg == 0:
        return runs, float(runs), math.nan, math.nan
    mu = 2.0 * npos * nneg / n + 1.0
    var = 2.0 * npos * nneg * (2.0 * npos * nneg - n) / (n * n * (n - 1.0))
    if var <= 0:
        return runs, mu, math.nan, math.nan
    z = (runs - mu + 0.5) / math.sqrt(var) if runs < mu else (runs - mu - 0.5) / math.sqrt(var)
    return runs, mu, z, float(stats.norm.cdf(z))


def residual_diagnostics(fit: CurveFit, *, outlier_limit: float = 2.5) -> ResidualDiagnostics:
    """Studentised residuals, leverage, Cook's distance and the runs test for ``fit``."""
    x = np.array(fit.concentrations)
    y = np.array(fit.responses)
    w = np.array(fit.weights)
    sw = np.sqrt(w)
    e = y - fit.predict(x)
    p = len(PARAM_NAMES[fit.model])
    n = fit.n
    jw = _jacobian(fit) * sw[:, None]
    if fit.model == "avg-rf":
        # the mean of response factors is not least squares: use the through-origin hat matrix
        jw = x[:, None] * sw[:, None]
    q, _ = np.linalg.qr(jw)
    h = np.clip(np.sum(q * q, axis=1), 0.0, 1.0)
    s = fit.residual_sd
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = s * np.sqrt(1.0 - h)
        r = np.where(denom > 0, e * sw / denom, np.nan)
        cook = np.where(h < 1.0, r * r * h / (p * (1.0 - h)), np.inf)
    order = np.argsort(x, kind="stable")
    runs, mu, z, pr = runs_test(e[order])
    outl = tuple(int(i) for i in np.flatnonzero(np.abs(np.nan_to_num(r)) > outlier_limit))
    lev = tuple(int(i) for i in np.flatnonzero(h > 2.0 * p / n))
    infl = tuple(int(i) for i in np.flatnonzero(cook > 4.0 / n))
    return ResidualDiagnostics(
        residuals=tuple(float(v) for v in e), standardized_residuals=tuple(float(v) for v in r),
        leverage=tuple(float(v) for v in h), cooks_distance=tuple(float(v) for v in cook),
        runs=runs, expected_runs=mu, runs_z=z, runs_p_value=pr,
        outliers=outl, high_leverage=lev, influential=infl,
    )
