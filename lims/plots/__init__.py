"""Plots as SVG text, drawn server-side by small pure functions (data in, an SVG string out; no
matplotlib, no browser script): the calibration curve with its residuals, the chromatogram with its
integrated peaks. The same string goes into a web page (inline) and, later, into a PDF report.

Every number written is finite (non-finite data are left out) and every text is XML-escaped, so the
output always parses as XML (tests/lims/test_plots.py)."""

from lims.plots.chromatogram import PeakMark, chromatogram_svg
from lims.plots.curve import calibration_curve_svg, residual_svg, residuals

__all__ = ["PeakMark", "calibration_curve_svg", "chromatogram_svg", "residual_svg", "residuals"]
