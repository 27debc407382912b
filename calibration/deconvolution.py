"""Deconvolution of overlapping chromatographic peaks with exponentially modified Gaussians.

EMG (Grushka, Anal. Chem. 44 (1972) 1733; Kalambet et al., J. Chemometrics 25 (2011) 352):

    f(t) = A/(2τ)·exp(σ²/(2τ²) − (t − μ)/τ)·erfc((σ/τ − (t − μ)/σ)/√2)

with A the area (signal × s), μ and σ of the Gaussian, τ the exponential time constant (s). It
is evaluated in the numerically stable form exp(−u²/2)·erfcx(z)·A/(2τ), u = (t − μ)/σ,
z = (σ/τ − u)/√2, where z ≥ 0, and in the direct form elsewhere (Kalambet et al. 2011, eq. 8).

A window of 2–3 components is fitted by bounded least squares (scipy.optimize.least_squares,
trust-region reflective): areas ≥ 0, μ inside the window, σ and τ between one sampling interval
and the window length. Starting values come from the maxima of the smoothed window (or from the
caller's retention-time guesses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calibration.errors import CalibrationError

_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class EmgComponent:
    """One fitted peak: ``area`` in signal × s, ``retention_time_min`` at the component's apex."""

    area: float
    retention_time_min: float
    mu_min: float
    sigma_s: float
    tau_s: float
    height: float


@dataclass(frozen=True)
class Deconvolution:
    components: tuple[EmgComponent, ...]
    rss: float
    residual_sd: float
    converged: bool
    message: str
    start_index: int
    end_index: int


def emg(t_s: np.ndarray, area: float, mu_s: float, sigma_s: float, tau_s: float) -> np.ndarray:
    """Exponentially modified Gaussian of the given area (module docstring), t in seconds."""
    from scipy import special

    t = np.asarray(t_s, dtype=float)
    u = (t - mu_s) / sigma_s
    z = (sigma_s / tau_s - u) / _SQRT2
    out = np.empty_like(t)
    pos = z >= 0
    out[pos] = np.exp(-0.5 * u[pos] ** 2) * special.erfcx(z[pos])
    neg = ~pos
    a = 0.5 * (sigma_s / tau_s) ** 2 - (t[neg] - mu_s) / tau_s
    out[neg] = np.exp(a) * special.erfc(z[neg])
    return area / (2.0 * tau_s) * out


def _model(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    y = np.zeros_like(t)
    for k in range(p.size // 4):
        y += emg(t, p[4 * k], p[4 * k + 1], p[4 * k + 2], p[4 * k + 3])
    return y


def _guesses(t: np.ndarray, yc: np.ndarray, n: int, dt: float) -> list[float]:
    from scipy import signal

    w = max(5, int(round(2.0 / dt)) | 1)
    ys = signal.savgol_filter(yc, min(w, (yc.size // 2) * 2 - 1), 3) if yc.size > 7 else yc
    pk, props = signal.find_peaks(ys, height=0.05 * float(np.max(ys)))
    order = np.argsort(props["peak_heights"])[::-1] if pk.size else np.array([], dtype=int)
    chosen = sorted(int(pk[i]) for i in order[:n])
    if not chosen:
        chosen = [int(np.argmax(ys))]
    widths = signal.peak_widths(ys, chosen, rel_height=0.5)[0] * dt if chosen else []
    sig0 = float(np.median(widths)) / 2.355 if len(widths) else 5 * dt
    sig0 = max(sig0, 2 * dt)
    while len(chosen) < n:  # a shoulder without its own maximum: put the extra component beside the biggest
        chosen.append(min(int(chosen[0] + 2.0 * sig0 / dt * (len(chosen))), t.size - 1))
    return [t[i] for i in chosen[:n]] + [sig0]


def deconvolve_emg(times_min: np.ndarray, y: np.ndarray, *, start_min: float, end_min: float,
                   n_components: int = 2, baseline: np.ndarray | None = None,
                   retention_guesses_min: Sequence[float] | None = None) -> Deconvolution:
    """Fit ``n_components`` (1–3) EMG peaks to the window [start_min, end_min] of a trace.

    ``baseline`` (same length as ``y``) is subtracted first; without it a straight line through
    the mean signal of the first and last 5 % of the window is used.
    """
    from scipy import optimize

    t_all = np.asarray(times_min, dtype=float)
    y_all = np.asarray(y, dtype=float)
    if t_all.shape != y_all.shape or t_all.ndim != 1:
        raise CalibrationError("times and signal must be 1-D arrays of equal length")
    if not 1 <= n_components <= 3:
        raise CalibrationError(f"n_components must be 1, 2 or 3 (got {n_components})")
    i0, i1 = int(np.searchsorted(t_all, start_min)), int(np.searchsorted(t_all, end_min, side="right")) - 1
    if i1 - i0 + 1 < 8 * n_components:
        raise CalibrationError(f"window {start_min:g}–{end_min:g} min has too few points ({max(i1 - i0 + 1, 0)})")
    t = t_all[i0:i1 + 1] * 60.0
    yw = y_all[i0:i1 + 1]
    if baseline is not None:
        b = np.asarray(baseline, dtype=float)
        if b.shape != y_all.shape:
            raise CalibrationError("baseline must have the same length as the signal")
        yc = yw - b[i0:i1 + 1]
    else:
        m = max(3, yw.size // 20)
        yl, yr = float(np.mean(yw[:m])), float(np.mean(yw[-m:]))
        tl, tr = float(np.mean(t[:m])), float(np.mean(t[-m:]))
        yc = yw - (yl + (yr - yl) * (t - tl) / (tr - tl))
    dt = float(np.median(np.diff(t)))
    span = float(t[-1] - t[0])
    g = _guesses(t, yc, n_components, dt)
    sig0 = g[-1]
    centres = [c * 60.0 for c in retention_guesses_min] if retention_guesses_min is not None else g[:-1]
    if len(centres) != n_components:
        raise CalibrationError(f"{len(centres)} retention-time guesses for {n_components} components")
    p0, lo, hi = [], [], []
    ymax = float(np.max(yc))
    for c in centres:
        p0 += [max(float(np.interp(c, t, yc)), 0.05 * ymax) * sig0 * math.sqrt(2 * math.pi),
               c - 0.5 * sig0, sig0, sig0]
        lo += [0.0, t[0], dt, 0.05 * dt]
        hi += [np.inf, t[-1], span / 2, span]
    p0a = np.clip(np.array(p0), np.array(lo) + 1e-9, np.array(hi) - 1e-9)
    res = optimize.least_squares(lambda p: _model(t, p) - yc, p0a, bounds=(lo, hi), method="trf",
                                 x_scale="jac", max_nfev=2000)
    p = res.x
    rss = float(np.sum(res.fun ** 2))
    dof = max(yc.size - p.size, 1)
    fine = np.linspace(t[0], t[-1], 8 * t.size)
    comps = []
    for k in range(n_components):
        a, mu, s, tau = (float(v) for v in p[4 * k:4 * k + 4])
        curve = emg(fine, a, mu, s, tau)
        j = int(np.argmax(curve))
        comps.append(EmgComponent(a, float(fine[j]) / 60.0, mu / 60.0, s, tau, float(curve[j])))
    comps.sort(key=lambda c: c.retention_time_min)
    return Deconvolution(tuple(comps), rss, math.sqrt(rss / dof), bool(res.success), str(res.message), i0, i1)
