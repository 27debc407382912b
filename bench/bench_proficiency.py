"""Benchmark: a national-scale proficiency-testing round, 300 labs x 1,000 analytes.

Per analyte: Algorithm A (ISO 13528:2022 C.3.1, the standard's stopping rule), u(x_pt) = 1.25 s*/sqrt(p),
sigma_pt = s*, and for every result z, z', zeta (u = U/k) and E_n (U(x_pt) = 2 u(x_pt)).

- ours: ``proficiency.batch`` on the whole 1000 x 300 array (NaN = no result).
- peer: the PyPI package pt13528 (LGPL, test/bench dependency), looped per analyte and per result,
  ``assigned_value.consensus(x, "algorithm_a", tol="iso2022")`` and ``scores.*``. The loop runs on the
  first ``--loop`` analytes (default 50) and its time is scaled linearly to 1,000 analytes; say
  ``--loop 1000`` to time the full loop.

Checks: identical numbers for the looped analytes (x_pt, s*, u(x_pt) to 1e-9 relative; z, z', zeta, E_n to
1e-9 relative with a floor of 1e-9 absolute, as a score near zero has no meaningful relative error),
speed ratio >= 20, peak traced memory of the batch path < 500 MB.

Run: ``.venv/bin/python bench/bench_proficiency.py`` (add ``--loop 1000`` for the full peer loop).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc

import numpy as np
from pt13528 import assigned_value as pt_av
from pt13528 import scores as pt_scores

from proficiency.batch import assess_round_batch

LABS, ANALYTES = 300, 1000
K = 2.0


def make_round(seed: int = 20240601) -> tuple[np.ndarray, np.ndarray]:
    """Results (mg/kg) and expanded uncertainties (50 %, SANTE default) with gaps and outliers."""
    rng = np.random.default_rng(seed)
    level = rng.lognormal(np.log(0.1), 1.2, ANALYTES)[:, None]
    rsd = rng.uniform(0.08, 0.25, ANALYTES)[:, None]
    x = level * (1.0 + rsd * rng.standard_normal((ANALYTES, LABS)))
    outlier = rng.random((ANALYTES, LABS)) < 0.03
    x[outlier] *= rng.choice([0.1, 0.5, 2.0, 5.0], outlier.sum())
    x[rng.random((ANALYTES, LABS)) < 0.05] = np.nan  # labs without the analyte in scope
    few = rng.random(ANALYTES) < 0.1  # rarely offered analytes: 8-15 labs, z' is used
    for i in np.flatnonzero(few):
        keep = rng.choice(LABS, int(rng.integers(8, 16)), replace=False)
        row = np.full(LABS, np.nan)
        row[keep] = x[i, keep]
        x[i] = row
    x = np.round(x, 4)
    return x, np.round(0.5 * np.abs(x), 5)


def run_ours(x: np.ndarray, big_u: np.ndarray):  # type: ignore[no-untyped-def]
    return assess_round_batch(x, expanded_u=big_u, coverage_factor=K)


def run_peer(x: np.ndarray, big_u: np.ndarray, analytes: int) -> list[dict[str, np.ndarray | float]]:
    out: list[dict[str, np.ndarray | float]] = []
    for i in range(analytes):
        present = np.isfinite(x[i])
        xi, ui = x[i, present], big_u[i, present]
        av = pt_av.consensus(xi, "algorithm_a", tol="iso2022")
        sig, u = av.scale, av.u_x_pt
        z = [pt_scores.z_score(v, av.x_pt, sig) for v in xi]
        zp = [pt_scores.z_prime_score(v, av.x_pt, sig, u) for v in xi]
        zeta = [pt_scores.zeta_score(v, av.x_pt, U / K, u) for v, U in zip(xi, ui, strict=True)]
        en = [pt_scores.en_score(v, av.x_pt, U, 2.0 * u) for v, U in zip(xi, ui, strict=True)]
        out.append({"x_pt": av.x_pt, "s": sig, "u": u, "z": np.array(z), "z_prime": np.array(zp),
                     "zeta": np.array(zeta), "en": np.array(en),
                     "prime": not pt_scores.uncertainty_negligible(u, sigma_pt=sig)})
    return out


def max_rel(a: np.ndarray | float, b: np.ndarray | float, floor: float = 0.0) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    den = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    return float(np.max(np.abs(a - b) / den)) if a.size else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", type=int, default=50, help="analytes in the timed pt13528 loop")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    x, big_u = make_round()
    print(f"round: {ANALYTES} analytes x {LABS} labs, {int(np.isfinite(x).sum())} results")

    run_ours(x, big_u)  # warm-up
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        est, sc = run_ours(x, big_u)
        times.append(time.perf_counter() - t0)
    ours = min(times)

    tracemalloc.start()
    run_ours(x, big_u)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    n_loop = min(args.loop, ANALYTES)
    t0 = time.perf_counter()
    peer = run_peer(x, big_u, n_loop)
    peer_loop = time.perf_counter() - t0
    peer_full = peer_loop * ANALYTES / n_loop

    worst_est = worst_score = 0.0
    prime_agree = True
    for i, ref in enumerate(peer):
        present = np.isfinite(x[i])
        worst_est = max(worst_est, max_rel(est.location[i], ref["x_pt"]), max_rel(est.scale[i], ref["s"]),
                        max_rel(est.u_assigned[i], ref["u"]))
        for ours_arr, key in ((sc.z, "z"), (sc.z_prime, "z_prime"), (sc.zeta, "zeta"), (sc.en, "en")):
            worst_score = max(worst_score, max_rel(ours_arr[i, present], ref[key], floor=1.0))
        prime_agree &= bool(sc.uses_z_prime[i]) == ref["prime"]

    ratio = peer_full / ours
    ok = ratio >= 20 and worst_est <= 1e-9 and worst_score <= 1e-9 and prime_agree and peak < 500e6
    print(f"ours (proficiency.batch, all {ANALYTES} analytes): {ours * 1e3:.1f} ms (best of {args.repeat})")
    print(f"peer (pt13528 loop): {peer_loop * 1e3:.1f} ms for {n_loop} analytes -> "
          f"{peer_full * 1e3:.0f} ms scaled to {ANALYTES}" + (" (measured)" if n_loop == ANALYTES else ""))
    print(f"speed ratio peer/ours: {ratio:.1f}x (target >= 20x)")
    print(f"max relative difference over {n_loop} analytes: x_pt/s*/u {worst_est:.2e}, "
          f"z/z'/zeta/En {worst_score:.2e} (target <= 1e-9); z' choice identical: {prime_agree}")
    print(f"z' used for {int(sc.uses_z_prime.sum())} analytes; "
          f"Algorithm A iterations mean {est.iterations.mean():.2f}, max {int(est.iterations.max())}")
    print(f"peak traced memory of the batch path: {peak / 1e6:.1f} MB (target < 500 MB)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
