"""Benchmark (run by hand): python bench/bench_chrom.py [N] [PEER_N]

N synthetic chromatograms (default 100; 40 min at 10 Hz, six resolved Gaussian/EMG tailing peaks,
drifting baseline, noise) integrated by calibration.chromatogram; the first PEER_N (default 3,
hplc-py needs about a minute per trace) by hplc-py (PyPI ``hplc-py``, bench-only). Prints time per
trace, the ratio, hplc-py's time scaled to N traces, and the area error against ground truth on
the same traces for both.

Then agreement with the data systems' own peak tables on the committed real exports (tests/data/real,
PROVENANCE.md there), per data system: files, vendor major peaks (≥ 5 % of the channel's area), how
many have a partner of ours within 0.25 min, how many agree within 10 % area and 0.05 min, the worst
area difference of a paired major peak, and our major peaks the vendor does not list. Tables whose
area unit the file does not state are compared as relative areas (percent of the paired peaks' sum).
``LIMS_BENCH_LOCAL_REAL=DIR`` adds local-only files there (not redistributable, e.g. VARIAN1.CDF from
ethanbass/chromConverterExtraTests) as "AIA (Varian, local only)".
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from calibration.chromatogram import integrate_chromatogram
from drivers.files import read_chromatogram_file
from drivers.files.agreement import compare_with_vendor

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


REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "real"
#: data system → files under tests/data/real
SYSTEMS = {
    "LabSolutions ASCII": sorted(str(p.relative_to(REAL)) for p in REAL.glob("labsolutions*/*.txt")),
    "ChemStation .D + Report.TXT": ["chemstation/001F0101.D"],
    "AIA (ChemStation DAD)": ["aia/agilent-hplc.cdf"],
    "AIA (ChemStation MSD TIC)": ["aia/agilent-hplc2.cdf", "aia/agilent-gcms-tic.cdf"],
    "MSD/MassHunter CSV": ["masshunter_csv/RAU-R505-00.D"],
}


def vendor_agreement() -> None:
    systems = dict(SYSTEMS)
    local = os.environ.get("LIMS_BENCH_LOCAL_REAL")
    if local and (Path(local) / "VARIAN1.CDF").exists():
        systems["AIA (Varian, local only)"] = [str(Path(local) / "VARIAN1.CDF")]
    print("agreement with the data systems' peak tables (major = ≥ 5 % of the channel's area; agree = "
          "≤ 10 % area and ≤ 0.05 min):")
    for system, files in systems.items():
        traces = major = paired = agree = extra = 0
        relative = False
        worst = 0.0
        for rel in files:
            for tr in read_chromatogram_file(REAL / rel).traces:
                if tr.peak_table is None or not tr.peak_table.peaks:
                    continue
                res = integrate_chromatogram(tr.times_min, tr.signal)
                ag = compare_with_vendor([(p.retention_time_min, p.area) for p in res.peaks], tr.peak_table)
                relative |= tr.peak_table.area_factor is None
                traces += 1
                vm = [a for a in ag if a.major and a.vendor_area is not None]
                major += len(vm)
                pairs = [a for a in vm if a.area is not None]
                paired += len(pairs)
                agree += sum(not a.flagged for a in pairs)
                extra += sum(a.vendor_area is None for a in ag)
                worst = max([worst] + [abs(a.area_difference or 0.0) for a in pairs])
        print(f"  {system}{' (relative areas)' if relative else ''}: {len(files)} files, {traces} traces; "
              f"vendor major peaks {major}, paired {paired}, agree {agree}; worst area difference "
              f"{worst * 100:.1f} %; our major peaks the vendor lacks {extra}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    peer_n = min(int(sys.argv[2]) if len(sys.argv) > 2 else 3, n)
    data = [make(s) for s in range(n)]
    t0 = time.perf_counter()
    ours = [integrate_chromatogram(T, y) for y, _ in data]
    t_ours = (time.perf_counter() - t0) / n
    e_ours = [[e for e in match([(p.retention_time_min, p.area) for p in res.peaks], tr)]
              for res, (_, tr) in zip(ours, data, strict=True)]
    flat = np.concatenate(e_ours)
    print(f"ours on {n} traces: {t_ours * 1e3:.1f} ms/trace; area error on resolved peaks median "
          f"{np.median(flat) * 100:.3f} %, max {np.max(flat) * 100:.3f} %")
    vendor_agreement()
    try:
        import pandas as pd
        from hplc.quant import Chromatogram
    except ImportError:
        print("hplc-py not installed (pip install hplc-py): peer comparison skipped")
        return
    if peer_n <= 0:
        return
    # hplc-py reports a peak's area as the SUM of its fitted skew-normal over the samples
    # (hplc/quant.py, fit_peaks → deconvolve_peaks: "area": _compute_skewnorm(t_range, *p).sum()),
    # i.e. signal × samples; × sampling interval in seconds gives signal × s like ours.
    dt_s = float(np.mean(np.diff(T))) * 60.0
    e_peer = []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for y, tr in data[:peer_n]:
            chrom = Chromatogram(pd.DataFrame({"time": T, "signal": y}), cols={"time": "time", "signal": "signal"})
            peaks = chrom.fit_peaks(verbose=False)
            found = [(float(r), float(a) * dt_s) for r, a in zip(peaks["retention_time"], peaks["area"], strict=True)]
            e_peer += match(found, tr)
    t_peer = (time.perf_counter() - t0) / peer_n
    sub = np.concatenate(e_ours[:peer_n])
    ep = np.array(e_peer)
    print(f"same {peer_n} traces — area error median / max: ours {np.median(sub) * 100:.3f} % / "
          f"{np.max(sub) * 100:.3f} %, hplc-py {np.median(ep) * 100:.3f} % / {np.max(ep) * 100:.3f} %")
    print(f"hplc-py: {t_peer:.1f} s/trace on {peer_n} traces; scaled to {n} traces: {t_peer * n:.0f} s "
          f"against ours {t_ours * n:.2f} s")
    print(f"ratio hplc-py/ours (time per trace): {t_peer / t_ours:.0f}×")


if __name__ == "__main__":
    main()
