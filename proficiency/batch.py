"""Vectorised scoring of a whole round: many analytes (rows) x many laboratories (columns).

Missing results are NaN. Each analyte is treated exactly as :func:`proficiency.robust.algorithm_a`
and :mod:`proficiency.scores` would treat it alone (same iteration kernel, same stopping rule per
row); analytes that cannot be estimated (fewer than 2 results, no spread, no convergence) get NaN
and a status code instead of an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._validate import BoolArray, FloatArray, IntArray, as_results
from .errors import ProficiencyError
from .robust import (
    HUBER_K,
    U_FACTOR,
    RobustEstimate,
    StoppingRule,
    algorithm_a_parameters,
    algorithm_a_rows,
    u_assigned,
)

STATUS_OK = 0
STATUS_TOO_FEW = 1
STATUS_ZERO_SPREAD = 2
STATUS_NOT_CONVERGED = 3


@dataclass(frozen=True)
class BatchEstimate:
    """Per-analyte Algorithm A results (arrays of length = number of analytes)."""

    location: FloatArray
    scale: FloatArray
    n: FloatArray
    iterations: IntArray
    u_assigned: FloatArray
    status: IntArray


@dataclass(frozen=True)
class BatchScores:
    """Scores, analytes x laboratories; NaN where there is no result (or no uncertainty for
    zeta/E_n). ``uses_z_prime`` per analyte: u(x_pt) > 0.3 sigma_pt; ``score`` is z or z'."""

    d: FloatArray
    z: FloatArray
    z_prime: FloatArray
    score: FloatArray
    uses_z_prime: BoolArray
    zeta: FloatArray
    en: FloatArray


def _as_matrix(values: FloatArray, name: str) -> FloatArray:
    a = np.asarray(values, dtype=float)
    if a.ndim != 2:
        raise ProficiencyError(f"{name}: a 2-D array (analytes x laboratories) is required, got shape {a.shape}")
    if np.isinf(a).any():
        raise ProficiencyError(f"{name}: infinite values; use NaN for a missing result")
    return a


