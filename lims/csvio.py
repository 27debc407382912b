"""The one CSV reader of the code base (CONTRACTS.md, CSV rules).

UTF-8 (a BOM is tolerated), comma-separated, the first line is the header, column names are
case-insensitive (and blanks around them ignored), extra columns are ignored, blank lines are not
records. A record's ``line`` is the physical line it starts on (a quoted cell may span lines).

Errors about the file as a whole raise :class:`CsvError`, which names the file, the line and the
field; what a caller does with a bad *record* (refuse the file, reject the row) is the caller's
business, so :meth:`CsvTable.records` hands malformed records over with their ``error``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


class CsvError(ValueError):
    """A CSV that cannot be read. ``kind``: unreadable | encoding | empty | malformed | missing_column;
    ``detail`` is the message without its location."""

    def __init__(self, detail: str, *, source: str, kind: str, line: int | None = None,
                 field: str | None = None) -> None:
        self.detail = detail
        self.source = source
        self.kind = kind
        self.line = line
        self.field = field
        where = [source] + ([f"line {line}"] if line is not None else []) + ([f"field '{field}'"] if field else [])
        super().__init__(f"{', '.join(where)}: {detail}")


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes; :class:`CsvError` (``unreadable``) naming it otherwise."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CsvError(f"cannot read file: {exc.strerror or exc}", source=str(path), kind="unreadable") from None


def decode(data: bytes, *, source: str) -> str:
    """UTF-8 text without its BOM; :class:`CsvError` (``encoding``) with the byte offset otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"not UTF-8 text (byte offset {exc.start})", source=source, kind="encoding") from None


def header_name(cell: str) -> str:
    """A header cell as compared with column names: blanks around it dropped, case folded."""
    return cell.strip().casefold()


@dataclass(frozen=True)
class CsvRecord:
    """One record: the physical line it starts on, its cells, its text as written, and the csv
    module's complaint when it is malformed (``cells`` is then empty)."""

    line: int
    cells: tuple[str, ...]
    raw: str
    error: str | None = None


@dataclass(frozen=True)
class CsvRow:
    """One data row by column name (cells as written; a missing trailing cell is "")."""

    line: int
    values: dict[str, str]


class CsvTable:
    """A CSV text with its header read; records are read once, in order."""

    def __init__(self, text: str, *, source: str, comment: str | None = None) -> None:
        """``comment``: a line whose first non-blank text starts with it is read as a blank line (so
        blank and comment lines may also precede the header); None (the contract): no comments."""
        self.source = source
        text = text.removeprefix("\ufeff")
        self._lines = text.splitlines()
        if comment is not None:
            text = re.sub(rf"^[ \t]*{re.escape(comment)}[^\r\n]*", "", text, flags=re.MULTILINE)
        self._reader = csv.reader(io.StringIO(text, newline=""))
        try:
            cells = next(self._reader)
            while comment is not None and not any(c.strip() for c in cells):
                cells = next(self._reader)
        except StopIteration:
            raise CsvError("file is empty (a header line is required)", source=source, kind="empty",
                           line=1) from None
        except csv.Error as exc:
            raise CsvError(f"malformed header: {exc}", source=source, kind="malformed", line=1) from None
        self.header: tuple[str, ...] = tuple(header_name(c) for c in cells)
        #: Physical line the header ends on (1 unless comment or blank lines come first).
        self.header_line = self._reader.line_num
        self.header_raw = "\n".join(self._lines[: self._reader.line_num])
        self._end = self._reader.line_num

    @classmethod
    def from_file(cls, path: str | Path, *, comment: str | None = None) -> CsvTable:
        return cls(decode(read_bytes(path), source=str(path)), source=str(path), comment=comment)

    def positions(self, columns: Iterable[str]) -> dict[str, int]:
        """Each wanted column present in the header → the index of its first occurrence."""
        wanted = {header_name(c) for c in columns}
        found: dict[str, int] = {}
        for index, name in enumerate(self.header):
            if name in wanted and name not in found:
                found[name] = index
        return found

    def duplicated(self, columns: Iterable[str]) -> list[str]:
        """Wanted columns that appear more than once in the header, in header order."""
        wanted = {header_name(c) for c in columns}
        seen: set[str] = set()
        twice: list[str] = []
        for name in self.header:
            if name in wanted and name in seen and name not in twice:
                twice.append(name)
            seen.add(name)
        return twice

    def missing(self, required: Sequence[str]) -> list[str]:
        """Required columns absent from the header, in the order given."""
        return [c for c in required if header_name(c) not in self.header]

    def require(self, required: Sequence[str]) -> None:
        """:class:`CsvError` (``missing_column``, line 1) naming the first required column that is absent."""
        for column in self.missing(required):
            shown = ", ".join(h for h in self.header if h)
            raise CsvError(f"missing column (header has: {shown})", source=self.source, kind="missing_column",
                           line=1, field=column)

    def records(self) -> Iterator[CsvRecord]:
        """Every record after the header that is not blank; a malformed one comes with its ``error``."""
        while True:
            start = self._end + 1
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self._end = self._reader.line_num
                yield CsvRecord(start, (), self._raw(start), f"malformed CSV: {exc}")
                continue
            self._end = self._reader.line_num
            if any(c.strip() for c in cells):
                yield CsvRecord(start, tuple(cells), self._raw(start))

    def _raw(self, start: int) -> str:
        return "\n".join(self._lines[start - 1 : self._end])

    def rows(self, columns: Iterable[str]) -> Iterator[CsvRow]:
        """The data rows by the wanted column names; :class:`CsvError` (``malformed``) on a malformed record."""
        index = self.positions(columns)
        for record in self.records():
            if record.error is not None:
                raise CsvError(record.error, source=self.source, kind="malformed", line=record.line)
            yield CsvRow(record.line, {n: (record.cells[i] if i < len(record.cells) else "") for n, i in index.items()})
