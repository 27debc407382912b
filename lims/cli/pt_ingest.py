"""Fast column ingest for ``lims pt assign|score`` (issue 17: a 300 labs × 1,000 analytes round, 6 MB CSV).

The contract CSV (CONTRACTS.md, :mod:`lims.csvio`) of a round is usually plain: no quoting, LF line ends,
the header's number of cells on every line. Such a file is cut into columns without a Python object per
cell: numpy finds every comma and LF, so every cell is a (start, length) in the file's bytes; a number
column of ASCII cells of the form ``[+-]digits[.digits]`` with at most 15 digits is parsed in numpy as
integer mantissa / 10**(fraction digits) — both exact doubles, so the IEEE quotient is the correctly
rounded value, the very double ``float`` gives (the cells of any other form go through ``float`` itself,
as :meth:`lims.cli.common.CsvRow.number` does); a text column of short cells (≤ 8 bytes) gets integer
codes in order of first appearance from its bytes, each distinct text decoded once. Anything else (blanks,
non-ASCII text, long keys) is read by splitting the text into cells, as before. Grouping keeps every group's
results in file order, so the statistics get the very same arrays as from the row-by-row reader.

Whatever is not plain — quotes, CR, NUL, blank or ragged lines, a missing or non-numeric or non-finite
value, no data rows — returns None, and the caller reads the file with :func:`lims.cli.common.read_csv`,
which reports the fault naming file, line and field exactly as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lims import csvio

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    from numpy.typing import NDArray


_BLANKS = b" \t\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.strip removes from ASCII text (CR and LF are refused)
_MAX_DIGITS = 15  # a mantissa of at most 15 decimal digits is an exact double (< 2**53)
_PAD = 64  # cells up to this long are read from their bytes
_CODE_LIMIT = 1 << 20  # text cells are coded from their bytes when the mixed-radix codes stay below this


class Columns:
    """The wanted columns of a plain contract CSV. ``stripped``: no cell has blanks around it (ASCII text
    without a blank character), so ``str.strip`` is not needed; then the cells stay in the file's bytes
    (``bounds``: start and length of every cell by column) until a column is asked for as texts. ``text``:
    the file's text, None for ASCII bytes (decoded when a column is asked for as texts)."""

    def __init__(self, text: str | None, header: list[str], wanted: list[str], rows: int, stripped: bool,
                 bounds: dict[str, tuple[NDArray[np.intp], NDArray[np.intp]]] | None, raw: bytes) -> None:
        self.rows, self.stripped, self.wanted = rows, stripped, wanted
        self._text, self._header, self._bounds, self._raw = text, header, bounds, raw
        self._cells: dict[str, list[str]] | None = None
        self._padded_bytes: NDArray[np.uint8] | None = None

    def _padded(self) -> NDArray[np.uint8]:
        """The file's bytes and ``_PAD`` zero bytes (a cell's bytes are taken up to that far past its start)."""
        import numpy as np

        if self._padded_bytes is None:
            self._padded_bytes = np.frombuffer(self._raw + bytes(_PAD), dtype=np.uint8)
        return self._padded_bytes

    def has(self, column: str) -> bool:
        return column in self.wanted

    @property
    def cells(self) -> dict[str, list[str]]:
        """Cells as written, one list per present wanted column (the text split at LF and comma, once)."""
        if self._cells is None:
            text = self._raw.decode("ascii") if self._text is None else self._text
            body = text[text.find("\n") + 1:]
            body = body[:-1] if body.endswith("\n") else body
            flat = body.replace("\n", ",").split(",")
            width = len(self._header)
            self._cells = {c: flat[self._header.index(c)::width] for c in self.wanted}
        return self._cells

    def numbers(self, column: str) -> NDArray[np.float64] | None:
        """The column as finite floats, or None when a cell is missing, not a number or not finite."""
        import numpy as np

        if self._bounds is not None:
            values = _parse_numbers(self._raw, self._padded(), *self._bounds[column])
        else:
            cells = self.cells[column]
            try:
                values = np.fromiter(map(float, cells), dtype=np.float64, count=len(cells))
            except ValueError:
                values = None
        return values if values is not None and bool(np.isfinite(values).all()) else None

    def texts(self, column: str) -> list[str] | None:
        """The column's cells without surrounding blanks, or None when one is blank."""
        values = self.cells[column] if self.stripped else list(map(str.strip, self.cells[column]))
        return values if all(values) else None

    def filled(self, column: str) -> bool:
        """No cell of the column is blank."""
        if self._bounds is not None:
            return bool(self._bounds[column][1].min() > 0)
        return self.texts(column) is not None

    def codes(self, column: str) -> tuple[list[str], NDArray[np.intp]] | None:
        """(distinct texts in order of first appearance, code of every row) of a text column without
        blanks around its cells; None when a cell is blank."""
        if self._bounds is not None:
            starts, lengths = self._bounds[column]
            if int(lengths.min()) > 0 and int(lengths.max()) <= _PAD:
                coded = _byte_codes(self._raw, self._padded(), starts, lengths)
                if coded is not None:
                    return coded
        keys = self.texts(column)
        return None if keys is None else text_codes(keys)


