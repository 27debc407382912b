"""lims.plots: SVG text that parses as XML, data mapped onto the axes' ticks, residuals as computed, one
shaded area per integrated peak, no NaN written, and empty or degenerate input drawn as a titled frame."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from lims.plots import PeakMark, calibration_curve_svg, chromatogram_svg, residual_svg, residuals
from lims.plots.chromatogram import decimate
from lims.plots.svg import nice_range

NS = "{http://www.w3.org/2000/svg}"
LABELS = {"title": "标准曲线 <毒死蜱> & v1", "x_label": "浓度 mg/L", "y_label": "峰面积"}


def parse(svg: str) -> ET.Element:
    assert "nan" not in svg.lower() and "inf" not in svg.lower()
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def tick_map(root: ET.Element, cls: str, attr: str) -> tuple[float, float, float, float]:
    """Two ticks of an axis: (value₁, pixel₁, value₂, pixel₂)."""
    ticks = [t for t in root.iter(f"{NS}text") if t.get("class") == cls]
    a, b = ticks[0], ticks[-1]
    return float(a.get("data-value")), float(a.get(attr)), float(b.get("data-value")), float(b.get(attr))


def expected_px(value: float, axis: tuple[float, float, float, float]) -> float:
    v1, p1, v2, p2 = axis
    return p1 + (value - v1) * (p2 - p1) / (v2 - v1)


def test_curve_points_sit_where_the_axes_say():
    points = [(0.01, 520.0), (0.05, 2600.0), (0.1, 5150.0), (0.2, 10500.0), (0.5, 25900.0)]
    root = parse(calibration_curve_svg(points, lambda x: 52000.0 * x, **LABELS))
    x_axis = tick_map(root, "xtick", "x")
    y_axis = tick_map(root, "ytick", "y")
    y_axis = (y_axis[0], y_axis[1] - 4, y_axis[2], y_axis[3] - 4)  # labels sit 4 px below their grid line
    dots = root.findall(f".//{NS}circle[@class='point']")
    assert len(dots) == len(points)
    for (x, y), dot in zip(points, dots, strict=True):
        assert float(dot.get("cx")) == pytest.approx(expected_px(x, x_axis), abs=0.01)
        assert float(dot.get("cy")) == pytest.approx(expected_px(y, y_axis), abs=0.01)
    assert float(dots[0].get("cy")) > float(dots[-1].get("cy"))  # larger responses higher on the page
    assert root.findtext(f"{NS}title") == LABELS["title"]  # escaped on the way in, read back as written
    assert root.find(f".//{NS}polyline[@class='fit']") is not None


def test_residuals_are_response_minus_fitted_and_plotted_as_computed():
    points = [(0.0, 3.0), (1.0, 9.0), (2.0, 21.0), (3.0, 29.0)]

    def predict(x: float) -> float:
        return 10.0 * x + 1.0

    got = residuals(points, predict)
    assert got == pytest.approx([2.0, -2.0, 0.0, -2.0])
    assert sum(got) == pytest.approx(sum(y - predict(x) for x, y in points))
    root = parse(residual_svg(points, predict, title="残差", x_label="x", y_label="r"))
    shown = [float(c.get("data-residual")) for c in root.findall(f".//{NS}circle[@class='residual']")]
    assert shown == pytest.approx(got)
    zero = float(root.find(f".//{NS}line[@class='zero']").get("y1"))
    cy = [float(c.get("cy")) for c in root.findall(f".//{NS}circle[@class='residual']")]
    assert cy[0] < zero < cy[1] and cy[2] == pytest.approx(zero)  # above the zero line when positive


def _trace() -> tuple[list[float], list[float], list[float]]:
    t = [i * 0.002 for i in range(6001)]  # 12 min at 0.12 s
    base = [1.0 + 0.05 * x for x in t]
    y = [b + 200 * math.exp(-((x - 5.1) / 0.04) ** 2) + 80 * math.exp(-((x - 8.2) / 0.05) ** 2)
         for x, b in zip(t, base, strict=True)]
    return t, y, base


def test_chromatogram_shades_each_peak_labels_its_retention_time_and_stays_small():
    t, y, base = _trace()
    peaks = [PeakMark("内标", 5.1, 4.95, 5.25, 1234.5), PeakMark("CHLORPYRIFOS", 8.2, 8.0, 8.4, 678.9),
             PeakMark("CHLORPYRIFOS（手动）", 8.2, 8.05, 8.35, 600.0, manual=True)]
    svg = chromatogram_svg(t, y, baseline=base, peaks=peaks, title="色谱图", x_label="min", y_label="mV")
    root = parse(svg)
    shaded = root.findall(f".//{NS}polygon")
    assert [p.get("data-peak") for p in shaded] == [p.label for p in peaks]
    assert [p.get("class") for p in shaded] == ["peak", "peak", "peak manual"]
    labels = [(float(x.get("data-rt")), x.text, float(x.get("y"))) for x in root.iter(f"{NS}text")
              if x.get("class") == "rt"]
    assert [(rt, words) for rt, words, _ in labels] == [
        (5.1, "内标 5.100 min"), (8.2, "CHLORPYRIFOS 8.200 min"), (8.2, "CHLORPYRIFOS（手动） 8.200 min")]
    assert labels[2][2] > labels[1][2]  # the manual peak's label below the automatic one's, not over it
    x_axis = tick_map(root, "xtick", "x")
    for poly, peak in zip(shaded, peaks, strict=True):
        xs = [float(pair.split(",")[0]) for pair in poly.get("points").split()]
        assert min(xs) == pytest.approx(expected_px(peak.start_min, x_axis), abs=1.0)
        assert max(xs) == pytest.approx(expected_px(peak.end_min, x_axis), abs=1.0)
    trace = root.find(f".//{NS}polyline[@class='trace']").get("points").split()
    assert len(trace) <= 2 * 640 and len(trace) < len(t) / 4  # decimated to the picture's width
    apex_y = min(float(p.split(",")[1]) for p in trace)  # the tallest apex survives decimation
    y_axis = tick_map(root, "ytick", "y")
    assert apex_y == pytest.approx(expected_px(max(y), (y_axis[0], y_axis[1] - 4, y_axis[2], y_axis[3] - 4)), abs=0.5)
    assert root.find(f".//{NS}polyline[@class='baseline']") is not None


def test_non_finite_data_are_left_out_and_empty_input_is_a_titled_frame():
    t, y, base = _trace()
    y[100] = float("nan")
    base[200] = float("inf")
    parse(chromatogram_svg(t, y, baseline=base, peaks=[PeakMark("x", float("nan"), 1.0, 2.0)], title="t",
                           x_label="x", y_label="y"))
    for svg in (calibration_curve_svg([], None, **LABELS), residual_svg([(1.0, 2.0)], None, **LABELS),
                chromatogram_svg([], [], title="空", x_label="x", y_label="y"),
                chromatogram_svg([1.0], [2.0], title="一点", x_label="x", y_label="y"),
                calibration_curve_svg([(float("nan"), 1.0)], lambda x: x, **LABELS)):
        root = parse(svg)
        assert root.get("class") == "plot empty" and any(e.text == "无数据 / no data" for e in root.iter(f"{NS}text"))


def test_degenerate_input_still_draws():
    flat = parse(calibration_curve_svg([(1.0, 5.0), (1.0, 5.0)], lambda x: 5.0, **LABELS))  # one level, flat
    assert len(flat.findall(f".//{NS}circle")) == 2
    failing = parse(residual_svg([(1.0, 2.0), (2.0, 4.0)], lambda x: 1.0 / (x - 1.0), title="r", x_label="x",
                                 y_label="y"))  # the fit cannot be evaluated at one standard: left out
    assert len(failing.findall(f".//{NS}circle[@class='residual']")) == 1
    const = parse(chromatogram_svg([0.0, 1.0, 2.0], [3.0, 3.0, 3.0], title="c", x_label="x", y_label="y"))
    assert const.find(f".//{NS}polyline[@class='trace']") is not None
    assert nice_range([]) == (0.0, 1.0, 0.2) and nice_range([7.0, 7.0])[0] < 7.0 < nice_range([7.0, 7.0])[1]


def test_decimation_keeps_each_columns_extremes_in_time_order():
    points = [(i / 100, (-1.0) ** i * i) for i in range(1000)]
    out = decimate(points, 10)
    assert len(out) <= 20 and out == sorted(out)
    assert max(v for _, v in out) == max(v for _, v in points) and min(v for _, v in out) == min(v for _, v in points)
    assert decimate(points[:5], 10) == points[:5]
