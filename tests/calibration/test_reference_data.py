"""Validation of calibration/curves.py against certified and published reference values.

Every block names its source; the tolerance is the number of digits the source publishes
(NIST StRD certifies 15 significant digits: we require ≥ 11 correct — log relative error ≥ 11 —
for the lower-difficulty sets and ≥ 10 for the average-difficulty Pontius set).
"""

from __future__ import annotations

import pytest

from calibration.curves import detection_limits, fit_curve, inverse_predict

# NIST/ITL StRD, Linear Least Squares Regression, dataset "Norris" (Norris, J., NIST, Calibration
# of Ozone Monitors), https://www.itl.nist.gov/div898/strd/lls/data/Norris.shtml — data and
# certified values as published there.
NORRIS_Y = [0.1, 338.8, 118.1, 888.0, 9.2, 228.1, 668.5, 998.5, 449.1, 778.9, 559.2, 0.3, 0.1, 778.1, 668.8,
            339.3, 448.9, 10.8, 557.7, 228.3, 998.0, 888.8, 119.6, 0.3, 0.6, 557.6, 339.3, 888.0, 998.5, 778.9,
            10.2, 117.6, 228.9, 668.4, 449.2, 0.2]
NORRIS_X = [0.2, 337.4, 118.2, 884.6, 10.1, 226.5, 666.3, 996.3, 448.6, 777.0, 558.2, 0.4, 0.6, 775.5, 666.9,
            338.0, 447.5, 11.6, 556.0, 228.1, 995.8, 887.6, 120.2, 0.3, 0.3, 556.8, 339.1, 887.2, 999.0, 779.0,
            11.1, 118.3, 229.2, 669.1, 448.9, 0.5]
NORRIS_CERT = {"intercept": (-0.262323073774029, 0.232818234301152),
               "slope": (1.00211681802045, 0.429796848199937e-03),
               "residual_sd": 0.884796396144373, "r2": 0.999993745883712}

# NIST StRD "Pontius" (Pontius, P., NIST, load cell calibration), quadratic y = B0 + B1·x + B2·x²,
# https://www.itl.nist.gov/div898/strd/lls/data/Pontius.shtml
PONTIUS_X = [150000 * k for k in range(1, 21)] * 2
PONTIUS_Y = [.11019, .21956, .32949, .43899, .54803, .65694, .76562, .87487, .98292, 1.09146, 1.20001, 1.30822,
             1.41599, 1.52399, 1.63194, 1.73947, 1.84646, 1.95392, 2.06128, 2.16844, .11052, .22018, .32939,
             .43886, .54798, .65739, .76596, .87474, .98300, 1.09150, 1.20004, 1.30818, 1.41613, 1.52408,
             1.63159, 1.73965, 1.84696, 1.95445, 2.06177, 2.16829]
PONTIUS_CERT = {"intercept": (0.673565789473684e-03, 0.107938612033077e-03),
                "slope": (0.732059160401003e-06, 0.157817399981659e-09),
                "curvature": (-0.316081871345029e-14, 0.486652849992036e-16),
                "residual_sd": 0.205177424076185e-03, "r2": 0.999999900178537}

# NIST StRD "NoInt1" and "NoInt2" (Eberhardt, K., NIST), y = B1·x (no intercept; R² uncentred),
# https://www.itl.nist.gov/div898/strd/lls/data/NoInt1.shtml and .../NoInt2.shtml
NOINT1 = ([60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70], [130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140],
          2.07438016528926, 0.165289256198347e-01, 3.56753034006338, 0.999365492298663)
NOINT2 = ([4, 5, 6], [3, 4, 4], 0.727272727272727, 0.420827318078432e-01, 0.369274472937998, 0.993348115299335)


def test_nist_norris_linear() -> None:
    f = fit_curve(NORRIS_X, NORRIS_Y, model="linear")
    for k in ("intercept", "slope"):
        assert f.params[k] == pytest.approx(NORRIS_CERT[k][0], rel=1e-11)
        assert f.stderr[k] == pytest.approx(NORRIS_CERT[k][1], rel=1e-11)
    assert f.residual_sd == pytest.approx(NORRIS_CERT["residual_sd"], rel=1e-11)
    assert f.r2 == pytest.approx(NORRIS_CERT["r2"], rel=1e-13)
    assert f.n == 36 and f.dof == 34


def test_nist_pontius_quadratic() -> None:
    f = fit_curve(PONTIUS_X, PONTIUS_Y, model="quadratic")
    for k in ("intercept", "slope", "curvature"):
        assert f.params[k] == pytest.approx(PONTIUS_CERT[k][0], rel=1e-10)
        assert f.stderr[k] == pytest.approx(PONTIUS_CERT[k][1], rel=1e-10)
    assert f.residual_sd == pytest.approx(PONTIUS_CERT["residual_sd"], rel=1e-10)
    assert f.r2 == pytest.approx(PONTIUS_CERT["r2"], rel=1e-13)


@pytest.mark.parametrize("data", [NOINT1, NOINT2], ids=["NoInt1", "NoInt2"])
def test_nist_through_origin(data: tuple) -> None:  # type: ignore[type-arg]
    x, y, b1, sd_b1, rsd, r2 = data
    f = fit_curve(x, y, model="linear-origin")
    assert f.params["slope"] == pytest.approx(b1, rel=1e-13)
    assert f.stderr["slope"] == pytest.approx(sd_b1, rel=1e-12)
    assert f.residual_sd == pytest.approx(rsd, rel=1e-12)
    assert f.r2 == pytest.approx(r2, rel=1e-13)


