"""Batch QC maths: recovery, duplicates, blanks, matrix effect, identification, Westgard rules.

Sources: SANTE/11312/2021 v2 (recovery 70–120 % in validation, 60–140 % routine; RT ±0.1 min;
ion ratio ±30 % relative; ME % = (slope_matrix/slope_solvent − 1)·100); GB 23200 series
(RT ±2.5 %; ion-ratio tolerance banded by relative abundance); Westgard et al., Clin. Chem.
27 (1981) 493 (multirule); EPA SW-846 8000D §11.7 (CCV drift ≤ 20 %).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from calibration.errors import CalibrationError

ROUTINE_RECOVERY_RANGE = (60.0, 140.0)
VALIDATION_RECOVERY_RANGE = (70.0, 120.0)
SANTE_RT_TOLERANCE_MIN = 0.1
GB23200_RT_TOLERANCE_PERCENT = 2.5
SANTE_ION_RATIO_TOLERANCE_PERCENT = 30.0
CCV_MAX_DRIFT_PERCENT = 20.0


def recovery_percent(found: float, spiked: float, native: float = 0.0) -> float:
    """Recovery % = (found − native)/spiked × 100."""
    if spiked <= 0:
        raise CalibrationError(f"spiked amount must be > 0 (got {spiked})")
    return (found - native) / spiked * 100.0


def recovery_ok(recovery: float, limits: tuple[float, float] = ROUTINE_RECOVERY_RANGE) -> bool:
    return limits[0] <= recovery <= limits[1]


def relative_percent_difference(a: float, b: float) -> float:
    """Duplicate RPD % = |a − b| / ((a + b)/2) × 100."""
    mean = (a + b) / 2.0
    if mean == 0:
        return 0.0 if a == b else math.inf
    return abs(a - b) / abs(mean) * 100.0


def blank_contaminated(blank_value: float, reporting_limit: float, fraction: float = 0.3) -> bool:
    """A blank is contaminated when it exceeds ``fraction`` of the reporting limit (SANTE: 30 % of the RL)."""
    return blank_value > fraction * reporting_limit


def matrix_effect_percent(slope_matrix: float, slope_solvent: float) -> float:
    """ME % = (slope_matrix/slope_solvent − 1) × 100 (SANTE/11312/2021)."""
    if slope_solvent == 0:
        raise CalibrationError("solvent slope is zero")
    return (slope_matrix / slope_solvent - 1.0) * 100.0


def ccv_drift_ok(drift_percent: float, limit: float = CCV_MAX_DRIFT_PERCENT) -> bool:
    return abs(drift_percent) <= limit


def retention_time_ok(rt_min: float, reference_rt_min: float, rule: str = "sante") -> bool:
    """SANTE: |ΔRT| ≤ 0.1 min; GB 23200: |ΔRT| ≤ 2.5 % of the reference RT."""
    delta = abs(rt_min - reference_rt_min)
    if rule == "sante":
        return delta <= SANTE_RT_TOLERANCE_MIN + 1e-12
    if rule == "gb23200":
        return delta <= GB23200_RT_TOLERANCE_PERCENT / 100.0 * reference_rt_min + 1e-12
    raise CalibrationError(f"unknown RT rule {rule!r} (sante | gb23200)")


def gb23200_ion_ratio_tolerance_percent(reference_ratio_percent: float) -> float:
    """GB 23200: relative abundance > 50 % → ±20 %; 20–50 % → ±25 %; 10–20 % → ±30 %; ≤ 10 % → ±50 %."""
    r = reference_ratio_percent
    if r > 50:
        return 20.0
    if r > 20:
        return 25.0
    if r > 10:
        return 30.0
    return 50.0


def ion_ratio_ok(ratio: float, reference_ratio: float, rule: str = "sante") -> bool:
    """Ion ratio (qualifier/quantifier) within tolerance, relative to the reference ratio."""
    if reference_ratio <= 0:
        raise CalibrationError("reference ion ratio must be > 0")
    rel = abs(ratio - reference_ratio) / reference_ratio * 100.0
    if rule == "sante":
        return rel <= SANTE_ION_RATIO_TOLERANCE_PERCENT + 1e-9
    if rule == "gb23200":
        return rel <= gb23200_ion_ratio_tolerance_percent(reference_ratio * 100.0) + 1e-9
    raise CalibrationError(f"unknown ion-ratio rule {rule!r} (sante | gb23200)")


#: SANTE/11312/2021 v2 §C (blank): a blank above 30 % of the reporting limit is contaminated.
BLANK_MAX_FRACTION_OF_RL = 0.3
#: Duplicate RPD ≤ 20 %: the lab's routine criterion, taken from the SANTE/11312/2021 validation
#: precision criterion (RSDr ≤ 20 %); SANTE sets no routine duplicate limit of its own.
DUPLICATE_MAX_RPD_PERCENT = 20.0
#: Reference material: found value within ±20 % of the certified value (the CCV tolerance, EPA 8000D).
REFERENCE_MAX_BIAS_PERCENT = 20.0
RT_RULES = ("sante", "gb23200")
IDENTIFICATION_RULES = ("none",) + RT_RULES


@dataclass(frozen=True)
class QcLimits:
    """A method's batch-QC and identification criteria. The defaults are SANTE/11312/2021 v2 routine
    values; :data:`GB23200_LIMITS` changes the identification rules to the GB 23200 ones.

    ``identification`` is ``"none"`` (a detector that gives no confirmation of identity, e.g. FPD/ECD),
    ``"sante"`` (RT ±0.1 min, ion ratio ±30 % relative) or ``"gb23200"`` (RT ±2.5 %, ion-ratio
    tolerance banded by the relative abundance, :func:`gb23200_ion_ratio_tolerance_percent`)."""

    recovery_min_percent: float = ROUTINE_RECOVERY_RANGE[0]
    recovery_max_percent: float = ROUTINE_RECOVERY_RANGE[1]
    duplicate_max_rpd_percent: float = DUPLICATE_MAX_RPD_PERCENT
    ccv_max_drift_percent: float = CCV_MAX_DRIFT_PERCENT
    blank_max_fraction_of_rl: float = BLANK_MAX_FRACTION_OF_RL
    reference_max_bias_percent: float = REFERENCE_MAX_BIAS_PERCENT
    identification: str = "none"
    #: A method's own identification windows (None: the rule's): RT in minutes or in % of the reference RT,
    #: ion ratio in % relative (instead of the rule's fixed or banded tolerance).
    rt_tolerance_min: float | None = None
    rt_tolerance_percent: float | None = None
    ion_ratio_tolerance_percent: float | None = None

    def __post_init__(self) -> None:
        for name in ("recovery_min_percent", "recovery_max_percent", "duplicate_max_rpd_percent",
                     "ccv_max_drift_percent", "blank_max_fraction_of_rl", "reference_max_bias_percent"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise CalibrationError(f"QC limit {name} must be a number ≥ 0 (got {v!r})", field=name)
        if self.recovery_min_percent >= self.recovery_max_percent:
            raise CalibrationError(f"recovery range {self.recovery_min_percent:g}–{self.recovery_max_percent:g} % "
                                   "is empty", field="recovery_min_percent")
        for name in ("rt_tolerance_min", "rt_tolerance_percent", "ion_ratio_tolerance_percent"):
            v = getattr(self, name)
            if v is not None and (not math.isfinite(v) or v <= 0):
                raise CalibrationError(f"{name} must be a number > 0 (got {v!r})", field=name)
        if self.rt_tolerance_min is not None and self.rt_tolerance_percent is not None:
            raise CalibrationError("give the RT window in minutes or in percent, not both", field="rt_tolerance_percent")
        if self.identification not in IDENTIFICATION_RULES:
            raise CalibrationError(f"unknown identification rule {self.identification!r} "
                                   f"({' | '.join(IDENTIFICATION_RULES)})", field="identification")

    @property
    def recovery_range(self) -> tuple[float, float]:
        return (self.recovery_min_percent, self.recovery_max_percent)


SANTE_ROUTINE_LIMITS = QcLimits()
GB23200_LIMITS = QcLimits(identification="gb23200")


@dataclass(frozen=True)
class Identification:
    """Identity check of a peak (SANTE/11312/2021 v2 §D; GB 23200): both criteria must hold.
    Deviations are signed (found − reference); tolerances are those applied. ``reasons`` say what
    failed or was missing, in words."""

    rule: str
    identified: bool
    rt_ok: bool
    ion_ratio_ok: bool
    rt_deviation_min: float | None
    rt_tolerance_min: float | None
    ion_ratio_deviation_percent: float | None
    ion_ratio_tolerance_percent: float | None
    reasons: tuple[str, ...]


def rt_tolerance_min(reference_rt_min: float, rule: str) -> float:
    """Allowed |ΔRT| in minutes: SANTE 0.1 min; GB 23200 2.5 % of the reference RT."""
    if rule == "sante":
        return SANTE_RT_TOLERANCE_MIN
    if rule == "gb23200":
        return GB23200_RT_TOLERANCE_PERCENT / 100.0 * reference_rt_min
    raise CalibrationError(f"unknown RT rule {rule!r} (sante | gb23200)")


def ion_ratio_tolerance_percent(reference_ratio: float, rule: str) -> float:
    """Allowed relative ion-ratio deviation (%): SANTE ±30 %; GB 23200 banded by abundance."""
    if rule == "sante":
        return SANTE_ION_RATIO_TOLERANCE_PERCENT
    if rule == "gb23200":
        return gb23200_ion_ratio_tolerance_percent(reference_ratio * 100.0)
    raise CalibrationError(f"unknown ion-ratio rule {rule!r} (sante | gb23200)")


def identify(rule: str, rt_min: float | None, reference_rt_min: float | None, ion_ratio: float | None,
             reference_ion_ratio: float | None, limits: QcLimits | None = None) -> Identification:
    """Retention time and ion ratio (qualifier/quantifier, as a fraction) against the references from the
    calibration standards of the same sequence. A missing measurement or reference fails its criterion.
    ``limits`` may set the method's own windows (:class:`QcLimits` ``rt_tolerance_*``,
    ``ion_ratio_tolerance_percent``); otherwise the rule's apply."""
    if rule not in RT_RULES:
        raise CalibrationError(f"unknown identification rule {rule!r} (sante | gb23200)", field="identification")
    reasons: list[str] = []
    rt_dev = rt_tol = None
    rt_ok = False
    if rt_min is None or reference_rt_min is None or not (math.isfinite(rt_min) and reference_rt_min > 0):
        reasons.append("retention time or its reference is missing")
    else:
        rt_dev, rt_tol = rt_min - reference_rt_min, _rt_window(reference_rt_min, rule, limits)
        rt_ok = abs(rt_dev) <= rt_tol + 1e-12
        if not rt_ok:
            reasons.append(f"retention time {rt_min:g} min is {rt_dev:+.3f} min from {reference_rt_min:g} min "
                           f"(allowed ±{rt_tol:.3f} min)")
    ir_dev = ir_tol = None
    ir_ok = False
    if ion_ratio is None or reference_ion_ratio is None or not (math.isfinite(ion_ratio) and reference_ion_ratio > 0):
        reasons.append("ion ratio or its reference is missing")
    else:
        ir_dev = (ion_ratio - reference_ion_ratio) / reference_ion_ratio * 100.0
        ir_tol = (limits.ion_ratio_tolerance_percent if limits is not None and limits.ion_ratio_tolerance_percent
                  is not None else ion_ratio_tolerance_percent(reference_ion_ratio, rule))
        ir_ok = abs(ir_dev) <= ir_tol + 1e-9
        if not ir_ok:
            reasons.append(f"ion ratio {ion_ratio:g} deviates {ir_dev:+.1f} % from {reference_ion_ratio:g} "
                           f"(allowed ±{ir_tol:g} %)")
    return Identification(rule, rt_ok and ir_ok, rt_ok, ir_ok, rt_dev, rt_tol, ir_dev, ir_tol, tuple(reasons))


