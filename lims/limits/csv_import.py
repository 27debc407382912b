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
    residue_definition, limit_type, limit_value, unit, source_standard, source_clause, notes

``limit_type`` is one of ``MRL`` (maximum residue limit), ``EMRL`` (extraneous MRL,
GB 2763-2021 3.3), ``banned`` (prohibited substance: no value, judged on detection),
``MRPL`` (minimum required performance limit: a method requirement, not a conformity
limit) or ``none`` (no limit set). MRL and EMRL need a positive ``limit_value`` and a unit;
``banned`` and ``none`` must have an empty ``limit_value``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

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
    "normalise_unit",
    "parse_limits_csv",
    "read_limits_csv",
    "to_mg_per_kg",
]

STARTER_TABLE = "starter_mrls.csv"

REQUIRED_COLUMNS: tuple[str, ...] = (
    "commodity_zh",
    "analyte_zh",
    "residue_definition",
    "limit_type",
    "limit_value",
    "unit",
    "source_standard",
    "source_clause",
)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "commodity_en",
    "commodity_category",
    "analyte_en",
    "cas",
    "notes",
)
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
)

MG_PER_KG = "mg/kg"
UG_PER_KG = "µg/kg"  # U+00B5 MICRO SIGN, the canonical spelling stored in LimitRow.unit

# Accepted spellings (compared case-insensitively, spaces removed) → canonical unit.
_UNIT_SPELLINGS: dict[str, str] = {
    "mg/kg": MG_PER_KG,
    "µg/kg": UG_PER_KG,  # micro sign U+00B5
    "μg/kg": UG_PER_KG,  # Greek small mu U+03BC
    "ug/kg": UG_PER_KG,
}
_TO_MG_PER_KG_DIVISOR: dict[str, float] = {MG_PER_KG: 1.0, UG_PER_KG: 1000.0}

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

    @property
    def limit_mg_kg(self) -> float | None:
        """The limit converted to mg/kg, or None when the row has no value."""
        if self.limit_value is None or self.unit is None:
            return None
        return to_mg_per_kg(self.limit_value, self.unit)

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


def normalise_unit(unit: str) -> str:
    """Return the canonical spelling (``mg/kg`` or ``µg/kg``) of an accepted unit.

    Accepts mg/kg, µg/kg (micro sign), μg/kg (Greek mu) and ug/kg, case-insensitively.
    Raises ValueError for anything else.
    """
    key = re.sub(r"\s+", "", unit).casefold()
    for spelling, canonical in _UNIT_SPELLINGS.items():
        if key == spelling.casefold():
            return canonical
    raise ValueError(f"unknown unit {unit!r}; allowed: mg/kg, µg/kg (also μg/kg, ug/kg)")


def to_mg_per_kg(value: float, unit: str) -> float:
    """Convert a mass fraction in ``unit`` to mg/kg (1 mg/kg = 1000 µg/kg)."""
    canonical = normalise_unit(unit)
    # Division by 1000 (not multiplication by 0.001) returns the correctly rounded double,
    # so 100 µg/kg converts to exactly the same float as the literal 0.1 mg/kg.
    return value / _TO_MG_PER_KG_DIVISOR[canonical]


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


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LimitsCsvError(f"not UTF-8 (byte offset {exc.start})", source=source) from None


