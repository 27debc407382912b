"""Rapid-test maths.

Enzyme inhibition (GB/T 5009.199-2003, NY/T 448-2001): absorbance at 412 nm read at the start
and after 3 min; ΔA = A(3 min) − A(0); inhibition % = (ΔA_control − ΔA_sample) / ΔA_control × 100.
A run is valid only when the control ΔA ≥ 0.3; ≥ 50 % inhibition is positive, which must be
re-tested and then confirmed by chromatography.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from calibration.errors import CalibrationError

#: GB/T 5009.199-2003 §4: control ΔA over 3 min should be at least 0.3 for a valid run.
MIN_CONTROL_DELTA_A = 0.3
#: GB/T 5009.199-2003 §5: inhibition ≥ 50 % is a positive screen.
POSITIVE_THRESHOLD_PERCENT = 50.0


class ScreenCall(StrEnum):
    NEGATIVE = "negative"
    POSITIVE = "positive"
    INVALID = "invalid"


@dataclass(frozen=True)
class InhibitionResult:
    delta_a_control: float
    delta_a_sample: float
    inhibition_percent: float
    call: ScreenCall
    reason: str


def delta_absorbance(a_start: float, a_end: float) -> float:
    """ΔA over the reaction time (A_end − A_start)."""
    for name, v in (("a_start", a_start), ("a_end", a_end)):
        if not math.isfinite(v):
            raise CalibrationError(f"{name}: absorbance is not a finite number ({v!r})")
    return a_end - a_start


def inhibition_percent(delta_a_control: float, delta_a_sample: float) -> float:
    """(ΔA_control − ΔA_sample) / ΔA_control × 100 (GB/T 5009.199-2003)."""
    if not (math.isfinite(delta_a_control) and math.isfinite(delta_a_sample)):
        raise CalibrationError("ΔA is not a finite number")
    if delta_a_control <= 0:
        raise CalibrationError(f"control ΔA must be positive to compute inhibition (got {delta_a_control:.4f})")
    return (delta_a_control - delta_a_sample) / delta_a_control * 100.0


def enzyme_inhibition(delta_a_control: float, delta_a_sample: float, *,
                      threshold_percent: float = POSITIVE_THRESHOLD_PERCENT,
                      min_control_delta_a: float = MIN_CONTROL_DELTA_A) -> InhibitionResult:
    """Screen call for one sample against its run's control."""
    if not math.isfinite(delta_a_control) or delta_a_control < min_control_delta_a:
        return InhibitionResult(delta_a_control, delta_a_sample, math.nan, ScreenCall.INVALID,
                                f"control ΔA {delta_a_control:.4f} < {min_control_delta_a} (run invalid)")
    pct = inhibition_percent(delta_a_control, delta_a_sample)
    if pct >= threshold_percent:
        return InhibitionResult(delta_a_control, delta_a_sample, pct, ScreenCall.POSITIVE,
                                f"inhibition {pct:.1f} % ≥ {threshold_percent:g} %: re-test, then confirm")
    return InhibitionResult(delta_a_control, delta_a_sample, pct, ScreenCall.NEGATIVE,
                            f"inhibition {pct:.1f} % < {threshold_percent:g} %")


# --------------------------------------------------------------------------- re-test rule

class ScreenAction(StrEnum):
    REPORT_NEGATIVE = "report_negative"
    RETEST = "retest"
    CONFIRM_BY_CHROMATOGRAPHY = "confirm_by_chromatography"
    REPEAT_RUN = "repeat_run"


def enzyme_retest_action(calls: list[ScreenCall]) -> ScreenAction:
    """GB/T 5009.199-2003 §6: a first positive is re-tested; two positives go to chromatography.

    ``calls`` are the valid-or-invalid screen calls of one sample in time order.
    """
    valid = [c for c in calls if c is not ScreenCall.INVALID]
    if not calls or (calls[-1] is ScreenCall.INVALID):
        return ScreenAction.REPEAT_RUN
    positives = sum(1 for c in valid if c is ScreenCall.POSITIVE)
    if positives >= 2:
        return ScreenAction.CONFIRM_BY_CHROMATOGRAPHY
    if valid[-1] is ScreenCall.POSITIVE:
        return ScreenAction.RETEST
    return ScreenAction.REPORT_NEGATIVE


# --------------------------------------------------------------------------- colloidal gold

@dataclass(frozen=True)
class StripResult:
    t_intensity: float
    c_intensity: float
    t_over_c: float
    call: ScreenCall
    reason: str


def colloidal_gold_call(t_intensity: float, c_intensity: float, cutoff_t_over_c: float,
                        min_c_intensity: float = 0.0) -> StripResult:
    """Competitive colloidal-gold strip: no C line → invalid; T/C below the kit cut-off → positive."""
    for name, v in (("t_intensity", t_intensity), ("c_intensity", c_intensity), ("cutoff", cutoff_t_over_c)):
        if not math.isfinite(v):
            raise CalibrationError(f"{name} is not a finite number ({v!r})")
    if c_intensity <= min_c_intensity:
        return StripResult(t_intensity, c_intensity, math.nan, ScreenCall.INVALID,
                           "no control (C) line: strip invalid, repeat")
    ratio = t_intensity / c_intensity
    if ratio < cutoff_t_over_c:
        return StripResult(t_intensity, c_intensity, ratio, ScreenCall.POSITIVE,
                           f"T/C {ratio:.3f} < cut-off {cutoff_t_over_c:g}: positive, confirm")
    return StripResult(t_intensity, c_intensity, ratio, ScreenCall.NEGATIVE,
                       f"T/C {ratio:.3f} ≥ cut-off {cutoff_t_over_c:g}")
