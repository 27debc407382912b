"""A chromatogram as SVG: the trace, the baseline the integration used, each integrated peak's area
shaded between the trace and its baseline (a manual re-integration with its straight baseline, marked),
and each peak's retention time labelled at its apex (ChemStation conventions: time in min)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from lims.plots.svg import Frame, Scale, axes, document, empty, nice_range, num, polyline, text

#: At most this many vertices per pixel column of the trace (its minimum and maximum there).
PER_COLUMN = 2


@dataclass(frozen=True)
class PeakMark:
    """An integrated peak: its bounds and apex (min), its area, and whether it was re-integrated by hand
    (then its baseline is the straight line between the trace at ``start_min`` and at ``end_min``)."""

    label: str
    retention_time_min: float
    start_min: float
    end_min: float
    area: float | None = None
    manual: bool = False


def _series(times: Sequence[float], values: Sequence[float] | None) -> list[tuple[float, float]]:
    if values is None:
        return []
    return [(float(t), float(v)) for t, v in zip(times, values, strict=False)
            if math.isfinite(t) and math.isfinite(v)]


def decimate(points: Sequence[tuple[float, float]], columns: int) -> list[tuple[float, float]]:
    """At most ``PER_COLUMN`` × ``columns`` points keeping each column's minimum and maximum in time order,
    so no peak apex is lost however long the run."""
    if len(points) <= PER_COLUMN * columns or columns < 1:
        return list(points)
    t0, t1 = points[0][0], points[-1][0]
    width = (t1 - t0) / columns or 1.0
    out: list[tuple[float, float]] = []
    bucket: list[tuple[float, float]] = []
    current = 0
    for p in points:
        col = min(int((p[0] - t0) / width), columns - 1)
        if col != current and bucket:
            out += _extremes(bucket)
            bucket = []
        current = col
        bucket.append(p)
    return out + _extremes(bucket)


def _extremes(bucket: list[tuple[float, float]]) -> list[tuple[float, float]]:
    lo = min(bucket, key=lambda p: p[1])
    hi = max(bucket, key=lambda p: p[1])
    return sorted({lo, hi})


def _interp(series: Sequence[tuple[float, float]], t: float) -> float | None:
    """The series' value at ``t`` (linear between its points); None outside it."""
    if not series or t < series[0][0] or t > series[-1][0]:
        return None
    for (ta, va), (tb, vb) in zip(series, series[1:], strict=False):
        if ta <= t <= tb:
            return va if tb == ta else va + (vb - va) * (t - ta) / (tb - ta)
    return series[-1][1]


def _peak_shape(peak: PeakMark, trace: Sequence[tuple[float, float]], base: Sequence[tuple[float, float]],
                xs: Scale, ys: Scale, columns: int) -> str | None:
    """The shaded area of one peak: the trace from start to end, back along its baseline."""
    inside = [p for p in trace if peak.start_min <= p[0] <= peak.end_min]
    if len(inside) < 2:
        return None
    first, last = inside[0], inside[-1]
    if peak.manual or not base:
        under = [last, first]  # straight baseline, drawn from end back to start
    else:
        b_end, b_start = _interp(base, last[0]), _interp(base, first[0])
        if b_end is None or b_start is None:
            return None
        under = [(t, v) for t, v in reversed(base) if first[0] < t < last[0]]
        under = [(last[0], b_end), *under, (first[0], b_start)]
    ring = decimate(inside, columns) + decimate(under, columns)
    coords = " ".join(f"{num(xs(t))},{num(ys(v))}" for t, v in ring)
    cls = "peak manual" if peak.manual else "peak"
    paint = ('fill="#f39c12" fill-opacity="0.2" stroke="#d35400" stroke-width="1.5" stroke-dasharray="4 2"'
             if peak.manual else 'fill="#5dade2" fill-opacity="0.45" stroke="none"')
    return f'<polygon class="{cls}" data-peak={quoteattr(peak.label)} points="{coords}" {paint}/>'


def _label(peak: PeakMark, trace: Sequence[tuple[float, float]], xs: Scale, ys: Scale, frame: Frame) -> list[str]:
    apex = _interp(trace, peak.retention_time_min)
    if apex is None or not math.isfinite(peak.retention_time_min):
        return []
    x, y = xs(peak.retention_time_min), max(ys(apex) - 6, frame.y1 + 10) + (14 if peak.manual else 0)
    words = f"{peak.label} {peak.retention_time_min:.3f} min"
    return [f'<line class="rt-mark" x1="{num(x)}" y1="{num(ys(apex))}" x2="{num(x)}" y2="{num(frame.y0)}" '
            'stroke="#999" stroke-dasharray="2 2"/>',
            text(x, y, words, cls="rt", extra=f' data-rt="{peak.retention_time_min!r}"')]


def chromatogram_svg(times_min: Sequence[float], signal: Sequence[float], *, title: str, x_label: str,
                     y_label: str, baseline: Sequence[float] | None = None, peaks: Sequence[PeakMark] = (),
                     frame: Frame = Frame(width=720, height=320)) -> str:
    """The trace (decimated to the picture's width), the baseline, one shaded area and one retention-time
    label per peak (``data-peak`` names it)."""
    trace = _series(times_min, signal)
    if len(trace) < 2:
        return empty(frame, title)
    trace.sort()
    base = sorted(_series(times_min, baseline))
    columns = int(frame.x1 - frame.x0)
    x_lo, x_hi, x_step = nice_range([t for t, _ in trace], count=8)
    y_lo, y_hi, y_step = nice_range([v for _, v in trace] + [v for _, v in base], count=5)
    xs, ys = Scale(x_lo, x_hi, frame.x0, frame.x1), Scale(y_lo, y_hi, frame.y0, frame.y1)
    body = axes(frame, xs, ys, x_step, y_step, x_label, y_label)
    body += [shape for p in peaks if (shape := _peak_shape(p, trace, base, xs, ys, columns)) is not None]
    if base:
        body.append(polyline(((xs(t), ys(v)) for t, v in decimate(base, columns)), cls="baseline", stroke="#27ae60",
                             extra=' stroke-dasharray="5 3"'))
    body.append(polyline(((xs(t), ys(v)) for t, v in decimate(trace, columns)), cls="trace", stroke="#222"))
    for p in peaks:
        body += _label(p, trace, xs, ys, frame)
    return document(frame, title, body, cls="chromatogram")
