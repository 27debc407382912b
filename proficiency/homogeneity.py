"""Homogeneity and stability of proficiency test items (ISO 13528:2022 Annex B).

Homogeneity (B.3): g items, m replicates each. s_x is the SD of the item averages, s_w the
within-item SD (root mean of the item variances), s_s = sqrt(max(0, s_x^2 - s_w^2 / m)) the
between-item SD. Criterion B.2.2: s_s <= 0.3 sigma_pt. Expanded criterion B.2.3:
s_s^2 <= F1 (0.3 sigma_pt)^2 + F2 s_w^2, F1/F2 from Table B.1 (duplicates, g = 7..20), otherwise
from their definition F1 = chi2_0.95(g-1)/(g-1), F2 = (F_0.95(g-1, g(m-1)) - 1)/m.
The analysis of variance F test (B.2.4 a)) is reported alongside.

Stability (B.5.1, Formula B.17): |y1 - y2| <= 0.3 sigma_pt (averages before and after).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from ._validate import as_results, non_negative, positive
from .errors import ProficiencyError, TooFewResultsError
from .outcomes import HomogeneityResult, StabilityResult

__all__ = ["HomogeneityResult", "StabilityResult", "expanded_criterion_factors", "homogeneity_check",
           "stability_check"]

#: ISO 13528:2022 Table B.1: number of items g -> (F1, F2) for duplicate measurements.
TABLE_B1: dict[int, tuple[float, float]] = {
    20: (1.59, 0.57), 19: (1.60, 0.59), 18: (1.62, 0.62), 17: (1.64, 0.64), 16: (1.67, 0.68),
    15: (1.69, 0.71), 14: (1.72, 0.75), 13: (1.75, 0.80), 12: (1.79, 0.86), 11: (1.83, 0.93),
    10: (1.88, 1.01), 9: (1.94, 1.11), 8: (2.01, 1.25), 7: (2.10, 1.43),
}


def expanded_criterion_factors(g: int, m: int = 2, *, use_table: bool = True) -> tuple[float, float]:
    """(F1, F2) of B.2.3: Table B.1 for duplicates with 7 <= g <= 20, else the defining formulae."""
    from scipy import stats

    if g < 2 or m < 2:
        raise TooFewResultsError(f"homogeneity: need g >= 2 items and m >= 2 replicates (got g={g}, m={m})")
    if use_table and m == 2 and g in TABLE_B1:
        return TABLE_B1[g]
    f1 = stats.chi2.ppf(0.95, g - 1) / (g - 1)
    f2 = (stats.f.ppf(0.95, g - 1, g * (m - 1)) - 1.0) / m
    return float(f1), float(f2)


def homogeneity_check(items: Sequence[Sequence[float]], sigma_pt: float) -> HomogeneityResult:
    """B.2/B.3 homogeneity check of a balanced g x m design (rows = items, columns = replicates)."""
    from scipy import stats

    sig = positive("sigma_pt", sigma_pt)
    try:
        x = np.asarray(items, dtype=float)
    except (TypeError, ValueError):
        raise ProficiencyError("homogeneity: items must be a g x m table of numbers "
                               "(every item needs the same number of replicates)") from None
    if x.ndim != 2:
        raise ProficiencyError("homogeneity: items must be a g x m table (same replicates per item)")
    g, m = x.shape
    if g < 2 or m < 2:
        raise TooFewResultsError(f"homogeneity: need g >= 2 items and m >= 2 replicates (got g={g}, m={m})")
    if not np.all(np.isfinite(x)):
        raise ProficiencyError("homogeneity: all results must be finite numbers")
    means = x.mean(axis=1)
    s_x2 = float(np.var(means, ddof=1))
    s_w2 = float(np.mean(np.var(x, axis=1, ddof=1)))
    s_s = math.sqrt(max(0.0, s_x2 - s_w2 / m))
    crit = 0.3 * sig
    f1, f2 = expanded_criterion_factors(g, m)
    expanded = math.sqrt(f1 * crit * crit + f2 * s_w2)
    f_crit = float(stats.f.ppf(0.95, g - 1, g * (m - 1)))
    f_stat = p = None
    if s_w2 > 0:
        f_stat = m * s_x2 / s_w2
        p = float(stats.f.sf(f_stat, g - 1, g * (m - 1)))
    return HomogeneityResult(
        g=g, m=m, mean=float(means.mean()), s_x=math.sqrt(s_x2), s_w=math.sqrt(s_w2), s_s=s_s,
        sigma_pt=sig, criterion=crit, expanded_criterion=expanded, f1=f1, f2=f2,
        passed=s_s <= crit, passed_expanded=s_s <= expanded,
        f_statistic=f_stat, f_critical=f_crit, p_value=p,
    )


def stability_check(
    before: Iterable[float], after: Iterable[float], sigma_pt: float,
    *, u_before: float | None = None, u_after: float | None = None,
) -> StabilityResult:
    """B.5.1, Formula (B.17): |y1 - y2| <= 0.3 sigma_pt; with u(y1), u(y2) also Formula (B.18),
    0.3 sigma_pt + 2 sqrt(u^2(y1) + u^2(y2))."""
    a = as_results(before, what="stability: results before")
    b = as_results(after, what="stability: results after")
    crit = 0.3 * positive("sigma_pt", sigma_pt)
    diff = abs(float(a.mean()) - float(b.mean()))
    exp_c = exp_ok = None
    if u_before is not None and u_after is not None:
        exp_c = crit + 2.0 * math.hypot(non_negative("u(y1)", u_before), non_negative("u(y2)", u_after))
        exp_ok = diff <= exp_c
    return StabilityResult(float(a.mean()), float(b.mean()), diff, crit, diff <= crit, exp_c, exp_ok)
