"""Performance statistics of ISO 13528:2022 Clause 9 and their classification.

D (9.3.1, Formula 11), D % (Formula 12), PA (9.3.6, Formula 13), z (9.4, Formula 14),
z' (9.5, Formula 15), zeta with standard uncertainties (9.6, Formula 19), E_n with expanded
uncertainties (9.7, Formula 20). |z| <= 2 satisfactory, 2 < |z| < 3 questionable, |z| >= 3
unsatisfactory (9.4.2); |E_n| >= 1 calls for action (9.7.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._scalars import finite, non_negative, positive
from .errors import ProficiencyError
from .sigma import uncertainty_negligible

SATISFACTORY = "satisfactory"
QUESTIONABLE = "questionable"
UNSATISFACTORY = "unsatisfactory"


def difference(result: float, assigned_value: float) -> float:
    """9.3.1, Formula (11): D = x - x_pt."""
    return finite("result", result) - finite("assigned value", assigned_value)


def percent_difference(result: float, assigned_value: float) -> float:
    """9.3.1, Formula (12): D % = 100 (x - x_pt) / x_pt (undefined for x_pt = 0)."""
    xpt = finite("assigned value", assigned_value)
    if xpt == 0:
        raise ProficiencyError("D %: the assigned value is zero")
    return 100.0 * (finite("result", result) - xpt) / xpt


def percent_allowed(result: float, assigned_value: float, max_permissible_error: float) -> float:
    """9.3.6, Formula (13): PA = 100 D / delta_E."""
    return 100.0 * difference(result, assigned_value) / positive("delta_E", max_permissible_error)


def z_score(result: float, assigned_value: float, sigma_pt: float) -> float:
    """9.4.1, Formula (14): z = (x - x_pt) / sigma_pt."""
    return difference(result, assigned_value) / positive("sigma_pt", sigma_pt)


def z_prime_score(result: float, assigned_value: float, sigma_pt: float, u_assigned: float) -> float:
    """9.5.1, Formula (15): z' = (x - x_pt) / sqrt(sigma_pt^2 + u^2(x_pt))."""
    den = math.hypot(positive("sigma_pt", sigma_pt), non_negative("u(x_pt)", u_assigned))
    return difference(result, assigned_value) / den


def zeta_score(result: float, assigned_value: float, u_result: float, u_assigned: float) -> float:
    """9.6.1, Formula (19): zeta = (x - x_pt) / sqrt(u^2(x) + u^2(x_pt)), standard uncertainties."""
    den = math.hypot(non_negative("u(x)", u_result), non_negative("u(x_pt)", u_assigned))
    if den == 0:
        raise ProficiencyError("zeta: u(x) and u(x_pt) are both zero")
    return difference(result, assigned_value) / den


def en_score(result: float, assigned_value: float, expanded_u_result: float, expanded_u_assigned: float) -> float:
    """9.7.1, Formula (20): E_n = (x - x_pt) / sqrt(U^2(x) + U^2(x_pt)), expanded uncertainties."""
    den = math.hypot(non_negative("U(x)", expanded_u_result), non_negative("U(x_pt)", expanded_u_assigned))
    if den == 0:
        raise ProficiencyError("E_n: U(x) and U(x_pt) are both zero")
    return difference(result, assigned_value) / den


def classify_z(score: float) -> str:
    """9.4.2: satisfactory (|z| <= 2), questionable (2 < |z| < 3), unsatisfactory (|z| >= 3).

    Also used for z' and zeta."""
    a = abs(finite("score", score))
    if a <= 2.0:
        return SATISFACTORY
    return QUESTIONABLE if a < 3.0 else UNSATISFACTORY


def en_action(score: float) -> bool:
    """9.7.2: |E_n| >= 1 is an action signal."""
    return abs(finite("E_n", score)) >= 1.0


@dataclass(frozen=True)
class ParticipantScore:
    """All statistics of one result. ``statistic`` is "z" or "z'" (9.2.1 decides) and ``score``
    its value, which ``classification`` judges; ``zeta``/``en`` are None without an uncertainty."""

    result: float
    d: float
    d_percent: float | None
    z: float
    z_prime: float
    statistic: str
    score: float
    classification: str
    zeta: float | None
    en: float | None
    en_action: bool | None


def score_result(
    result: float,
    assigned_value: float,
    sigma_pt: float,
    u_assigned: float = 0.0,
    *,
    expanded_u_result: float | None = None,
    coverage_factor: float = 2.0,
    expanded_u_assigned: float | None = None,
) -> ParticipantScore:
    """Score one result. z' replaces z when u(x_pt) > 0.3 sigma_pt (9.2.1, 9.5).

    ``expanded_u_result`` U(x) with ``coverage_factor`` k gives u(x) = U/k for zeta and U for E_n;
    U(x_pt) defaults to 2 u(x_pt).
    """
    d = difference(result, assigned_value)
    xpt = float(assigned_value)
    z = z_score(result, assigned_value, sigma_pt)
    zp = z_prime_score(result, assigned_value, sigma_pt, u_assigned)
    use_prime = not uncertainty_negligible(u_assigned, sigma_pt)
    score = zp if use_prime else z
    zeta = en = None
    action = None
    if expanded_u_result is not None:
        big_u = non_negative("U(x)", expanded_u_result)
        k = positive("coverage factor k", coverage_factor)
        big_u_pt = 2.0 * u_assigned if expanded_u_assigned is None else expanded_u_assigned
        if big_u > 0 or u_assigned > 0:
            zeta = zeta_score(result, assigned_value, big_u / k, u_assigned)
            en = en_score(result, assigned_value, big_u, big_u_pt)
            action = en_action(en)
    return ParticipantScore(
        result=float(result), d=d, d_percent=(100.0 * d / xpt) if xpt != 0 else None, z=z, z_prime=zp,
        statistic="z'" if use_prime else "z", score=score, classification=classify_z(score),
        zeta=zeta, en=en, en_action=action,
    )
