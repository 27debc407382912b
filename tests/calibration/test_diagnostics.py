"""Mandel's linearity test, residual diagnostics and the 3.3σ/10σ limits."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.curves import detection_limits_sd, fit_curve
from calibration.diagnostics import mandel_test, residual_diagnostics, runs_test

# Mandel's fitting test, reference values from the R package lancer (SLINGhub/lancer, Chia et al.),
# tests/testthat/test-dilstats.R "calculate Mandel": dilution series 10–100 % with peak areas as
# below give the test value 70.1 and p = 0.00357 (F(1, 3)).
LANCER_X = [10, 20, 40, 60, 80, 100]
LANCER_Y = [22561, 31178, 39981, 48390, 52171, 53410]


def test_mandel_lancer_reference() -> None:
    m = mandel_test(LANCER_X, LANCER_Y)
    assert round(m.statistic, 1) == 70.1
    assert round(m.p_value, 5) == 0.00357
    assert m.critical_value == pytest.approx(34.116, abs=1e-3)  # F(1, 3; 0.99), statistical tables
    assert m.quadratic_better
    # DIN 38402-51 form of the same number: DS² = (n−2)s²_lin − (n−3)s²_quad; PW = DS²/s²_quad
    ds2 = 4 * m.residual_sd_linear ** 2 - 3 * m.residual_sd_quadratic ** 2
    assert m.statistic == pytest.approx(ds2 / m.residual_sd_quadratic ** 2, rel=1e-10)


# Miller & Miller (6th ed.) fluorescence calibration, §5.2–5.7: s_y/x = 0.4329, b = 1.93; the limit
# of detection y_B + 3·s_B with s_B = s_y/x corresponds to 0.67 pg/mL.
MILLER_X = [0, 2, 4, 6, 8, 10, 12]
MILLER_Y = [2.1, 5.0, 9.0, 12.6, 17.3, 21.0, 24.7]


def test_mandel_accepts_straight_miller_line() -> None:
    m = mandel_test(MILLER_X, MILLER_Y)
    assert not m.quadratic_better and m.p_value > 0.01


def test_sd_based_limits_against_miller() -> None:
    f = fit_curve(MILLER_X, MILLER_Y)
    assert round(f.residual_sd, 3) == 0.433  # Miller prints 0.4329 from rounded sums; exact 0.43285
    lod3, _ = detection_limits_sd(f, lod_factor=3.0)
    assert round(lod3, 2) == 0.67
    lod, loq = detection_limits_sd(f)
    assert lod == pytest.approx(3.3 * f.residual_sd / f.params["slope"], rel=1e-14)
    assert loq / lod == pytest.approx(10 / 3.3)


def test_residual_diagnostics_match_statsmodels() -> None:
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.stats.outliers_influence import OLSInfluence
    x = np.array([0.5, 1, 2, 4, 6, 8, 10, 12.0])
    y = np.array([1.1, 2.0, 4.3, 7.8, 12.4, 16.0, 19.5, 25.5])
    f = fit_curve(x, y)
    d = residual_diagnostics(f)
    infl = OLSInfluence(sm.OLS(y, sm.add_constant(x)).fit())
    np.testing.assert_allclose(d.leverage, infl.hat_matrix_diag, rtol=1e-10)
    np.testing.assert_allclose(d.standardized_residuals, infl.resid_studentized_internal, rtol=1e-10)
    np.testing.assert_allclose(d.cooks_distance, infl.cooks_distance[0], rtol=1e-10)


def test_weighted_diagnostics_match_statsmodels_wls() -> None:
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.stats.outliers_influence import OLSInfluence
    x = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0])
    y = np.array([1.05, 1.96, 5.1, 9.8, 20.5, 49.0, 101.0])
    f = fit_curve(x, y, weight="1/x2")
    d = residual_diagnostics(f)
    sw = 1 / x  # WLS with weights 1/x² is OLS on the √w-scaled system
    infl = OLSInfluence(sm.OLS(y * sw, sm.add_constant(x) * sw[:, None]).fit())
    np.testing.assert_allclose(d.leverage, infl.hat_matrix_diag, rtol=1e-9)
    np.testing.assert_allclose(d.cooks_distance, infl.cooks_distance[0], rtol=1e-9)


def test_curvature_shows_as_few_runs_and_outlier_flag() -> None:
    x = np.arange(1, 21, dtype=float)
    y = 10 * x + 0.9 * x * x  # a straight line through curved data: + − − … − + + residual pattern
    d = residual_diagnostics(fit_curve(x, y))
    assert d.runs == 3 and d.runs_p_value < 0.01
    x = x[:12]
    y2 = 10 * x + np.array([0.1, -0.1, 0.2, -0.2, 0.1, 8.0, -0.1, 0.1, -0.2, 0.2, -0.1, 0.1])
    assert 5 in residual_diagnostics(fit_curve(x, y2)).outliers


def test_runs_test_counts() -> None:
    runs, mu, _, _ = runs_test([1, 1, -1, -1, 1, -1, 0, -1])
    assert runs == 4 and mu == pytest.approx(2 * 3 * 4 / 7 + 1)
