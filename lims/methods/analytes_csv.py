"""The lab's analyte CSV (``lims analyte import``): one analyte a row, read with :mod:`lims.csvio`.

Columns: code, name_zh, name_en (empty: the Chinese name), cas (CAS Registry Number with its check digit;
empty for a group), kind (pesticide | vet_drug | banned | group). A row is checked by
:func:`lims.services.analytes_admin.validate` (the first problem names its field); the file is imported all
or nothing. Template: ``example_analytes.csv`` (the demo's analyte group OP-CARB, screened by RAPID-EI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lims.csvio import CsvError, CsvTable, decode, read_bytes
from lims.methods.csv_import import RejectedMethodRow
from lims.services.analytes_admin import AnalyteSpec, validate
from lims.services.errors import InvalidInput

ANALYTE_COLUMNS = ("code", "name_zh", "name_en", "cas", "kind")
EXAMPLE_ANALYTES_CSV = Path(__file__).with_name("example_analytes.csv")
#: A refused row: its line, the field named and why (the method CSV's, printed alike).
RejectedAnalyteRow = RejectedMethodRow


@dataclass(frozen=True)
class AnalyteCsvReport:
    source: str
    accepted: tuple[tuple[int, AnalyteSpec], ...]
    rejected: tuple[RejectedAnalyteRow, ...]


def _spec(line: int, values: dict[str, str]) -> AnalyteSpec | RejectedAnalyteRow:
    try:
        return validate(AnalyteSpec(**{name: values[name] for name in ANALYTE_COLUMNS}))
    except InvalidInput as e:
        return RejectedAnalyteRow(line, e.field or "?", str(e).split(": ", 1)[-1])


def parse_analytes_csv(text: str, *, source: str) -> AnalyteCsvReport:
    """Every row checked (a code or Chinese name given twice is refused on its second line);
    :class:`CsvError` for a file that cannot be read as an analyte CSV at all."""
    table = CsvTable(text, source=source)
    table.require(ANALYTE_COLUMNS)
    accepted: list[tuple[int, AnalyteSpec]] = []
    rejected: list[RejectedAnalyteRow] = []
    seen: dict[tuple[str, str], int] = {}
    for row in table.rows(ANALYTE_COLUMNS):
        spec = _spec(row.line, row.values)
        if isinstance(spec, RejectedAnalyteRow):
            rejected.append(spec)
            continue
        twice = [(f, v) for f, v in (("code", spec.code), ("name_zh", spec.name_zh)) if (f, v) in seen]
        if twice:
            field, value = twice[0]
            rejected.append(RejectedAnalyteRow(row.line, field, f"{value} is also on line {seen[twice[0]]}"))
            continue
        seen.update({("code", spec.code): row.line, ("name_zh", spec.name_zh): row.line})
        accepted.append((row.line, spec))
    if not accepted and not rejected:
        raise CsvError("no analyte rows", source=source, kind="empty", line=table.header_line + 1)
    return AnalyteCsvReport(source, tuple(accepted), tuple(rejected))


def read_analytes_csv(path: str | Path) -> AnalyteCsvReport:
    """The file at ``path`` parsed (:class:`CsvError` naming it when unreadable or not UTF-8)."""
    return parse_analytes_csv(decode(read_bytes(path), source=str(path)), source=str(path))
