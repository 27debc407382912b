"""Page furniture shared by the PDF reports (test reports and PT round reports): a header line with
a rule under it, and a footer rule with the document's identification on the left and "第 n 页 共 N 页 /
Page n of N" on the right (ISO/IEC 17025:2017 7.8.2.1 d: identification of each page and of the end
of the report). Drawn by :func:`lims.reports.pdf.numbered_canvas`, which knows N."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

#: Footer baseline above the bottom edge, and its rule above the baseline.
FOOTER_BASELINE = 10 * mm
FOOTER_RULE_GAP = 4 * mm


@dataclass(frozen=True)
class PageFurniture:
    """Header and footer of every page; call it with (canvas, page number, page count)."""

    font: str
    font_size: float
    margin_x: float
    #: From the top edge down to the header baseline, and from that baseline down to its rule.
    header_drop: float
    header_rule_gap: float
    line_width: float
    header_left: str
    header_right: str
    footer_left: str
    #: (page number, page count) -> the footer's page text, in the report's language.
    page_text: Callable[[int, int], str]
    page_size: tuple[float, float] = A4

    def __call__(self, canvas: Canvas, number: int, total: int) -> None:
        width, height = self.page_size
        left, right = self.margin_x, width - self.margin_x
        canvas.saveState()
        canvas.setFont(self.font, self.font_size)
        top = height - self.header_drop
        canvas.drawString(left, top, self.header_left)
        canvas.drawRightString(right, top, self.header_right)
        canvas.setLineWidth(self.line_width)
        canvas.line(left, top - self.header_rule_gap, right, top - self.header_rule_gap)
        bottom = FOOTER_BASELINE
        canvas.line(left, bottom + FOOTER_RULE_GAP, right, bottom + FOOTER_RULE_GAP)
        canvas.drawString(left, bottom, self.footer_left)
        canvas.drawRightString(right, bottom, self.page_text(number, total))
        canvas.restoreState()
