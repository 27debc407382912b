"""Robust estimators of ISO 13528:2022 Annex C, and the arithmetic mean and SD.

- C.2: median, MADe (C.2.2), nIQR (C.2.3)
- C.3.1: Algorithm A, with the standard's stopping rule (no change in the third significant
  figure of x* and s* from one iteration to the next); C.3.2: the fixed-scale variant;
  a ``metrology`` mode that reproduces R ``metRology::algA`` (1.4826 MAD start, the exact Huber
  consistency factor 1.13339 for k = 1.5, stop when |delta s*| <= eps^0.25 s*, at most 25 iterations).
- C.4: Algorithm S (limit factor eta, adjustment factor xi of Table C.1)
- C.5: Qn (C.5.2.1, as amended by ISO 13528:2022/Amd 1), the Q method (C.5.2.2), the Hampel
  estimator (C.5.3.3 finite-step algorithm) and Q/Hampel (C.5.4).

The iteration of Algorithm A is written once, for a 2-D array (one row per analyte, NaN for a
missing result); :func:`algorithm_a` runs it on one row, :mod:`proficiency.batch` on many.

References: ISO 13528:2022 Annex C; Huber (1981) *Robust Statistics*, proposal 2;
Rousseeuw & Croux (1993) JASA 88:1273 (Qn); Mueller & Uhlig (2001) (Q method, Hampel).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ._sigfig import round_sig as round_sig  # re-exported: part of this module's API
from ._sigfig import same_sig3
from ._validate import BoolArray, FloatArray, IntArray, as_results
from .errors import NonConvergenceError, ProficiencyError, TooFewResultsError, ZeroSpreadError

#: C.2.2: MADe = 1.483 median|x_i - median(x)| (1/Phi^-1(0.75) = 1.4826 rounded).
MADE_FACTOR = 1.483
#: C.2.3: nIQR = 0.7413 (Q3 - Q1).
NIQR_FACTOR = 0.7413
#: C.3.1, Formula (C.7): winsorising limit delta = 1.5 s*.
HUBER_K = 1.5
#: C.3.1, Formula (C.10): s* = 1.134 sqrt(sum (x_i* - x*)^2 / (p - 1)).
ALGORITHM_A_FACTOR = 1.134
#: R ``stats::mad`` constant used by metRology::algA as the starting scale.
METROLOGY_MAD_FACTOR = 1.4826
#: R ``.Machine$double.eps^0.25``: metRology::algA default tolerance on the relative change of s*.
METROLOGY_TOL = float(np.finfo(float).eps) ** 0.25
#: metRology::algA default iteration limit.
METROLOGY_MAX_ITER = 25
#: C.3.1 stops when x* and s* no longer change in their third significant figure; the ``converged``
#: rule's tolerance on |delta x*|, |delta s*| relative to s*, and the iteration limit of the
#: ``iso13528``/``converged`` rules, are this module's own choices (not values of the standard).
CONVERGED_TOL = 1e-10
ALGORITHM_A_MAX_ITER = 1000
#: 7.7.7, Formula (6): u(x_pt) = 1.25 s* / sqrt(p).
U_FACTOR = 1.25

#: ISO 13528:2022 Table C.1: degrees of freedom nu -> (limit factor eta, adjustment factor xi).
ALGORITHM_S_FACTORS: dict[int, tuple[float, float]] = {
    1: (1.645, 1.097), 2: (1.517, 1.054), 3: (1.444, 1.039), 4: (1.395, 1.032), 5: (1.359, 1.027),
    6: (1.332, 1.024), 7: (1.310, 1.021), 8: (1.292, 1.019), 9: (1.277, 1.018), 10: (1.264, 1.017),
}
#: ISO 13528:2022 Table C.2: small-sample correction b_p of Qn for p = 2..12.
QN_CORRECTION: dict[int, float] = {
    2: 0.3994, 3: 0.9937, 4: 0.5132, 5: 0.8440, 6: 0.6122, 7: 0.8588, 8: 0.6699, 9: 0.8734,
    10: 0.7201, 11: 0.8891, 12: 0.7574,
}
#: C.5.2.1 as amended (Amd 1): 1 / (sqrt(2) Phi^-1(5/8)), printed 2.2191 (2.2219 in the 2022 text).
QN_FACTOR = 2.2191

StoppingRule = Literal["iso13528", "converged", "metrology"]
STOPPING_RULES: tuple[str, ...] = ("iso13528", "converged", "metrology")


@dataclass(frozen=True)
class AlgorithmAParameters:
    """Constants of one Algorithm A run: start scale factor (MADe, C.2.2), s* factor (C.3.1,
    Formula (C.10)), stopping tolerance and iteration limit."""

    start_factor: float
    factor: float
    tol: float
    max_iter: int


def algorithm_a_parameters(rule: str, *, k: float = HUBER_K, tol: float | None = None,
                           max_iter: int | None = None) -> AlgorithmAParameters:
    """ISO 13528:2022 C.3.1 constants (1.483 MADe start, s* = 1.134 SD) for ``iso13528`` and
    ``converged``; the metRology::algA ones (1.4826 MAD start, exact Huber factor for ``k``) for
    ``metrology``. ``tol``/``max_iter`` override the rule's defaults. Shared by
    :func:`algorithm_a` and :func:`proficiency.batch.algorithm_a_batch`."""
    _check_rule(rule)
    if rule == "metrology":
        return AlgorithmAParameters(METROLOGY_MAD_FACTOR, huber_consistency(k),
                                    METROLOGY_TOL if tol is None else tol,
                                    METROLOGY_MAX_ITER if max_iter is None else max_iter)
    return AlgorithmAParameters(MADE_FACTOR, ALGORITHM_A_FACTOR, CONVERGED_TOL if tol is None else tol,
                                ALGORITHM_A_MAX_ITER if max_iter is None else max_iter)


@dataclass(frozen=True)
class RobustEstimate:
    """Location and scale of one set of results.

    ``u_assigned`` is u(x_pt) = 1.25 scale / sqrt(n) (7.7.7, Formula (6)); for the arithmetic mean
    it is s / sqrt(n). ``made`` is set only for the median.
    """

    method: str
    location: float
    scale: float
    n: int
    iterations: int
    u_assigned: float
    made: float | None = None


def huber_consistency(k: float = HUBER_K) -> float:
    """Exact consistency factor of the winsorised SD at the normal, 1/sqrt(beta(k)).

    beta(k) = theta + k^2 (1 - theta) - 2 k phi(k), theta = 2 Phi(k) - 1 (Huber proposal 2);
    1.13339 for k = 1.5 (ISO 13528 C.3.1 uses 1.134, carried over from ISO 5725-5).
    """
    from scipy import stats  # only here and for Algorithm S / the Q method: not for every `lims pt` run

    theta = 2.0 * stats.norm.cdf(k) - 1.0
    beta = theta + k * k * (1.0 - theta) - 2.0 * k * stats.norm.pdf(k)
    return float(1.0 / math.sqrt(beta))


def u_assigned(scale: float, n: int, factor: float = U_FACTOR) -> float:
    """7.7.7, Formula (6): u(x_pt) = 1.25 s* / sqrt(p)."""
    if n < 1:
        raise TooFewResultsError("u(x_pt): p must be at least 1")
    return factor * scale / math.sqrt(n)


# ----------------------------------------------------------------------------------------------
# C.2 simple estimators
# ----------------------------------------------------------------------------------------------

def median(values: Iterable[float]) -> float:
    """C.2.1: median of the results."""
    return float(np.median(as_results(values)))


def made(values: Iterable[float]) -> float:
    """C.2.2, Formula (C.2): MADe = 1.483 median|x_i - median(x)|."""
    a = as_results(values)
    return float(MADE_FACTOR * np.median(np.abs(a - np.median(a))))


def niqr(values: Iterable[float]) -> float:
    """C.2.3: nIQR = 0.7413 (Q3 - Q1), quartiles by linear interpolation (R type 7).

    Quartile definitions differ between programs; type 7 reproduces Table E.5 of ISO 13528:2022.
    """
    a = as_results(values, minimum=2)
    q1, q3 = np.quantile(a, [0.25, 0.75])
    return float(NIQR_FACTOR * (q3 - q1))


def median_estimate(values: Iterable[float]) -> RobustEstimate:
    """Median with nIQR as its scale (Table E.5 row "Median, nIQR"), MADe alongside."""
    a = as_results(values, minimum=2)
    s = niqr(a)
    return RobustEstimate("median", float(np.median(a)), s, int(a.size), 0, u_assigned(s, a.size), made(a))


def mean_sd(values: Iterable[float]) -> RobustEstimate:
    """Arithmetic mean and sample SD (ddof 1); u = s / sqrt(p) (Table E.5 row "Arithmetic mean")."""
    a = as_results(values, minimum=2)
    s = float(np.std(a, ddof=1)) if np.ptp(a) > 0 else 0.0
    return RobustEstimate("mean", float(np.mean(a)), s, int(a.size), 0, s / math.sqrt(a.size))


# ----------------------------------------------------------------------------------------------
# C.3 Algorithm A (one iteration kernel for rows of a 2-D array)
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _RowsResult:
    location: FloatArray
    scale: FloatArray
    iterations: IntArray
    converged: BoolArray


def algorithm_a_rows(
    x: FloatArray,
    mask: FloatArray | None,
    n: FloatArray,
    x0: FloatArray,
    s0: FloatArray,
    *,
    factor: float,
    k: float,
    rule: str,
    tol: float,
    max_iter: int,
    update_scale: bool,
) -> _RowsResult:
    """Iterate Algorithm A (C.3.1 steps (C.7) to (C.10)) on every row at once.

    ``x`` holds the results with missing ones replaced by 0 and flagged 0 in ``mask`` (1.0 for a
    result; None when every row is full: multiplying by 1.0 changes nothing); ``n`` is the number of results
    per row; ``x0``/``s0`` the starting values. Each row
    stops independently under ``rule``:

    - ``iso13528``: the updated x* and s* agree with the previous update in their third significant
      figures (C.3.1); the starting values are not an iteration, so the earliest stop is after the
      second update (this reproduces Annex E, Tables E.1 and E.4);
    - ``converged``: |delta x*| and |delta s*| both <= tol * s*;
    - ``metrology``: |delta s*| <= tol * s* (metRology::algA), checked from the first update.

    With ``update_scale=False`` (C.3.2 b) s* stays at ``s0`` and only x* is tested.
    """
    rows = x.shape[0]
    loc = x0.astype(float).copy()
    sca = s0.astype(float).copy()
    iters = np.zeros(rows, dtype=np.int64)
    done = np.zeros(rows, dtype=bool)
    active = np.flatnonzero(np.isfinite(loc) & np.isfinite(sca))
    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        ma = None if mask is None else mask[active]
        xa, na = x[active], n[active]
        la, sa = loc[active], sca[active]
        delta = k * sa
        w = np.clip(xa, (la - delta)[:, None], (la + delta)[:, None])
        if ma is not None:
            w *= ma
        new_l = w.sum(axis=1) / na
        if update_scale:
            dev = w - new_l[:, None]
            if ma is not None:
                dev *= ma
            new_s = factor * np.sqrt(np.einsum("ij,ij->i", dev, dev) / (na - 1.0))
        else:
            new_s = sa
        stop = _rows_stop(rule, it, new_l, la, new_s, sa, tol=tol, update_scale=update_scale)
        loc[active] = new_l
        sca[active] = new_s
        iters[active] = it
        done[active[stop]] = True
        active = active[~stop]
    return _RowsResult(loc, sca, iters, done)


def _rows_stop(rule: str, it: int, new_l: FloatArray, old_l: FloatArray, new_s: FloatArray, old_s: FloatArray,
               *, tol: float, update_scale: bool) -> BoolArray:
    """Which rows meet ``rule`` after update ``it`` (see :func:`algorithm_a_rows`)."""
    stop: BoolArray
    if rule == "iso13528":
        if it == 1:  # the starting values are not an iteration
            return np.zeros(new_l.shape, dtype=bool)
        if not update_scale:
            stop = same_sig3(new_l, old_l)
        else:  # one rounding of the four arrays (element-wise: the same roundings as one by one)
            rows = new_l.size
            r = round_sig(np.concatenate((new_l, old_l, new_s, old_s)))
            stop = np.equal(r[:rows], r[rows:2 * rows]) & np.equal(r[2 * rows:3 * rows], r[3 * rows:])
    elif rule == "metrology":
        stop = np.abs(new_s - old_s) <= tol * new_s if update_scale else np.abs(new_l - old_l) <= tol * old_s
    else:
        lim = tol * new_s
        stop = (np.abs(new_l - old_l) <= lim) & (np.abs(new_s - old_s) <= lim)
    return stop


def _check_rule(rule: str) -> None:
    if rule not in STOPPING_RULES:
        raise ProficiencyError(f"stopping rule must be one of {', '.join(STOPPING_RULES)} (got {rule!r})")


def algorithm_a(
    values: Iterable[float],
    *,
    rule: StoppingRule = "iso13528",
    tol: float | None = None,
    max_iter: int | None = None,
    fixed_scale: bool = False,
    scale: float | None = None,
    k: float = HUBER_K,
) -> RobustEstimate:
    """C.3.1 Algorithm A: robust average x* and robust standard deviation s*.

    Start x* = median, s* = 1.483 MADe; repeat delta = 1.5 s*, winsorise to x* +- delta,
    x* = mean, s* = 1.134 SD, until ``rule`` is met (see :func:`algorithm_a_rows`).
    ``rule="metrology"`` switches to the constants and tolerance of R metRology::algA.
    ``fixed_scale=True`` is the C.3.2 b) variant: s* is held at MADe, or at ``scale`` when given
    (e.g. a Q-method estimate). If MADe is zero but the results differ, the start scale is their SD.

    Raises EmptyInputError, TooFewResultsError (p < 2), ZeroSpreadError (all results equal, or s*
    collapses to zero), NonConvergenceError (``max_iter`` reached; default 1000, 25 for metrology).
    """
    params = algorithm_a_parameters(rule, k=k, tol=tol, max_iter=max_iter)
    a = as_results(values, minimum=2)
    if np.ptp(a) == 0:
        raise ZeroSpreadError(f"Algorithm A: all {a.size} results are equal; s* cannot be derived")
    limit = params.max_iter
    x0 = float(np.median(a))
    if scale is not None:
        s0 = float(scale)
        if not (math.isfinite(s0) and s0 > 0):
            raise ProficiencyError(f"Algorithm A: a given scale must be finite and positive (got {scale!r})")
    else:
        s0 = float(params.start_factor * np.median(np.abs(a - x0)))
        if s0 == 0.0:
            s0 = float(np.std(a, ddof=1))
    res = algorithm_a_rows(
        a[None, :], None, np.array([float(a.size)]), np.array([x0]), np.array([s0]),
        factor=params.factor, k=k, rule=rule, tol=params.tol, max_iter=limit, update_scale=not fixed_scale,
    )
    loc, sc, its = float(res.location[0]), float(res.scale[0]), int(res.iterations[0])
    if not res.converged[0]:
        raise NonConvergenceError(f"Algorithm A ({rule}) did not meet its stopping rule in {limit} iterations"
                                  f" (x* = {loc:.6g}, s* = {sc:.6g})")
    if not sc > 0:
        raise ZeroSpreadError("Algorithm A: s* collapsed to zero (most results are identical)")
    method = "algorithm-a" if not fixed_scale else "algorithm-a-fixed-scale"
    return RobustEstimate(method, loc, sc, int(a.size), its, u_assigned(sc, a.size))


# ----------------------------------------------------------------------------------------------
# C.4 Algorithm S
# ----------------------------------------------------------------------------------------------

def algorithm_s_factors(dof: int) -> tuple[float, float]:
    """(eta, xi) for ``dof`` degrees of freedom: Table C.1 for 1..10, otherwise from their definition.

    eta = sqrt(chi2_0.90(nu) / nu); xi = 1 / sqrt(F_{chi2(nu+2)}(nu eta^2) + eta^2 (1 - 0.90)),
    which reproduces eta of Table C.1 to its three printed decimals and xi within 0.001 (the printed
    xi for nu = 6 and 10, 1.024 and 1.017, are one unit above the rounded 1.0234 and 1.0164).
    """
    if isinstance(dof, bool) or int(dof) != dof or dof < 1:
        raise ProficiencyError(f"Algorithm S: degrees of freedom must be a positive integer (got {dof!r})")
    if dof in ALGORITHM_S_FACTORS:
        return ALGORITHM_S_FACTORS[dof]
    from scipy import stats

    eta = math.sqrt(stats.chi2.ppf(0.90, dof) / dof)
    xi = 1.0 / math.sqrt(stats.chi2.cdf(dof * eta * eta, dof + 2) + 0.10 * eta * eta)
    return float(eta), float(xi)


def algorithm_s(
    sds: Iterable[float], dof: int, *, rule: StoppingRule = "iso13528", tol: float = 1e-10,
    max_iter: int = 1000,
) -> RobustEstimate:
    """C.4 Algorithm S: robust pooled value w* of standard deviations (or ranges) with ``dof`` each.

    Start w* = median(w); repeat psi = eta w*, w_i* = min(w_i, psi), w* = xi sqrt(mean(w_i*^2)),
    until the third significant figure of w* does not change from one iteration to the next
    (``iso13528``) or |delta w*| <= tol w* (``converged``).
    """
    if rule == "metrology":
        raise ProficiencyError("Algorithm S: the metrology rule applies to Algorithm A only")
    _check_rule(rule)
    w = as_results(sds, what="standard deviations", minimum=2)
    if np.any(w < 0):
        raise ProficiencyError("Algorithm S: standard deviations cannot be negative")
    eta, xi = algorithm_s_factors(dof)
    w_star = float(np.median(w))
    if w_star == 0.0:
        raise ZeroSpreadError("Algorithm S: the median standard deviation is zero")
    for it in range(1, max_iter + 1):
        new = float(xi * math.sqrt(float(np.mean(np.minimum(w, eta * w_star) ** 2))))
        if rule == "iso13528":
            stop = it > 1 and bool(same_sig3(np.array([new]), np.array([w_star]))[0])
        else:
            stop = abs(new - w_star) <= tol * new
        w_star = new
        if stop:
            return RobustEstimate("algorithm-s", w_star, w_star, int(w.size), it, u_assigned(w_star, w.size))
    raise NonConvergenceError(f"Algorithm S did not meet its stopping rule in {max_iter} iterations")


# ----------------------------------------------------------------------------------------------
# C.5 Qn, Q method, Hampel, Q/Hampel
# ----------------------------------------------------------------------------------------------

def qn(values: Iterable[float]) -> float:
    """C.5.2.1 Qn (Rousseeuw & Croux) as amended: h = floor(p/2) + 1, k = h(h-1)/2,
    Qn = 2.2191 b_p d_(k), d the pairwise absolute differences; b_p from Table C.2 (p <= 12) or the
    small-sample formulae for larger p."""
    a = as_results(values, minimum=2)
    p = int(a.size)
    i, j = np.triu_indices(p, k=1)
    d = np.sort(np.abs(a[i] - a[j]))
    h = p // 2 + 1
    kth = h * (h - 1) // 2
    if p <= 12:
        bp = QN_CORRECTION[p]
    elif p % 2:
        bp = 1.0 / (1.0 + (1.6019 + (-2.128 - 5.172 / p) / p) / p)
    else:
        bp = 1.0 / (1.0 + (3.6756 + (1.965 + (6.987 - 77.0 / p) / p) / p) / p)
    return float(QN_FACTOR * bp * d[kth - 1])


def q_method(results: Sequence[float] | Sequence[Sequence[float]]) -> float:
    """C.5.2.2 Q method: robust reproducibility SD from between-laboratory differences.

    ``results`` is one value per laboratory or a sequence of replicates per laboratory (pairs of
    laboratories weighted 1/(n_i n_j)). H1 is the weighted empirical CDF of the absolute
    differences; G1 interpolates linearly through (0, 0) and the midpoints
    0.5 (H1(x_k) + H1(x_{k-1})) at its jump points; s* = G1^-1(0.25 + 0.75 H1(0)) /
    (sqrt 2 Phi^-1(0.625 + 0.375 H1(0))).
    """
    groups = [np.atleast_1d(np.asarray(g, dtype=float)) for g in results]
    if len(groups) < 2:
        raise TooFewResultsError("Q method: at least two laboratories are needed")
    for idx, g in enumerate(groups):
        if g.ndim != 1 or g.size == 0 or not np.all(np.isfinite(g)):
            raise ProficiencyError(f"Q method: laboratory {idx + 1} has no finite result")
    p = len(groups)
    diffs: list[FloatArray] = []
    weights: list[FloatArray] = []
    for i in range(p - 1):
        for j in range(i + 1, p):
            dd = np.abs(groups[i][:, None] - groups[j][None, :]).ravel()
            diffs.append(dd)
            weights.append(np.full(dd.size, 1.0 / (groups[i].size * groups[j].size)))
    d = np.concatenate(diffs)
    w = np.concatenate(weights) * (2.0 / (p * (p - 1)))
    # merge differences equal up to binary rounding of decimal data (e.g. 0.3 - 0.1 vs 0.5 - 0.3)
    scale_ref = max(float(np.max(np.abs(g))) for g in groups)
    d = np.round(d / scale_ref, 12) * scale_ref
    pts, inv = np.unique(d, return_inverse=True)
    h = np.cumsum(np.bincount(inv, weights=w))
    h0 = float(h[0]) if pts[0] == 0.0 else 0.0
    if h0 >= 1.0:
        raise ZeroSpreadError("Q method: all laboratories report the same value")
    if pts[0] == 0.0:
        gx = pts
        gy = np.concatenate([[0.0], 0.5 * (h[1:] + h[:-1])])
    else:
        gx = np.concatenate([[0.0], pts])
        gy = np.concatenate([[0.0, 0.5 * h[0]], 0.5 * (h[1:] + h[:-1])])
    target = 0.25 + 0.75 * h0
    num = float(np.interp(target, gy, gx))
    from scipy import stats

    return num / (math.sqrt(2.0) * float(stats.norm.ppf(0.625 + 0.375 * h0)))


HAMPEL_A, HAMPEL_B, HAMPEL_C = 1.5, 3.0, 4.5


def _hampel_psi(q: FloatArray) -> FloatArray:
    """C.5.3, Formula (C.30): three-part redescending psi with a = 1.5, b = 3, c = 4.5."""
    aq = np.abs(q)
    core = np.minimum(aq, HAMPEL_A)
    core = np.where(aq > HAMPEL_B, np.maximum(HAMPEL_C - aq, 0.0) * (HAMPEL_A / (HAMPEL_C - HAMPEL_B)), core)
    return np.sign(q) * core


def hampel(values: Iterable[float], scale: float) -> float:
    """C.5.3.3 Hampel estimator, finite-step algorithm: the root of sum psi((x_i - x)/s*) = 0
    nearest the median. Psi is piecewise linear in x between the nodes x_i +- {1.5, 3, 4.5} s*,
    so every root is found exactly; two equally near roots (or none) give the median.

    The psi of Formula (C.30) falls linearly from 1.5 at 3 s* to 0 at 4.5 s*.
    """
    a = as_results(values)
    med = float(np.median(a))
    if not (math.isfinite(scale) and scale >= 0):
        raise ProficiencyError(f"Hampel: scale must be finite and non-negative (got {scale!r})")
    if scale == 0.0:
        return med
    q = (a - med) / scale
    nodes = np.unique(np.concatenate([q + c for c in (-HAMPEL_C, -HAMPEL_B, -HAMPEL_A,
                                                      HAMPEL_A, HAMPEL_B, HAMPEL_C)]))
    total = np.array([float(_hampel_psi(q - t).sum()) for t in nodes])
    eps = 1e-12 * max(1.0, float(np.max(np.abs(q))))
    roots: list[float] = [float(t) for t, v in zip(nodes, total, strict=True) if abs(v) <= eps]
    for lo, hi, vlo, vhi in zip(nodes[:-1], nodes[1:], total[:-1], total[1:], strict=True):
        if vlo * vhi < 0 and abs(vlo) > eps and abs(vhi) > eps:
            roots.append(float(lo - vlo * (hi - lo) / (vhi - vlo)))
    if not roots:
        return med
    r = np.unique(np.round(np.array(roots), 12))
    dist = np.abs(r)
    best = np.flatnonzero(np.abs(dist - dist.min()) <= eps)
    if best.size > 1 and np.ptp(r[best]) > eps:
        return med
    return float(med + scale * r[best[0]])


def q_hampel(results: Sequence[float] | Sequence[Sequence[float]]) -> RobustEstimate:
    """C.5.4 Q/Hampel: Q-method scale with the Hampel location of the laboratory means."""
    s = q_method(results)
    means = [float(np.mean(np.atleast_1d(np.asarray(g, dtype=float)))) for g in results]
    loc = hampel(means, s)
    return RobustEstimate("q-hampel", loc, s, len(means), 0, u_assigned(s, len(means)))
