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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

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


def estimate_noise(y: np.ndarray) -> float:
    """σ of white noise from the MAD of first differences: σ = 1.4826·MAD(Δy)/√2."""
    d = np.diff(y)
    mad = float(np.median(np.abs(d - np.median(d))))
    return 1.4826 * mad / np.sqrt(2.0)


def _odd(n: float, lo: int = 3) -> int:
    k = max(int(round(n)), lo)
    return k if k % 2 else k + 1


def _baseline_from_mask(y_s: np.ndarray, is_base: np.ndarray, w: int) -> np.ndarray:
    idx = np.flatnonzero(is_base)
    if idx.size < 2:
        return np.full_like(y_s, float(np.min(y_s)))
    vals = ndimage.uniform_filter1d(y_s[idx], size=min(w, idx.size), mode="nearest")
    import os
    if os.environ.get('SPL', '0') == '1' and idx.size > 10:
        from scipy.interpolate import PchipInterpolator, CubicSpline
        step = max(w // 4, 1)
        ki = np.unique(np.concatenate([idx[::step], idx[-1:]]))
        # knots: baseline indices, values from vals at those positions
        kv = np.interp(ki, idx, vals)
        # ensure knots flank gaps: add gap-edge indices
        gaps = np.flatnonzero(np.diff(idx) > 1)
        edges = np.unique(np.concatenate([idx[gaps], idx[gaps + 1]]))
        ki2 = np.unique(np.concatenate([ki, edges]))
        kv2 = np.interp(ki2, idx, vals)
        return CubicSpline(ki2, kv2, bc_type='natural')(np.arange(y_s.size)) if os.environ.get('PCH','0')=='0' else PchipInterpolator(ki2, kv2)(np.arange(y_s.size))
    return np.interp(np.arange(y_s.size), idx, vals)


def integrate_chromatogram(times_min: np.ndarray, y: np.ndarray, *, smooth_points: int = 11,
                           baseline_window_min: float = 1.0, min_height: float | None = None,
                           skim_ratio: float = 0.1) -> Integration:
    """Baseline-correct, detect and integrate peaks of one trace (see module docstring)."""
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
    is_base = ~ndimage.binary_dilation(~is_base, iterations=max(sp, 3))
    base = _baseline_from_mask(y_s, is_base, w)
    thr = 5.0 * sigma if min_height is None else float(min_height)
    peaks = _find_and_bound(t, y, y_s, base, thr, sp, skim_ratio)
    if peaks:
        # second pass: exclude the integrated spans from the baseline points
        mask = is_base.copy()
        import os
        tm = float(os.environ.get('TM', '0'))
        for p in peaks:
            mask[p.start_index:p.end_index + 1 + int(tm * (p.end_index - p.apex_index))] = False
        keep = np.zeros_like(mask)
        if os.environ.get('KEEP', '1') == '1':
          for p in peaks:
            keep[p.start_index] = keep[p.end_index] = True
        base = _baseline_from_mask(y_s, mask | keep, w)
        peaks = _find_and_bound(t, y, y_s, base, thr, sp, skim_ratio)
    return Integration(tuple(peaks), base, sigma)


def _find_and_bound(t: np.ndarray, y: np.ndarray, y_s: np.ndarray, base: np.ndarray, thr: float, sp: int,
                    skim_ratio: float) -> list[Peak]:
    n = y.size
    yc_s = y_s - base
    yc = y - base
    apex, _ = signal.find_peaks(yc_s, height=thr, prominence=thr, width=max(sp // 2, 2))
    if apex.size == 0:
        return []
    ar = np.arange(n)
    import os
    kb = int(os.environ.get('KB', '1'))
    yc_b = ndimage.uniform_filter1d(yc_s, size=kb * sp, mode='nearest') if kb > 1 else yc_s
    le0 = yc_b <= 0
    nxt = np.minimum.accumulate(np.where(le0, ar, n - 1)[::-1])[::-1]
    prv = np.maximum.accumulate(np.where(le0, ar, 0))
    ts = t * 60.0
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (yc[1:] + yc[:-1]) * np.diff(ts))])
    k = apex.size
    start = prv[apex].copy()
    end = nxt[apex].copy()
    left_code = ["B"] * k
    right_code = ["B"] * k
    for i in range(k - 1):
        a, b = apex[i], apex[i + 1]
        v = a + int(np.argmin(yc_s[a:b + 1]))
        if yc_s[v] > 0:  # not back to baseline: split at the valley
            end[i] = v
            start[i + 1] = v
            right_code[i] = "V"
            left_code[i + 1] = "V"
    height = yc_s[apex]
    area = cum[end] - cum[start]
    skimmed = np.zeros(k, dtype=bool)
    hgt = height.copy()
    # tangent skim of small riders on the tail (or front) of a larger parent
    for i in range(k - 1):
        if right_code[i] != "V":
            continue
        v = end[i]
        if height[i + 1] < skim_ratio * height[i] and not skimmed[i]:
            r, parent = i + 1, i
            # tangent from the valley to the rider's trailing side: the least-sloped chord
            seg = np.arange(apex[r] + 1, end[r] + 1)
            if seg.size == 0:
                continue
            slope = (yc_s[seg] - yc_s[v]) / (ts[seg] - ts[v])
            s_, e_ = v, int(seg[np.argmin(slope)])
        elif height[i] < skim_ratio * height[i + 1] and not skimmed[i + 1]:
            r, parent = i, i + 1
            seg = np.arange(start[r], apex[r])
            if seg.size == 0:
                continue
            slope = (yc_s[v] - yc_s[seg]) / (ts[v] - ts[seg])
            s_, e_ = int(seg[np.argmax(slope)]), v
        else:
            continue
        line = np.interp(ts[s_:e_ + 1], [ts[s_], ts[e_]], [yc_s[s_], yc_s[e_]])
        under = float(np.trapezoid(line, ts[s_:e_ + 1]))
        rider_total = float(cum[e_] - cum[s_])
        rest = float(area[r]) - rider_total  # part of the rider's old span that now belongs to the parent
        area[r] = rider_total - under
        area[parent] += under + rest
        if parent < r:
            end[parent] = end[r]
        else:
            start[parent] = start[r]
        start[r], end[r] = s_, e_
        hgt[r] = yc_s[apex[r]] - float(np.interp(ts[apex[r]], [ts[s_], ts[e_]], [yc_s[s_], yc_s[e_]]))
        skimmed[r] = True
    out = []
    for i in range(k):
        a = int(apex[i])
        rt = t[a]
        if 0 < a < n - 1:
            y0, y1, y2 = yc_s[a - 1], yc_s[a], yc_s[a + 1]
            den = y0 - 2 * y1 + y2
            if den < 0:
                rt = t[a] + 0.5 * (y0 - y2) / den * (t[a + 1] - t[a])
        code = "T" if skimmed[i] else left_code[i] + right_code[i]
        out.append(Peak(float(rt), float(area[i]), float(hgt[i]), float(t[start[i]]), float(t[end[i]]), a,
                        int(start[i]), int(end[i]), code))
    return out


def assign_peaks(peaks: Sequence[Peak], windows: Sequence[RetentionWindow]) -> dict[str, Peak | None]:
    """Assign to each analyte the peak nearest its expected RT within ±tolerance (None if none)."""
    result: dict[str, Peak | None] = {}
    for win in windows:
        cands = [p for p in peaks if abs(p.retention_time_min - win.retention_time_min) <= win.tolerance_min]
        result[win.analyte] = min(cands, key=lambda p: abs(p.retention_time_min - win.retention_time_min),
                                  default=None)
    return result
