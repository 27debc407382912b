"""Charts of a PT round (the graphical methods of ISO 13528:2022 Clause 10) for the web and the PDFs.

Each chart is a reportlab :class:`~reportlab.graphics.shapes.Drawing` (vector, drawn straight into
the PDFs with the embedded CJK font), written as SVG by reportlab's ``renderSVG`` and as PNG by
:func:`to_png`, a small Pillow rasteriser of the shapes used here (reportlab's own PNG backend
needs pycairo and the cairo headers, which the lab PCs lack).

- :func:`z_score_chart`: bars of every participant's score sorted ascending, the reader's own bar
  highlighted, lines at ±2 and ±3 (bar chart of standardized scores).
- :func:`histogram_chart`: histogram of results with a Gaussian kernel density (Silverman's
  bandwidth, Silverman 1986 eq. 3.31), x_pt marked and x_pt ± 2σ_pt dashed.
- :func:`z_trend_chart`: one laboratory's scores for one analyte round after round, with the
  running RSZ (ISO 13528:2022 Clause 10 graphical methods; 9.9 combined scores), lines at ±2, ±3.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont
from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Drawing, Group, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors

from lims.reports.fonts import register_cjk_font

if TYPE_CHECKING:  # numpy loads with the first histogram, not with the web app
    import numpy as np

BAR = colors.HexColor("#9aa7b8")
OWN = colors.HexColor("#d62728")
WARN = colors.HexColor("#ff9900")
ACTION = colors.HexColor("#c00000")
XPT = colors.HexColor("#1f4e9c")
KDE = colors.HexColor("#2a7f3f")
AXIS = colors.black
#: Fonts a browser uses for the SVG text (the PDF embeds the CJK TrueType font itself).
SVG_FONT_FAMILY = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"
#: Labels under the bars are printed up to this many participants (the own code always).
MAX_BAR_LABELS = 40
Z_CAP = 6.0


def _font() -> str:
    return register_cjk_font().name


def _drawing(width: float, height: float, font: str) -> Drawing:
    """A Drawing whose renderer starts in the embedded CJK font (else renderPDF selects Helvetica,
    which then sits in the PDF as a font that is not embedded)."""
    d = Drawing(width, height)
    d.initialFontName = font
    return d


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def z_score_chart(scores: Sequence[tuple[str, float]], *, highlight: str | None = None, title: str = "",
                  statistic: str = "z", width: float = 480, height: float = 220) -> Drawing:
    """Bar chart of (participant code, score) sorted by score; ``highlight`` is the reader's code.

    Scores beyond ±6 are drawn to the edge with their value printed."""
    font = _font()
    d = _drawing(width, height, font)
    left, right, bottom, top = 36.0, 10.0, 34.0, 24.0
    pw, ph = width - left - right, height - bottom - top
    ordered = sorted(scores, key=lambda cs: (cs[1], cs[0]))
    peak = max([abs(v) for _, v in ordered] + [3.5])
    ymax = min(math.ceil(peak + 0.5), Z_CAP)

    ypos = _z_axes(d, left=left, bottom=bottom, pw=pw, ph=ph, ymax=ymax, height=height, font=font, title=title,
                   statistic=statistic)
    n = max(len(ordered), 1)
    slot = pw / n
    for i, (code, value) in enumerate(ordered):
        x = left + i * slot + slot * 0.15
        y0, y1 = ypos(0), ypos(value)
        own = code == highlight
        d.add(Rect(x, min(y0, y1), slot * 0.7, abs(y1 - y0) or 0.5, fillColor=OWN if own else BAR,
                   strokeColor=None, strokeWidth=0))
        if abs(value) > ymax:
            d.add(String(x + slot * 0.35, y1 + (3 if value > 0 else -9), _fmt(value), fontName=font, fontSize=6,
                         textAnchor="middle"))
        if n <= MAX_BAR_LABELS or own:
            d.add(String(x + slot * 0.35, bottom - 10, code, fontName=font, fontSize=6 if n > 20 else 7,
                         textAnchor="middle", fillColor=OWN if own else AXIS))
    d.add(String(left + pw, 6, "参加者（按得分排序） / participants sorted by score", fontName=font, fontSize=7,
                 textAnchor="end"))
    return d


def kernel_density(values: Sequence[float], grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of ``values`` on ``grid`` with Silverman's bandwidth
    h = 0.9 min(s, IQR/1.34) n^(-1/5) (Silverman 1986, eq. 3.31)."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    n = x.size
    sd = float(np.std(x, ddof=1)) if n > 1 else 0.0
    q1, q3 = np.quantile(x, [0.25, 0.75]) if n > 1 else (0.0, 0.0)
    spread = min(sd, (q3 - q1) / 1.34) if q3 > q1 else sd
    h = 0.9 * spread * n ** -0.2 if spread > 0 else max(abs(float(np.mean(x))) * 0.05, 1e-12)
    u = (grid[:, None] - x[None, :]) / h
    return np.exp(-0.5 * u * u).sum(axis=1) / (n * h * math.sqrt(2 * math.pi))


def _bin_edges(x: np.ndarray, lo: float, hi: float, sigma_pt: float | None) -> np.ndarray:
    """Bins of σ_pt/2 (so the ±2σ_pt lines fall on bin edges' scale), else √n bins over the data."""
    import numpy as np

    if sigma_pt and (hi - lo) / (sigma_pt / 2) <= 60:
        width = sigma_pt / 2
    else:
        width = (float(x.max() - x.min()) or (hi - lo)) / max(math.ceil(math.sqrt(x.size)), 3)
    start = lo - (lo % width) if width > 0 else lo
    count = max(1, math.ceil((hi - start) / width))
    return start + width * np.arange(count + 1)


def histogram_chart(values: Sequence[float], *, assigned_value: float | None, sigma_pt: float | None = None,
                    unit: str = "", title: str = "", highlight_value: float | None = None,
                    width: float = 480, height: float = 220) -> Drawing:
    """Histogram of results with a kernel density, x_pt (solid) and x_pt ± 2σ_pt (dashed);
    ``highlight_value`` (the reader's result) is marked with a triangle under the axis."""
    import numpy as np

    font = _font()
    d = _drawing(width, height, font)
    left, right, bottom, top = 36.0, 10.0, 34.0, 24.0
    pw, ph = width - left - right, height - bottom - top
    d.add(String(left, height - 15, title, fontName=font, fontSize=10))
    d.add(Rect(left, bottom, pw, ph, fillColor=None, strokeColor=AXIS, strokeWidth=0.6))
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        d.add(String(left + pw / 2, bottom + ph / 2, "无定量结果 / no results", fontName=font, fontSize=9,
                     textAnchor="middle"))
        return d
    lo, hi = _histogram_span(x, assigned_value, sigma_pt, highlight_value)
    counts, edges = np.histogram(x, bins=_bin_edges(x, lo, hi, sigma_pt))
    grid = np.linspace(lo, hi, 160)
    dens = kernel_density(x, grid) * x.size * (edges[1] - edges[0])
    ymax = max(float(counts.max()), float(dens.max())) * 1.15
    plot = _Plot(left, bottom, pw, ph, min(lo, float(edges[0])), max(hi, float(edges[-1])), ymax)
    for c, e0, e1 in zip(counts, edges[:-1], edges[1:], strict=True):
        if c:
            d.add(Rect(plot.x(e0), bottom, plot.x(e1) - plot.x(e0), plot.y(c) - bottom, fillColor=BAR,
                       strokeColor=colors.white, strokeWidth=0.5))
    pts: list[float] = []
    for gx, gy in zip(grid, dens, strict=True):
        pts += [plot.x(float(gx)), plot.y(float(gy))]
    d.add(PolyLine(pts, strokeColor=KDE, strokeWidth=1.2))
    _histogram_marks(d, plot, font, assigned_value, sigma_pt, highlight_value)
    _histogram_ticks(d, plot, font, unit, height)
    return d


@dataclass(frozen=True)
class _Plot:
    """The plot area of a histogram and its data → drawing coordinate mappings."""

    left: float
    bottom: float
    pw: float
    ph: float
    lo: float
    hi: float
    ymax: float

    def x(self, v: float) -> float:
        return self.left + self.pw * (v - self.lo) / (self.hi - self.lo)

    def y(self, v: float) -> float:
        return self.bottom + self.ph * v / self.ymax


def _histogram_span(x: np.ndarray, assigned_value: float | None, sigma_pt: float | None,
                    highlight_value: float | None) -> tuple[float, float]:
    """Results, x_pt ± 3σ_pt and the reader's result, padded by 5 %."""
    marks = [float(v) for v in (assigned_value, highlight_value) if v is not None]
    if assigned_value is not None and sigma_pt:
        marks += [assigned_value - 3 * sigma_pt, assigned_value + 3 * sigma_pt]
    lo, hi = min([float(x.min()), *marks]), max([float(x.max()), *marks])  # no marks before scoring
    pad = (hi - lo) * 0.05 or abs(hi) * 0.1 or 1.0
    return lo - pad, hi + pad


def _histogram_marks(d: Drawing, plot: _Plot, font: str, assigned_value: float | None, sigma_pt: float | None,
                     highlight_value: float | None) -> None:
    """x_pt (solid, labelled), x_pt ± 2σ_pt (dashed) and the reader's result (a triangle under the axis)."""
    bottom, ph = plot.bottom, plot.ph
    if assigned_value is not None:
        xv = plot.x(assigned_value)
        d.add(Line(xv, bottom, xv, bottom + ph, strokeColor=XPT, strokeWidth=1.2))
        d.add(String(xv + 2, bottom + ph - 9, f"x_pt = {_fmt(assigned_value)}", fontName=font,
                     fontSize=7, fillColor=XPT))
        if sigma_pt:
            for sign in (-2, 2):
                xs = plot.x(assigned_value + sign * sigma_pt)
                d.add(Line(xs, bottom, xs, bottom + ph, strokeColor=WARN, strokeWidth=0.8, strokeDashArray=[4, 2]))
    if highlight_value is not None:
        hx = plot.x(highlight_value)
        d.add(Polygon([hx, bottom - 1, hx - 4, bottom - 8, hx + 4, bottom - 8], fillColor=OWN, strokeColor=None,
                      strokeWidth=0))


def _histogram_ticks(d: Drawing, plot: _Plot, font: str, unit: str, height: float) -> None:
    """Result axis (6 ticks) with its unit, count axis with integer ticks."""
    import numpy as np

    left, bottom = plot.left, plot.bottom
    for v in np.linspace(plot.lo, plot.hi, 6):
        d.add(Line(plot.x(float(v)), bottom - 3, plot.x(float(v)), bottom, strokeColor=AXIS, strokeWidth=0.5))
        d.add(String(plot.x(float(v)), bottom - 17, _fmt(float(v)), fontName=font, fontSize=7, textAnchor="middle"))
    d.add(String(left + plot.pw, 6, f"结果 / result ({unit})" if unit else "结果 / result", fontName=font,
                 fontSize=7, textAnchor="end"))
    for c in range(0, int(plot.ymax) + 1, max(1, math.ceil(plot.ymax / 6))):
        d.add(Line(left - 3, plot.y(c), left, plot.y(c), strokeColor=AXIS, strokeWidth=0.5))
        d.add(String(left - 5, plot.y(c) - 3, str(c), fontName=font, fontSize=7, textAnchor="end"))
    d.add(String(4, height - 15, "频数", fontName=font, fontSize=8))


@dataclass(frozen=True)
class TrendPoint:
    """One round of a laboratory's history: its label (round code), date text, score and, if known,
    the running rescaled sum of z (RSZ) over the last rounds."""

    label: str
    date: str
    score: float
    running_rsz: float | None = None


def _marker(x: float, y: float, r: float, colour: colors.Color) -> Polygon:
    """A diamond marker (the PNG rasteriser draws polygons, not circles)."""
    return Polygon([x, y + r, x + r, y, x, y - r, x - r, y], fillColor=colour, strokeColor=None, strokeWidth=0)


def z_trend_chart(points: Sequence[TrendPoint], *, title: str = "", statistic: str = "z", width: float = 480,
                  height: float = 220) -> Drawing:
    """Scores of one laboratory and one analyte in round order (left to right, labelled by round and
    date), joined by a line; the running RSZ dashed; warning (±2) and action (±3) lines. Markers
    are coloured by class (|z| ≤ 2, 2 < |z| < 3, |z| ≥ 3, ISO 13528:2022 9.4.2); scores beyond ±6
    are drawn at the edge with their value printed."""
    font = _font()
    d = _drawing(width, height, font)
    left, right, bottom, top = 36.0, 14.0, 40.0, 24.0
    pw, ph = width - left - right, height - bottom - top
    values = [p.score for p in points] + [p.running_rsz for p in points if p.running_rsz is not None]
    peak = max([abs(v) for v in values] + [3.5])
    ymax = min(math.ceil(peak + 0.5), Z_CAP)

    ypos = _z_axes(d, left=left, bottom=bottom, pw=pw, ph=ph, ymax=ymax, height=height, font=font, title=title,
                   statistic=statistic)
    if not points:
        d.add(String(left + pw / 2, bottom + ph / 2 + 8, "无得分 / no scores", fontName=font, fontSize=9,
                     textAnchor="middle"))
        return d
    slot = pw / len(points)
    xs = [left + slot * (i + 0.5) for i in range(len(points))]
    has_rsz = _trend_lines(d, xs, points, ypos)
    _trend_markers(d, xs, points, ypos, ymax=ymax, bottom=bottom, font=font)
    legend = f"— {statistic} 比分数 / score    - - 滚动 RSZ / running RSZ" if has_rsz else f"— {statistic} 比分数 / score"
    d.add(String(left + pw, 6, f"{legend}    轮次（按时间） / rounds over time", fontName=font, fontSize=7,
                 textAnchor="end"))
    return d


def _trend_lines(d: Drawing, xs: Sequence[float], points: Sequence[TrendPoint],
                 ypos: Callable[[float], float]) -> bool:
    """The scores joined by a line and the running RSZ dashed; True when an RSZ line was drawn."""
    if len(points) > 1:
        pts: list[float] = []
        for x, p in zip(xs, points, strict=True):
            pts += [x, ypos(p.score)]
        d.add(PolyLine(pts, strokeColor=XPT, strokeWidth=1.0))
    rsz = [(x, p.running_rsz) for x, p in zip(xs, points, strict=True) if p.running_rsz is not None]
    if len(rsz) > 1:
        pts = []
        for x, v in rsz:
            pts += [x, ypos(v)]
        d.add(PolyLine(pts, strokeColor=KDE, strokeWidth=1.0, strokeDashArray=[3, 2]))
    return bool(rsz)


def _trend_markers(d: Drawing, xs: Sequence[float], points: Sequence[TrendPoint], ypos: Callable[[float], float],
                   *, ymax: float, bottom: float, font: str) -> None:
    """A marker per round coloured by class, the value of an off-scale score, round and date labels
    (at most about 12 under the axis, the last always)."""
    n = len(points)
    every = max(1, math.ceil(n / 12))
    for i, (x, p) in enumerate(zip(xs, points, strict=True)):
        size = abs(p.score)
        colour = OWN if size >= 3 else WARN if size > 2 else XPT
        d.add(_marker(x, ypos(p.score), 3.2, colour))
        if size > ymax:
            d.add(String(x, ypos(p.score) + (5 if p.score > 0 else -11), _fmt(p.score), fontName=font, fontSize=6,
                         textAnchor="middle"))
        if i % every == 0 or i == n - 1:
            d.add(String(x, bottom - 10, p.label, fontName=font, fontSize=6, textAnchor="middle"))
            d.add(String(x, bottom - 18, p.date, fontName=font, fontSize=6, textAnchor="middle"))


# ----------------------------------------------------------------------------------------------
# output
# ----------------------------------------------------------------------------------------------

def to_svg(drawing: Drawing) -> bytes:
    """SVG text of the chart; text asks the browser for a CJK font by family name."""
    svg = renderSVG.drawToString(drawing)
    return svg.replace(f"font-family: {_font()};", f"font-family: {SVG_FONT_FAMILY};").encode("utf-8")


def _rgb(colour: colors.Color | None) -> tuple[int, int, int] | None:
    if colour is None:
        return None
    return (round(colour.red * 255), round(colour.green * 255), round(colour.blue * 255))


class _Raster:
    """Draws the shapes of a Drawing onto a Pillow image (y axis flipped, supersampled)."""

    def __init__(self, drawing: Drawing, scale: float) -> None:
        self.h = float(drawing.height)
        self.k = scale
        self.img = Image.new("RGB", (math.ceil(drawing.width * scale), math.ceil(drawing.height * scale)), "white")
        self.draw = ImageDraw.Draw(self.img)
        self.font_path = str(register_cjk_font().path)
        self._fonts: dict[float, ImageFont.FreeTypeFont] = {}

    def pt(self, x: float, y: float) -> tuple[float, float]:
        return (x * self.k, (self.h - y) * self.k)

    def width(self, w: float) -> int:
        return max(1, round(w * self.k))

    def font(self, size: float) -> ImageFont.FreeTypeFont:
        if size not in self._fonts:
            self._fonts[size] = ImageFont.truetype(self.font_path, max(1, round(size * self.k)), index=0)
        return self._fonts[size]

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: tuple[int, int, int], w: float,
             dash: Sequence[float] | None) -> None:
        if not dash:
            self.draw.line([self.pt(x1, y1), self.pt(x2, y2)], fill=colour, width=self.width(w))
            return
        length = math.hypot(x2 - x1, y2 - y1)
        if length == 0:
            return
        pos, on, i = 0.0, True, 0
        while pos < length:
            step = float(dash[i % len(dash)])
            end = min(pos + step, length)
            if on:
                a, b = pos / length, end / length
                self.draw.line([self.pt(x1 + (x2 - x1) * a, y1 + (y2 - y1) * a),
                                self.pt(x1 + (x2 - x1) * b, y1 + (y2 - y1) * b)], fill=colour, width=self.width(w))
            pos, on, i = end, not on, i + 1

    def shape(self, node: object) -> None:
        if isinstance(node, Group):
            for child in node.contents:
                self.shape(child)
        elif isinstance(node, Rect):
            x0, y0 = self.pt(node.x, node.y + node.height)
            x1, y1 = self.pt(node.x + node.width, node.y)
            fill, stroke = _rgb(node.fillColor), _rgb(node.strokeColor)
            self.draw.rectangle([x0, y0, max(x0, x1), max(y0, y1)], fill=fill,
                                outline=stroke if node.strokeWidth else None, width=self.width(node.strokeWidth or 0))
        elif isinstance(node, Line):
            colour = _rgb(node.strokeColor)
            if colour is not None:
                self.line(node.x1, node.y1, node.x2, node.y2, colour, node.strokeWidth, node.strokeDashArray)
        elif isinstance(node, Polygon):
            pts = [self.pt(node.points[i], node.points[i + 1]) for i in range(0, len(node.points), 2)]
            self.draw.polygon(pts, fill=_rgb(node.fillColor), outline=_rgb(node.strokeColor))
        elif isinstance(node, PolyLine):
            pts = [self.pt(node.points[i], node.points[i + 1]) for i in range(0, len(node.points), 2)]
            colour = _rgb(node.strokeColor)
            if colour is not None and len(pts) > 1:
                self.draw.line(pts, fill=colour, width=self.width(node.strokeWidth), joint="curve")
        elif isinstance(node, String):
            anchor = {"start": "ls", "middle": "ms", "end": "rs"}.get(node.textAnchor, "ls")
            self.draw.text(self.pt(node.x, node.y), node.text, fill=_rgb(node.fillColor) or (0, 0, 0),
                           font=self.font(node.fontSize), anchor=anchor)
        else:  # a shape this rasteriser does not know would silently vanish: refuse instead
            raise TypeError(f"to_png: unsupported shape {type(node).__name__}")


