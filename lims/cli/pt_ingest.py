"""Fast column ingest for ``lims pt assign|score`` (issue 17: a 300 labs × 1,000 analytes round, 6 MB CSV).

The contract CSV (CONTRACTS.md, :mod:`lims.csvio`) of a round is usually plain: no quoting, LF line ends,
the header's number of cells on every line. Such a file is cut into columns with a few C-level calls
(split at LF, count the commas of every line, split the whole body at commas, take every n-th cell), the
numbers are parsed with ``float`` itself (as :meth:`lims.cli.common.CsvRow.number` does) and grouping is
done in numpy (codes in order of first appearance, a stable argsort, group bounds from bincount), so every
group keeps its results in file order and the statistics get the very same arrays.

Whatever is not plain — quotes, CR, NUL, blank or ragged lines, a missing or non-numeric or non-finite
value, no data rows — returns None, and the caller reads the file with :func:`lims.cli.common.read_csv`,
which reports the fault naming file, line and field exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lims import csvio

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


_BLANKS = b" \t\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.strip removes from ASCII text (CR and LF are refused)


@dataclass(frozen=True)
class Columns:
    """The wanted columns of a plain contract CSV: cells as written, one list per present column.
    ``stripped``: no cell has blanks around it (ASCII text without a blank character), so ``str.strip`` is
    not needed."""

    cells: dict[str, list[str]]
    rows: int
    stripped: bool

    def numbers(self, column: str) -> NDArray[np.float64] | None:
        """The column as finite floats, or None when a cell is missing, not a number or not finite."""
        import numpy as np

        cells = self.cells[column]
        try:
            values = np.fromiter(map(float, cells), dtype=np.float64, count=len(cells))
        except ValueError:
            return None
        return values if bool(np.isfinite(values).all()) else None

    def texts(self, column: str) -> list[str] | None:
        """The column's cells without surrounding blanks, or None when one is blank."""
        values = self.cells[column] if self.stripped else list(map(str.strip, self.cells[column]))
        return values if all(values) else None


def read_columns(path: str | Path, required: list[str], optional: list[str]) -> Columns | None:
    """The ``required`` and present ``optional`` columns of a plain CSV at ``path``; None otherwise."""
    try:
        data = csvio.read_bytes(path).removeprefix(b"\xef\xbb\xbf")
        text = csvio.decode(data, source=str(path))
    except csvio.CsvError:
        return None
    if b'"' in data or b"\r" in data or b"\x00" in data:
        return None
    header_end = text.find("\n")
    if header_end < 0:
        return None
    header = [csvio.header_name(c) for c in text[:header_end].split(",")]
    body = text[header_end + 1:]
    body = body[:-1] if body.endswith("\n") else body
    if not body or any(c not in header for c in required) or not _rectangular(data, len(header)):
        return None
    flat = body.replace("\n", ",").split(",")
    wanted = [c for c in (*required, *optional) if c in header]
    width = len(header)
    stripped = text.isascii() and len(data.translate(None, _BLANKS)) == len(data)
    return Columns({c: flat[header.index(c)::width] for c in wanted}, len(flat) // width, stripped)


def _rectangular(data: bytes, width: int) -> bool:
    """Every line (header included; one final LF allowed) has ``width`` - 1 commas: among the commas and
    LFs in order, exactly every ``width``-th is an LF (UTF-8 never has these bytes inside a character)."""
    import numpy as np

    raw = np.frombuffer(data[:-1] if data.endswith(b"\n") else data, dtype=np.uint8)
    separators = raw[(raw == 0x2C) | (raw == 0x0A)]
    newlines = np.flatnonzero(separators == 0x0A)
    return len(separators) % width == width - 1 and np.array_equal(
        newlines, np.arange(width - 1, len(separators), width))


def groups_in_order(keys: list[str], values: NDArray[np.float64]) -> list[tuple[str, int, NDArray[np.float64]]]:
    """(key, index of its first row, its values in file order) for every distinct key, in order of first
    appearance."""
    import numpy as np

    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    codes = np.fromiter(map(index.__getitem__, keys), dtype=np.intp, count=len(keys))
    ends = np.cumsum(np.bincount(codes, minlength=len(index)))
    if np.count_nonzero(np.diff(codes)) == len(index) - 1:  # already grouped (a file sorted by key)
        return list(zip(index, np.concatenate(([0], ends[:-1])).tolist(), np.split(values, ends[:-1]), strict=True))
    order = np.argsort(codes, kind="stable")
    firsts = order[np.concatenate(([0], ends[:-1]))].tolist()
    return list(zip(index, firsts, np.split(values[order], ends[:-1]), strict=True))
