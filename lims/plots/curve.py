"""The calibration curve (standards and the fitted line) and its residual plot (response − fitted
response per standard), as SVG. A residual pattern (a bow, a funnel) shows a wrong model or weighting
that r² hides (SANTE/11312/2021 C.3: residuals within ±20 %; Eurachem "Fitness for purpose" 2014, 5.4)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from lims.plots.svg import Frame, Scale, axes, document, empty, finite, nice_range, num, polyline

Point = tuple[float, float]
Predict = Callable[[float], float]
LINE_SAMPLES = 60


def _usable(points: Sequence[Point]) -> list[Point]:
    return [(float(x), float(y)) for x, y in points if math.isfinite(x) and math.isfinite(y)]


def _predicted(predict: Predict, x: float) -> float | None:
    try:
        v = float(predict(x))
    except (ArithmeticError, ValueError):
        return None
    return v if math.isfinite(v) else None


def residuals(points: Sequence[Point], predict: Predict) -> list[float]:
    """Response − fitted response of each finite standard, in order (a standard whose fitted value is not
    finite is left out)."""
    out = []
    for x, y in _usable(points):
        fitted = _predicted(predict, x)
        if fitted is not None:
            out.append(y - fitted)
    return out


def _line(predict: Predict, lo: float, hi: float) -> list[Point]:
    xs = [lo + (hi - lo) * i / (LINE_SAMPLES - 1) for i in range(LINE_SAMPLES)] if hi > lo else [lo]
    return [(x, y) for x in xs if (y := _predicted(predict, x)) is not None]


def calibration_curve_svg(points: Sequence[Point], predict: Predict | None, *, title: str, x_label: str,
                          y_label: str, frame: Frame = Frame()) -> str:
    """Standards as dots (``data-x``/``data-y`` hold their numbers) and the fitted line over their range."""
    pts = _usable(points)
    if not pts:
        return empty(frame, title)
    xs_data = [x for x, _ in pts]
    line = _line(predict, min(xs_data), max(xs_data)) if predict is not None else []
    x_lo, x_hi, x_step = nice_range(xs_data, include_zero=True)
    y_lo, y_hi, y_step = nice_range([y for _, y in pts] + [y for _, y in line], include_zero=True)
    xs, ys = Scale(x_lo, x_hi, frame.x0, frame.x1), Scale(y_lo, y_hi, frame.y0, frame.y1)
    body = axes(frame, xs, ys, x_step, y_step, x_label, y_label)
    if len(line) > 1:
        body.append(polyline(((xs(x), ys(y)) for x, y in line), cls="fit", stroke="#1f5fa8",
                             extra=' stroke-width="1.5"'))
    body += [f'<circle class="point" cx="{num(xs(x))}" cy="{num(ys(y))}" r="3.5" fill="#c0392b" '
             f'data-x="{x!r}" data-y="{y!r}"><title>{x:.4g}, {y:.4g}</title></circle>' for x, y in pts]
    return document(frame, title, body, cls="curve")


def residual_svg(points: Sequence[Point], predict: Predict | None, *, title: str, x_label: str, y_label: str,
                 frame: Frame = Frame(height=220)) -> str:
    """Residual of each standard against its concentration, about a zero line; ``data-residual`` holds it."""
    pts = _usable(points)
    if predict is None or not pts:
        return empty(frame, title)
    rows = [(x, y - f) for x, y in pts if (f := _predicted(predict, x)) is not None]
    if not rows:
        return empty(frame, title)
    bound = max(abs(r) for _, r in rows) or 1.0
    x_lo, x_hi, x_step = nice_range([x for x, _ in rows], include_zero=True)
    y_lo, y_hi, y_step = nice_range(finite([-bound, bound]), count=4)
    xs, ys = Scale(x_lo, x_hi, frame.x0, frame.x1), Scale(y_lo, y_hi, frame.y0, frame.y1)
    body = axes(frame, xs, ys, x_step, y_step, x_label, y_label)
    zero = ys(0.0)
    body.append(f'<line class="zero" x1="{num(frame.x0)}" y1="{num(zero)}" x2="{num(frame.x1)}" y2="{num(zero)}" '
                'stroke="#555" stroke-dasharray="4 3"/>')
    for x, r in rows:
        body.append(f'<line class="stem" x1="{num(xs(x))}" y1="{num(zero)}" x2="{num(xs(x))}" y2="{num(ys(r))}" '
                    'stroke="#c0392b"/>')
        body.append(f'<circle class="residual" cx="{num(xs(x))}" cy="{num(ys(r))}" r="3" fill="#c0392b" '
                    f'data-x="{x!r}" data-residual="{r!r}"><title>{x:.4g}: {r:+.4g}</title></circle>')
    return document(frame, title, body, cls="residuals")