def read_columns(path: str | Path, required: list[str], optional: list[str]) -> Columns | None:
    """The ``required`` and present ``optional`` columns of a plain CSV at ``path``; None otherwise."""
    try:
        data = csvio.read_bytes(path).removeprefix(b"\xef\xbb\xbf")
        text = None if data.isascii() else csvio.decode(data, source=str(path))  # ASCII: decoded if need be
    except csvio.CsvError:
        return None
    if b'"' in data or b"\r" in data or b"\x00" in data:
        return None
    header_end = data.find(b"\n")
    if header_end < 0:
        return None
    header = [csvio.header_name(c) for c in data[:header_end].decode("utf-8").split(",")]
    if len(data) <= header_end + 1 or any(c not in header for c in required):
        return None
    data = data if data.endswith(b"\n") else data + b"\n"  # one final LF is allowed, not required
    ends = _cell_ends(data, len(header))
    if ends is None:
        return None
    wanted = [c for c in (*required, *optional) if c in header]
    stripped = text is None and not any(bytes((blank,)) in data for blank in _BLANKS)
    bounds = None
    if stripped:  # cells as (start, length) in the bytes: a cell starts after the comma or LF before it
        bounds = {}
        for column in wanted:
            i = header.index(column)
            starts = ends[1:, i - 1] + 1 if i else ends[:-1, -1] + 1
            bounds[column] = (starts, ends[1:, i] - starts)
    return Columns(text, header, wanted, len(ends) - 1, stripped, bounds, data)


def _cell_ends(data: bytes, width: int) -> NDArray[np.intp] | None:
    """The offset of the comma or LF after every cell, (lines, ``width``), header line included; None
    unless every line (``data`` ends with LF) has ``width`` - 1 commas and there is a data line (UTF-8
    never has these bytes inside a character)."""
    import numpy as np

    raw = np.frombuffer(data, dtype=np.uint8)
    found = np.flatnonzero((raw == 0x2C) | (raw == 0x0A))
    if len(found) % width or len(found) < 2 * width:
        return None
    line = np.full(width, 0x2C, dtype=np.uint8)
    line[-1] = 0x0A
    return found.reshape(-1, width) if bool((raw[found].reshape(-1, width) == line).all()) else None


def _byte_rows(padded: NDArray[np.uint8], starts: NDArray[np.intp], lengths: NDArray[np.intp],
               width: int) -> Iterator[tuple[NDArray[np.uint8], NDArray[np.bool_]]]:
    """For j < ``width``: (byte ``j`` of every cell, whether the cell is that long); ``padded`` is the
    file's bytes and ``_PAD`` zero bytes."""
    for j in range(width):
        yield padded.take(starts + j), lengths > j


