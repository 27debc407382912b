"""Four- and five-parameter logistic curves, fitted by a batched Levenberg–Marquardt.

y = bottom + (top − bottom) / (1 + (x/ec50)^hill)^g, g = 1 for 4PL (drc ``LL.4``/``LL.5``
parametrisation; x = 0 gives y = top for hill > 0).

The solver works on many curves at once (arrays shaped (curves, points)): every iteration is a
handful of numpy operations over all curves, so fitting a plate of curves costs about as much as
fitting one. It optimises (bottom, top, ln ec50, ln hill[, ln g]) so ec50, hill and g stay
positive (bounded parameters), starts from data-driven values (plateaus from the lowest and
highest levels, ec50 and hill from a logit regression) with a few alternative hill starts, and
reports per-curve convergence (gradient test in the style of MINPACK's gtol).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EXP_CLIP = 700.0


@dataclass(frozen=True)
class LogisticBatchFit:
    """``params`` (curves, p) in natural units (bottom, top, ec50, hill[, asymmetry])."""

    params: np.ndarray
    rss: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


def _t(x: np.ndarray, log_e: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """t = (x/e)^h and ln(x/e) (0 where x = 0)."""
    pos = x > 0
    lx = np.where(pos, np.log(np.where(pos, x, 1.0)), 0.0)
    lxe = np.where(pos, lx - log_e, 0.0)
    t = np.where(pos, np.exp(np.clip(h * lxe, -_EXP_CLIP, _EXP_CLIP)), 0.0)
    return t, lxe


def logistic_value(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """f(x; θ) with θ = (bottom, top, ec50, hill[, asymmetry])."""
    b, top, e, h = theta[0], theta[1], theta[2], theta[3]
    g = theta[4] if len(theta) > 4 else 1.0
    t, _ = _t(np.asarray(x, dtype=float), np.log(e), h)
    return np.asarray(b + (top - b) * (1.0 + t) ** (-g), dtype=float)


def logistic_grad_natural(x: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(∂f/∂θ in natural parameters, shape (n, p); ∂f/∂x, shape (n,))."""
    x = np.asarray(x, dtype=float)
    b, top, e, h = theta[0], theta[1], theta[2], theta[3]
    five = len(theta) > 4
    g = theta[4] if five else 1.0
    t, lxe = _t(x, np.log(e), h)
    d = 1.0 + t
    dg = d ** (-g)
    dfdt = -g * (top - b) * d ** (-g - 1.0)
    cols = [1.0 - dg, dg, dfdt * (-h * t / e), dfdt * t * lxe]
    if five:
        cols.append(-(top - b) * dg * np.log(d))
    grad = np.column_stack(cols)
    dfdx = np.where(x > 0, dfdt * h * t / np.where(x > 0, x, 1.0), 0.0)
    return grad, dfdx


def _model_and_jac(x: np.ndarray, phi: np.ndarray, five: bool) -> tuple[np.ndarray, np.ndarray]:
    """f and ∂f/∂φ for φ = (bottom, top, ln e, ln h[, ln g]); arrays (N, n) and (N, n, p)."""
    b = phi[:, 0:1]
    top = phi[:, 1:2]
    log_e = phi[:, 2:3]
    h = np.exp(phi[:, 3:4])
    g = np.exp(phi[:, 4:5]) if five else np.ones_like(b)
    t, lxe = _t(x, log_e, h)
    d = 1.0 + t
    ld = np.log(d)
    dg = np.exp(-g * ld)
    f = b + (top - b) * dg
    dfdt = -g * (top - b) * dg / d
    cols = [1.0 - dg, dg, dfdt * (-h * t), dfdt * t * lxe * h]
    if five:
        cols.append(-(top - b) * dg * ld * g)
    return f, np.stack(cols, axis=-1)


def _start_values(x: np.ndarray, y: np.ndarray, five: bool) -> np.ndarray:
    """Data-driven starts: plateaus from the extreme levels, ec50/hill from a logit regression."""
    n_curves = x.shape[0]
    order = np.argsort(x, axis=1)
    xs = np.take_along_axis(x, order, 1)
    ys = np.take_along_axis(y, order, 1)
    low_mask = xs <= xs[:, :1]
    high_mask = xs >= xs[:, -1:]
    y_low = np.sum(ys * low_mask, 1) / np.sum(low_mask, 1)
    y_high = np.sum(ys * high_mask, 1) / np.sum(high_mask, 1)
    span = np.abs(y_low - y_high)
    span = np.where(span > 0, span, np.maximum(np.abs(y_low), 1.0))
    sign = np.where(y_low >= y_high, 1.0, -1.0)
    top = y_low + 0.05 * span * sign
    bottom = y_high - 0.05 * span * sign
    frac = (y - bottom[:, None]) / (top - bottom)[:, None]
    ok = (x > 0) & (frac > 0.02) & (frac < 0.98)
    z = np.log(np.where(ok, (1.0 - frac) / np.where(ok, frac, 1.0), 1.0))  # z = h·ln x − h·ln e
    lx = np.log(np.where(x > 0, x, 1.0))
    cnt = ok.sum(1)
    mx = np.where(cnt > 0, (lx * ok).sum(1) / np.maximum(cnt, 1), 0.0)
    mz = np.where(cnt > 0, (z * ok).sum(1) / np.maximum(cnt, 1), 0.0)
    sxx = (((lx - mx[:, None]) ** 2) * ok).sum(1)
    sxz = (((lx - mx[:, None]) * (z - mz[:, None])) * ok).sum(1)
    hill = np.where((cnt >= 2) & (sxx > 0), sxz / np.where(sxx > 0, sxx, 1.0), 1.0)
    hill = np.clip(np.where(np.isfinite(hill) & (hill > 0), hill, 1.0), 0.2, 10.0)
    pos = np.where(x > 0, x, np.nan)
    geo_mid = np.exp(np.nanmean(np.log(pos), axis=1))
    log_e = np.where(cnt >= 2, mx - mz / hill, np.log(geo_mid))
    lo = np.log(np.nanmin(pos, axis=1)) - 3.0
    hi = np.log(np.nanmax(pos, axis=1)) + 3.0
    log_e = np.clip(np.where(np.isfinite(log_e), log_e, np.log(geo_mid)), lo, hi)
    cols = [bottom, top, log_e, np.log(hill)]
    if five:
        cols.append(np.zeros(n_curves))
    return np.column_stack(cols)


