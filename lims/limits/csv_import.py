"""Import of the lab-maintained limit table (MRLs and banned substances) from CSV.

No machine-readable official table of GB 2763-2021 (pesticide MRLs), GB 31650-2019
(veterinary-drug MRLs) or MARA announcement No. 250 (substances banned in food animals)
exists, so the lab keeps its own CSV (DOMAIN.md, "Limits and decisions"). This module
parses and validates it; it never touches the database.

CSV rules (CONTRACTS.md, general rules): UTF-8 with an optional BOM, comma-separated,
first line is the header, column names case-insensitive, extra columns ignored.

Every data row ends up either in ``ImportReport.accepted`` or in ``ImportReport.rejected``
with its line, the offending field and a reason: no row is ever dropped silently.

Columns::

    commodity_zh, commodity_en, commodity_category, analyte_zh, analyte_en, cas,
    residue_definition, limit_type, limit_value, unit, source_standard, source_clause, notes,
    verified, valid_from, valid_until

``limit_type`` is one of ``MRL`` (maximum residue limit), ``EMRL`` (extraneous MRL,
GB 2763-2021 3.3), ``banned`` (prohibited substance: no value, judged on detection),
``MRPL`` (minimum required performance limit: a method requirement, not a conformity
limit) or ``none`` (no limit set). MRL and EMRL need a positive ``limit_value`` and a unit;
``banned`` and ``none`` must have an empty ``limit_value``.

``verified`` (optional; ``true``/``false``, ``yes``/``no``, ``是``/``否``, ``1``/``0``; empty = false) says the
row was checked against the standard's own text at the clause or table it names; an unverified row still
judges, with a visible warning. ``valid_from`` / ``valid_until`` (optional, YYYY-MM-DD) bound the dates on
which the row applies (e.g. the date the edition came into force).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

from lims import csvio, units

__all__ = [
    "ALL_COLUMNS",
    "ImportReport",
    "LimitRow",
    "LimitType",
    "LimitsCsvError",
    "RejectedRow",
    "REQUIRED_COLUMNS",
    "STARTER_TABLE",
    "cas_is_valid",
    "load_starter_table",
    "parse_limits_csv",
    "read_limits_csv",
    "validate_row",
]

STARTER_TABLE = "starter_mrls.csv"

#: Every column, in the order of the starter table; the optional ones may be absent from the header.
ALL_COLUMNS: tuple[str, ...] = (
    "commodity_zh",
    "commodity_en",
    "commodity_category",
    "analyte_zh",
    "analyte_en",
    "cas",
    "residue_definition",
    "limit_type",
    "limit_value",
    "unit",
    "source_standard",
    "source_clause",
    "notes",
    "verified",
    "valid_from",
    "valid_until",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("commodity_en", "commodity_category", "analyte_en", "cas", "notes", "verified",
                                     "valid_from", "valid_until")
_TRUE = frozenset({"true", "yes", "y", "1", "是"})
_FALSE = frozenset({"", "false", "no", "n", "0", "否"})
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in ALL_COLUMNS if c not in OPTIONAL_COLUMNS)

_CAS_RE = re.compile(r"^(\d{2,7})-(\d{2})-(\d)$")


class LimitType(StrEnum):
    """Kind of limit a row states."""

    MRL = "MRL"
    EMRL = "EMRL"
    BANNED = "banned"
    MRPL = "MRPL"
    NONE = "none"

    @property
    def needs_value(self) -> bool:
        """MRL, EMRL and MRPL carry a numeric value; banned and none must not."""
        return self in (LimitType.MRL, LimitType.EMRL, LimitType.MRPL)


_LIMIT_TYPES = {t.value.casefold(): t for t in LimitType}


class LimitsCsvError(ValueError):
    """The file as a whole cannot be read (unreadable, not UTF-8, no header).

    Row-level problems never raise: they become ``RejectedRow`` entries.
    """

    def __init__(self, message: str, *, source: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        where = source if line is None else f"{source}, line {line}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class LimitRow:
    """One accepted limit: commodity × analyte × residue definition → limit, with its source."""

    line: int
    commodity_zh: str
    commodity_en: str
    commodity_category: str
    analyte_zh: str
    analyte_en: str
    cas: str
    residue_definition: str
    limit_type: LimitType
    limit_value: float | None
    unit: str | None
    source_standard: str
    source_clause: str
    notes: str
    verified: bool = False
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    @property
    def limit_mg_kg(self) -> float | None:
        """The limit converted to mg/kg, or None when the row has no value."""
        if self.limit_value is None or self.unit is None:
            return None
        return units.to_mg_per_kg(self.limit_value, self.unit)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity used for duplicate detection: commodity, analyte, residue definition, source."""
        return (
            _fold(self.commodity_zh),
            _fold(self.analyte_zh),
            _fold(self.residue_definition),
            _fold(self.source_standard),
        )


