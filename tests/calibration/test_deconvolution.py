"""EMG deconvolution of overlapping peaks with known areas (synthetic, 10 Hz, white noise)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from calibration.deconvolution import deconvolve_emg, emg

T = np.arange(0, 20, 1 / 600)  # 20 min at 10 Hz
TS = T * 60


def test_emg_matches_scipy_exponnorm() -> None:
    # scipy's exponnorm(K = τ/σ, loc = μ, scale = σ) is the unit-area EMG
    for mu, s, tau in [(600.0, 3.0, 0.2), (600.0, 3.0, 6.0), (600.0, 2.0, 40.0)]:
        ref = 250.0 * stats.exponnorm.pdf(TS, tau / s, loc=mu, scale=s)
        np.testing.assert_allclose(emg(TS, 250.0, mu, s, tau), ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_two_overlapping_emg_peaks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = [(1500.0, 600.0, 3.0, 4.0), (700.0, 613.0, 3.2, 5.0)]  # resolution ≈ 0.9, valley far above baseline
    y = 1.0 + sum(emg(TS, *c) for c in truth) + rng.normal(0, 0.05, T.size)
    d = deconvolve_emg(T, y, start_min=9.5, end_min=11.2, n_components=2)
    assert d.converged
    for comp, (area, *_rest) in zip(d.components, truth, strict=True):
        assert comp.area == pytest.approx(area, rel=0.02)


def test_three_components_with_shoulder() -> None:
    rng = np.random.default_rng(7)
    truth = [(900.0, 600.0, 2.5, 3.0), (1200.0, 611.0, 2.5, 3.0), (400.0, 622.0, 2.5, 3.0)]
    y = sum(emg(TS, *c) for c in truth) + rng.normal(0, 0.03, T.size)
    d = deconvolve_emg(T, y, start_min=9.6, end_min=10.9, n_components=3, baseline=np.zeros_like(y))
    assert len(d.components) == 3
    for comp, (area, *_rest) in zip(d.components, truth, strict=True):
        assert comp.area == pytest.approx(area, rel=0.02)
