"""Result submissions of a PT round: one validated row type for the web form, the JSON API and CSV.

CSV (CONTRACTS.md CSV rules: UTF-8, BOM tolerated, header line, case-insensitive column names,
extra columns ignored): ``participant_code,analyte,result,unit`` required, ``method,loq,
expanded_uncertainty,coverage_factor,recovery_percent`` optional. An empty ``result`` (or ND,
<LOQ, 未检出) means "not detected". Every row is checked; a file with any bad row is refused as a
whole with every problem named by line and field (nothing is written).

Units: a result in µg/kg for an analyte reported in mg/kg (or the reverse) is converted with
1 mg/kg = 1000 µg/kg (:func:`convert_row`; result, LOQ and expanded uncertainty alike); the value and
unit as submitted are kept (:class:`UnitConversion`). Any other unit is refused.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lims import csvio, units
from lims.services.errors import InvalidInput

CSV_REQUIRED = ("participant_code", "analyte", "result", "unit")
CSV_OPTIONAL = ("method", "loq", "expanded_uncertainty", "coverage_factor", "recovery_percent")
#: Texts read as "not detected" in the result column.
NOT_DETECTED = frozenset({"", "nd", "n.d.", "<loq", "< loq", "<lod", "< lod", "未检出", "not detected"})


@dataclass(frozen=True)
class SubmissionIn:
    """One result of one participant for one analyte; ``result`` None = not detected.

    ``line`` is the CSV line (or the 1-based row of a JSON list) used to name problems."""

    participant_code: str
    analyte: str
    result: float | None
    unit: str
    method: str = ""
    loq: float | None = None
    expanded_uncertainty: float | None = None
    coverage_factor: float | None = None
    recovery_percent: float | None = None
    line: int | None = None


@dataclass(frozen=True)
class RowProblem:
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line is not None else ""
        return f"{where}field '{self.field}': {self.message}"


class SubmissionRejected(InvalidInput):
    """Rows that cannot be accepted; ``problems`` names every one (line and field)."""

    def __init__(self, problems: Sequence[RowProblem], *, source: str = "submission") -> None:
        self.problems = tuple(problems)
        first = self.problems[0]
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        text = "; ".join(str(p) for p in self.problems)
        super().__init__(f"{source} refused, nothing was written{more}: {text}", field=first.field)


def _number(raw: str | None, field: str, line: int | None, problems: list[RowProblem], *,
            minimum: float | None = None, strictly: bool = False) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        problems.append(RowProblem(line, field, f"not a number: {raw.strip()!r}"))
        return None
    if not math.isfinite(value):
        problems.append(RowProblem(line, field, f"not a finite number: {raw.strip()!r}"))
        return None
    if minimum is not None and (value <= minimum if strictly else value < minimum):
        rel = ">" if strictly else ">="
        problems.append(RowProblem(line, field, f"must be {rel} {minimum:g} (got {value:g})"))
        return None
    return value


def parse_row(values: Mapping[str, str | None], line: int | None, problems: list[RowProblem]) -> SubmissionIn | None:
    """Read one row of text fields (CSV or form); appends problems, returns None if any."""
    before = len(problems)
    texts = {k: (v or "").strip() for k, v in values.items()}
    for col in ("participant_code", "analyte", "unit"):
        if not texts.get(col):
            problems.append(RowProblem(line, col, "value is missing"))
    raw_result = texts.get("result", "")
    result: float | None = None
    if raw_result.lower() not in NOT_DETECTED:
        result = _number(raw_result, "result", line, problems, minimum=0.0)
    loq = _number(texts.get("loq"), "loq", line, problems, minimum=0.0, strictly=True)
    big_u = _number(texts.get("expanded_uncertainty"), "expanded_uncertainty", line, problems, minimum=0.0)
    k = _number(texts.get("coverage_factor"), "coverage_factor", line, problems, minimum=0.0, strictly=True)
    rec = _number(texts.get("recovery_percent"), "recovery_percent", line, problems, minimum=0.0, strictly=True)
    if len(problems) > before:
        return None
    return SubmissionIn(texts["participant_code"], texts["analyte"], result, texts["unit"],
                        texts.get("method", ""), loq, big_u, k, rec, line)


def parse_submission_csv(data: bytes | str) -> list[SubmissionIn]:
    """Parse and check a submission CSV (read by :mod:`lims.csvio`); raises :class:`SubmissionRejected`
    naming every bad row."""
    try:
        table = csvio.CsvTable(csvio.decode(data, source="CSV") if isinstance(data, bytes) else data, source="CSV")
        missing = table.missing(CSV_REQUIRED)
        records = [] if missing else list(table.rows(CSV_REQUIRED + CSV_OPTIONAL))
    except csvio.CsvError as exc:
        field = "header" if exc.kind == "empty" else "file"
        raise SubmissionRejected([RowProblem(exc.line, field, exc.detail)], source="CSV") from None
    if missing:
        raise SubmissionRejected([RowProblem(1, c, "required column is missing") for c in missing], source="CSV")
    problems: list[RowProblem] = []
    rows: list[SubmissionIn] = []
    for record in records:
        row = parse_row(record.values, record.line, problems)
        if row is not None:
            rows.append(row)
    if problems:
        raise SubmissionRejected(problems, source="CSV")
    if not rows:
        raise SubmissionRejected([RowProblem(2, "result", "the file has no data rows")], source="CSV")
    return rows


# ----------------------------------------------------------------------------------------------
# units
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnitConversion:
    """A row converted to the analyte's unit: the values as submitted and as recorded."""

    line: int | None
    participant_code: str
    analyte: str
    original_unit: str
    unit: str
    original_result: float | None
    result: float | None
    original_loq: float | None
    loq: float | None
    original_expanded_uncertainty: float | None
    expanded_uncertainty: float | None

    def audit_old(self) -> dict[str, float | str | None]:
        return {"result": self.original_result, "unit": self.original_unit, "loq": self.original_loq,
                "expanded_uncertainty": self.original_expanded_uncertainty}

    def audit_new(self) -> dict[str, float | str | None]:
        return {"result": self.result, "unit": self.unit, "loq": self.loq,
                "expanded_uncertainty": self.expanded_uncertainty}


