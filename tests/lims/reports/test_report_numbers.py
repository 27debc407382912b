"""Numbers as the lab reports them (lims.reports.numbers): GB/T 8170-2008 rounding through
calibration.quantify.round_gb8170, the SANTE/11312/2021 default precision, method precision, and LOD/LOQ
with their unit.

Sources of the reference cases:
- GB/T 8170-2008 §3.2 (进舍规则) worked examples: 12.1498 → 12.1 (one decimal), 10.5002 → 11 (a 5 followed
  by non-zero digits rounds up), 1.050 → 1.0 and 0.35 → 0.4 at an interval of 0.1 (an exact 5 rounds to
  the even digit), 2500 → 2×10³ and 3500 → 4×10³ at an interval of 1000.
- SANTE/11312/2021 v2: results < 10 mg/kg to 2 significant figures, ≥ 10 mg/kg to 3.
- The issue's finding: an upstream payload carried 12.00000000000001 and a spike 0.09400122681461558.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from lims.reports.numbers import (
    Precision,
    PrecisionError,
    limit_text,
    precision_of,
    reported_number,
    reported_text,
    round_reported,
)


@pytest.mark.parametrize(("value", "decimals", "expected"), [
    ("12.1498", 1, "12.1"),
    ("10.5002", 0, "11"),
    ("1.050", 1, "1.0"),
    ("0.35", 1, "0.4"),
])
def test_gbt8170_worked_examples_by_decimals(value, decimals, expected):
    assert format(round_reported(float(value), "mg/kg", Precision(decimals=decimals)), "f") == expected


@pytest.mark.parametrize(("value", "expected"), [(2500, Decimal("2E+3")), (3500, Decimal("4E+3"))])
def test_gbt8170_exact_five_goes_to_even_at_the_thousands(value, expected):
    assert round_reported(value, "mg/kg", Precision(figures=1)) == expected


@pytest.mark.parametrize(("value", "unit", "expected"), [
    (12.00000000000001, "mg/kg", "12.0"),
    (0.09400122681461558, "mg/kg", "0.094"),
    (9.96, "mg/kg", "10"),              # 2 figures: below 10 mg/kg before rounding
    (10.04, "mg/kg", "10.0"),
    (0.0525, "mg/kg", "0.052"),         # exact 5 after an even digit: dropped
    (0.0535, "mg/kg", "0.054"),         # after an odd digit: raised
    (0.5, "µg/kg", "0.50"),             # 0.0005 mg/kg < 10 → 2 figures, in the result's unit
    (12500.0, "µg/kg", "12500"),        # 12.5 mg/kg ≥ 10 → 3 figures (1.25E+4)
])
def test_sante_default_precision(value, unit, expected):
    assert reported_text(value, unit) == expected


def test_method_precision_figures_or_decimals_and_scope_over_method():
    assert reported_text(0.0123456, "mg/kg", Precision(figures=3)) == "0.0123"
    assert reported_text(0.12345, "mg/kg", Precision(decimals=3)) == "0.123"
    assert precision_of(4, None, None, 3) == Precision(decimals=3, source="× analyte")
    assert precision_of(4, None) .figures == 4
    assert precision_of(None, None) == Precision()
    with pytest.raises(PrecisionError):
        Precision(figures=2, decimals=2)
    with pytest.raises(PrecisionError):
        Precision(figures=0)


def test_reported_number_is_the_rounded_decimal_and_none_stays_none():
    assert reported_number(12.00000000000001, "mg/kg") == 12.0
    assert reported_number(0.09400122681461558, "mg/kg") == 0.094
    assert reported_number(None, "mg/kg") is None


def test_limits_are_shown_with_their_unit():
    assert limit_text(0.005, "mg/kg") == "0.005 mg/kg"
    assert limit_text(0.25, "µg/kg") == "0.25 µg/kg"
    assert limit_text(1.93e-06, "mg/kg") == "0.00000193 mg/kg"
    assert limit_text(None, "mg/kg") is None


def test_qc_values_are_shown_as_reported():
    from lims.services.reported import qc_value_text

    assert qc_value_text(0.09400122681461558, "mg/kg") == "0.094"  # the spike
    assert qc_value_text(0.127, "mg/L") == "0.127"
    assert qc_value_text(None, "mg/kg") is None