def parse_limits_csv(text: str, *, source: str = "<limits csv>") -> ImportReport:
    """Parse and validate a limit table given as text (a leading BOM is tolerated).

    Raises ``LimitsCsvError`` only when there is no header at all; every other problem is
    reported per row in ``ImportReport.rejected``.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    physical_lines = text.splitlines()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header_cells = next(reader)
    except StopIteration:
        raise LimitsCsvError("empty file: no header line", source=source, line=1) from None
    except csv.Error as exc:
        raise LimitsCsvError(f"malformed header: {exc}", source=source, line=1) from None

    header = [cell.strip().casefold() for cell in header_cells]
    rejected: list[RejectedRow] = []
    header_raw = "\n".join(physical_lines[: reader.line_num])

    positions: dict[str, int] = {}
    duplicated_columns: list[str] = []
    for index, name in enumerate(header):
        if name in ALL_COLUMNS:
            if name in positions:
                duplicated_columns.append(name)
            else:
                positions[name] = index
    missing = [col for col in REQUIRED_COLUMNS if col not in positions]
    header_problem: tuple[str, str] | None = None
    if missing:
        header_problem = (missing[0], f"required column(s) missing from header: {', '.join(missing)}")
    elif duplicated_columns:
        header_problem = (duplicated_columns[0], "column appears more than once in the header")
    if header_problem is not None:
        rejected.append(RejectedRow(1, header_problem[0], header_problem[1], header_raw))

    accepted: list[LimitRow] = []
    first_line_of: dict[tuple[str, str, str, str], int] = {}
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end = reader.line_num
            raw = "\n".join(physical_lines[start - 1 : end])
            rejected.append(RejectedRow(start, "(row)", f"malformed CSV: {exc}", raw))
            previous_end = end
            continue
        end = reader.line_num
        previous_end = end
        raw = "\n".join(physical_lines[start - 1 : end])
        if not cells or all(cell.strip() == "" for cell in cells):
            continue  # a blank line is not a data row
        if header_problem is not None:
            rejected.append(RejectedRow(start, header_problem[0], "row not read: " + header_problem[1], raw))
            continue
        if len(cells) > len(header):
            rejected.append(
                RejectedRow(
                    start,
                    "(row)",
                    f"{len(cells)} fields but the header has {len(header)} (unquoted comma?)",
                    raw,
                )
            )
            continue
        values = {col: (cells[pos].strip() if pos < len(cells) else "") for col, pos in positions.items()}
        outcome = _validate_row(start, values, raw)
        if isinstance(outcome, RejectedRow):
            rejected.append(outcome)
            continue
        first = first_line_of.get(outcome.key)
        if first is not None:
            rejected.append(
                RejectedRow(
                    start,
                    "analyte_zh",
                    "duplicate of line "
                    f"{first} (same commodity_zh, analyte_zh, residue_definition and source_standard)",
                    raw,
                )
            )
            continue
        first_line_of[outcome.key] = start
        accepted.append(outcome)
    return ImportReport(source=source, accepted=tuple(accepted), rejected=tuple(rejected))


def _validate_row(line: int, values: dict[str, str], raw: str) -> LimitRow | RejectedRow:
    def reject(field: str, reason: str) -> RejectedRow:
        return RejectedRow(line, field, reason, raw)

    for col in ("commodity_zh", "analyte_zh", "limit_type", "source_standard", "source_clause"):
        if not values.get(col):
            return reject(col, "value is missing")

    limit_type = _LIMIT_TYPES.get(values["limit_type"].casefold())
    if limit_type is None:
        allowed = ", ".join(t.value for t in LimitType)
        return reject("limit_type", f"unknown limit type {values['limit_type']!r}; allowed: {allowed}")

    cas = values.get("cas", "")
    if cas and not cas_is_valid(cas):
        return reject("cas", f"not a valid CAS Registry Number (format or check digit): {cas!r}")

    raw_value = values.get("limit_value", "")
    raw_unit = values.get("unit", "")
    unit: str | None = None
    if raw_unit:
        try:
            unit = normalise_unit(raw_unit)
        except ValueError as exc:
            return reject("unit", str(exc))

    limit_value: float | None = None
    if limit_type.needs_value:
        if not values.get("residue_definition"):
            return reject("residue_definition", f"value is missing (required for {limit_type.value})")
        if not raw_value:
            return reject("limit_value", f"value is missing (required for {limit_type.value})")
        try:
            limit_value = float(raw_value)
        except ValueError:
            return reject("limit_value", f"not a number: {raw_value!r}")
        if not math.isfinite(limit_value):
            return reject("limit_value", f"not a finite number: {raw_value!r}")
        if limit_value <= 0:
            return reject("limit_value", f"must be positive, got {raw_value}")
        if unit is None:
            return reject("unit", f"value is missing (required for {limit_type.value})")
    elif raw_value:
        return reject("limit_value", f"must be empty for limit type {limit_type.value!r}, got {raw_value!r}")

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
    )


def read_limits_csv(path: str | Path) -> ImportReport:
    """Read and validate a limit-table CSV file (see ``parse_limits_csv``)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise LimitsCsvError(f"cannot read file: {exc.strerror or exc}", source=str(p)) from None
    return parse_limits_csv(_decode(data, str(p)), source=str(p))


def load_starter_table() -> ImportReport:
    """Parse the starter table shipped with the package (``lims/limits/starter_mrls.csv``)."""
    data = resources.files("lims.limits").joinpath(STARTER_TABLE).read_bytes()
    return parse_limits_csv(_decode(data, STARTER_TABLE), source=STARTER_TABLE)
