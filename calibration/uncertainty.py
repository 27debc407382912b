"""Measurement uncertainty (GUM, JCGM 100:2008 §5.1; SANTE/11312/2021 default 50 %).

Relative standard uncertainties of independent components (calibration, recovery, precision…)
combine in quadrature: u_c,rel = √(Σ u_i,rel²); expanded U = k·u_c (k = 2 ≈ 95 %).

Top-down from the laboratory's own data (EURACHEM/CITAC Guide CG4 "Quantifying Uncertainty in
Analytical Measurement", 3rd ed. 2012, §7.7, in-house validation data; Nordtest TR 537 ed. 4, 2017,
§3–§5): within-laboratory reproducibility u(Rw) and the method and laboratory bias u(bias) combine as u_c = √(u(Rw)² + u(bias)²), U = 2·u_c, all relative (%).
u(bias) from recovery or reference-material data is √(RMS_bias² + u(Cref)²) with
RMS_bias = √(Σ bias_i² / n) over the n recovery (or PT) results (TR 537 §5.2/§5.3); from one
validation study (mean recovery R̄ of n replicates with SD s) the bias is R̄ − 100 % and the
standard uncertainty of that mean s/√n is added in quadrature (TR 537 §5.1, one CRM).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from calibration.errors import CalibrationError

#: SANTE/11312/2021 v2: a default expanded measurement uncertainty of 50 % (k = 2).
DEFAULT_EXPANDED_RELATIVE = 0.50


@dataclass(frozen=True)
class Uncertainty:
    value: float
    combined_relative: float
    expanded: float
    expanded_relative: float
    k: float
    components: dict[str, float]
    #: Where the components came from: ``components`` (given), ``validation``, ``qc_history`` or
    #: ``default_sante_50`` (no laboratory data: the SANTE default, to be flagged on the result).
    source: str = "components"


def combine_relative(components: Mapping[str, float]) -> float:
    """u_c,rel = √(Σ u_i,rel²) for independent relative standard uncertainties."""
    for name, u in components.items():
        if not math.isfinite(u) or u < 0:
            raise CalibrationError(f"uncertainty component {name!r} must be ≥ 0 (got {u!r})")
    return math.sqrt(sum(u * u for u in components.values()))


def expanded_uncertainty(value: float, components: Mapping[str, float] | None = None, k: float = 2.0) -> Uncertainty:
    """Expanded U for ``value``: GUM combination of relative components, or the 50 % default."""
    if k <= 0:
        raise CalibrationError(f"coverage factor k must be > 0 (got {k})")
    if not components:
        rel_u = DEFAULT_EXPANDED_RELATIVE / 2.0
        comps: dict[str, float] = {"sante_default": rel_u}
        return Uncertainty(value, rel_u, abs(value) * rel_u * 2.0, rel_u * 2.0, 2.0, comps, "default_sante_50")
    comps = dict(components)
    rel_u = combine_relative(comps)
    return Uncertainty(value, rel_u, abs(value) * rel_u * k, rel_u * k, k, comps)


@dataclass(frozen=True)
class TopDown:
    """Nordtest TR 537 top-down estimate, all in % (relative): u(Rw), u(bias), u_c and U = k·u_c."""

    u_rw_percent: float
    u_bias_percent: float
    combined_percent: float
    expanded_percent: float
    k: float


def rms_bias_percent(biases_percent: Sequence[float]) -> float:
    """RMS_bias = √(Σ b_i² / n) of relative biases in % (Nordtest TR 537 §5.2)."""
    if not biases_percent:
        raise CalibrationError("RMS bias needs at least one bias value")
    for i, b in enumerate(biases_percent):
        if not math.isfinite(b):
            raise CalibrationError(f"bias {i} is not a finite number ({b!r})", point=i, field="bias")
    return math.sqrt(sum(b * b for b in biases_percent) / len(biases_percent))


def u_bias_from_biases(biases_percent: Sequence[float], u_cref_percent: float) -> float:
    """u(bias) = √(RMS_bias² + u(Cref)²) (Nordtest TR 537 §5.2 PT results, §5.3 recoveries)."""
    _non_negative("u_cref_percent", u_cref_percent)
    return math.hypot(rms_bias_percent(biases_percent), u_cref_percent)


def u_bias_from_validation(mean_recovery_percent: float, recovery_sd_percent: float, n: int,
                           u_cref_percent: float) -> float:
    """u(bias) = √(b² + (s/√n)² + u(Cref)²) with b = R̄ − 100 % (Nordtest TR 537 §5.1, one material)."""
    if n < 2:
        raise CalibrationError(f"a validation recovery needs at least 2 replicates (got {n})", field="n")
    _non_negative("recovery_sd_percent", recovery_sd_percent)
    _non_negative("u_cref_percent", u_cref_percent)
    if not math.isfinite(mean_recovery_percent) or mean_recovery_percent <= 0:
        raise CalibrationError(f"mean recovery must be > 0 % (got {mean_recovery_percent!r})", field="recovery")
    bias = mean_recovery_percent - 100.0
    return math.sqrt(bias * bias + recovery_sd_percent ** 2 / n + u_cref_percent ** 2)


def top_down(u_rw_percent: float, u_bias_percent: float, k: float = 2.0) -> TopDown:
    """u_c = √(u(Rw)² + u(bias)²), U = k·u_c (Nordtest TR 537 §3.2; EURACHEM/CITAC CG4 §7.7)."""
    _non_negative("u_rw_percent", u_rw_percent)
    _non_negative("u_bias_percent", u_bias_percent)
    if k <= 0:
        raise CalibrationError(f"coverage factor k must be > 0 (got {k})")
    uc = math.hypot(u_rw_percent, u_bias_percent)
    return TopDown(u_rw_percent, u_bias_percent, uc, k * uc, k)


def top_down_uncertainty(value: float, estimate: TopDown, source: str) -> Uncertainty:
    """The :class:`Uncertainty` of ``value`` from a top-down estimate, with its source named."""
    comps = {"u_Rw": estimate.u_rw_percent / 100.0, "u_bias": estimate.u_bias_percent / 100.0}
    rel = estimate.combined_percent / 100.0
    return Uncertainty(value, rel, abs(value) * rel * estimate.k, rel * estimate.k, estimate.k, comps, source)


def _non_negative(name: str, v: float) -> None:
    if not math.isfinite(v) or v < 0:
        raise CalibrationError(f"{name} must be a number ≥ 0 (got {v!r})", field=name)
