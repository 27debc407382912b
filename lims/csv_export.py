"""Every CSV (or spreadsheet) the product writes goes through here, so no cell is read as a formula.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken by Excel, WPS and
LibreOffice as a formula (CSV injection: ``=HYPERLINK("http://…","点此")`` typed into a PT method field once
reached the provider's spreadsheet as a live link). :func:`neutralise` prefixes such a cell with a single quote
(OWASP "CSV Injection"), which spreadsheets show as text; numbers stay numbers (a negative z-score is a
number, not text). :func:`to_csv` writes a table: UTF-8 with a BOM (so Excel reads Chinese), CRLF, every
text cell neutralised, ``None`` as an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` safe for a spreadsheet cell: text starting like a formula gets a leading ``'``; numbers,
    booleans and None are returned as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The table as CSV text (BOM, header line, CRLF), each cell through :func:`neutralise`."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        writer.writerow(["" if row.get(c) is None else neutralise(row.get(c)) for c in columns])
    return out.getvalue()
