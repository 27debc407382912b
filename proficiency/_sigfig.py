"""Significant-figure comparison for the stopping rules of Algorithms A and S (ISO 13528:2022
C.3.1: stop when the third significant figure of x* and s* no longer changes)."""

from __future__ import annotations

import numpy as np

from ._validate import BoolArray, FloatArray


def round_sig(values: FloatArray, figures: int = 3) -> FloatArray:
    """Round each value to ``figures`` significant figures (0 stays 0, NaN stays NaN)."""
    v = np.asarray(values, dtype=float)
    out = np.zeros_like(v)
    nz = np.isfinite(v) & (v != 0)
    e = np.floor(np.log10(np.abs(v[nz])))
    d = (figures - 1) - e
    vals = v[nz]
    r = np.empty_like(vals)
    tiny = d > 290  # 10**d would overflow: round these few exactly in Python
    pos = (d >= 0) & ~tiny
    neg = d < 0
    scale_pos = 10.0 ** d[pos]
    r[pos] = np.rint(vals[pos] * scale_pos) / scale_pos
    scale_neg = 10.0 ** (-d[neg])
    r[neg] = np.rint(vals[neg] / scale_neg) * scale_neg
    r[tiny] = [round(float(val), int(dd)) for val, dd in zip(vals[tiny], d[tiny], strict=True)]
    out[nz] = r
    out[~np.isfinite(v)] = np.nan
    return out


def same_sig3(a: FloatArray, b: FloatArray) -> BoolArray:
    """Element-wise: equal when rounded to three significant figures."""
    same: BoolArray = np.equal(round_sig(a), round_sig(b))
    return same
