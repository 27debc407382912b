"""Benchmarks (run by hand): python bench/bench_calibration.py

1. 10,000 weighted (1/x²) linear curves, 7 levels in duplicate, 10 inverse predictions each:
   vectorised closed-form WLS across curves vs looping numpy.polyfit per curve (same numbers).
2. 1,000 noisy 4PL curves: calibration.logistic.fit_logistic_batch vs looping
   scipy.optimize.curve_fit (same data-driven start values); convergence and RSS compared.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from scipy.optimize import curve_fit

from calibration.logistic import _start_values, fit_logistic_batch, logistic_value


def bench_linear(n_curves: int = 10_000) -> None:
    rng = np.random.default_rng(42)
    levels = np.array([0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5])
    x = np.tile(np.repeat(levels, 2), (n_curves, 1))
    slope = rng.uniform(500, 2000, (n_curves, 1))
    icpt = rng.uniform(-5, 5, (n_curves, 1))
    y = icpt + slope * x * (1 + rng.normal(0, 0.03, x.shape))
    y0 = icpt + slope * rng.uniform(0.01, 0.4, (n_curves, 10))
    w = 1.0 / x**2

    t0 = time.perf_counter()
    sw, swx, swy = w.sum(1), (w * x).sum(1), (w * y).sum(1)
    xb, yb = swx / sw, swy / sw
    sxx = (w * (x - xb[:, None]) ** 2).sum(1)
    sxy = (w * (x - xb[:, None]) * (y - yb[:, None])).sum(1)
    b = sxy / sxx
    a = yb - b * xb
    x0_vec = (y0 - a[:, None]) / b[:, None]
    t_vec = time.perf_counter() - t0

    t0 = time.perf_counter()
    x0_loop = np.empty_like(y0)
    for i in range(n_curves):
        bi, ai = np.polyfit(x[i], y[i], 1, w=np.sqrt(w[i]))
        x0_loop[i] = (y0[i] - ai) / bi
    t_loop = time.perf_counter() - t0
    err = float(np.max(np.abs(x0_vec - x0_loop) / np.abs(x0_loop)))
    print(f"linear: {n_curves} curves × 10 predictions: vectorised {t_vec * 1e3:.1f} ms, "
          f"numpy.polyfit loop {t_loop * 1e3:.0f} ms, ratio {t_loop / t_vec:.0f}×, max rel diff {err:.1e}")


def bench_4pl(n_curves: int = 1_000) -> None:
    rng = np.random.default_rng(7)
    xs = np.array([0, 0.05, 0.15, 0.5, 1.5, 5, 15, 50.0])
    x = np.tile(xs, (n_curves, 1))
    true = np.column_stack([rng.uniform(0.05, 0.3, n_curves), rng.uniform(1.5, 2.5, n_curves),
                            rng.uniform(0.3, 5, n_curves), rng.uniform(0.7, 2.0, n_curves)])
    y = np.stack([logistic_value(xi, ti) for xi, ti in zip(x, true, strict=True)])
    y = y + rng.normal(0, 0.03, y.shape)

    t0 = time.perf_counter()
    res = fit_logistic_batch(x, y)
    t_batch = time.perf_counter() - t0

    def f(xv: np.ndarray, b: float, t: float, e: float, h: float) -> np.ndarray:
        return logistic_value(xv, np.array([b, t, e, h]))

    start = _start_values(x, y, False)
    p0 = start.copy()
    p0[:, 2:] = np.exp(p0[:, 2:])
    rss_cf = np.full(n_curves, np.inf)
    ok_cf = np.zeros(n_curves, bool)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n_curves):
            try:
                popt, _ = curve_fit(f, x[i], y[i], p0=p0[i], maxfev=5000)
                r = y[i] - f(x[i], *popt)
                rss_cf[i] = float(r @ r)
                ok_cf[i] = np.all(np.isfinite(popt))
            except (RuntimeError, ValueError):
                pass
    t_loop = time.perf_counter() - t0
    both = ok_cf & res.converged
    worse = (res.rss[both] - rss_cf[both]) / rss_cf[both]
    print(f"4pl: {n_curves} curves: batched LM {t_batch * 1e3:.0f} ms, curve_fit loop {t_loop * 1e3:.0f} ms, "
          f"ratio {t_loop / t_batch:.1f}×; converged {res.converged.mean() * 100:.1f} % (curve_fit "
          f"{ok_cf.mean() * 100:.1f} %); worst RSS excess vs curve_fit {worse.max():.2e} relative")


if __name__ == "__main__":
    bench_linear()
    bench_4pl()