@dataclass(frozen=True)
class RejectedRow:
    """A row that was not accepted: where (line, field), why, and its raw text."""

    line: int
    field: str
    reason: str
    raw: str


@dataclass(frozen=True)
class ImportReport:
    """Result of an import: every data row is in exactly one of the two tuples."""

    source: str
    accepted: tuple[LimitRow, ...]
    rejected: tuple[RejectedRow, ...]

    @property
    def ok(self) -> bool:
        return not self.rejected


def cas_is_valid(cas: str) -> bool:
    """Check a CAS Registry Number's format and check digit.

    The check digit is the sum of each other digit times its position counted from the
    right (starting at 1), modulo 10 (CAS REGISTRY check-digit rule).
    """
    match = _CAS_RE.match(cas)
    if not match:
        return False
    digits = match.group(1) + match.group(2)
    total = sum(int(d) * i for i, d in enumerate(reversed(digits), start=1))
    return total % 10 == int(match.group(3))


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def parse_limits_csv(text: str, *, source: str = "<limits csv>") -> ImportReport:
    """Parse and validate a limit table given as text (a leading BOM is tolerated).

    Raises ``LimitsCsvError`` only when there is no header at all; every other problem is
    reported per row in ``ImportReport.rejected``.
    """
    try:
        table = csvio.CsvTable(text, source=source)
    except csvio.CsvError as exc:
        message = "empty file: no header line" if exc.kind == "empty" else exc.detail
        raise LimitsCsvError(message, source=source, line=1) from None
    header_problem = _header_problem(table)
    rejected: list[RejectedRow] = []
    if header_problem is not None:
        rejected.append(RejectedRow(1, header_problem[0], header_problem[1], table.header_raw))
    accepted: list[LimitRow] = []
    first_line_of: dict[tuple[str, str, str, str], int] = {}
    positions = table.positions(ALL_COLUMNS)
    for record in table.records():
        outcome = _read_record(record, len(table.header), positions, header_problem)
        if isinstance(outcome, LimitRow):
            outcome = _unless_duplicate(outcome, first_line_of, record.raw)
        if isinstance(outcome, LimitRow):
            accepted.append(outcome)
        else:
            rejected.append(outcome)
    return ImportReport(source=source, accepted=tuple(accepted), rejected=tuple(rejected))


def _header_problem(table: csvio.CsvTable) -> tuple[str, str] | None:
    """(field, reason) when the header lacks a required column or repeats one; None when it is fine."""
    missing = table.missing(REQUIRED_COLUMNS)
    if missing:
        return missing[0], f"required column(s) missing from header: {', '.join(missing)}"
    duplicated = table.duplicated(ALL_COLUMNS)
    if duplicated:
        return duplicated[0], "column appears more than once in the header"
    return None


def _read_record(record: csvio.CsvRecord, header_width: int, positions: dict[str, int],
                 header_problem: tuple[str, str] | None) -> LimitRow | RejectedRow:
    if record.error is not None:
        return RejectedRow(record.line, "(row)", record.error, record.raw)
    if header_problem is not None:
        return RejectedRow(record.line, header_problem[0], "row not read: " + header_problem[1], record.raw)
    if len(record.cells) > header_width:
        return RejectedRow(record.line, "(row)",
                           f"{len(record.cells)} fields but the header has {header_width} (unquoted comma?)",
                           record.raw)
    values = {col: (record.cells[pos].strip() if pos < len(record.cells) else "") for col, pos in positions.items()}
    return _validate_row(record.line, values, record.raw)


def _unless_duplicate(row: LimitRow, first_line_of: dict[tuple[str, str, str, str], int],
                      raw: str) -> LimitRow | RejectedRow:
    first = first_line_of.setdefault(row.key, row.line)
    if first == row.line:
        return row
    return RejectedRow(row.line, "analyte_zh", f"duplicate of line {first} (same commodity_zh, analyte_zh, "
                       "residue_definition and source_standard)", raw)


