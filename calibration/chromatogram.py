"""Chromatogram processing: robust baseline, peak detection, integration, RT windows.

Conventions (ChemStation): time in minutes, area in signal × seconds (e.g. mAU·s), height
above the baseline at the apex.

1. Noise σ from the median absolute first difference (robust to peaks and drift).
2. Baseline (drift): a morphological opening of the Savitzky–Golay-smoothed signal locates the
   lower envelope; points close to it are baseline points; the baseline is their running mean,
   linearly interpolated under the peaks. A second pass excludes the integrated peak spans.
3. Peaks: maxima of the baseline-corrected smoothed signal above ``min_height`` (default 5σ).
4. Bounds: from the apex to where the corrected signal returns to the baseline; peaks whose
   valley stays above the baseline are split by a perpendicular drop at the valley, or — for a
   small rider (height < ``skim_ratio`` × parent) — by a tangent skim from the valley.
5. Area: trapezoidal integral of the raw signal minus baseline (minus the skim line for riders).
   A resolved (BB) peak is re-integrated against a local quadratic baseline fitted on both sides,
   with its end extended into the tail (see ``_refine_resolved``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calibration.errors import CalibrationError


@dataclass(frozen=True)
class Peak:
    retention_time_min: float
    area: float
    height: float
    start_min: float
    end_min: float
    apex_index: int
    start_index: int
    end_index: int
    baseline_code: str  # "BB", "BV", "VB", "VV" (ChemStation style) or "T" for a tangent-skimmed rider


@dataclass(frozen=True)
class Integration:
    peaks: tuple[Peak, ...]
    baseline: np.ndarray
    noise_sd: float


@dataclass(frozen=True)
class RetentionWindow:
    analyte: str
    retention_time_min: float
    tolerance_min: float


def resolution_step(y: np.ndarray) -> float:
    """The signal's resolution step: the smallest non-zero difference between consecutive values that
    is common (the 5th percentile of the non-zero |Δy|), e.g. 1 count × the intensity multiplier of a
    LabSolutions export. 0 for a constant signal."""
    d = np.abs(np.diff(y))
    d = d[d > 1e-12 * (float(np.max(np.abs(y))) or 1.0)]
    return float(np.percentile(d, 5)) if d.size else 0.0


def estimate_noise(y: np.ndarray) -> float:
    """σ of the noise, the largest of three robust estimates (none is swayed by peaks or drift):

    - white noise: 1.4826·MAD(Δy)/√2;
    - filtered noise: the median, over blocks of ``n/100`` points (≥ 20), of the standard deviation
      about each block's straight line. Detectors and data systems low-pass filter the signal, so its
      noise is correlated and first differences see only part of it (a real LabSolutions RID trace:
      ×6); most blocks hold no peak, so their median is the baseline's noise;
    - the signal's resolution step (:func:`resolution_step`): on integer-stepped data most consecutive
      differences are 0 (59.7 % in a real LabSolutions 5.97 export), the MAD is 0, and no noise below
      one step of the data system's resolution can be told apart.
    """
    y = np.asarray(y, dtype=float)
    d = np.diff(y)
    # the MAD of ≤ 8,192 evenly spread differences: its relative standard error is ~2 % there, and two
    # medians of 24,000 values cost as much as the rest of the noise estimate
    dd = d[::max(1, d.size // 8192)]
    mad = float(np.median(np.abs(dd - np.median(dd))))
    white = 1.4826 * mad / float(np.sqrt(2.0))
    noise = max(white, _block_noise(y))
    # the resolution step can only exceed the other two when many differences are exactly 0 (else the
    # 5th percentile of the non-zero |Δy| lies far below the differences' spread)
    if np.count_nonzero(d == 0) > 0.05 * d.size:
        noise = max(noise, resolution_step(y))
    return noise


def _block_noise(y: np.ndarray) -> float:
    m = max(20, y.size // 100)
    k = y.size // m
    if k < 3:
        return 0.0
    blocks = y[:k * m].reshape(k, m)
    x = np.arange(m) - (m - 1) / 2.0
    slope = blocks @ x / float(x @ x)
    resid = blocks - blocks.mean(axis=1, keepdims=True) - slope[:, None] * x
    return float(np.median(np.sqrt(np.mean(resid ** 2, axis=1))))


def _odd(n: float, lo: int = 3) -> int:
    k = max(int(round(n)), lo)
    return k if k % 2 else k + 1


def _baseline_from_mask(y_s: np.ndarray, is_base: np.ndarray, w: int) -> np.ndarray:
    from scipy import ndimage

    idx = np.flatnonzero(is_base)
    if idx.size < 2:
        return np.full_like(y_s, float(np.min(y_s)))
    # running median of the baseline points (on every k-th one, k ≈ w/16, then smoothed by the running
    # mean): a short negative excursion (an injection dip) does not drag the baseline of the whole run
    # down as a running mean alone does, and the median costs ~1/k² of a full-resolution one
    k = max(1, min(w, idx.size) // 16)
    sub = idx[::k]
    med = ndimage.median_filter(y_s[sub], size=_odd(min(w, idx.size) / k), mode="nearest")
    vals = np.interp(idx, sub, med)
    vals = ndimage.uniform_filter1d(vals, size=min(w, idx.size), mode="nearest")
    return np.asarray(np.interp(np.arange(y_s.size), idx, vals), dtype=float)


def integrate_chromatogram(times_min: np.ndarray, y: np.ndarray, *, smooth_points: int = 11,
                           baseline_window_min: float = 1.0, min_height: float | None = None,
                           skim_ratio: float = 0.1) -> Integration:
    """Baseline-correct, detect and integrate peaks of one trace (see module docstring)."""
    from scipy import ndimage, signal

    t = np.asarray(times_min, dtype=float)
    y = np.asarray(y, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise CalibrationError("times and signal must be 1-D arrays of equal length")
    if t.size < 10:
        raise CalibrationError(f"too few points to integrate ({t.size})")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise CalibrationError("trace contains non-finite values")
    dt_min = float(np.median(np.diff(t)))
    if dt_min <= 0:
        raise CalibrationError("times are not increasing")
    sp = _odd(min(smooth_points, t.size // 2 * 2 - 1), 5)
    y_s = signal.savgol_filter(y, sp, 3, mode="interp")
    sigma = max(estimate_noise(y), 1e-12 * float(np.max(np.abs(y)) or 1.0))
    w = _odd(baseline_window_min / dt_min)
    opened = ndimage.grey_opening(y_s, size=w, mode="nearest")
    env = ndimage.uniform_filter1d(opened, size=w, mode="nearest")
    is_base = (y_s - env) < 4.0 * sigma
    # widen the non-baseline runs by max(sp, 3) points on each side (= binary dilation iterated that
    # many times, as one running maximum: a sixth of the time)
    is_base = ~ndimage.maximum_filter1d(~is_base, size=2 * max(sp, 3) + 1)
    base = _baseline_from_mask(y_s, is_base, w)
    thr = 5.0 * sigma if min_height is None else float(min_height)
    peaks = _find_and_bound(t, y, y_s, base, thr, sp, skim_ratio)
    if peaks:
        # second pass: exclude the integrated spans from the baseline points
        mask = is_base.copy()
        for p in peaks:
            mask[p.start_index:p.end_index + 1] = False
        keep = np.zeros_like(mask)
        for p in peaks:  # where a peak returned to the baseline (not a valley, not the trace's edge)
            if p.baseline_code[0] == "B" and p.start_index > 0:
                keep[p.start_index] = True
            if p.baseline_code[-1] == "B" and p.end_index < t.size - 1:
                keep[p.end_index] = True
        base = _baseline_from_mask(y_s, mask | keep, w)
        peaks = _find_and_bound(t, y, y_s, base, thr, sp, skim_ratio)
        peaks = [_refine_resolved(t, y, p, peaks, w, base, sigma) if p.baseline_code == "BB" else p
                 for p in peaks]
    # a peak is signal above the baseline: nothing with no area above it is reported (no negative areas)
    return Integration(tuple(p for p in peaks if p.area > 0), base, sigma)


def _find_and_bound(t: np.ndarray, y: np.ndarray, y_s: np.ndarray, base: np.ndarray, thr: float, sp: int,
                    skim_ratio: float) -> list[Peak]:
    from scipy import signal

    yc_s = y_s - base
    yc = y - base
    apex, props = signal.find_peaks(yc_s, height=thr, prominence=thr)
    if apex.size == 0:
        return []
    # a maximum narrower than half the smoothing window is a noise spike unless it stands well clear of
    # the noise: a shoulder's maximum over a shallow valley is narrow at half its own prominence
    widths = signal.peak_widths(yc_s, apex, rel_height=0.5, prominence_data=(
        props["prominences"], props["left_bases"], props["right_bases"]))[0]
    apex = apex[(widths >= max(sp // 2, 2)) | (props["prominences"] >= 4.0 * thr)]
    if apex.size == 0:
        return []
    ts = t * 60.0
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (yc[1:] + yc[:-1]) * np.diff(ts))])
    b = _bound(yc_s, apex)
    height = yc_s[apex]
    area = cum[b.end] - cum[b.start]
    hgt = height.copy()
    role = np.full(apex.size, _PEAK)
    _skim_riders(ts, yc_s, cum, b, height, area, hgt, role, skim_ratio)
    out = []
    for i in range(apex.size):
        if role[i] == _TAIL:
            continue
        a = int(apex[i])
        code = "T" if role[i] == _RIDER else b.left_code[i] + b.right_code[i]
        out.append(Peak(_apex_time(t, yc_s, a), float(area[i]), float(hgt[i]), float(t[b.start[i]]),
                        float(t[b.end[i]]), a, int(b.start[i]), int(b.end[i]), code))
    return out


@dataclass(frozen=True)
class _Bounds:
    """Integration bounds of the detected peaks (``start``/``end`` arrays are updated in place by the
    tangent skim) and the ChemStation baseline code letters of each side (B baseline, V valley)."""

    apex: np.ndarray
    start: np.ndarray
    end: np.ndarray
    left_code: list[str]
    right_code: list[str]


def _bound(yc_s: np.ndarray, apex: np.ndarray) -> _Bounds:
    """From each apex to where the corrected signal returns to the baseline; neighbours whose valley
    stays above the baseline are split at the valley (perpendicular drop)."""
    n = yc_s.size
    ar = np.arange(n)
    le0 = yc_s <= 0
    nxt = np.minimum.accumulate(np.where(le0, ar, n - 1)[::-1])[::-1]
    prv = np.maximum.accumulate(np.where(le0, ar, 0))
    k = apex.size
    b = _Bounds(apex, prv[apex].copy(), nxt[apex].copy(), ["B"] * k, ["B"] * k)
    for i in range(k - 1):
        lo, hi = apex[i], apex[i + 1]
        v = lo + int(np.argmin(yc_s[lo:hi + 1]))
        if yc_s[v] > 0:  # not back to baseline: split at the valley
            b.end[i] = v
            b.start[i + 1] = v
            b.right_code[i] = "V"
            b.left_code[i + 1] = "V"
    return b


def _rider_chord(ts: np.ndarray, yc_s: np.ndarray, b: _Bounds, parent: int, r: int) -> tuple[int, int] | None:
    """(chord start, chord end) of rider ``r`` on the tail of ``parent``: the tangent from the valley
    before ``r`` to its far side (the least-sloped chord); None when ``r`` has no far side."""
    v = b.start[r]
    seg = np.arange(b.apex[r] + 1, b.end[r] + 1)
    if seg.size == 0:
        return None
    slope = (yc_s[seg] - yc_s[v]) / (ts[seg] - ts[v])
    return v, int(seg[np.argmin(slope)])


#: roles of a detected maximum after the skim: a peak of its own, a rider skimmed off its parent's
#: tail, or part of its parent's tail (not a peak)
_PEAK, _RIDER, _TAIL = 0, 1, 2


def _skim_riders(ts: np.ndarray, yc_s: np.ndarray, cum: np.ndarray, b: _Bounds, height: np.ndarray,
                 area: np.ndarray, hgt: np.ndarray, role: np.ndarray, skim_ratio: float) -> None:
    """Exponential (else tangent) skim of small riders (height < ``skim_ratio`` × parent) on the tail of
    a larger parent joined to it by a valley; updates bounds, ``area``, ``hgt`` and ``role`` in place.

    A smaller peak *before* a larger one is split at the valley (perpendicular drop), as LabSolutions
    and ChemStation do by default. A skimmed "rider" that would claim more area than the box of its
    height above the skim line times its span is no peak but the parent's tail bending away from the
    exponential (a real AIA file's tail was once cut off this way, leaving the main peak 41 % of the
    vendor's area): it stays part of the parent, never a peak of its own."""
    apex, start, end = b.apex, b.start, b.end
    parent = 0
    for r in range(1, apex.size):
        if b.left_code[r] != "V" or not height[r] < skim_ratio * height[parent]:
            parent = r
            continue
        chord = _rider_chord(ts, yc_s, b, parent, r)
        if chord is None:
            parent = r
            continue
        s_, e_ = chord
        skim = _exponential_skim(ts, yc_s, int(apex[parent]), int(start[r]), int(apex[r]), int(end[r]))
        if skim is not None:
            s_, e_, line = skim
        else:
            line = np.interp(ts[s_:e_ + 1], [ts[s_], ts[e_]], [yc_s[s_], yc_s[e_]])
        rider = float(cum[e_] - cum[s_]) - float(np.trapezoid(line, ts[s_:e_ + 1]))
        h_r = float(yc_s[apex[r]] - line[apex[r] - s_])
        end[parent] = end[r]
        if not 0 < rider <= h_r * (ts[e_] - ts[s_]):
            area[parent] += float(area[r])
            b.right_code[parent] = b.right_code[r]
            role[r] = _TAIL
            continue
        # the parent takes everything the rider no longer claims (total area is conserved)
        area[parent] += float(area[r]) - rider
        area[r] = rider
        start[r], end[r] = s_, e_
        hgt[r] = h_r
        role[r] = _RIDER


def _apex_time(t: np.ndarray, yc_s: np.ndarray, a: int) -> float:
    """Retention time at the apex, refined by the parabola through the apex and its neighbours."""
    rt = t[a]
    if 0 < a < yc_s.size - 1:
        y0, y1, y2 = yc_s[a - 1], yc_s[a], yc_s[a + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            rt = t[a] + 0.5 * (y0 - y2) / den * (t[a + 1] - t[a])
    return float(rt)


#: Resolved peaks: the integration end is extended by this fraction of the apex-to-end span
#: (the tail of a tailing peak), and the local baseline is a quadratic fitted to this many
#: baseline windows (``baseline_window_min``) on each side.
TAIL_EXTENSION = 0.5
LOCAL_BASELINE_WINDOWS = 1.5


def _refine_resolved(t: np.ndarray, y: np.ndarray, pk: Peak, peaks: Sequence[Peak], w: int,
                     base: np.ndarray, sigma: float) -> Peak:
    """Re-integrate a resolved (BB) peak against a local quadratic baseline.

    The quadratic is fitted to the raw signal in windows before the start and after the extended
    end (away from every other peak), which follows a curved drift and is not biased by the peak's
    own tail; the end is extended by ``TAIL_EXTENSION`` × (end − apex) so the tail that the
    zero-crossing test cut off is integrated. ``base`` is updated in place under the peak. A quadratic
    that rises above the signal by more than 4σ anywhere under the peak is no baseline (a real RID trace
    whose later neighbour left fit points on one side only): the peak is kept as first integrated.
    """
    n = y.size
    s0, e0, a = pk.start_index, pk.end_index, pk.apex_index
    end = min(e0 + int(TAIL_EXTENSION * (e0 - a)), n - 1)
    later = [q.start_index for q in peaks if q.start_index > a]
    if later:
        end = min(end, min(later))
    span = int(LOCAL_BASELINE_WINDOWS * w)
    busy = np.zeros(n, dtype=bool)
    for q in peaks:
        busy[max(q.start_index - 2, 0):min(q.end_index + 3, n)] = True
    left = np.arange(max(s0 - span, 0), s0)
    right = np.arange(end + 1, min(end + 1 + span, n))
    if left.size < 10 or right.size < 10:
        return pk
    idx = np.concatenate([left, right])
    idx = idx[~busy[idx]]
    if idx.size < 20:
        return pk
    tc = t[a]
    coef = _quadratic_fit(t[idx] - tc, y[idx])
    seg = slice(s0, end + 1)
    local = np.polyval(coef, t[seg] - tc)
    if np.any(local - y[seg] > 4.0 * sigma):
        return pk  # the quadratic runs above the signal (few or one-sided fit points): keep the baseline
    base[seg] = local
    area = float(np.trapezoid(y[seg] - local, t[seg] * 60.0))
    return Peak(pk.retention_time_min, area, pk.height, pk.start_min, float(t[end]), a, s0, end,
                pk.baseline_code)


def _quadratic_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares c2·x² + c1·x + c0 (coefficients highest first, as np.polyval takes them) from the
    normal equations: x is centred on the apex, so the 3 × 3 system is well conditioned, and it costs a
    fraction of np.polyfit's SVD."""
    x2 = x * x
    p1, p2, p3, p4 = float(x.sum()), float(x2.sum()), float(x2 @ x), float(x2 @ x2)
    a = np.array([[p4, p3, p2], [p3, p2, p1], [p2, p1, float(x.size)]])
    b = np.array([float(x2 @ y), float(x @ y), float(y.sum())])
    return np.asarray(np.linalg.solve(a, b), dtype=float)


def _exponential_skim(ts: np.ndarray, yc_s: np.ndarray, parent_apex: int, valley: int, rider_apex: int,
                      rider_end: int) -> tuple[int, int, np.ndarray] | None:
    """Exponential skim of a rider on a parent's tail (the ChemStation "exponential skim").

    The parent's tail before the rider is fitted by ln y = c0 + c1·t (an exponentially modified
    Gaussian decays exponentially there); the rider starts one valley-to-apex distance before the
    valley and ends where the signal falls back onto the extrapolated tail. Returns (start, end,
    skim curve over start..end) or None when the tail is not a clean exponential decay.
    """
    g = max(rider_apex - valley, 2)
    s_ = max(valley - g, parent_apex + 1)
    lo = parent_apex + (s_ - parent_apex) // 3
    seg = np.arange(lo, s_ + 1)
    seg = seg[yc_s[seg] > 0]
    if seg.size < 8:
        return None
    c1, c0 = np.polyfit(ts[seg], np.log(yc_s[seg]), 1)
    if not c1 < 0:
        return None
    after = np.arange(rider_apex, min(rider_end + 4 * g, yc_s.size))
    tail = np.exp(c0 + c1 * ts[after])
    back = np.flatnonzero(yc_s[after] <= tail)
    e_ = int(after[back[0]]) if back.size else int(after[-1])
    return s_, e_, np.exp(c0 + c1 * ts[s_:e_ + 1])


def assign_peaks(peaks: Sequence[Peak], windows: Sequence[RetentionWindow]) -> dict[str, Peak | None]:
    """Assign to each analyte the peak nearest its expected RT within ±tolerance (None if none)."""
    result: dict[str, Peak | None] = {}
    for win in windows:
        cands = [p for p in peaks if abs(p.retention_time_min - win.retention_time_min) <= win.tolerance_min]
        result[win.analyte] = min(cands, key=lambda p: abs(p.retention_time_min - win.retention_time_min),
                                  default=None)
    return result