def conversion_exponent(from_unit: str, to_unit: str) -> int | None:
    """Power of ten that takes a value in ``from_unit`` to ``to_unit`` (mg/kg ↔ µg/kg), or None
    when the two are not both mass-fraction units known here."""
    try:
        return units.exponent(from_unit, to_unit)
    except units.UnitError:
        return None


def scale_decimal(value: float | None, exponent: int) -> float | None:
    """``value`` × 10^exponent on its shortest decimal text, so 1.001 mg/kg gives 1001.0 µg/kg
    (binary multiplication gives 1000.9999999999999) and 1001 µg/kg gives 1.001 mg/kg."""
    return None if value is None else units.scale_decimal(value, exponent)


def convert_row(row: SubmissionIn, unit: str) -> tuple[SubmissionIn, UnitConversion | None]:
    """``row`` in ``unit``: unchanged (and no conversion) when already in it, converted when
    mg/kg ↔ µg/kg; raises :class:`SubmissionRejected` naming the ``unit`` field otherwise."""
    if row.unit == unit:
        return row, None
    exponent = conversion_exponent(row.unit, unit)
    if exponent is None:
        allowed = ", ".join(sorted(units.SPELLINGS))
        raise SubmissionRejected([RowProblem(row.line, "unit", f"{row.analyte} is reported in {unit}; {row.unit!r} "
                                             f"cannot be converted to it (convertible: {allowed})")])
    new = dataclasses.replace(row, unit=unit, result=scale_decimal(row.result, exponent),
                              loq=scale_decimal(row.loq, exponent),
                              expanded_uncertainty=scale_decimal(row.expanded_uncertainty, exponent))
    return new, UnitConversion(row.line, row.participant_code, row.analyte, row.unit, unit, row.result, new.result,
                               row.loq, new.loq, row.expanded_uncertainty, new.expanded_uncertainty)
