"""Behaviour of the curve library beyond the reference data: weights, ranges, acceptance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.curves import (
    acceptance,
    continuing_calibration_drift,
    fit_curve,
    inverse_predict,
    relative_standard_error,
)
from calibration.errors import CalibrationError
from calibration.logistic import fit_logistic_batch, logistic_value

X = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]


def test_weighted_line_matches_normal_equations() -> None:
    x = np.array(X * 2)
    y = 1000 * x + 3 + np.array([0.1, -0.2, 0.3, -1.0, 2.0, -3.0, -0.1, 0.2, -0.3, 1.0, -2.0, 3.0])
    f = fit_curve(x, y, weight="1/x2")
    w = 1 / x**2
    a = np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum()]])
    beta = np.linalg.solve(a, [(w * y).sum(), (w * x * y).sum()])
    assert f.params["intercept"] == pytest.approx(beta[0], rel=1e-10)
    assert f.params["slope"] == pytest.approx(beta[1], rel=1e-10)


def test_weighted_inverse_prediction_reduces_to_iso_when_unweighted() -> None:
    x = np.array(X)
    y = 50 * x + np.array([0.01, -0.02, 0.015, -0.01, 0.02, -0.01])
    f = fit_curve(x, y)
    p = inverse_predict(f, 5.0, replicates=2)
    b = f.params["slope"]
    xbar, sxx = x.mean(), ((x - x.mean()) ** 2).sum()
    iso = f.residual_sd / b * math.sqrt(1 / 2 + 1 / 6 + (5.0 - y.mean()) ** 2 / (b * b * sxx))
    assert p.stderr == pytest.approx(iso, rel=1e-12)
    assert xbar > 0


def test_zero_concentration_with_inverse_x_weight_names_the_point() -> None:
    with pytest.raises(CalibrationError) as e:
        fit_curve([0, 1, 2, 3], [0.1, 1, 2, 3], weight="1/x")
    assert e.value.point == 0 and e.value.field == "concentration"


def test_too_few_points() -> None:
    with pytest.raises(CalibrationError, match="too few points"):
        fit_curve([1, 2, 3], [1, 2, 3], model="quadratic")


def test_above_range_is_flagged_not_extrapolated() -> None:
    f = fit_curve([1, 2, 3, 4, 5], [10, 20, 30, 40, 50.5])
    p = inverse_predict(f, 80)
    assert p.concentration is None and p.out_of_range == "above_highest_level"
    assert p.extrapolated_concentration == pytest.approx(8.0, rel=0.02)
    assert "dilute" in (p.note or "")
    low = inverse_predict(f, 2)
    assert low.concentration is None and low.out_of_range == "below_lowest_level"


def test_4pl_response_beyond_plateau_is_not_invertible() -> None:
    x = np.array([0, 0.1, 0.3, 1, 3, 10, 30.0])
    y = logistic_value(x, np.array([0.1, 2.0, 1.5, 1.2]))
    f = fit_curve(x, y, model="4pl")
    assert inverse_predict(f, 2.5).out_of_range is not None
    mid = inverse_predict(f, 1.0)
    assert mid.concentration == pytest.approx(1.5 * (1.9 / 0.9 - 1) ** (1 / 1.2), rel=1e-6)


def test_acceptance_passes_good_curve_and_fails_few_levels() -> None:
    x = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
    y = [1.02, 1.98, 5.05, 9.9, 20.2, 49.8]
    acc = acceptance(fit_curve(x, y))
    assert acc.passed
    acc4 = acceptance(fit_curve(x[:4], y[:4]))
    assert not acc4.passed and not next(c for c in acc4.checks if c.name == "levels").passed


def test_quadratic_needs_six_levels() -> None:
    x = [1, 2, 3, 4, 5]
    y = [1.0, 4.1, 8.9, 16.2, 24.8]
    check = next(c for c in acceptance(fit_curve(x, y, model="quadratic")).checks if c.name == "levels")
    assert not check.passed and check.limit == 6


def test_avg_rf_and_rsd() -> None:
    x = [1, 2, 5, 10, 20]
    y = [10.0, 21.0, 49.0, 101.0, 198.0]
    f = fit_curve(x, y, model="avg-rf")
    rfs = np.array(y) / np.array(x)
    assert f.params["rf"] == pytest.approx(rfs.mean())
    assert f.extras["rf_rsd_percent"] == pytest.approx(100 * rfs.std(ddof=1) / rfs.mean())
    assert acceptance(f).passed


def test_rse_definition() -> None:
    f = fit_curve([1, 2, 4, 8, 16], [1.1, 1.9, 4.2, 7.8, 16.1])
    rse = relative_standard_error(f)
    assert rse is not None and 0 < rse < 20


def test_ccv_drift() -> None:
    f = fit_curve([1, 2, 3, 4, 5], [10, 20, 30, 40, 50])
    assert continuing_calibration_drift(f, 2.0, 24.0) == pytest.approx(20.0)


def test_batched_4pl_recovers_parameters() -> None:
    rng = np.random.default_rng(1)
    x = np.tile(np.array([0, 0.1, 0.3, 1, 3, 10, 30, 100.0]), (50, 1))
    true = np.column_stack([rng.uniform(0, 0.2, 50), rng.uniform(1.5, 2.5, 50), rng.uniform(0.5, 5, 50),
                            rng.uniform(0.7, 2.0, 50)])
    y = np.stack([logistic_value(xi, ti) for xi, ti in zip(x, true, strict=True)])
    res = fit_logistic_batch(x, y)
    assert res.converged.all()
    np.testing.assert_allclose(res.params, true, rtol=1e-6)


def test_5pl_reduces_to_4pl_when_symmetric() -> None:
    x = np.array([0, 0.1, 0.3, 1, 3, 10, 30, 100.0])
    y = logistic_value(x, np.array([0.1, 2.0, 1.5, 1.2, 1.0]))
    f = fit_curve(x, y, model="5pl")
    assert f.params["asymmetry"] == pytest.approx(1.0, rel=1e-5)
