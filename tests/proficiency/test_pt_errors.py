"""Typed errors for input the statistics cannot be computed from, and the remaining formulae."""

from __future__ import annotations

import math

import numpy as np
import pytest

from proficiency import combined, homogeneity, robust, scores, sigma
from proficiency.errors import (
    EmptyInputError,
    NonConvergenceError,
    ProficiencyError,
    TooFewResultsError,
    ZeroSpreadError,
)


def test_error_hierarchy() -> None:
    for cls in (EmptyInputError, TooFewResultsError, ZeroSpreadError, NonConvergenceError):
        assert issubclass(cls, ProficiencyError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("f", [robust.algorithm_a, robust.median_estimate, robust.mean_sd, robust.qn])
def test_empty_and_single(f) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EmptyInputError):
        f([])
    with pytest.raises(TooFewResultsError):
        f([1.0])


def test_bad_values_name_their_position() -> None:
    with pytest.raises(ProficiencyError, match="position 2"):
        robust.algorithm_a([1.0, 2.0, math.nan, 3.0])
    with pytest.raises(ProficiencyError):
        robust.median("123")  # type: ignore[arg-type]


def test_zero_spread() -> None:
    with pytest.raises(ZeroSpreadError):
        robust.algorithm_a([0.5] * 8)
    with pytest.raises(ZeroSpreadError):
        robust.q_method([2.0, 2.0, 2.0])
    with pytest.raises(ZeroSpreadError):
        robust.algorithm_s([0.0, 0.0, 0.0, 0.1], 1)


def test_non_convergence_is_reported() -> None:
    x = np.linspace(0, 1, 20) ** 3
    with pytest.raises(NonConvergenceError, match="2 iterations"):
        robust.algorithm_a(x, rule="converged", tol=1e-15, max_iter=2)


def test_made_zero_starts_from_the_sd() -> None:
    # more than half identical: MADe = 0, Algorithm A starts from the SD instead (C.3.1)
    est = robust.algorithm_a([1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 0.9, 1.3], rule="iso13528")
    assert est.scale > 0


def test_unknown_rule() -> None:
    with pytest.raises(ProficiencyError, match="stopping rule"):
        robust.algorithm_a([1, 2, 3], rule="sig3")  # type: ignore[arg-type]


def test_metrology_mode_constants() -> None:
    assert robust.METROLOGY_TOL == pytest.approx(np.finfo(float).eps ** 0.25)
    # metRology stops on the change of s* alone, after at least one update
    est = robust.algorithm_a([9.8, 10.1, 10.0, 10.3, 9.9, 10.2, 12.5, 10.0], rule="metrology")
    assert 1 <= est.iterations <= robust.METROLOGY_MAX_ITER


def test_sigma_checks() -> None:
    with pytest.raises(ProficiencyError):
        sigma.precision_sigma(1.0, 2.0, 2)
    with pytest.raises(ProficiencyError):
        sigma.limited_sigma(1.0, floor=2.0, ceiling=1.0)
    assert sigma.limited_sigma(0.5, floor=1.0) == 1.0 and sigma.limited_sigma(5.0, ceiling=2.0) == 2.0
    assert sigma.ffp_sigma(0.8, sigma.EU_PESTICIDE_FFP_RSD) == pytest.approx(0.2)
    # Thompson's branches (8.4, Formula 8) meet the stated break points
    assert sigma.horwitz_sigma_mass_fraction(1e-7) == pytest.approx(0.22e-7)
    assert sigma.horwitz_sigma_mass_fraction(0.1) == pytest.approx(0.02 * 0.1**0.8495)
    assert sigma.horwitz_sigma_mass_fraction(0.5) == pytest.approx(0.01 * 0.5**0.5)
    assert sigma.uncertainty_negligible(0.3, 1.0) and not sigma.uncertainty_negligible(0.31, 1.0)


def test_classifications() -> None:
    assert [scores.classify_z(z) for z in (2.0, -2.01, 2.99, -3.0)] == [
        scores.SATISFACTORY, scores.QUESTIONABLE, scores.QUESTIONABLE, scores.UNSATISFACTORY]
    assert scores.en_action(-1.0) and not scores.en_action(0.99)
    with pytest.raises(ProficiencyError):
        scores.zeta_score(1.0, 1.0, 0.0, 0.0)
    with pytest.raises(ProficiencyError):
        scores.percent_difference(1.0, 0.0)


def test_homogeneity_input_checks() -> None:
    with pytest.raises(TooFewResultsError):
        homogeneity.homogeneity_check([[1.0], [1.1]], 0.1)
    with pytest.raises(ProficiencyError):
        homogeneity.homogeneity_check([[1.0, 1.1], [1.0]], 0.1)
    with pytest.raises(ProficiencyError):
        homogeneity.homogeneity_check([[1.0, 1.1], [1.0, 1.2]], 0.0)


def test_stability_expanded_criterion() -> None:
    st = homogeneity.stability_check([1.0, 1.02], [1.05, 1.07], 0.1, u_before=0.01, u_after=0.01)
    assert not st.passed and st.passed_expanded  # 0.05 > 0.03 but <= 0.03 + 2 sqrt(2) 0.01


def test_combined_scores() -> None:
    z = [1.0, -2.0, 6.0]
    assert combined.rescaled_sum_z(z) == pytest.approx(5.0 / math.sqrt(3))
    assert combined.sum_squared_z(z) == pytest.approx(41.0)
    assert combined.average_squared_z(z) == pytest.approx((1 + 4 + 25) / 3)  # |6| capped at 5
    recs = [combined.ScoreRecord("L1", "a", t, zz) for t, zz in enumerate([0.5, 3.5, -1.0, 7.0])]
    run = combined.running_performance(recs, window=2)
    assert [r.n for r in run] == [1, 2, 2, 2]
    assert run[-1].az2 == pytest.approx((1.0 + 25.0) / 2)


def test_false_positives_and_negatives() -> None:
    res = combined.judge_detections(
        assigned_values={"chlorpyrifos": 0.12, "carbendazim": 0.004},
        reported={"chlorpyrifos": 0.1, "imidacloprid": 0.05, "acetamiprid": 0.002},
        mrrl={"chlorpyrifos": 0.01, "carbendazim": 0.01, "imidacloprid": 0.01, "acetamiprid": 0.01,
              "dimethoate": 0.01},
    )
    by = {j.analyte: j.outcome for j in res.judgements}
    assert by == {"acetamiprid": combined.TRUE_NEGATIVE, "carbendazim": combined.TRUE_NEGATIVE,
                  "chlorpyrifos": combined.TRUE_POSITIVE, "dimethoate": combined.TRUE_NEGATIVE,
                  "imidacloprid": combined.FALSE_POSITIVE}
    assert res.false_positives == 1 and res.false_negatives == 0
    miss = combined.judge_detections({"dimethoate": 0.05}, {}, {"dimethoate": 0.01})
    assert miss.false_negatives == 1
