"""Machine-readable symbols of a sample label as inline SVG: a Code 128 barcode (ISO/IEC 15417) and a QR code
(ISO/IEC 18004), both carrying the sample code so that a hand scanner types it where the cursor is.

Drawn server-side (no script, no image files), so the same markup prints from the browser and can go into
a PDF. The bars come from python-barcode (Code 128 with its automatic A/B/C code-set choice and the
modulo-103 check character), the QR modules from segno (a full QR symbol, never a Micro QR, which phone
readers often do not read; error correction level M, raised when it fits in the same version).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # both load when a label is drawn, not with every page module (issue 17: serve memory)
    import segno

#: Quiet zones (ISO/IEC 15417 §4.5: at least 10 modules; ISO/IEC 18004 §6.3.8: 4 modules).
BARCODE_QUIET = 10
QR_QUIET = 4


def code128_modules(text: str) -> str:
    """The symbol as a string of modules, ``1`` a bar module and ``0`` a space, start to stop pattern."""
    from barcode.codex import Code128

    return Code128(text).build()[0]


def bar_runs(modules: str) -> list[tuple[int, int]]:
    """(start, width) of each bar in a module string: ``"1101"`` → ``[(0, 2), (3, 1)]``."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, m in enumerate(modules + "0"):
        if m == "1" and start is None:
            start = i
        elif m != "1" and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def code128_svg(text: str, *, height: int = 40, label: str = "") -> str:
    """The Code 128 symbol of ``text`` as an inline ``<svg>`` in module units (scale it with CSS width)."""
    modules = code128_modules(text)
    width = len(modules) + 2 * BARCODE_QUIET
    rects = "".join(f'<rect x="{BARCODE_QUIET + x}" y="0" width="{w}" height="{height}"/>'
                    for x, w in bar_runs(modules))
    title = escape(label or f"Code 128: {text}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" viewBox="0 0 {width} {height}" '
            f'preserveAspectRatio="none" role="img" aria-label="{title}" shape-rendering="crispEdges" '
            f'data-code128="{escape(text)}"><title>{title}</title>'
            f'<rect width="{width}" height="{height}" fill="#fff"/><g fill="#000">{rects}</g></svg>')


def qr_code(text: str) -> segno.QRCode:
    """The QR symbol of ``text`` (level M or better in the smallest version that holds it)."""
    import segno

    return segno.make_qr(text, error="m", boost_error=True)


def qr_svg(text: str, *, label: str = "") -> str:
    """The QR symbol of ``text`` as an inline ``<svg>`` (one user unit per module, quiet zone included)."""
    title = escape(label or f"QR: {text}")
    svg = qr_code(text).svg_inline(scale=1, border=QR_QUIET, omitsize=True, svgclass="qr", lineclass=None, light="#fff",
                                   title=title)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{title}" data-qr="{escape(text)}" ', 1)
