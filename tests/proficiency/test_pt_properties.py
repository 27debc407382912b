"""Property tests: equivariance and invariance that every location/scale estimator must have."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from proficiency import robust

values = st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False), min_size=5, max_size=40)


def _spread_ok(x: list[float]) -> bool:
    a = np.asarray(x)
    mad = np.median(np.abs(a - np.median(a)))
    return bool(mad > 1e-3 * (1 + np.max(np.abs(a))))


@settings(max_examples=60, deadline=None)
@given(values, st.floats(0.01, 100), st.floats(-1e3, 1e3))
def test_algorithm_a_is_affine_equivariant(x: list[float], scale: float, shift: float) -> None:
    assume(_spread_ok(x))
    a = robust.algorithm_a(x, rule="converged", tol=1e-13)
    b = robust.algorithm_a([scale * v + shift for v in x], rule="converged", tol=1e-13)
    assert b.location == pytest.approx(scale * a.location + shift, rel=1e-7, abs=1e-7 * scale * a.scale)
    assert b.scale == pytest.approx(scale * a.scale, rel=1e-7)


@settings(max_examples=60, deadline=None)
@given(values, st.randoms(use_true_random=False))
def test_estimators_are_permutation_invariant(x: list[float], rnd) -> None:  # type: ignore[no-untyped-def]
    assume(_spread_ok(x))
    y = list(x)
    rnd.shuffle(y)
    for f in (robust.algorithm_a, robust.median_estimate, robust.mean_sd, robust.q_hampel):
        a, b = f(x), f(y)
        assert a.location == pytest.approx(b.location, rel=1e-12, abs=1e-9)
        assert a.scale == pytest.approx(b.scale, rel=1e-12, abs=1e-9)
    assert robust.qn(x) == pytest.approx(robust.qn(y), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(values)
def test_algorithm_a_stays_within_the_data_and_is_mirror_symmetric(x: list[float]) -> None:
    assume(_spread_ok(x))
    a = robust.algorithm_a(x, rule="converged", tol=1e-13)
    m = robust.algorithm_a([-v for v in x], rule="converged", tol=1e-13)
    assert min(x) <= a.location <= max(x)
    assert m.location == pytest.approx(-a.location, rel=1e-9, abs=1e-9 * a.scale)
    assert m.scale == pytest.approx(a.scale, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(values, st.floats(1e3, 1e6))
def test_one_gross_outlier_moves_algorithm_a_little(x: list[float], far: float) -> None:
    """Bounded influence: one result moved arbitrarily far shifts x* by at most ~1.5 s* / (p - 1)."""
    assume(_spread_ok(x) and len(x) >= 10)
    # tol 1e-10 (the rule's default): |delta x*| <= 1e-13 s* is below the rounding of sums of results up to
    # 1e3 (a limit cycle, NonConvergenceError; found by hypothesis with the code before issue 17 too)
    a = robust.algorithm_a(x, rule="converged", tol=1e-10)
    b = robust.algorithm_a([*x[:-1], far * 1e3], rule="converged", tol=1e-10)
    assert abs(b.location - a.location) <= 4 * max(a.scale, b.scale)