# Miller, J.N. & Miller, J.C., Statistics and Chemometrics for Analytical Chemistry (6th ed.,
# Pearson 2010), fluorescence calibration of Examples 5.3.1 / 5.6.1: b = 1.93, a = 1.52;
# y0 = 2.9, 13.5, 23.0 → x0 = 0.72, 6.21, 11.13 with s_x0 = 0.26, 0.24, 0.26 and 95 % limits
# ±0.68, ±0.62, ±0.68 (t = 2.57); six readings of 13.5 give s_x0 = 0.12 (Example 5.6.1, m = 6).
MILLER_X = [0, 2, 4, 6, 8, 10, 12]
MILLER_Y = [2.1, 5.0, 9.0, 12.6, 17.3, 21.0, 24.7]


@pytest.mark.parametrize(("y0", "x0", "s_x0", "half"), [(2.9, 0.72, 0.26, 0.68), (13.5, 6.21, 0.24, 0.62),
                                                          (23.0, 11.13, 0.26, 0.68)])
def test_miller_inverse_prediction(y0: float, x0: float, s_x0: float, half: float) -> None:
    f = fit_curve(MILLER_X, MILLER_Y)
    assert round(f.params["slope"], 2) == 1.93
    assert round(f.params["intercept"], 2) == 1.52
    p = inverse_predict(f, y0)
    assert p.concentration is not None and p.stderr is not None and p.ci_high is not None
    assert round(p.concentration, 2) == x0
    assert round(p.stderr, 2) == s_x0
    assert round(p.ci_high - p.concentration, 2) == half


def test_miller_replicate_readings() -> None:
    p = inverse_predict(fit_curve(MILLER_X, MILLER_Y), 13.5, replicates=6)
    assert p.stderr is not None and round(p.stderr, 2) == 0.12


# DIN 32645 (1994) worked example as distributed with the R package chemCal (data set din32645,
# J. Ranke; reference values quoted there from DIN 32645 and the Dintest/Procontrol 3.1 test
# data): x_NG = 0.07 (Dintest 0.0698) and x_NWG = 0.14 at α = β = 0.01; x_BG = 0.212 (k = 3,
# Procontrol 0.2121); for y = 3500 the 99 % confidence half-width of x̂ is 0.07434.
DIN_X = [0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50]
DIN_Y = [3060, 3522, 3707, 4280, 5058, 5510, 5703, 6205, 7156, 7178]


def test_din32645_limits() -> None:
    lim = detection_limits(fit_curve(DIN_X, DIN_Y), alpha=0.01, k=3)
    assert lim is not None
    assert round(lim.decision_limit, 4) == 0.0698
    assert round(lim.detection_limit, 2) == 0.14
    assert round(lim.quantification_limit, 3) == 0.212


def test_din32645_inverse_prediction_interval() -> None:
    p = inverse_predict(fit_curve(DIN_X, DIN_Y), 3500, alpha=0.01)
    assert p.concentration is not None and p.ci_high is not None
    assert round(p.ci_high - p.concentration, 5) == 0.07434


# Ryegrass root length vs ferulic acid (Inderjit, Streibig & Olofsdotter, Physiologia Plantarum
# 114 (2002) 422), reference four-parameter log-logistic fit from the R package drc (Ritz &
# Streibig), documentation of data set `ryegrass`, drm(rootl ~ conc, fct = LL.4()):
# b (hill) 2.98222, c (bottom) 0.48141, d (top) 7.79296, e (ec50) 3.05795; residual standard
# error 0.5196256 on 20 df. Includes six x = 0 controls.
RYE_CONC = [0] * 6 + [0.94] * 3 + [1.88] * 3 + [3.75] * 3 + [7.5] * 3 + [15] * 3 + [30] * 3
RYE_ROOTL = [7.58, 8.0, 8.3285714, 7.25, 7.375, 7.9625, 8.3555556, 6.9142857, 7.75, 6.8714286, 6.45, 5.9222222,
             1.925, 2.8857143, 4.2333333, 1.1875, 0.8571429, 1.0571429, 0.6875, 0.525, 0.825, 0.25, 0.22, 0.44]


def test_drc_ryegrass_4pl() -> None:
    f = fit_curve(RYE_CONC, RYE_ROOTL, model="4pl")
    assert f.converged
    # to the 5 published decimals, ± 1 in the last one (drc stops its optimiser at reltol 1e-7)
    assert f.params["hill"] == pytest.approx(2.98222, abs=1.01e-5)
    assert f.params["bottom"] == pytest.approx(0.48141, abs=1.01e-5)
    assert f.params["top"] == pytest.approx(7.79296, abs=1.01e-5)
    assert f.params["ec50"] == pytest.approx(3.05795, abs=1.01e-5)
    assert round(f.residual_sd, 7) == 0.5196256
    assert f.dof == 20
    # drc's standard errors come from the observed Hessian; ours from JᵀJ (Gauss–Newton):
    # they agree to the first two digits (0.47, 0.21, 0.19, 0.19).
    assert f.stderr["hill"] == pytest.approx(0.46506, rel=0.03)
    assert f.stderr["ec50"] == pytest.approx(0.18573, rel=0.03)