def _parse_numbers(raw: bytes, padded: NDArray[np.uint8], starts: NDArray[np.intp],
                   lengths: NDArray[np.intp]) -> NDArray[np.float64] | None:
    """``float`` of every cell (see the module's docstring), or None when one is not a number."""
    import numpy as np

    if not len(lengths) or int(lengths.min()) == 0 or int(lengths.max()) > _PAD:
        return None
    rows = len(lengths)
    mantissa = np.zeros(rows, dtype=np.int64)
    digits, fraction, dots = (np.zeros(rows, dtype=np.int8) for _ in range(3))
    other = np.zeros(rows, dtype=bool)
    for j, (byte, inside) in enumerate(_byte_rows(padded, starts, lengths, int(lengths.max()))):
        digit = byte - np.uint8(0x30)  # wraps above 9 for any other byte
        is_digit = (digit < 10) & inside
        is_dot = (byte == 0x2E) & inside
        mantissa = np.where(is_digit, mantissa * 10 + digit, mantissa)  # wraps past 18 digits: not used then
        digits += is_digit
        fraction += is_digit & (dots > 0)
        dots += is_dot
        allowed = is_digit | is_dot | ((byte == 0x2D) | (byte == 0x2B) if j == 0 else is_dot)  # a sign leads
        other |= inside & ~allowed
    fast = ~other & (dots <= 1) & (digits >= 1) & (digits <= _MAX_DIGITS)
    scale = np.array([float(10 ** i) for i in range(_MAX_DIGITS + 1)])
    values: NDArray[np.float64] = mantissa.astype(np.float64) / scale[np.minimum(fraction, _MAX_DIGITS)]
    np.negative(values, out=values, where=padded.take(starts) == 0x2D)
    for i in np.flatnonzero(~fast).tolist():  # any other form (exponent, nan, 1_000, many digits): float itself
        start = int(starts[i])
        try:
            values[i] = float(raw[start:start + int(lengths[i])])
        except ValueError:
            return None
    return values


def _byte_codes(raw: bytes, padded: NDArray[np.uint8], starts: NDArray[np.intp],
                lengths: NDArray[np.intp]) -> tuple[list[str], NDArray[np.intp]] | None:
    """:func:`text_codes` of ASCII cells from their bytes: byte j of a cell as its rank among the byte
    values found at j, the cell as the mixed-radix number of these ranks (one code per distinct text, no
    sorting); None when that number could be too large."""
    import numpy as np

    rows = len(lengths)
    code, size = np.zeros(rows, dtype=np.intp), 1
    for byte, inside in _byte_rows(padded, starts, lengths, int(lengths.max())):
        byte = np.where(inside, byte, np.uint8(0))
        found = np.bincount(byte, minlength=256) > 0
        count = int(found.sum())
        size *= count
        if size > _CODE_LIMIT + 4 * rows:
            return None
        code = code * count + (np.cumsum(found) - 1)[byte]
    first = np.full(size, rows, dtype=np.intp)
    np.minimum.at(first, code, np.arange(rows))
    used = np.flatnonzero(first < rows)
    order = used[np.argsort(first[used])]  # the codes in order of first appearance
    rank = np.zeros(size, dtype=np.intp)
    rank[order] = np.arange(len(order))
    names = [raw[s:s + n].decode("ascii") for s, n in zip(starts[first[order]].tolist(),
                                                           lengths[first[order]].tolist(), strict=True)]
    return names, rank[code]


def text_codes(keys: list[str]) -> tuple[list[str], NDArray[np.intp]]:
    """(distinct keys in order of first appearance, the code of every key: its index there)."""
    import numpy as np

    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    return list(index), np.fromiter(map(index.__getitem__, keys), dtype=np.intp, count=len(keys))


def groups_in_order(keys: list[str], values: NDArray[np.float64]) -> list[tuple[str, int, NDArray[np.float64]]]:
    """(key, index of its first row, its values in file order) for every distinct key, in order of first
    appearance."""
    return groups_by_code(*text_codes(keys), values)


def groups_by_code(names: list[str], codes: NDArray[np.intp],
                   values: NDArray[np.float64]) -> list[tuple[str, int, NDArray[np.float64]]]:
    """:func:`groups_in_order` of keys given as (distinct names in order of first appearance, codes)."""
    import numpy as np

    ends = np.cumsum(np.bincount(codes, minlength=len(names)))
    if np.count_nonzero(np.diff(codes)) == len(names) - 1:  # already grouped (a file sorted by key)
        return list(zip(names, np.concatenate(([0], ends[:-1])).tolist(), np.split(values, ends[:-1]), strict=True))
    order = np.argsort(codes, kind="stable")
    firsts = order[np.concatenate(([0], ends[:-1]))].tolist()
    return list(zip(names, firsts, np.split(values[order], ends[:-1]), strict=True))
