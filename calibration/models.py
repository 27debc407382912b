"""Standard-curve model families: one class per model, each knowing its parameter names, its
response f(x; θ), the derivatives ∂f/∂θ and ∂f/∂x, how it is fitted and how it is inverted.

Models (parameter names are part of the CLI contract, CONTRACTS.md):

- ``linear``: y = intercept + slope·x
- ``linear-origin``: y = slope·x
- ``quadratic``: y = intercept + slope·x + curvature·x²
- ``4pl``: y = bottom + (top − bottom) / (1 + (x/ec50)^hill)   (x = 0 gives top)
- ``5pl``: y = bottom + (top − bottom) / (1 + (x/ec50)^hill)^asymmetry
- ``avg-rf``: y = rf·x with rf the mean response factor (EPA SW-846 8000D §11.5.2)

Linear models are solved by QR on column-scaled weighted design matrices (no normal equations),
which reproduces the NIST StRD certified values (see tests/calibration). θ is always a 1-D array
in the order of the model's ``param_names``. :mod:`calibration.curves` turns a fit into a
:class:`~calibration.curves.CurveFit` and does the statistics common to every model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from calibration.errors import CalibrationError
from calibration.logistic import fit_logistic_batch, logistic_grad_natural, logistic_value

#: EPA SW-846 8000D §11.5: at least five calibration levels (six for a quadratic curve).
DEFAULT_MIN_LEVELS = 5


@dataclass(frozen=True)
class ModelSolution:
    """What fitting one model gives: θ, Cov(θ), the weighted RSS and the total sum of squares that
    R² is taken against (centred, or uncentred for a line through the origin)."""

    theta: np.ndarray
    covariance: np.ndarray
    rss: float
    tss: float
    converged: bool = True
    iterations: int = 0
    extras: dict[str, float] = field(default_factory=dict)


class CurveModel:
    """A model family. Subclasses set ``name`` and ``param_names`` and implement the methods."""

    name: str = ""
    param_names: tuple[str, ...] = ()
    #: EPA 8000D §11.5 minimum number of calibration levels.
    min_levels: int = DEFAULT_MIN_LEVELS
    #: A straight line through the points (the 3.3σ/10σ limits apply).
    straight_line: bool = False

    def value(self, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """f(x; θ)."""
        raise NotImplementedError

    def grad_theta(self, x: float, theta: np.ndarray) -> np.ndarray:
        """∂f/∂θ at one concentration."""
        raise NotImplementedError

    def dfdx(self, x: float, theta: np.ndarray) -> float:
        """∂f/∂x at one concentration."""
        raise NotImplementedError

    def fit(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, weight: str) -> ModelSolution:
        """Fit to points already checked (finite, x ≥ 0, n > number of parameters) with weights ``w``."""
        raise NotImplementedError

    def invert(self, theta: np.ndarray, response: float, concentrations: Sequence[float]) -> float | None:
        """Concentration whose response is ``response`` (None if the curve never reaches it);
        ``concentrations`` are the calibration levels (a root on the calibrated branch is preferred)."""
        raise NotImplementedError


def solve_linear(design: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted least squares by QR of the column-scaled design (returns β, (XᵀWX)⁻¹, rss)."""
    from scipy import linalg

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


def _centred_tss(y: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * (y - np.average(y, weights=w)) ** 2))


class _LinearInParameters(CurveModel):
    """A model linear in θ, fitted by weighted least squares on its design matrix."""

    def design(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def tss(self, y: np.ndarray, w: np.ndarray) -> float:
        return _centred_tss(y, w)

    def fit(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, weight: str) -> ModelSolution:
        theta, xtwx_inv, rss = solve_linear(self.design(x), y, w)
        cov = xtwx_inv * (rss / (x.size - len(self.param_names)))
        return ModelSolution(theta, cov, rss, self.tss(y, w))


class Linear(_LinearInParameters):
    name = "linear"
    param_names = ("intercept", "slope")
    straight_line = True

    def design(self, x: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(x.size), x])

    def value(self, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta[0] + theta[1] * x, dtype=float)

    def grad_theta(self, x: float, theta: np.ndarray) -> np.ndarray:
        return np.array([1.0, x])

    def dfdx(self, x: float, theta: np.ndarray) -> float:
        return float(theta[1])

    def invert(self, theta: np.ndarray, response: float, concentrations: Sequence[float]) -> float | None:
        return float((response - theta[0]) / theta[1]) if theta[1] != 0 else None


class _ThroughOrigin(CurveModel):
    """y = θ₀·x (a line through the origin)."""

    straight_line = True

    def value(self, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta[0] * x, dtype=float)

    def grad_theta(self, x: float, theta: np.ndarray) -> np.ndarray:
        return np.array([x])

    def dfdx(self, x: float, theta: np.ndarray) -> float:
        return float(theta[0])

    def invert(self, theta: np.ndarray, response: float, concentrations: Sequence[float]) -> float | None:
        return float(response / theta[0]) if theta[0] != 0 else None


class LinearOrigin(_ThroughOrigin, _LinearInParameters):
    name = "linear-origin"
    param_names = ("slope",)

    def design(self, x: np.ndarray) -> np.ndarray:
        return x[:, None]

    def tss(self, y: np.ndarray, w: np.ndarray) -> float:
        return float(np.sum(w * y * y))  # uncentred R² for a line through the origin (NIST StRD)