class _Rejected(Exception):
    """Internal: the first problem of a row, as (field, reason)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def validate_row(values: dict[str, str], *, line: int = 0, raw: str = "") -> LimitRow | RejectedRow:
    """One row given as column → text (the CSV's columns, :data:`ALL_COLUMNS`), checked by the same rules as
    a line of the file: a :class:`LimitRow`, or the first problem as a :class:`RejectedRow` naming its field.
    For a single row typed in a form (:func:`lims.services.limits.save_limit`)."""
    return _validate_row(line, {col: str(values.get(col) or "").strip() for col in ALL_COLUMNS}, raw)


def _validate_row(line: int, values: dict[str, str], raw: str) -> LimitRow | RejectedRow:
    try:
        for col in ("commodity_zh", "analyte_zh", "limit_type", "source_standard", "source_clause"):
            if not values.get(col):
                raise _Rejected(col, "value is missing")
        limit_type = _limit_type(values["limit_type"])
        cas = values.get("cas", "")
        if cas and not cas_is_valid(cas):
            raise _Rejected("cas", f"not a valid CAS Registry Number (format or check digit): {cas!r}")
        unit = _unit(values.get("unit", ""))
        limit_value = _limit_value(limit_type, values, unit)
        verified = _flag("verified", values.get("verified", ""))
        valid_from = _date("valid_from", values.get("valid_from", ""))
        valid_until = _date("valid_until", values.get("valid_until", ""))
        if valid_from and valid_until and valid_until < valid_from:
            raise _Rejected("valid_until", f"{valid_until} is before valid_from {valid_from}")
    except _Rejected as problem:
        return RejectedRow(line, problem.field, problem.reason, raw)
    return LimitRow(
        line=line,
        commodity_zh=values["commodity_zh"],
        commodity_en=values.get("commodity_en", ""),
        commodity_category=values.get("commodity_category", ""),
        analyte_zh=values["analyte_zh"],
        analyte_en=values.get("analyte_en", ""),
        cas=cas,
        residue_definition=values.get("residue_definition", ""),
        limit_type=limit_type,
        limit_value=limit_value,
        unit=unit,
        source_standard=values["source_standard"],
        source_clause=values["source_clause"],
        notes=values.get("notes", ""),
        verified=verified,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _flag(field: str, text: str) -> bool:
    folded = text.strip().casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise _Rejected(field, f"not a yes/no value: {text!r} (true/false, yes/no, 是/否, 1/0)")


def _date(field: str, text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _Rejected(field, f"not a date YYYY-MM-DD: {text!r}") from None


def _limit_type(text: str) -> LimitType:
    limit_type = _LIMIT_TYPES.get(text.casefold())
    if limit_type is None:
        allowed = ", ".join(t.value for t in LimitType)
        raise _Rejected("limit_type", f"unknown limit type {text!r}; allowed: {allowed}")
    return limit_type


def _unit(text: str) -> str | None:
    """The canonical unit of a non-empty ``unit`` cell (mg/kg, MG / KG, µg/kg, μg/kg, ug/kg…)."""
    if not text:
        return None
    try:
        return units.canonical_unit(text, ignore_case=True)
    except units.UnitError as exc:
        raise _Rejected("unit", str(exc)) from None


def _limit_value(limit_type: LimitType, values: dict[str, str], unit: str | None) -> float | None:
    """A positive finite value with its unit for MRL, EMRL and MRPL; nothing for banned and none."""
    raw_value = values.get("limit_value", "")
    if not limit_type.needs_value:
        if raw_value:
            raise _Rejected("limit_value", f"must be empty for limit type {limit_type.value!r}, got {raw_value!r}")
        return None
    if not values.get("residue_definition"):
        raise _Rejected("residue_definition", f"value is missing (required for {limit_type.value})")
    if not raw_value:
        raise _Rejected("limit_value", f"value is missing (required for {limit_type.value})")
    try:
        limit_value = float(raw_value)
    except ValueError:
        raise _Rejected("limit_value", f"not a number: {raw_value!r}") from None
    if not math.isfinite(limit_value):
        raise _Rejected("limit_value", f"not a finite number: {raw_value!r}")
    if limit_value <= 0:
        raise _Rejected("limit_value", f"must be positive, got {raw_value}")
    if unit is None:
        raise _Rejected("unit", f"value is missing (required for {limit_type.value})")
    return limit_value


def read_limits_csv(path: str | Path) -> ImportReport:
    """Read and validate a limit-table CSV file (see ``parse_limits_csv``)."""
    try:
        text = csvio.decode(csvio.read_bytes(path), source=str(path))
    except csvio.CsvError as exc:
        raise LimitsCsvError(exc.detail, source=exc.source) from None
    return parse_limits_csv(text, source=str(path))


def load_starter_table() -> ImportReport:
    """Parse the starter table shipped with the package (``lims/limits/starter_mrls.csv``)."""
    data = resources.files("lims.limits").joinpath(STARTER_TABLE).read_bytes()
    return parse_limits_csv(csvio.decode(data, source=STARTER_TABLE), source=STARTER_TABLE)