def _rt_window(reference_rt_min: float, rule: str, limits: QcLimits | None) -> float:
    if limits is not None and limits.rt_tolerance_min is not None:
        return limits.rt_tolerance_min
    if limits is not None and limits.rt_tolerance_percent is not None:
        return limits.rt_tolerance_percent / 100.0 * reference_rt_min
    return rt_tolerance_min(reference_rt_min, rule)


@dataclass(frozen=True)
class WestgardResult:
    status: str  # "accept" | "warning" | "reject"
    violations: tuple[str, ...]


def westgard(values: Sequence[float], mean: float, sd: float, run_ids: Sequence[object] | None = None) -> WestgardResult:
    """Westgard multirule on one control series in time order; the last value is the one judged.

    1-2s warning; 1-3s, 2-2s (same side), R-4s (within one run), 4-1s (same side) and 10x
    (same side of the mean) reject. A single-series helper: without ``run_ids`` R-4s looks at the last
    two values. The contract's multirule (CONTRACTS.md, Quality control: every run judged, one to three
    levels, counts across levels and runs, 3-level rules 2of3-2s/3-1s/6x, R-4s within a run only) is
    :func:`calibration.westgard.evaluate`, which ``lims qc westgard`` and lims.quality use.
    """
    if sd <= 0:
        raise CalibrationError(f"control SD must be > 0 (got {sd})")
    if not values:
        raise CalibrationError("no control values")
    z = [(v - mean) / sd for v in values]
    checks = (("1-3s", abs(z[-1]) > 3), ("2-2s", _same_side(z, 2, 2.0)), ("R-4s", _range_4s(z, run_ids)),
              ("4-1s", _same_side(z, 4, 1.0)), ("10x", _same_side(z, 10, 0.0)))
    violations = tuple(rule for rule, broken in checks if broken)
    if violations:
        return WestgardResult("reject", violations)
    if abs(z[-1]) > 2:
        return WestgardResult("warning", ("1-2s",))
    return WestgardResult("accept", ())


def _same_side(z: Sequence[float], count: int, limit: float) -> bool:
    """The last ``count`` z-scores all beyond +``limit``, or all beyond −``limit`` (2-2s, 4-1s, 10x)."""
    if len(z) < count:
        return False
    last = z[-count:]
    return all(t > limit for t in last) or all(t < -limit for t in last)


def _range_4s(z: Sequence[float], run_ids: Sequence[object] | None) -> bool:
    """R-4s: within the last value's run (else the last two values) one z > 2 and another < −2."""
    if run_ids is not None:
        same = [zz for zz, rid in zip(z, run_ids, strict=True) if rid == run_ids[-1]]
    else:
        same = list(z[-2:])
    return len(same) >= 2 and max(same) > 2 and min(same) < -2
