"""Standard deviation for proficiency assessment sigma_pt (ISO 13528:2022 Clause 8) and the
criterion on the uncertainty of the assigned value (9.2.1).
"""

from __future__ import annotations

import math

from ._scalars import finite, non_negative, positive
from .errors import ProficiencyError

#: EU proficiency tests for pesticide residues use a fitness-for-purpose RSD of 25 % (DOMAIN.md).
EU_PESTICIDE_FFP_RSD = 0.25
#: 8.4, Formula (8) break points of the Thompson-modified Horwitz function (mass fraction).
HORWITZ_LOW = 1.2e-7
HORWITZ_HIGH = 0.138
MG_PER_KG = 1e-6


def ffp_sigma(assigned_value: float, rsd: float) -> float:
    """8.2 fitness for purpose: sigma_pt = RSD |x_pt| (e.g. RSD = 0.25 in EU pesticide rounds)."""
    return positive("RSD", rsd) * abs(finite("assigned value", assigned_value))


def horwitz_sigma_mass_fraction(c: float) -> float:
    """8.4, Formula (8), Horwitz as modified by Thompson; c and sigma_pt as mass fractions.

    c < 1.2e-7 -> 0.22 c; 1.2e-7 <= c <= 0.138 -> 0.02 c^0.8495; c > 0.138 -> 0.01 c^0.5.
    """
    cv = finite("mass fraction", c)
    if not 0.0 <= cv <= 1.0:
        raise ProficiencyError(f"Horwitz: c is a mass fraction between 0 and 1 (got {cv!r})")
    if cv < HORWITZ_LOW:
        return 0.22 * cv
    if cv <= HORWITZ_HIGH:
        return float(0.02 * cv**0.8495)
    return 0.01 * math.sqrt(cv)


def horwitz_sigma_mg_kg(concentration_mg_kg: float) -> float:
    """Thompson-modified Horwitz sigma_pt in mg/kg for a level X in mg/kg (c = X * 1e-6)."""
    x = non_negative("concentration (mg/kg)", concentration_mg_kg)
    return horwitz_sigma_mass_fraction(x * MG_PER_KG) / MG_PER_KG


def precision_sigma(sigma_r_reproducibility: float, sigma_r_repeatability: float, replicates: int) -> float:
    """8.5.1, Formula (9): sigma_pt = sqrt(sigma_R^2 - sigma_r^2 (1 - 1/n)), n replicates per lab."""
    big = non_negative("sigma_R", sigma_r_reproducibility)
    small = non_negative("sigma_r", sigma_r_repeatability)
    if isinstance(replicates, bool) or int(replicates) != replicates or replicates < 1:
        raise ProficiencyError(f"precision sigma_pt: replicates must be a positive integer (got {replicates!r})")
    v = big * big - small * small * (1.0 - 1.0 / replicates)
    if v < 0:
        raise ProficiencyError(f"precision sigma_pt: sigma_r = {small} is too large for sigma_R = {big}")
    return math.sqrt(v)


def limited_sigma(robust_sd: float, floor: float | None = None, ceiling: float | None = None) -> float:
    """8.6.2: sigma_pt from the participants' robust SD, kept within an optional floor and ceiling."""
    s = non_negative("robust SD", robust_sd)
    lo = None if floor is None else non_negative("sigma_pt floor", floor)
    hi = None if ceiling is None else non_negative("sigma_pt ceiling", ceiling)
    if lo is not None and hi is not None and lo > hi:
        raise ProficiencyError(f"sigma_pt floor {lo} exceeds ceiling {hi}")
    if lo is not None:
        s = max(s, lo)
    if hi is not None:
        s = min(s, hi)
    return s


def uncertainty_negligible(u_assigned: float, sigma_pt: float) -> bool:
    """9.2.1, Formula (10): u(x_pt) <= 0.3 sigma_pt, so z needs no allowance for u(x_pt).

    z' is used only when u(x_pt) > 0.3 sigma_pt (DOMAIN.md); the two readings of the boundary
    differ only at exact equality."""
    return non_negative("u(x_pt)", u_assigned) <= 0.3 * positive("sigma_pt", sigma_pt)
