"""Each curve model class is self-consistent: f, its derivatives and its inverse agree."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.curves import MODELS, PARAM_NAMES, fit_curve, invert
from calibration.errors import CalibrationError
from calibration.models import CURVE_MODELS, curve_model

THETA = {
    "linear": [0.5, 120.0],
    "linear-origin": [95.0],
    "avg-rf": [88.0],
    "quadratic": [0.2, 100.0, -15.0],
    "4pl": [0.1, 2.0, 0.3, 1.2],
    "5pl": [0.1, 2.0, 0.3, 1.2, 0.7],
}
LEVELS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]


def test_registry_matches_the_public_tables() -> None:
    assert tuple(CURVE_MODELS) == MODELS == ("linear", "linear-origin", "quadratic", "4pl", "5pl", "avg-rf")
    for name, model in CURVE_MODELS.items():
        assert model.name == name
        assert model.param_names == PARAM_NAMES[name]
    assert CURVE_MODELS["quadratic"].min_levels == 6
    assert {n for n, m in CURVE_MODELS.items() if m.straight_line} == {"linear", "linear-origin", "avg-rf"}


@pytest.mark.parametrize("name", MODELS)
def test_invert_undoes_value_inside_the_range(name: str) -> None:
    model = curve_model(name)
    theta = np.array(THETA[name])
    for x in LEVELS[1:-1]:
        y = float(model.value(np.array([x]), theta)[0])
        x_back = model.invert(theta, y, LEVELS)
        assert x_back is not None
        assert x_back == pytest.approx(x, rel=1e-9)


@pytest.mark.parametrize("name", MODELS)
def test_derivatives_match_finite_differences(name: str) -> None:
    model = curve_model(name)
    theta = np.array(THETA[name])
    x, h = 0.07, 1e-7
    f = lambda xx, th: float(model.value(np.array([xx]), th)[0])  # noqa: E731
    assert model.dfdx(x, theta) == pytest.approx((f(x + h, theta) - f(x - h, theta)) / (2 * h), rel=1e-5)
    grad = model.grad_theta(x, theta)
    assert grad.shape == (len(model.param_names),)
    for j in range(theta.size):
        step = np.zeros_like(theta)
        step[j] = h * max(abs(theta[j]), 1.0)
        fd = (f(x, theta + step) - f(x, theta - step)) / (2 * step[j])
        assert grad[j] == pytest.approx(fd, rel=1e-5, abs=1e-8)


def test_fit_dispatches_to_the_model_and_inverts_through_it() -> None:
    y = [0.5 + 120.0 * x for x in LEVELS]
    fit = fit_curve(LEVELS, y, "linear")
    assert fit.curve_model is CURVE_MODELS["linear"]
    assert fit.params == pytest.approx({"intercept": 0.5, "slope": 120.0})
    assert invert(fit, 0.5 + 120.0 * 0.3) == pytest.approx(0.3)


@pytest.mark.parametrize("name", ["cubic", "", "LINEAR"])
def test_unknown_model_names_the_known_ones(name: str) -> None:
    with pytest.raises(CalibrationError, match="expected one of linear, linear-origin"):
        curve_model(name)
    with pytest.raises(CalibrationError, match="unknown model"):
        fit_curve(LEVELS, LEVELS, name)
