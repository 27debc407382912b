"""The vectorised round path gives, row by row, what the one-analyte functions give."""

from __future__ import annotations

import numpy as np
import pytest

from proficiency import batch, robust, scores
from proficiency.errors import NonConvergenceError, ProficiencyError


def _round(seed: int, analytes: int = 40, labs: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = rng.lognormal(0, 1.5, analytes)[:, None]
    x = level * (1 + 0.15 * rng.standard_normal((analytes, labs)))
    x[rng.random((analytes, labs)) < 0.2] = np.nan
    x[0, 5:] = np.nan  # an analyte with few results: z' is chosen
    return x


@pytest.mark.parametrize("rule", ["iso13528", "converged", "metrology"])
def test_batch_algorithm_a_equals_scalar(rule: str) -> None:
    x = _round(1)
    est = batch.algorithm_a_batch(x, rule=rule)  # type: ignore[arg-type]
    for i, row in enumerate(x):
        one = robust.algorithm_a(row[np.isfinite(row)], rule=rule)  # type: ignore[arg-type]
        assert est.status[i] == batch.STATUS_OK
        assert est.location[i] == pytest.approx(one.location, rel=1e-13)
        assert est.scale[i] == pytest.approx(one.scale, rel=1e-13)
        assert est.iterations[i] == one.iterations
        assert est.u_assigned[i] == pytest.approx(one.u_assigned, rel=1e-13)


def test_batch_scores_equal_scalar() -> None:
    x = _round(2)
    big_u = np.abs(x) * 0.3
    est, sc = batch.assess_round_batch(x, expanded_u=big_u)
    assert sc.uses_z_prime[0] and not sc.uses_z_prime[1:].all()
    for i, j in zip(*np.nonzero(np.isfinite(x)), strict=True):
        one = scores.score_result(x[i, j], est.location[i], est.scale[i], est.u_assigned[i],
                                  expanded_u_result=big_u[i, j])
        assert sc.z[i, j] == pytest.approx(one.z, rel=1e-12, abs=1e-12)
        assert sc.z_prime[i, j] == pytest.approx(one.z_prime, rel=1e-12, abs=1e-12)
        assert sc.score[i, j] == pytest.approx(one.score, rel=1e-12, abs=1e-12)
        assert sc.zeta[i, j] == pytest.approx(one.zeta, rel=1e-12, abs=1e-12)
        assert sc.en[i, j] == pytest.approx(one.en, rel=1e-12, abs=1e-12)
    assert np.isnan(sc.z[~np.isfinite(x)]).all()


def test_batch_flags_rows_it_cannot_estimate() -> None:
    x = np.array([[1.0, np.nan, np.nan], [2.0, 2.0, 2.0], [1.0, 1.2, 0.9], [np.nan] * 3])
    est = batch.algorithm_a_batch(x)
    assert list(est.status) == [batch.STATUS_TOO_FEW, batch.STATUS_ZERO_SPREAD, batch.STATUS_OK,
                                batch.STATUS_TOO_FEW]
    assert np.isnan(est.location[[0, 1, 3]]).all() and np.isfinite(est.location[2])


def test_batch_rejects_infinite_values() -> None:
    with pytest.raises(ValueError, match="infinite"):
        batch.algorithm_a_batch(np.array([[1.0, np.inf, 2.0]]))


def test_algorithm_a_parameters_are_the_standards_and_shared() -> None:
    """ISO 13528:2022 C.3.1 constants for iso13528/converged, metRology's for metrology; overrides win;
    the batch path and the one-analyte path refuse an unknown rule with the same error."""
    iso = robust.algorithm_a_parameters("iso13528")
    assert (iso.start_factor, iso.factor) == (1.483, 1.134)
    assert (iso.tol, iso.max_iter) == (robust.CONVERGED_TOL, robust.ALGORITHM_A_MAX_ITER)
    met = robust.algorithm_a_parameters("metrology")
    assert met.start_factor == 1.4826
    assert met.factor == pytest.approx(1.13339, abs=1e-5)
    assert (met.max_iter, met.tol) == (25, robust.METROLOGY_TOL)
    assert robust.algorithm_a_parameters("converged", tol=1e-6, max_iter=7).tol == 1e-6
    assert robust.algorithm_a_parameters("converged", tol=1e-6, max_iter=7).max_iter == 7
    x = _round(3, analytes=3)
    for call in (lambda: batch.algorithm_a_batch(x, rule="median"),  # type: ignore[arg-type]
                 lambda: robust.algorithm_a(x[0][np.isfinite(x[0])], rule="median")):  # type: ignore[arg-type]
        with pytest.raises(ProficiencyError, match="stopping rule must be one of iso13528, converged, metrology"):
            call()


def test_batch_iteration_limit_is_the_scalar_one() -> None:
    x = _round(4, analytes=5)
    est = batch.algorithm_a_batch(x, rule="converged", max_iter=2)
    assert np.all(est.status[est.n >= 2] == batch.STATUS_NOT_CONVERGED)
    with pytest.raises(NonConvergenceError, match="in 2 iterations"):
        robust.algorithm_a(x[1][np.isfinite(x[1])], rule="converged", max_iter=2)
