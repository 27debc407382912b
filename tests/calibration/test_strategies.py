"""Internal-standard, matrix-matched, standard-addition, bracketing, single- and two-point calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.curves import continuing_calibration_drift, fit_curve, inverse_predict
from calibration.errors import CalibrationError
from calibration.strategies import (
    bracketing_calibration,
    fit_internal_standard,
    matrix_effect,
    predict_internal_standard,
    single_point_concentration,
    standard_addition,
    two_point_concentration,
)

# Miller, J.N. & Miller, J.C., Statistics and Chemometrics for Analytical Chemistry (6th ed., Pearson
# 2010), §5.9, worked example: silver in photographic waste by AAS, method of standard additions.
# Ag added (µg/mL of the original sample) and absorbance as published; the book's results:
# a = 0.3218, b = 0.0186, x_E = 17.3 µg/mL, s_xE = 0.749 (from rounded intermediates; the exact
# value is 0.7479), 95 % limits 17.3 ± 1.9 µg/mL with t(5) = 2.57.
MILLER_SA_ADDED = [0, 5, 10, 15, 20, 25, 30]
MILLER_SA_ABS = [0.32, 0.41, 0.52, 0.60, 0.70, 0.77, 0.89]


def test_standard_addition_miller_example() -> None:
    sa = standard_addition(MILLER_SA_ADDED, MILLER_SA_ABS)
    assert round(sa.fit.params["intercept"], 4) == 0.3218
    assert round(sa.fit.params["slope"], 4) == 0.0186
    assert round(sa.concentration, 1) == 17.3
    assert round(sa.stderr, 2) == 0.75
    assert round(sa.ci_high - sa.concentration, 1) == 1.9
    assert sa.concentration - sa.ci_low == pytest.approx(sa.ci_high - sa.concentration)
    assert sa.dof == 5


def test_standard_addition_rejects_flat_or_blank_lines() -> None:
    with pytest.raises(CalibrationError, match="slope"):
        standard_addition([0, 1, 2, 3], [5.0, 4.0, 3.0, 2.0])
    with pytest.raises(CalibrationError, match="intercept"):
        standard_addition([0, 1, 2, 3], [-0.1, 1.0, 2.0, 3.1])


def test_internal_standard_cancels_injection_volume() -> None:
    # the same standards, the IS at 1.0 in each; a sample injected with 20 % less volume scales
    # both analyte and IS responses: the ratio, hence the result, must not change.
    conc = [0.01, 0.02, 0.05, 0.1, 0.2]
    analyte = [1020.0, 1985.0, 5030.0, 9950.0, 20100.0]
    is_resp = [50000.0, 49500.0, 50500.0, 50200.0, 49800.0]
    cal = fit_internal_standard(conc, analyte, is_resp)
    ratios = np.array(analyte) / np.array(is_resp)
    ref = fit_curve(conc, ratios)
    assert cal.fit.params == ref.params
    full = predict_internal_standard(cal, 7000.0, 50000.0)
    less = predict_internal_standard(cal, 0.8 * 7000.0, 0.8 * 50000.0)
    assert full.concentration is not None and less.concentration is not None
    assert less.concentration == pytest.approx(full.concentration, rel=1e-12)
    assert full.concentration == pytest.approx(inverse_predict(ref, 7000.0 / 50000.0).concentration or 0.0)


def test_internal_standard_concentration_ratio_basis() -> None:
    conc = np.array([1.0, 2.0, 5.0, 10.0, 20.0])
    c_is = np.full(5, 4.0)
    rr = 0.8 * conc / c_is + 0.001 * np.array([1, -1, 1, -1, 1])  # relative response factor 0.8
    cal = fit_internal_standard(conc, rr * 1e4, np.full(5, 1e4), is_concentrations=c_is)
    assert cal.basis == "concentration_ratio"
    p = predict_internal_standard(cal, 0.8 * 7.5 / 2.0 * 1e4, 1e4, is_concentration=2.0)
    assert p.concentration == pytest.approx(7.5, rel=2e-3)
    assert p.ci_low is not None and p.ci_high is not None and p.ci_low < 7.5 < p.ci_high
    with pytest.raises(CalibrationError, match="internal-standard concentration"):
        predict_internal_standard(cal, 1.0, 1.0)


def test_internal_standard_zero_is_response_names_point() -> None:
    with pytest.raises(CalibrationError) as e:
        fit_internal_standard([1, 2, 3], [1.0, 2.0, 3.0], [1.0, 0.0, 1.0])
    assert e.value.point == 1 and e.value.field == "is_response"


def test_matrix_effect_from_slopes() -> None:
    x = [0.01, 0.02, 0.05, 0.1, 0.2]
    solvent = [100.0 * v + 0.2 for v in x]
    matrix = [70.0 * v + 0.2 for v in x]  # 30 % suppression
    me = matrix_effect(x, solvent, x, matrix)
    assert me.matrix_effect_percent == pytest.approx(-30.0)
    assert me.matrix_matched_required
    mild = matrix_effect(x, solvent, x, [90.0 * v + 0.21 for v in x])
    assert mild.matrix_effect_percent == pytest.approx(-10.0, abs=0.2) and not mild.matrix_matched_required


def test_bracketing_drift_and_combined_fit() -> None:
    x = [1, 2, 5, 10, 20]
    before = [10.0, 20.2, 49.8, 100.5, 199.0]
    after = [9.5, 19.0, 47.5, 95.0, 190.0]  # ~5 % lower sensitivity at the end
    br = bracketing_calibration(x, before, x, after)
    assert br.passed and 4.0 < br.max_drift_percent < 8.0
    for c, d in br.drifts_percent:  # each closing standard read on the opening curve (CCV drift)
        assert d == pytest.approx(continuing_calibration_drift(br.before, c, after[x.index(int(c))]))
    assert br.fit.n == 10
    avg = bracketing_calibration(x, before, x, after, mode="average")
    np.testing.assert_allclose(avg.fit.responses, 0.5 * (np.array(before) + np.array(after)))
    drifted = bracketing_calibration(x, before, x, [0.7 * v for v in before])
    assert not drifted.passed and drifted.max_drift_percent > 28.0
    with pytest.raises(CalibrationError, match="same levels"):
        bracketing_calibration(x, before, [1, 2, 5, 10, 25], after, mode="average")


def test_single_point_rule() -> None:
    ok = single_point_concentration(0.05, 1000.0, 1150.0)
    assert ok.allowed and ok.concentration == pytest.approx(0.0575)
    far = single_point_concentration(0.05, 1000.0, 1400.0)
    assert not far.allowed and far.concentration is None
    assert far.unchecked_concentration == pytest.approx(0.07) and far.deviation_percent == pytest.approx(40.0)
    strict = single_point_concentration(0.05, 1000.0, 1150.0, tolerance_percent=10.0)
    assert not strict.allowed


def test_two_point_interpolates_only_between_levels() -> None:
    p = two_point_concentration(0.01, 100.0, 0.1, 1000.0, 550.0)
    assert p.allowed and p.concentration == pytest.approx(0.055)
    above = two_point_concentration(0.01, 100.0, 0.1, 1000.0, 1200.0)
    assert not above.allowed and above.concentration is None and "dilute" in (above.note or "")
    assert math.isclose(above.unchecked_concentration, 0.12)
