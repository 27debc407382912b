"""Outcomes of the Annex B homogeneity and stability checks (ISO 13528:2022 B.2, B.3, B.5.1).

Plain dataclasses without numpy, so the web app can declare them as response models without loading
the statistics; :mod:`proficiency.homogeneity` computes them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HomogeneityResult:
    """Annex B homogeneity statistics and verdicts (criteria as standard deviations)."""

    g: int
    m: int
    mean: float
    s_x: float
    s_w: float
    s_s: float
    sigma_pt: float
    criterion: float
    expanded_criterion: float
    f1: float
    f2: float
    passed: bool
    passed_expanded: bool
    f_statistic: float | None
    f_critical: float
    p_value: float | None


@dataclass(frozen=True)
class StabilityResult:
    mean_before: float
    mean_after: float
    difference: float
    criterion: float
    passed: bool
    expanded_criterion: float | None
    passed_expanded: bool | None
