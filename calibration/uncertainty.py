"""Measurement uncertainty (GUM, JCGM 100:2008 §5.1; SANTE/11312/2021 default 50 %).

Relative standard uncertainties of independent components (calibration, recovery, precision…)
combine in quadrature: u_c,rel = √(Σ u_i,rel²); expanded U = k·u_c (k = 2 ≈ 95 %).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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
        k = 2.0
    else:
        comps = dict(components)
        rel_u = combine_relative(comps)
    return Uncertainty(value, rel_u, abs(value) * rel_u * k, rel_u * k, k, comps)
