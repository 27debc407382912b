"""Extract-to-sample, rounding, reporting, batch QC, Westgard, uncertainty, rapid tests."""

from __future__ import annotations

from decimal import Decimal

import pytest

from calibration import qc
from calibration.errors import CalibrationError
from calibration.quantify import report_value, round_gb8170, round_sante, sample_concentration_mg_kg
from calibration.rapid import (
    ScreenAction,
    ScreenCall,
    colloidal_gold_call,
    enzyme_retest_action,
)
from calibration.uncertainty import combine_relative, expanded_uncertainty


def test_sample_concentration() -> None:
    # 0.05 mg/L in 10 mL extract from 10 g, diluted 2× → 0.1 mg/kg; 80 % recovery → 0.125
    assert sample_concentration_mg_kg(0.05, 10, 10, 2) == pytest.approx(0.1)
    assert sample_concentration_mg_kg(0.05, 10, 10, 2, recovery_percent=80) == pytest.approx(0.125)
    with pytest.raises(CalibrationError, match="sample_mass_g"):
        sample_concentration_mg_kg(0.05, 10, 0)


@pytest.mark.parametrize(("value", "decimals", "expected"), [
    # GB/T 8170-2008 §3.2 examples: 12.1498 → 12.1 (1 decimal); 10.2502 → 10.3 (5 followed by
    # non-zero digits rounds up); 1.0500 → 1.0 and 0.3500 → 0.4 (5 alone: round to even).
    ("12.1498", 1, "12.1"), ("10.2502", 1, "10.3"), ("1.0500", 1, "1.0"), ("0.3500", 1, "0.4"),
    ("2.675", 2, "2.68"), ("2.665", 2, "2.66"),
])
def test_gb8170(value: str, decimals: int, expected: str) -> None:
    assert round_gb8170(value, decimals=decimals) == Decimal(expected)


def test_gb8170_float_uses_decimal_text() -> None:
    assert round_gb8170(2.675, decimals=2) == Decimal("2.68")  # binary round(2.675, 2) gives 2.67


@pytest.mark.parametrize(("value", "expected"), [("0.01234", "0.012"), ("9.96", "10"), ("12.345", "12.3"),
                                                 ("123.45", "123"), ("0.0125", "0.012"), ("0.0135", "0.014")])
def test_sante_rounding(value: str, expected: str) -> None:
    assert round_sante(value) == Decimal(expected)


def test_reporting() -> None:
    assert report_value(0.004, lod_mg_kg=0.003, loq_mg_kg=0.01).qualifier == "<LOQ"
    nd = report_value(0.001, lod_mg_kg=0.003, loq_mg_kg=0.01)
    assert nd.qualifier == "ND" and nd.text.startswith("not detected (< LOD")
    v = report_value(0.01234, lod_mg_kg=0.003, loq_mg_kg=0.01)
    assert v.text == "0.012" and v.value == Decimal("0.012")


def test_qc_maths() -> None:
    assert qc.recovery_percent(0.095, 0.1, native=0.005) == pytest.approx(90.0)
    assert qc.recovery_ok(65.0) and not qc.recovery_ok(65.0, qc.VALIDATION_RECOVERY_RANGE)
    assert qc.relative_percent_difference(0.9, 1.1) == pytest.approx(20.0)
    assert qc.blank_contaminated(0.004, 0.01) and not qc.blank_contaminated(0.002, 0.01)
    assert qc.matrix_effect_percent(0.8, 1.0) == pytest.approx(-20.0)
    assert qc.ccv_drift_ok(-19.9) and not qc.ccv_drift_ok(20.5)


def test_identification_rules() -> None:
    assert qc.retention_time_ok(5.09, 5.0) and not qc.retention_time_ok(5.11, 5.0)
    assert qc.retention_time_ok(10.24, 10.0, rule="gb23200") and not qc.retention_time_ok(10.26, 10.0, "gb23200")
    assert qc.ion_ratio_ok(0.65, 0.5) and not qc.ion_ratio_ok(0.66, 0.5)
    assert [qc.gb23200_ion_ratio_tolerance_percent(r) for r in (60, 50, 20, 10, 5)] == [20, 25, 30, 50, 50]
    assert qc.ion_ratio_ok(0.07, 0.05, rule="gb23200")  # ≤ 10 % relative abundance → ±50 %
    assert not qc.ion_ratio_ok(0.73, 0.6, rule="gb23200")  # > 50 % → ±20 %


@pytest.mark.parametrize(("values", "runs", "status", "rule"), [
    ([0.5, 2.5], None, "warning", "1-2s"),
    ([0.5, 3.2], None, "reject", "1-3s"),
    ([2.1, 2.3], None, "reject", "2-2s"),
    ([2.1, -2.2], ["a", "a"], "reject", "R-4s"),
    ([1.5, 1.2, 1.1, 1.3], None, "reject", "4-1s"),
    ([0.2] * 9 + [0.4], None, "reject", "10x"),
    ([0.2, -0.1, 0.5], None, "accept", None),
])
def test_westgard(values: list[float], runs: list[str] | None, status: str, rule: str | None) -> None:
    r = qc.westgard(values, mean=0.0, sd=1.0, run_ids=runs)
    assert r.status == status
    if rule:
        assert rule in r.violations


def test_r4s_needs_same_run() -> None:
    assert "R-4s" not in qc.westgard([2.1, -2.2], 0.0, 1.0, run_ids=["a", "b"]).violations


def test_uncertainty() -> None:
    assert combine_relative({"cal": 0.03, "rec": 0.04}) == pytest.approx(0.05)
    u = expanded_uncertainty(0.2, {"cal": 0.03, "rec": 0.04}, k=2)
    assert u.expanded == pytest.approx(0.02) and u.expanded_relative == pytest.approx(0.1)
    d = expanded_uncertainty(0.2)
    assert d.expanded == pytest.approx(0.1)  # SANTE default 50 %


def test_colloidal_gold() -> None:
    assert colloidal_gold_call(0.8, 0.0, 0.5).call is ScreenCall.INVALID
    assert colloidal_gold_call(0.3, 1.0, 0.5).call is ScreenCall.POSITIVE
    assert colloidal_gold_call(0.7, 1.0, 0.5).call is ScreenCall.NEGATIVE


def test_enzyme_retest_rule() -> None:
    p, n, i = ScreenCall.POSITIVE, ScreenCall.NEGATIVE, ScreenCall.INVALID
    assert enzyme_retest_action([n]) is ScreenAction.REPORT_NEGATIVE
    assert enzyme_retest_action([p]) is ScreenAction.RETEST
    assert enzyme_retest_action([p, p]) is ScreenAction.CONFIRM_BY_CHROMATOGRAPHY
    assert enzyme_retest_action([p, i]) is ScreenAction.REPEAT_RUN
    assert enzyme_retest_action([p, n]) is ScreenAction.REPORT_NEGATIVE
