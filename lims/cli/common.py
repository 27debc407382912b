"""Shared plumbing for the `lims` command line (CONTRACTS.md, general rules).

- ``--json`` prints exactly one JSON document on stdout.
- Exit 0 on success, 2 on bad input (one line on stderr naming file, line/record and field),
  1 on any other failure. Never a traceback for bad input.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Input the user can fix: names the file, the line or record and the field."""

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.detail = message
        where = []
        if self.file:
            where.append(self.file)
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field '{field}'")
        super().__init__((": ".join([", ".join(where), message])) if where else message)


@dataclass(frozen=True)
class CsvRow:
    """One data row: ``line`` is the 1-based physical line number in the file."""

    line: int
    values: dict[str, str]

    def text(self, column: str, *, file: str | Path, required: bool = True) -> str | None:
        value = self.values.get(column)
        if value is None or value.strip() == "":
            if required:
                raise BadInput("value is missing", file=file, line=self.line, field=column)
            return None
        return value.strip()

    def number(self, column: str, *, file: str | Path, required: bool = True) -> float | None:
        raw = self.text(column, file=file, required=required)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise BadInput(f"not a number: {raw!r}", file=file, line=self.line, field=column) from None
        if not math.isfinite(value):
            raise BadInput(f"not a finite number: {raw!r}", file=file, line=self.line, field=column)
        return value


def read_csv(path: str | Path, required: Sequence[str], optional: Iterable[str] = ()) -> list[CsvRow]:
    """Read a contract CSV: UTF-8 (BOM tolerated), comma-separated, header first,
    column names case-insensitive, extra columns ignored."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read file: {exc.strerror or exc}", file=p) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"not UTF-8 text (byte offset {exc.start})", file=p) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise BadInput("file is empty (a header line is required)", file=p, line=1) from None
    names = [h.strip().lower() for h in header]
    wanted = {c.lower() for c in required} | {c.lower() for c in optional}
    for col in required:
        if col.lower() not in names:
            raise BadInput(f"missing column (header has: {', '.join(h for h in names if h)})",
                           file=p, line=1, field=col)
    index = {n: i for i, n in enumerate(names) if n in wanted}
    rows: list[CsvRow] = []
    for cells in reader:
        line = reader.line_num
        if not cells or all(c.strip() == "" for c in cells):
            continue
        values = {n: (cells[i] if i < len(cells) else "") for n, i in index.items()}
        rows.append(CsvRow(line=line, values=values))
    return rows


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return _clean(obj.item())
    return obj


def emit_json(document: Any) -> None:
    """Print exactly one JSON document (full float precision; NaN/inf become null)."""
    sys.stdout.write(json.dumps(_clean(document), ensure_ascii=False, allow_nan=False))
    sys.stdout.write("\n")
    sys.stdout.flush()