def to_png(drawing: Drawing, *, dpi: float = 144) -> bytes:
    """PNG of the chart at ``dpi`` (drawing units are points, 72 per inch), antialiased by 2× supersampling."""
    scale = dpi / 72.0
    raster = _Raster(drawing, scale * 2)
    for node in drawing.contents:
        raster.shape(node)
    img = raster.img.resize((math.ceil(drawing.width * scale), math.ceil(drawing.height * scale)),
                            Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _z_axes(d: Drawing, *, left: float, bottom: float, pw: float, ph: float, ymax: float, height: float,
            font: str, title: str, statistic: str) -> Callable[[float], float]:
    """Frame, title, ±2 (warning) and ±3 (action) lines and ticks of a z-score axis; returns the
    score → y mapping (scores beyond ±ymax are drawn at the edge)."""

    def ypos(v: float) -> float:
        return bottom + ph / 2 + ph / 2 * max(-ymax, min(ymax, v)) / ymax

    d.add(String(left, height - 15, title, fontName=font, fontSize=10))
    d.add(String(4, height - 15, statistic, fontName=font, fontSize=9))
    d.add(Rect(left, bottom, pw, ph, fillColor=None, strokeColor=AXIS, strokeWidth=0.6))
    for level, colour in ((2, WARN), (3, ACTION)):
        if level <= ymax:
            for sign in (1, -1):
                y = ypos(sign * level)
                d.add(Line(left, y, left + pw, y, strokeColor=colour, strokeWidth=0.8, strokeDashArray=[4, 2]))
    for tick in range(-int(ymax), int(ymax) + 1):
        y = ypos(tick)
        d.add(Line(left - 3, y, left, y, strokeColor=AXIS, strokeWidth=0.5))
        d.add(String(left - 5, y - 3, f"{tick:+d}" if tick else "0", fontName=font, fontSize=7, textAnchor="end"))
    d.add(Line(left, ypos(0), left + pw, ypos(0), strokeColor=AXIS, strokeWidth=0.6))
    return ypos
