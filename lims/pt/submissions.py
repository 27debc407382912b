"""Result submissions of a PT round: one validated row type for the web form, the JSON API and CSV.

CSV (CONTRACTS.md CSV rules: UTF-8, BOM tolerated, header line, case-insensitive column names,
extra columns ignored): ``participant_code,analyte,result,unit`` required, ``method,loq,
expanded_uncertainty,coverage_factor,recovery_percent`` optional. An empty ``result`` (or ND,
<LOQ, 未检出) means "not detected". Every row is checked; a file with any bad row is refused as a
whole with every problem named by line and field (nothing is written).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    """Parse and check a submission CSV; raises :class:`SubmissionRejected` naming every bad row."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SubmissionRejected([RowProblem(None, "file", f"not UTF-8 (byte offset {exc.start})")],
                                     source="CSV") from None
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SubmissionRejected([RowProblem(1, "header", "the file is empty")], source="CSV") from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in CSV_REQUIRED if c not in names]
    if missing:
        raise SubmissionRejected([RowProblem(1, c, "required column is missing") for c in missing], source="CSV")
    index = {c: names.index(c) for c in CSV_REQUIRED + CSV_OPTIONAL if c in names}
    problems: list[RowProblem] = []
    rows: list[SubmissionIn] = []
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        values = {c: (fields[i] if i < len(fields) else None) for c, i in index.items()}
        row = parse_row(values, line, problems)
        if row is not None:
            rows.append(row)
    if problems:
        raise SubmissionRejected(problems, source="CSV")
    if not rows:
        raise SubmissionRejected([RowProblem(2, "result", "the file has no data rows")], source="CSV")
    return rows
