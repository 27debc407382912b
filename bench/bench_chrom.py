"""Benchmark (run by hand): python bench/bench_chrom.py [N] [PEER_N]

N synthetic chromatograms (default 100; 40 min at 10 Hz, Gaussian + EMG tailing peaks, drifting
baseline, noise) integrated by calibration.chromatogram; the same traces (first PEER_N, default
N) by hplc-py (PyPI ``hplc-py``, bench-only: pip install hplc-py). Prints time per trace, the
ratio, and the area error against ground truth on resolved peaks for both.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from scipy import stats

from calibration.chromatogram import integrate_chromatogram

T = np.arange(0, 40, 1 / 600)
TS = T * 60


def make(seed: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    rng = np.random.default_rng(seed)
    y = 2 + 0.05 * T + 1.5 * np.sin(2 * np.pi * T / rng.uniform(30, 60))
    truth = []
    for rt in (4.0, 10.0, 16.0, 22.0, 28.0, 34.0):
        rt += rng.uniform(-0.5, 0.5)
        h, s, tau = rng.uniform(10, 200), rng.uniform(2.5, 5), rng.uniform(0.5, 8)
        area = h * s * np.sqrt(2 * np.pi)
        y = y + area * stats.exponnorm.pdf(TS, tau / s, loc=rt * 60, scale=s)
        truth.append((rt + tau / 60, area))
    return y + rng.normal(0, 0.1, T.size), truth


def match(found: list[tuple[float, float]], truth: list[tuple[float, float]]) -> list[float]:
    errs = []
    for rt, area in truth:
        near = [a for r, a in found if abs(r - rt) < 0.3]
        errs.append(abs(near[0] - area) / area if near else np.inf)
    return errs


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    peer_n = int(sys.argv[2]) if len(sys.argv) > 2 else n
    data = [make(s) for s in range(n)]
    t0 = time.perf_counter()
    ours = [integrate_chromatogram(T, y) for y, _ in data]
    t_ours = (time.perf_counter() - t0) / n
    e_ours = [e for res, (_, tr) in zip(ours, data, strict=True)
              for e in match([(p.retention_time_min, p.area) for p in res.peaks], tr)]
    print(f"ours: {t_ours * 1e3:.1f} ms/trace; area error median {np.median(e_ours) * 100:.3f} %, "
          f"max {np.max(e_ours) * 100:.3f} %")
    try:
        import pandas as pd
        from hplc.quant import Chromatogram
    except ImportError:
        print("hplc-py not installed (pip install hplc-py): peer comparison skipped")
        return
    if peer_n <= 0:
        return
    e_peer = []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for y, tr in data[:peer_n]:
            chrom = Chromatogram(pd.DataFrame({"time": T, "signal": y}), cols={"time": "time", "signal": "signal"})
            peaks = chrom.fit_peaks(verbose=False)
            # hplc-py reports area as the sum over samples: × sampling interval (0.1 s) → signal × seconds
            found = [(float(r), float(a) * 0.1) for r, a in zip(peaks["retention_time"], peaks["area"], strict=True)]
            e_peer += match(found, tr)
    t_peer = (time.perf_counter() - t0) / peer_n
    print(f"hplc-py: {t_peer * 1e3:.0f} ms/trace; area error median {np.median(e_peer) * 100:.3f} %, "
          f"max {np.max(e_peer) * 100:.3f} % (on {peer_n} traces)")
    print(f"ratio hplc-py/ours: {t_peer / t_ours:.0f}×")


if __name__ == "__main__":
    main()