def _row_median(x: FloatArray, n: FloatArray) -> FloatArray:
    """Median of the finite values of each row (NaN sorts last); NaN for an empty row."""
    srt = np.sort(x, axis=1)
    cnt = n.astype(np.int64)
    rows = np.arange(x.shape[0])
    lo = np.clip((cnt - 1) // 2, 0, None)
    hi = np.clip(cnt // 2, 0, x.shape[1] - 1)
    med = (srt[rows, lo] + srt[rows, hi]) / 2.0
    return np.where(cnt > 0, med, np.nan)


def algorithm_a_batch(
    results: FloatArray,
    *,
    rule: StoppingRule = "iso13528",
    tol: float | None = None,
    max_iter: int | None = None,
    k: float = HUBER_K,
) -> BatchEstimate:
    """Algorithm A (ISO 13528:2022 C.3.1) for every row of ``results`` at once, + u(x_pt) (7.7.7)."""
    params = algorithm_a_parameters(rule, k=k, tol=tol, max_iter=max_iter)
    x = _as_matrix(results, "results")
    present = np.isfinite(x)
    n = present.sum(axis=1).astype(float)
    status = np.zeros(x.shape[0], dtype=np.int64)
    enough = n >= 2
    status[~enough] = STATUS_TOO_FEW
    with np.errstate(all="ignore"):
        x0 = _row_median(x, n)
        s0 = params.start_factor * _row_median(np.abs(x - x0[:, None]), n)
        spread = np.fmax.reduce(x, axis=1) - np.fmin.reduce(x, axis=1)
        mean = np.where(present, x, 0.0).sum(axis=1) / n
        sd = np.sqrt(np.where(present, (x - mean[:, None]) ** 2, 0.0).sum(axis=1) / (n - 1.0))
    zero = enough & ~(spread > 0)
    status[zero] = STATUS_ZERO_SPREAD
    s0 = np.where(s0 == 0.0, sd, s0)
    ok = status == STATUS_OK
    x0 = np.where(ok, x0, np.nan)
    s0 = np.where(ok, s0, np.nan)
    filled = np.where(present, x, 0.0)
    res = algorithm_a_rows(filled, present.astype(float), n, x0, s0, factor=params.factor, k=k, rule=rule,
                           tol=params.tol, max_iter=params.max_iter, update_scale=True)
    loc, sca = res.location.copy(), res.scale.copy()
    nc = ok & ~res.converged
    status[nc] = STATUS_NOT_CONVERGED
    collapsed = ok & res.converged & ~(sca > 0)
    status[collapsed] = STATUS_ZERO_SPREAD
    bad = status != STATUS_OK
    loc[bad] = np.nan
    sca[bad] = np.nan
    with np.errstate(all="ignore"):
        u = U_FACTOR * sca / np.sqrt(n)
    return BatchEstimate(loc, sca, n, res.iterations, u, status)


def algorithm_a_each(samples: Sequence[Sequence[float]]) -> list[RobustEstimate | None]:
    """:func:`proficiency.robust.algorithm_a` (ISO 13528:2022 C.3.1, its default stopping rule) of every
    sample, with the samples of equal size computed together: each row gets the starting values
    ``algorithm_a`` computes for it alone (median and MADe of its own results: the same order statistics,
    the same arithmetic), the same kernel (:func:`algorithm_a_rows` on rows of its own length, no padding)
    and its own stopping test, so each estimate is the one ``algorithm_a`` gives. None where
    ``algorithm_a`` raises (too few results, no spread, no convergence): call it for the error."""
    out: list[RobustEstimate | None] = [None] * len(samples)
    by_size: dict[int, list[tuple[int, FloatArray]]] = {}
    for i, values in enumerate(samples):
        try:
            a = as_results(values, minimum=2)
        except ProficiencyError:
            continue
        by_size.setdefault(a.size, []).append((i, a))
    for rows in by_size.values():
        x = np.stack([a for _, a in rows])
        spread = np.ptp(x, axis=1) > 0
        index = [i for (i, _), ok in zip(rows, spread, strict=True) if ok]
        for i, est in zip(index, _same_size(x[spread]), strict=True):
            out[i] = est
    return out


def _median_same_size(x: FloatArray) -> FloatArray:
    """``np.median(x, axis=1)`` of finite rows by its own steps (partition at the middle, the mean of the
    middle one or two values: a sum from 0.0, so −0.0 comes out as 0.0), without its NaN check (which
    imports ``numpy.ma``)."""
    half = x.shape[1] // 2
    middle = (half,) if x.shape[1] % 2 else (half - 1, half)
    part = np.partition(x, middle, axis=1)
    mean: FloatArray = np.mean(part[:, middle[0]:half + 1], axis=1)
    return mean


def _same_size(x: FloatArray) -> list[RobustEstimate | None]:
    """Algorithm A of every row of ``x`` (rows of one sample size, each with some spread)."""
    params = algorithm_a_parameters("iso13528")
    rows, size = x.shape
    x0 = _median_same_size(x)
    s0 = params.start_factor * _median_same_size(np.abs(x - x0[:, None]))
    for r in np.flatnonzero(s0 == 0.0):
        s0[r] = float(np.std(x[r], ddof=1))
    res = algorithm_a_rows(x, None, np.full(rows, float(size)), x0, s0, factor=params.factor,
                           k=HUBER_K, rule="iso13528", tol=params.tol, max_iter=params.max_iter, update_scale=True)
    out: list[RobustEstimate | None] = []
    for loc, sc, its, ok in zip(res.location.tolist(), res.scale.tolist(), res.iterations.tolist(),
                                res.converged.tolist(), strict=True):
        out.append(RobustEstimate("algorithm-a", loc, sc, size, its, u_assigned(sc, size)) if ok and sc > 0
                   else None)
    return out


def score_batch(
    results: FloatArray,
    assigned_value: FloatArray,
    sigma_pt: FloatArray,
    u_assigned: FloatArray,
    *,
    expanded_u: FloatArray | None = None,
    coverage_factor: float | FloatArray = 2.0,
    expanded_u_assigned: FloatArray | None = None,
) -> BatchScores:
    """D, z, z', zeta, E_n for all results (ISO 13528:2022 9.3 to 9.7), row-wise parameters.

    ``expanded_u`` are the laboratories' U(x) with ``coverage_factor`` k (u = U/k for zeta);
    U(x_pt) defaults to 2 u(x_pt). z' is chosen per analyte when u(x_pt) > 0.3 sigma_pt.
    """
    x = _as_matrix(results, "results")
    xpt = np.asarray(assigned_value, dtype=float)[:, None]
    sig = np.asarray(sigma_pt, dtype=float)
    u = np.asarray(u_assigned, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = x - xpt
        z = d / sig[:, None]
        zp = d / np.hypot(sig, u)[:, None]
        prime = u > 0.3 * sig
        score = np.where(prime[:, None], zp, z)
        if expanded_u is None:
            zeta = np.full_like(x, np.nan)
            en = np.full_like(x, np.nan)
        else:
            big_u = _as_matrix(expanded_u, "expanded uncertainties")
            kf = np.asarray(coverage_factor, dtype=float)
            big_u_pt = 2.0 * u if expanded_u_assigned is None else np.asarray(expanded_u_assigned, dtype=float)
            zeta = d / np.sqrt((big_u / kf) ** 2 + (u * u)[:, None])
            en = d / np.sqrt(big_u * big_u + (big_u_pt * big_u_pt)[:, None])
    return BatchScores(d, z, zp, score, prime, zeta, en)


def assess_round_batch(
    results: FloatArray,
    *,
    expanded_u: FloatArray | None = None,
    coverage_factor: float | FloatArray = 2.0,
    sigma_pt: FloatArray | None = None,
    rule: StoppingRule = "iso13528",
) -> tuple[BatchEstimate, BatchScores]:
    """Algorithm A consensus + u(x_pt) + all scores; sigma_pt defaults to s* (8.6)."""
    est = algorithm_a_batch(results, rule=rule)
    sig = est.scale if sigma_pt is None else np.asarray(sigma_pt, dtype=float)
    return est, score_batch(results, est.location, sig, est.u_assigned, expanded_u=expanded_u,
                            coverage_factor=coverage_factor)