class AverageResponseFactor(_ThroughOrigin):
    """EPA 8000D §11.5.2: rf is the unweighted mean of the response factors y/x."""

    name = "avg-rf"
    param_names = ("rf",)

    def fit(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, weight: str) -> ModelSolution:
        if weight != "none":
            raise CalibrationError("avg-rf is an unweighted mean of response factors (use --weight none)")
        zero = np.flatnonzero(x <= 0)
        if zero.size:
            raise CalibrationError("avg-rf needs concentration > 0 at every point", point=int(zero[0]),
                                   field="concentration")
        rfs = y / x
        rf = float(np.mean(rfs))
        sd_rf = float(np.std(rfs, ddof=1))
        resid = y - rf * x
        rsd = 100.0 * sd_rf / abs(rf) if rf != 0 else math.inf
        return ModelSolution(np.array([rf]), np.array([[sd_rf * sd_rf / x.size]]), float(np.sum(resid * resid)),
                             float(np.sum(y * y)), extras={"rf_rsd_percent": rsd})


class Quadratic(_LinearInParameters):
    name = "quadratic"
    param_names = ("intercept", "slope", "curvature")
    min_levels = 6

    def design(self, x: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(x.size), x, x * x])

    def value(self, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta[0] + theta[1] * x + theta[2] * x * x, dtype=float)

    def grad_theta(self, x: float, theta: np.ndarray) -> np.ndarray:
        return np.array([1.0, x, x * x])

    def dfdx(self, x: float, theta: np.ndarray) -> float:
        return float(theta[1] + 2.0 * theta[2] * x)

    def invert(self, theta: np.ndarray, response: float, concentrations: Sequence[float]) -> float | None:
        a, b, c = theta[0] - response, theta[1], theta[2]
        if c == 0:
            return float(-a / b) if b != 0 else None
        disc = b * b - 4 * c * a
        if disc < 0:
            return None
        sq = math.sqrt(disc)
        # numerically stable roots; pick the one on the calibrated branch (closest to the range)
        qv = -0.5 * (b + math.copysign(sq, b))
        roots = [r for r in (qv / c, a / qv if qv != 0 else math.nan) if math.isfinite(r)]
        if not roots:
            return None
        lo, hi = min(concentrations), max(concentrations)
        mid = 0.5 * (lo + hi)
        inside = [r for r in roots if lo <= r <= hi and b + 2 * c * r != 0]
        return float(min(inside or roots, key=lambda r: abs(r - mid)))


class Logistic(CurveModel):
    """4PL and 5PL (:mod:`calibration.logistic`, fitted by its batched Levenberg–Marquardt)."""

    def __init__(self, name: str, param_names: tuple[str, ...]) -> None:
        self.name = name
        self.param_names = param_names

    def value(self, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
        return logistic_value(x, theta)

    def grad_theta(self, x: float, theta: np.ndarray) -> np.ndarray:
        g, _ = logistic_grad_natural(np.array([x]), theta)
        return np.asarray(g[0], dtype=float)

    def dfdx(self, x: float, theta: np.ndarray) -> float:
        _, d = logistic_grad_natural(np.array([x]), theta)
        return float(d[0])

    def fit(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, weight: str) -> ModelSolution:
        res = fit_logistic_batch(x[None, :], y[None, :], w[None, :], model=self.name)
        theta = res.params[0]
        if not np.all(np.isfinite(theta)):
            raise CalibrationError(f"{self.name} fit did not converge")
        rss = float(res.rss[0])
        g, _ = logistic_grad_natural(x, theta)
        jw = g * np.sqrt(w)[:, None]
        try:
            xtwx_inv = np.linalg.inv(jw.T @ jw)
        except np.linalg.LinAlgError:
            raise CalibrationError(f"{self.name} fit is singular: the data do not determine all parameters") from None
        cov = xtwx_inv * (rss / (x.size - len(self.param_names)))
        return ModelSolution(theta, cov, rss, _centred_tss(y, w), bool(res.converged[0]), int(res.iterations[0]))

    def invert(self, theta: np.ndarray, response: float, concentrations: Sequence[float]) -> float | None:
        bottom, top, ec50, hill = theta[0], theta[1], theta[2], theta[3]
        g = theta[4] if len(self.param_names) > 4 else 1.0
        frac = (response - bottom) / (top - bottom) if top != bottom else math.nan
        if not (0.0 < frac < 1.0):
            return None
        if frac == 1.0:
            return 0.0
        inner = (1.0 / frac) ** (1.0 / g) - 1.0
        if inner <= 0:
            return 0.0
        return float(ec50 * inner ** (1.0 / hill))


#: Every model by name, in the order the CLI lists them.
CURVE_MODELS: dict[str, CurveModel] = {m.name: m for m in (
    Linear(), LinearOrigin(), Quadratic(),
    Logistic("4pl", ("bottom", "top", "ec50", "hill")),
    Logistic("5pl", ("bottom", "top", "ec50", "hill", "asymmetry")),
    AverageResponseFactor(),
)}


def curve_model(name: str) -> CurveModel:
    """The model called ``name``; CalibrationError lists the known ones."""
    try:
        return CURVE_MODELS[name]
    except (KeyError, TypeError):
        raise CalibrationError(f"unknown model {name!r} (expected one of {', '.join(CURVE_MODELS)})") from None
