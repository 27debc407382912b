"""The drawing kit of :mod:`lims.plots`: a linear scale, "nice" axis ticks (1-2-5 steps), the plot frame
with its axes, and the SVG document. Coordinates are written with two decimals at most."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

#: Shown in place of a plot with nothing to draw.
NO_DATA = "无数据 / no data"


def finite(values: Iterable[float | None]) -> list[float]:
    """The finite numbers of ``values`` (None, NaN and ±inf left out)."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def num(v: float) -> str:
    """A coordinate as written: at most two decimals, no "-0"."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def tick_text(v: float) -> str:
    """An axis label: plain digits from 0.0001 to 10⁷ (26000, not 2.6e+04), an exponent beyond."""
    if v == 0:
        return "0"
    return f"{v:.6g}" if 1e-4 <= abs(v) < 1e7 else f"{v:.3g}"


def text(x: float, y: float, words: str, *, cls: str = "", anchor: str = "middle", extra: str = "") -> str:
    return (f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}"'
            f'{f" class={quoteattr(cls)}" if cls else ""}{extra}>{escape(words)}</text>')


@dataclass(frozen=True)
class Scale:
    """Data interval [lo, hi] onto pixel interval [start, end] (end < start for a y axis)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, v: float) -> float:
        if self.hi == self.lo:
            return (self.start + self.end) / 2
        return self.start + (v - self.lo) * (self.end - self.start) / (self.hi - self.lo)


def nice_step(span: float, count: int) -> float:
    """The 1-2-5 step giving about ``count`` intervals over ``span`` (> 0)."""
    raw = span / max(count, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1.0, 2.0, 5.0, 10.0) if m * mag >= raw * 0.999)


def nice_range(values: Sequence[float], *, count: int = 5, include_zero: bool = False) -> tuple[float, float, float]:
    """Axis bounds (lo, hi) on whole ticks around ``values`` and the tick step; an empty or constant
    input gets a unit-wide range around its value."""
    vals = finite(values) + ([0.0] if include_zero else [])
    if not vals:
        vals = [0.0, 1.0]
    lo, hi = min(vals), max(vals)
    if hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1e-300):
        half = abs(lo) * 0.1 or 1.0
        lo, hi = lo - half, hi + half
    step = nice_step(hi - lo, count)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step


def ticks(lo: float, hi: float, step: float) -> list[float]:
    n = int(round((hi - lo) / step))
    return [round(lo + i * step, 12) for i in range(n + 1)]


@dataclass(frozen=True)
class Frame:
    """The picture (width × height px) and the plot area inside its margins."""

    width: int = 480
    height: int = 300
    left: int = 64
    right: int = 16
    top: int = 28
    bottom: int = 44

    @property
    def x0(self) -> float:
        return float(self.left)

    @property
    def x1(self) -> float:
        return float(self.width - self.right)

    @property
    def y0(self) -> float:  # the bottom of the plot area (pixel y grows downwards)
        return float(self.height - self.bottom)

    @property
    def y1(self) -> float:
        return float(self.top)


def axes(frame: Frame, xs: Scale, ys: Scale, x_step: float, y_step: float, x_label: str, y_label: str) -> list[str]:
    """Grid lines, tick labels (``data-value`` holds the tick's number) and the axis titles."""
    out = [f'<rect class="area" x="{num(frame.x0)}" y="{num(frame.y1)}" width="{num(frame.x1 - frame.x0)}" '
           f'height="{num(frame.y0 - frame.y1)}" fill="none" stroke="#888"/>']
    for v in ticks(xs.lo, xs.hi, x_step):
        x = xs(v)
        out.append(f'<line class="grid" x1="{num(x)}" y1="{num(frame.y1)}" x2="{num(x)}" y2="{num(frame.y0)}" '
                   'stroke="#e4e4e4"/>')
        out.append(text(x, frame.y0 + 16, tick_text(v), cls="xtick", extra=f' data-value="{v!r}"'))
    for v in ticks(ys.lo, ys.hi, y_step):
        y = ys(v)
        out.append(f'<line class="grid" x1="{num(frame.x0)}" y1="{num(y)}" x2="{num(frame.x1)}" y2="{num(y)}" '
                   'stroke="#e4e4e4"/>')
        out.append(text(frame.x0 - 6, y + 4, tick_text(v), cls="ytick", anchor="end", extra=f' data-value="{v!r}"'))
    out.append(text((frame.x0 + frame.x1) / 2, frame.height - 8, x_label, cls="xlabel"))
    out.append(text(14, (frame.y0 + frame.y1) / 2, y_label, cls="ylabel",
                    extra=f' transform="rotate(-90 14 {num((frame.y0 + frame.y1) / 2)})"'))
    return out


def document(frame: Frame, title: str, body: Sequence[str], *, cls: str) -> str:
    """The SVG element: scalable (viewBox, width 100 %), titled for screen readers."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class={quoteattr("plot " + cls)} role="img" '
            f'viewBox="0 0 {frame.width} {frame.height}" width="100%" style="max-width:{frame.width}px" '
            f'font-family="sans-serif" font-size="11"><title>{escape(title)}</title>'
            + text(frame.width / 2, 16, title, cls="title") + "".join(body) + "</svg>")


def empty(frame: Frame, title: str, message: str = NO_DATA) -> str:
    """A titled frame saying there is nothing to draw."""
    return document(frame, title, [text(frame.width / 2, frame.height / 2, message, cls="empty")], cls="empty")


def polyline(points: Iterable[tuple[float, float]], *, cls: str, stroke: str, extra: str = "") -> str:
    coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    return f'<polyline class="{cls}" points="{coords}" fill="none" stroke="{stroke}"{extra}/>'
