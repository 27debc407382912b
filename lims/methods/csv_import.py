"""The lab's method CSV (``lims method import``): one method a row, read with :mod:`lims.csvio`.

Columns: code, name, standard, kind (screening | confirmatory), unit (mg/kg, µg/kg; % for an inhibition-rate
screening method), lod_mg_kg and loq_mg_kg (mg/kg, empty: none stated), decision_rule (simple_acceptance |
guard_band | eu_enforcement; empty: simple_acceptance), analytes (the scope: analyte codes separated by
``;``, empty: none); optional report_figures and report_decimals. A row is checked by
:func:`lims.services.methods_admin.validate` (the first problem names its field); the file is imported all
or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from lims.csvio import CsvError, CsvTable, decode, read_bytes
from lims.services.errors import InvalidInput
from lims.services.methods_admin import MethodSpec, unknown_analytes, validate

COLUMNS = ("code", "name", "standard", "kind", "unit", "lod_mg_kg", "loq_mg_kg", "decision_rule", "analytes")
OPTIONAL = ("report_figures", "report_decimals")
EXAMPLE_CSV = Path(__file__).with_name("example_methods.csv")


@dataclass(frozen=True)
class RejectedMethodRow:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, field '{self.field}': {self.reason}"


@dataclass(frozen=True)
class MethodCsvReport:
    source: str
    accepted: tuple[tuple[int, MethodSpec], ...]
    rejected: tuple[RejectedMethodRow, ...]


class _Cell(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def _number(values: dict[str, str], name: str, kind: type[float] | type[int] = float) -> Any:
    """The cell as a number of ``kind`` (None when empty); :class:`_Cell` naming the column otherwise."""
    text = values.get(name, "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise _Cell(name, f"not a {'whole ' if kind is int else ''}number: {text!r}") from None


def _spec(values: dict[str, str]) -> MethodSpec:
    spec = MethodSpec(code=values["code"], name=values["name"], standard=values["standard"], kind=values["kind"],
                      unit=values["unit"], lod_mg_kg=_number(values, "lod_mg_kg"),
                      loq_mg_kg=_number(values, "loq_mg_kg"), decision_rule=values["decision_rule"],
                      report_figures=_number(values, "report_figures", int),
                      report_decimals=_number(values, "report_decimals", int),
                      analytes=tuple(values["analytes"].split(";")))
    try:
        return validate(spec)
    except InvalidInput as e:
        raise _Cell(e.field or "?", str(e).split(": ", 1)[-1]) from None


def parse_methods_csv(text: str, *, source: str) -> MethodCsvReport:
    """Every row checked; :class:`CsvError` for a file that cannot be read as a method CSV at all."""
    table = CsvTable(text, source=source)
    table.require(COLUMNS)
    accepted: list[tuple[int, MethodSpec]] = []
    rejected: list[RejectedMethodRow] = []
    seen: dict[str, int] = {}
    for row in table.rows((*COLUMNS, *OPTIONAL)):
        try:
            spec = _spec(row.values)
        except _Cell as e:
            rejected.append(RejectedMethodRow(row.line, e.field, str(e)))
            continue
        if spec.code in seen:
            rejected.append(RejectedMethodRow(row.line, "code", f"{spec.code} is also on line {seen[spec.code]}"))
            continue
        seen[spec.code] = row.line
        accepted.append((row.line, spec))
    if not accepted and not rejected:
        raise CsvError("no method rows", source=source, kind="empty", line=table.header_line + 1)
    return MethodCsvReport(source, tuple(accepted), tuple(rejected))


def read_methods_csv(path: str | Path) -> MethodCsvReport:
    """The file at ``path`` parsed (:class:`CsvError` naming it when unreadable or not UTF-8)."""
    return parse_methods_csv(decode(read_bytes(path), source=str(path)), source=str(path))


def unknown_scope_rows(s: Session, report: MethodCsvReport) -> list[RejectedMethodRow]:
    """Rows whose scope names an analyte code the database does not have (one rejection per row, naming them)."""
    out = []
    for line, spec in report.accepted:
        missing = unknown_analytes(s, spec.analytes or ())
        if missing:
            out.append(RejectedMethodRow(line, "analytes", f"no analyte with code {', '.join(missing)}"))
    return out
