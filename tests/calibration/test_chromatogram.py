"""Integration of synthetic chromatograms with known areas (Gaussian and exponentially modified
Gaussian peaks, drifting baseline, white noise): area error ≤ 1 % on resolved peaks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from calibration.chromatogram import RetentionWindow, assign_peaks, estimate_noise, integrate_chromatogram

T = np.arange(0, 40, 1 / 600)  # 40 min at 10 Hz
TS = T * 60


def _trace(seed: int, noise: float = 0.2) -> tuple[np.ndarray, list[tuple[float, float]]]:
    rng = np.random.default_rng(seed)
    y = 2 + 0.05 * T + 1.5 * np.sin(2 * np.pi * T / 50)  # drift
    truth = []
    for rt, h, w in [(3.0, 100, 3.0), (8.0, 40, 4.0), (20.0, 8, 3.0), (33.0, 60, 5.0)]:
        y = y + h * np.exp(-0.5 * ((TS - rt * 60) / w) ** 2)
        truth.append((rt, h * w * np.sqrt(2 * np.pi)))
    for rt, area, s, tau in [(14.0, 1200.0, 3.0, 6.0), (27.0, 4000.0, 4.0, 10.0)]:
        y = y + area * stats.exponnorm.pdf(TS, tau / s, loc=rt * 60, scale=s)
        truth.append((rt + tau / 60, area))
    return y + rng.normal(0, noise, T.size), sorted(truth)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_areas_within_one_percent(seed: int) -> None:
    y, truth = _trace(seed)
    res = integrate_chromatogram(T, y)
    assert len(res.peaks) == len(truth)
    for pk, (rt, area) in zip(res.peaks, truth, strict=True):
        assert abs(pk.retention_time_min - rt) < 0.1
        assert pk.area == pytest.approx(area, rel=0.01)


def test_noise_estimate() -> None:
    rng = np.random.default_rng(0)
    assert estimate_noise(rng.normal(0, 0.5, 20000) + np.linspace(0, 10, 20000)) == pytest.approx(0.5, rel=0.05)


def test_overlapping_pair_uses_perpendicular_drop() -> None:
    y = 50 * np.exp(-0.5 * ((TS - 600) / 4) ** 2) + 40 * np.exp(-0.5 * ((TS - 618) / 4) ** 2)
    res = integrate_chromatogram(T, y + 1.0)
    a, b = res.peaks
    assert a.baseline_code == "BV" and b.baseline_code == "VB"
    total = 50 * 4 * np.sqrt(2 * np.pi) + 40 * 4 * np.sqrt(2 * np.pi)
    assert a.area + b.area == pytest.approx(total, rel=0.005)
    assert a.end_index == b.start_index


def test_small_rider_is_tangent_skimmed() -> None:
    parent = 5000 * stats.exponnorm.pdf(TS, 15 / 3, loc=600, scale=3)
    rider = 10 * np.exp(-0.5 * ((TS - 660) / 2) ** 2)
    res = integrate_chromatogram(T, parent + rider)
    codes = [p.baseline_code for p in res.peaks]
    assert codes.count("T") == 1
    big = max(res.peaks, key=lambda p: p.area)
    small = next(p for p in res.peaks if p.baseline_code == "T")
    assert big.area == pytest.approx(5000, rel=0.02)
    # exponential skim of the EMG tail: within 5 % (a straight tangent cut ~13 % of the rider)
    assert small.area == pytest.approx(10 * 2 * np.sqrt(2 * np.pi), rel=0.05)


def test_retention_windows() -> None:
    y, _ = _trace(5)
    res = integrate_chromatogram(T, y)
    got = assign_peaks(res.peaks, [RetentionWindow("chlorpyrifos", 8.02, 0.1),
                                   RetentionWindow("absent", 11.0, 0.1)])
    assert got["chlorpyrifos"] is not None and abs(got["chlorpyrifos"].retention_time_min - 8.0) < 0.05
    assert got["absent"] is None


def test_noise_on_integer_stepped_signal_is_not_below_the_step() -> None:
    """A detector's integer counts × multiplier (LabSolutions): most consecutive differences are 0, the
    MAD of the differences is 0 and the noise was ~1e-11, which made every wiggle a peak."""
    rng = np.random.default_rng(7)
    t = np.arange(0, 20, 1 / 120)  # 0.5 s sampling
    counts = np.round(40 * np.exp(-0.5 * ((t - 8) * 60 / 6) ** 2) + rng.normal(0, 0.3, t.size))
    y = counts * 0.001  # mV
    assert np.mean(np.diff(y) == 0) > 0.5
    assert estimate_noise(y) >= 0.001 * 0.999
    res = integrate_chromatogram(t, y)
    assert len(res.peaks) == 1 and res.peaks[0].area > 0
    assert res.peaks[0].area == pytest.approx(0.040 * 6 * np.sqrt(2 * np.pi), rel=0.03)


def test_filtered_noise_is_seen() -> None:
    """Detector noise is low-pass filtered (correlated): first differences see a fraction of it."""
    rng = np.random.default_rng(3)
    white = rng.normal(0, 1.0, 40000)
    kernel = np.ones(15) / 15
    y = np.convolve(white, kernel, mode="same")
    assert estimate_noise(y) == pytest.approx(float(np.std(y)), rel=0.25)


def test_no_negative_areas_around_a_negative_dip() -> None:
    """An injection dip (negative excursion) neither drags the baseline of the run down nor yields
    peaks of negative area."""
    y = 50 * np.exp(-0.5 * ((TS - 480) / 4) ** 2) - 200 * np.exp(-0.5 * ((TS - 120) / 3) ** 2)
    res = integrate_chromatogram(T, y + 0.05 * np.random.default_rng(1).normal(size=T.size))
    assert all(p.area > 0 for p in res.peaks)
    big = max(res.peaks, key=lambda p: p.area)
    assert big.area == pytest.approx(50 * 4 * np.sqrt(2 * np.pi), rel=0.01)


def test_shoulder_over_a_shallow_valley_is_split() -> None:
    """Two peaks with a shallow valley, sampled as a real Varian AIA file (0.37 s; 3.39 and 3.47 min):
    the second maximum is narrower at half its own prominence than half the smoothing window, which
    read as a noise spike — it must be split at the valley, total area kept."""
    ts = np.arange(0, 600, 0.3686)
    t = ts / 60
    y = 0.19 * np.exp(-0.5 * ((ts - 203) / 1.6) ** 2) + 0.13 * np.exp(-0.5 * ((ts - 208) / 2.5) ** 2)
    total = (0.19 * 1.6 + 0.13 * 2.5) * np.sqrt(2 * np.pi)
    res = integrate_chromatogram(t, y + 4e-5 * np.random.default_rng(2).normal(size=t.size))
    assert len(res.peaks) == 2
    first, second = res.peaks
    assert first.baseline_code[1] == "V" and second.baseline_code[0] == "V"
    assert first.area + second.area == pytest.approx(total, rel=0.01)


def test_small_peak_before_a_large_one_is_split_not_skimmed() -> None:
    """A small peak on the front of a large one is split at the valley (perpendicular drop), as the data
    systems do by default; a tangent from its start took most of its area (a real LabSolutions export:
    37 against the vendor's 175 mV·s)."""
    small, big = 2.5 * 12 * np.sqrt(2 * np.pi), 40 * 4 * np.sqrt(2 * np.pi)
    y = 2.5 * np.exp(-0.5 * ((TS - 560) / 12) ** 2) + 40 * np.exp(-0.5 * ((TS - 600) / 4) ** 2)
    res = integrate_chromatogram(T, y)
    assert [p.baseline_code for p in res.peaks] == ["BV", "VB"]
    assert res.peaks[0].area == pytest.approx(small, rel=0.15)
    assert res.peaks[0].area + res.peaks[1].area == pytest.approx(small + big, rel=0.005)

