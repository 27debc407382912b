"""Cross-checks against independent implementations: statsmodels' Huber proposal 2 (exact
consistency constant) and the pt13528 package (ISO 13528:2022, LGPL; imported, never copied)."""

from __future__ import annotations

import numpy as np
import pytest
from pt13528 import assigned_value as pt_av
from pt13528 import homogeneity as pt_hom
from pt13528 import robust as pt_robust
from pt13528 import scores as pt_scores
from pt13528 import sigma_pt as pt_sigma
from statsmodels.robust import norms
from statsmodels.robust.scale import Huber

from proficiency import homogeneity, robust, scores, sigma


def _sets(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        p = int(rng.integers(8, 60))
        x = rng.normal(rng.uniform(0.01, 50), rng.uniform(0.01, 5), p)
        n_out = int(rng.integers(0, max(1, p // 6)))
        x[:n_out] += rng.choice([-1, 1], n_out) * rng.uniform(4, 10, n_out) * x.std()
        out.append(np.round(x, 4))
    return out


@pytest.mark.parametrize("norm", [None, norms.HuberT(t=1.5)], ids=["one-step", "HuberT"])
def test_converged_huber_matches_statsmodels(norm: norms.HuberT | None) -> None:
    """Algorithm A with the exact factor 1/sqrt(beta(1.5)) = 1.13339, iterated to convergence, is
    Huber's proposal 2; statsmodels solves the same equations."""
    huber = Huber(c=1.5, tol=1e-13, maxiter=2000, norm=norm)
    for x in _sets(25, seed=1):
        mu, s = huber(x)
        est = robust.algorithm_a(x, rule="metrology", tol=1e-14, max_iter=5000)
        assert est.location == pytest.approx(float(mu), rel=1e-9, abs=1e-9 * float(s))
        assert est.scale == pytest.approx(float(s), rel=1e-9)


def test_exact_consistency_constant() -> None:
    beta = Huber(c=1.5).gamma
    assert robust.huber_consistency(1.5) == pytest.approx(beta**-0.5, rel=1e-14)
    assert round(robust.huber_consistency(1.5), 5) == 1.13339


def test_algorithm_a_iso_rule_matches_pt13528() -> None:
    for x in _sets(60, seed=2):
        ours = robust.algorithm_a(x)
        ref = pt_robust.algorithm_a(x, tol="iso2022")
        assert ours.location == pytest.approx(ref.location, rel=1e-12)
        assert ours.scale == pytest.approx(ref.scale, rel=1e-12)
        assert ours.iterations == ref.iterations


def test_algorithm_a_converged_matches_pt13528() -> None:
    for x in _sets(30, seed=3):
        ours = robust.algorithm_a(x, rule="converged", tol=1e-13)
        ref = pt_robust.algorithm_a(x, tol=1e-13)
        assert ours.location == pytest.approx(ref.location, rel=1e-10)
        assert ours.scale == pytest.approx(ref.scale, rel=1e-10)


def test_fixed_scale_variant_matches_pt13528() -> None:
    for x in _sets(20, seed=4):
        ours = robust.algorithm_a(x, rule="converged", tol=1e-13, fixed_scale=True)
        ref = pt_robust.algorithm_a(x, tol=1e-13, update_scale=False)
        assert ours.location == pytest.approx(ref.location, rel=1e-10)
        assert ours.scale == pytest.approx(ref.scale, rel=1e-12)


def test_simple_estimators_match_pt13528() -> None:
    for x in _sets(20, seed=5):
        assert robust.made(x) == pytest.approx(pt_robust.made(x), rel=1e-14)
        assert robust.niqr(x) == pytest.approx(pt_robust.niqr(x), rel=1e-14)
        assert robust.qn(x) == pytest.approx(pt_robust.qn(x), rel=1e-12)
        assert robust.q_method(x) == pytest.approx(pt_robust.q_method(x), rel=1e-9)
        qh, ref = robust.q_hampel(x), pt_robust.q_hampel(x)
        assert qh.location == pytest.approx(ref.location, rel=1e-9)


def test_algorithm_s_matches_pt13528() -> None:
    rng = np.random.default_rng(6)
    for nu in (1, 2, 3, 5, 10):
        w = np.round(rng.chisquare(nu, 30) ** 0.5 * 0.2, 4)
        ours = robust.algorithm_s(w, nu)
        ref = pt_robust.algorithm_s(w, nu, tol="iso2022")
        assert ours.location == pytest.approx(ref.location, rel=1e-12)


def test_homogeneity_and_sigma_match_pt13528() -> None:
    rng = np.random.default_rng(7)
    for g, m in ((10, 2), (12, 3), (25, 2)):
        items = rng.normal(1.0, 0.02, (g, 1)) + rng.normal(0, 0.03, (g, m))
        ours = homogeneity.homogeneity_check(items, 0.1)
        ref = pt_hom.homogeneity(items, sigma_pt=0.1)
        for a, b in ((ours.s_x, ref.s_x), (ours.s_w, ref.s_w), (ours.s_s, ref.s_s)):
            assert a == pytest.approx(b, rel=1e-12)
        assert ours.f_statistic == pytest.approx(ref.f_statistic, rel=1e-12)
        f1, f2 = homogeneity.expanded_criterion_factors(g, m, use_table=False)
        assert (f1, f2) == pytest.approx(pt_hom.expanded_criterion_factors(g, m), rel=1e-12)
    for c in (1e-9, 1e-7, 2e-6, 0.1, 0.5):
        assert sigma.horwitz_sigma_mass_fraction(c) == pytest.approx(pt_sigma.horwitz(c), rel=1e-14)


def test_scores_match_pt13528() -> None:
    rng = np.random.default_rng(8)
    for _ in range(50):
        x, xpt, sig, u, big_u = rng.normal(10, 2), 10.0, rng.uniform(0.5, 2), rng.uniform(0, 1), rng.uniform(0.1, 3)
        assert scores.z_score(x, xpt, sig) == pytest.approx(pt_scores.z_score(x, xpt, sig), rel=1e-14)
        assert scores.z_prime_score(x, xpt, sig, u) == pytest.approx(pt_scores.z_prime_score(x, xpt, sig, u))
        assert scores.zeta_score(x, xpt, big_u / 2, u) == pytest.approx(pt_scores.zeta_score(x, xpt, big_u / 2, u))
        assert scores.en_score(x, xpt, big_u, 2 * u) == pytest.approx(pt_scores.en_score(x, xpt, big_u, 2 * u))


def test_consensus_uncertainty_matches_pt13528() -> None:
    for x in _sets(10, seed=9):
        ref = pt_av.consensus(x, "algorithm_a", tol="iso2022")
        assert robust.algorithm_a(x).u_assigned == pytest.approx(ref.u_x_pt, rel=1e-12)
