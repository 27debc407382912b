"""Levey-Jennings chart of a control level, server-side SVG in the project's chart style (lims.pt.charts).

The chart is drawn in SD units (z = (value − mean)/SD, the normalised Levey-Jennings form, so a level whose
target was re-set keeps one scale): runs left to right, warning lines at ±2 s and action lines at ±3 s,
markers coloured by |z| (≤ 2, 2–3, ≥ 3); a run the Westgard multirule rejected carries ✗ and its rules
under its label."""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.graphics.shapes import Drawing

from lims.pt.charts import TrendPoint, to_svg, z_trend_chart
from lims.quality.qcruns import ChartPoint


def levey_jennings_chart(points: Sequence[ChartPoint], *, title: str, width: float = 560,
                         height: float = 240) -> Drawing:
    trend = [TrendPoint(p.run if p.accepted else f"{p.run} ✗", (p.run_at.date().isoformat() if p.accepted
                                                                else ",".join(p.rejections)), p.z)
             for p in points]
    return z_trend_chart(trend, title=title, statistic="z (SD)", width=width, height=height)


def levey_jennings_svg(points: Sequence[ChartPoint], *, title: str) -> bytes:
    return to_svg(levey_jennings_chart(points, title=title))