def _lm(x: np.ndarray, y: np.ndarray, sw: np.ndarray, phi: np.ndarray, five: bool,
        max_iter: int, gtol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_curves, p = phi.shape
    f, jac = _model_and_jac(x, phi, five)
    r = sw * (y - f)
    rss = np.sum(r * r, axis=1)
    lam = np.full(n_curves, 1e-3)
    active = np.isfinite(rss)
    iters = np.zeros(n_curves, dtype=int)
    eye = np.eye(p)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        iters[idx] += 1
        j = -sw[idx, :, None] * jac[idx]  # ∂r/∂φ
        jtj = np.einsum("kip,kiq->kpq", j, j)
        grad = np.einsum("kip,ki->kp", j, r[idx])
        dj = np.einsum("kpp->kp", jtj)
        a = jtj + (lam[idx, None, None] * (dj[:, :, None] + 1e-12) + 1e-300) * eye
        try:
            step = np.linalg.solve(a, -grad[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(ai, -gi, rcond=None)[0] for ai, gi in zip(a, grad, strict=True)])
        trial = phi[idx] + step
        trial[:, 2:] = np.clip(trial[:, 2:], -60.0, 60.0)
        f_t, jac_t = _model_and_jac(x[idx], trial, five)
        r_t = sw[idx] * (y[idx] - f_t)
        rss_t = np.sum(r_t * r_t, axis=1)
        better = np.isfinite(rss_t) & (rss_t < rss[idx])
        b_idx = idx[better]
        rel_drop = np.where(better, (rss[idx] - rss_t) / np.maximum(rss[idx], 1e-300), 0.0)
        phi[b_idx] = trial[better]
        jac[b_idx] = jac_t[better]
        r[b_idx] = r_t[better]
        rss[b_idx] = rss_t[better]
        lam[idx] = np.where(better, np.maximum(lam[idx] * 0.2, 1e-12), lam[idx] * 10.0)
        # stop: tiny accepted improvement with a tiny step, or the damping cannot find a descent
        step_small = np.max(np.abs(step) / (np.abs(phi[idx]) + 1e-8), axis=1) < 1e-10
        done = (better & (rel_drop < 1e-15)) | (better & step_small) | (lam[idx] > 1e14)
        done |= rss[idx] <= 1e-300
        active[idx[done]] = False
    # convergence diagnostic: scaled gradient (cosine between residual and Jacobian columns)
    j = -sw[:, :, None] * jac
    grad = np.einsum("kip,ki->kp", j, r)
    colnorm = np.sqrt(np.einsum("kip,kip->kp", j, j))
    cos = np.abs(grad) / (colnorm * np.sqrt(np.maximum(rss, 1e-300))[:, None] + 1e-300)
    converged = np.isfinite(rss) & ((np.max(cos, axis=1) < gtol) | (rss <= 1e-24 * np.sum(y * y, 1)))
    return phi, rss, converged, iters


def fit_logistic_batch(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, model: str = "4pl",
                       max_iter: int = 300, gtol: float = 1e-6,
                       hill_starts: tuple[float, ...] = (0.5, 2.0)) -> LogisticBatchFit:
    """Fit 4PL/5PL curves to each row of ``x``/``y`` (arrays (curves, points)); weights optional.

    Runs LM from the data-driven start and from alternative hill starts and keeps, per curve,
    the solution with the lowest weighted RSS.
    """
    five = model == "5pl"
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    w = np.ones_like(y) if w is None else np.atleast_2d(np.asarray(w, dtype=float))
    sw = np.sqrt(w)
    start = _start_values(x, y, five)
    starts = [start]
    for hs in hill_starts:
        alt = start.copy()
        alt[:, 3] = np.log(hs)
        starts.append(alt)
    k = len(starts)
    phi0 = np.concatenate(starts, axis=0)
    xx, yy, ss = (np.tile(a, (k, 1)) for a in (x, y, sw))
    phi, rss, conv, iters = _lm(xx, yy, ss, phi0, five, max_iter, gtol)
    n = x.shape[0]
    rss_k = np.where(np.isfinite(rss), rss, np.inf).reshape(k, n)
    best = np.argmin(rss_k, axis=0)
    sel = best * n + np.arange(n)
    phi_b = phi[sel]
    params = phi_b.copy()
    params[:, 2:] = np.exp(phi_b[:, 2:])
    return LogisticBatchFit(params=params, rss=rss[sel], converged=conv[sel],
                            iterations=iters.reshape(k, n).sum(axis=0))
