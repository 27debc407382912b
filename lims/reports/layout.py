"""The test report's page: A4 geometry, the QR code's size, paragraph and table styles in the embedded CJK
font, the characters the font cannot print and their substitutes, and a canvas that numbers pages "n of N".

Shared by the report renderer (:mod:`lims.reports.pdf`); nothing here knows what a report contains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

PAGE_SIZE = A4
MARGIN_X = 15 * mm
MARGIN_TOP = 24 * mm
MARGIN_BOTTOM = 18 * mm
CONTENT_WIDTH = PAGE_SIZE[0] - 2 * MARGIN_X

#: Side of the printed QR code and its quiet zone in modules (ISO/IEC 18004 asks for 4).
QR_SIZE = 32 * mm
QR_BORDER = 4
QR_LEVEL = "M"

#: Characters the embedded font prints as nothing, and the text printed instead.
PRINT_SUBSTITUTES: dict[str, str] = {"\u2103": "\u00b0C", "\u2109": "\u00b0F"}  # ℃ → °C, ℉ → °F


@dataclass(frozen=True)
class Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_head: ParagraphStyle
    center: ParagraphStyle


def styles(font: str) -> Styles:
    base = ParagraphStyle(
        "lims-body", fontName=font, fontSize=9, leading=12.5, wordWrap="CJK", alignment=TA_LEFT
    )
    return Styles(
        title=ParagraphStyle("lims-title", parent=base, fontSize=18, leading=24, alignment=TA_CENTER),
        subtitle=ParagraphStyle("lims-subtitle", parent=base, fontSize=9.5, leading=13, alignment=TA_CENTER),
        heading=ParagraphStyle(
            "lims-heading", parent=base, fontSize=11, leading=15, spaceBefore=7, spaceAfter=3, keepWithNext=1
        ),
        body=base,
        small=ParagraphStyle("lims-small", parent=base, fontSize=7.5, leading=10),
        cell=ParagraphStyle("lims-cell", parent=base, fontSize=7.5, leading=9.5),
        cell_head=ParagraphStyle(
            "lims-cell-head", parent=base, fontSize=7.5, leading=9.5, alignment=TA_CENTER
        ),
        center=ParagraphStyle("lims-center", parent=base, fontSize=10, leading=14, alignment=TA_CENTER),
    )


def printable(text: str) -> str:
    """``text`` with :data:`PRINT_SUBSTITUTES` applied."""
    for char, substitute in PRINT_SUBSTITUTES.items():
        text = text.replace(char, substitute)
    return text


def para(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (substituted, escaped; newlines become line breaks)."""
    return Paragraph(escape(printable(text)).replace("\n", "<br/>"), style)


def grid_style(font: str, header_rows: int = 0) -> list[tuple[Any, ...]]:
    commands: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header_rows:
        commands.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#E8E8E8")))
    return commands


def numbered_canvas(draw_page: Callable[[Canvas, int, int], None], page_count: list[int]) -> type[Canvas]:
    """A canvas class that holds every page until the end, then draws the page marks knowing N."""

    class _NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._page_states: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._page_states.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._page_states)
            page_count.append(total)
            for number, state in enumerate(self._page_states, start=1):
                self.__dict__.update(state)
                draw_page(self, number, total)
                Canvas.showPage(self)
            Canvas.save(self)

    return _NumberedCanvas
