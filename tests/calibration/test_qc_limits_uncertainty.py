"""Per-method QC limits and identification (calibration.qc), top-down uncertainty (calibration.uncertainty).

Identification tolerances: SANTE/11312/2021 v2 (RT ±0.1 min, ion ratio ±30 % relative) and the GB 23200
series (RT ±2.5 %; ion-ratio tolerance >50 % → ±20 %, 20–50 % → ±25 %, 10–20 % → ±30 %, ≤10 % → ±50 %),
as ../shared/DOMAIN.md states them. Uncertainty: Nordtest TR 537 ed. 4 formulas
u_c = √(u(Rw)² + u(bias)²), u(bias) = √(RMS_bias² + u(Cref)²); the numbers below are computed by hand
from those formulas (the handbook's own worked example could not be consulted here, see the commit).
"""

from __future__ import annotations

import math

import pytest

from calibration.errors import CalibrationError
from calibration.qc import GB23200_LIMITS, QcLimits, identify, recovery_ok
from calibration.uncertainty import (
    expanded_uncertainty,
    rms_bias_percent,
    top_down,
    top_down_uncertainty,
    u_bias_from_biases,
    u_bias_from_validation,
)


def test_qc_limits_defaults_are_sante_routine_and_validated() -> None:
    lim = QcLimits()
    assert lim.recovery_range == (60.0, 140.0) and lim.ccv_max_drift_percent == 20.0
    assert lim.blank_max_fraction_of_rl == 0.3 and lim.identification == "none"
    assert recovery_ok(65.0, lim.recovery_range)
    assert not recovery_ok(65.0, QcLimits(recovery_min_percent=70.0, recovery_max_percent=120.0).recovery_range)
    with pytest.raises(CalibrationError) as err:
        QcLimits(recovery_min_percent=120.0, recovery_max_percent=70.0)
    assert err.value.field == "recovery_min_percent"
    with pytest.raises(CalibrationError):
        QcLimits(identification="maybe")
    assert GB23200_LIMITS.identification == "gb23200"


@pytest.mark.parametrize(("rt", "ratio", "ok"), [(8.29, 0.52, True), (8.31, 0.52, False), (8.20, 0.66, False),
                                                 (8.20, 0.34, False), (8.20, 0.64, True)])
def test_sante_identification(rt: float, ratio: float, ok: bool) -> None:
    ident = identify("sante", rt, 8.20, ratio, 0.50)
    assert ident.identified is ok
    assert ident.rt_tolerance_min == 0.1 and ident.ion_ratio_tolerance_percent == 30.0
    assert bool(ident.reasons) is not ok


@pytest.mark.parametrize(("reference", "found", "tolerance", "ok"), [
    (0.60, 0.71, 20.0, True), (0.60, 0.73, 20.0, False),   # > 50 %: ±20 %
    (0.40, 0.49, 25.0, True), (0.40, 0.51, 25.0, False),   # 20–50 %: ±25 %
    (0.15, 0.19, 30.0, True), (0.15, 0.20, 30.0, False),   # 10–20 %: ±30 %
    (0.08, 0.119, 50.0, True), (0.08, 0.121, 50.0, False),  # ≤ 10 %: ±50 %
])
def test_gb23200_ion_ratio_bands(reference: float, found: float, tolerance: float, ok: bool) -> None:
    ident = identify("gb23200", 10.0, 10.0, found, reference)
    assert ident.ion_ratio_tolerance_percent == tolerance and ident.ion_ratio_ok is ok


def test_gb23200_rt_window_is_relative() -> None:
    assert identify("gb23200", 10.24, 10.0, 0.5, 0.5).rt_ok       # 2.5 % of 10 min = 0.25 min
    assert not identify("gb23200", 10.26, 10.0, 0.5, 0.5).rt_ok
    assert not identify("sante", 10.24, 10.0, 0.5, 0.5).rt_ok      # SANTE: 0.1 min


def test_missing_measurement_is_not_identified() -> None:
    ident = identify("sante", None, 8.2, 0.5, 0.5)
    assert not ident.identified and not ident.rt_ok and ident.ion_ratio_ok
    assert "missing" in ident.reasons[0]


def test_top_down_arithmetic() -> None:
    # RMS of biases +3, −4 % = √((9 + 16)/2) = 3.5355…; with u(Cref) 1.5 %: √(12.5 + 2.25) = 3.8406…
    assert rms_bias_percent([3.0, -4.0]) == pytest.approx(math.sqrt(12.5), rel=1e-15)
    assert u_bias_from_biases([3.0, -4.0], 1.5) == pytest.approx(math.sqrt(14.75), rel=1e-15)
    # validation: mean recovery 92 %, s 6 %, n 6, u(Cref) 2 % → √(64 + 6 + 4) = √74
    ub = u_bias_from_validation(92.0, 6.0, 6, 2.0)
    assert ub == pytest.approx(math.sqrt(74.0), rel=1e-15)
    est = top_down(8.0, ub)
    assert est.combined_percent == pytest.approx(math.sqrt(64.0 + 74.0), rel=1e-15)
    assert est.expanded_percent == pytest.approx(2.0 * math.sqrt(138.0), rel=1e-15)
    unc = top_down_uncertainty(0.12, est, "validation")
    assert unc.source == "validation" and unc.k == 2.0
    assert unc.expanded == pytest.approx(0.12 * 2.0 * math.sqrt(138.0) / 100.0, rel=1e-12)
    with pytest.raises(CalibrationError):
        u_bias_from_validation(92.0, 6.0, 1, 2.0)


def test_default_is_flagged_as_the_sante_default() -> None:
    unc = expanded_uncertainty(0.2)
    assert unc.source == "default_sante_50" and unc.expanded_relative == 0.5 and unc.expanded == pytest.approx(0.1)
    assert expanded_uncertainty(0.2, {"u_Rw": 0.1}).source == "components"


def test_method_windows_override_the_rule() -> None:
    own = QcLimits(identification="gb23200", rt_tolerance_min=0.05, ion_ratio_tolerance_percent=15.0)
    ident = identify("gb23200", 10.06, 10.0, 0.56, 0.60, own)  # GB 23200 alone: ±0.25 min, ±20 %
    assert ident.rt_tolerance_min == 0.05 and not ident.rt_ok
    assert ident.ion_ratio_tolerance_percent == 15.0 and ident.ion_ratio_ok  # −6.7 %
    assert identify("gb23200", 10.06, 10.0, 0.56, 0.60).identified
    assert identify("sante", 10.24, 10.0, 0.5, 0.5, QcLimits(rt_tolerance_percent=2.5)).rt_ok
    with pytest.raises(CalibrationError):
        QcLimits(rt_tolerance_min=0.1, rt_tolerance_percent=2.5)
    with pytest.raises(CalibrationError):
        QcLimits(ion_ratio_tolerance_percent=0.0)
