"""Typed errors of the calibration library."""

from __future__ import annotations


class CalibrationError(ValueError):
    """Input or fit that cannot give a number you can sign; the message says what and where.

    ``point`` is the 0-based index of the offending calibration point (if any) and ``field``
    the quantity at fault (``"concentration"`` or ``"response"``), so a caller that read the
    points from a file can name the line.
    """

    def __init__(self, message: str, *, point: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.point = point
        self.field = field
