"""Result submissions of a PT round: one validated row type for the web form, the JSON API and CSV.

CSV (CONTRACTS.md CSV rules: UTF-8, BOM tolerated, header line, case-insensitive column names,
extra columns ignored): ``participant_code,analyte,result,unit`` required, ``method,loq,
expanded_uncertainty,coverage_factor,recovery_percent`` optional. An empty ``result`` (or ND,
<LOQ, 未检出) means "not detected". Every row is checked; a file with any bad row is refused as a
whole with every problem named by line and field (nothing is written).

Who may submit (:func:`check_submitter`): a participant code is bound to accounts
(``pt_participant_account``, :func:`bind_account`) when the provider enrols the participant's laboratory; a
submitter without ``pt:manage`` may submit, replace and read (:func:`visible_submissions`) only the results of
the participants bound to its own account, and only until the round's deadline (refused by
``lims.pt.provider.submit_results``). Holders of ``pt:manage`` (the provider's staff) may enter a result on a
participant's behalf (a form sent on paper); the audit trail names them.

Units: a result in µg/kg for an analyte reported in mg/kg (or the reverse) is converted with
1 mg/kg = 1000 µg/kg (:func:`convert_row`; result, LOQ and expanded uncertainty alike); the value and
unit as submitted are kept (:class:`UnitConversion`). Any other unit is refused.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import csvio, units
from lims.db.models import User
from lims.db.models_pt import PtParticipant, PtParticipantAccount, PtRound, PtRoundAnalyte, PtSubmission
from lims.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from lims.services.lookup import get_by_code
from lims.text import printable_problem, text_problem

CSV_REQUIRED = ("participant_code", "analyte", "result", "unit")
CSV_OPTIONAL = ("method", "loq", "expanded_uncertainty", "coverage_factor", "recovery_percent")
#: Rows one submission (CSV or JSON) may hold: participants × analytes of the largest round, with room.
MAX_ROWS = 5000
#: Longest text per column (the database columns), checked before anything is quoted back.
TEXT_LENGTHS = {"participant_code": 20, "analyte": 60, "unit": 20, "method": 120}
#: Problems spelled out in a refusal's message (``problems`` holds them all; the API lists the first few).
MESSAGE_PROBLEMS = 5
#: Characters of a bad cell quoted back in a problem (a cell may be 131,072 characters long).
QUOTED_CHARS = 40
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
        text = "; ".join(str(p) for p in self.problems[:MESSAGE_PROBLEMS])
        super().__init__(f"{source} refused, nothing was written{more}: {text}", field=first.field)


def _quoted(raw: str) -> str:
    text = raw.strip()
    return repr(text) if len(text) <= QUOTED_CHARS else f"{text[:QUOTED_CHARS]!r}… ({len(text)} characters)"


def _number(raw: str | None, field: str, line: int | None, problems: list[RowProblem], *,
            minimum: float | None = None, strictly: bool = False) -> float | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        problems.append(RowProblem(line, field, f"not a number: {_quoted(raw)}"))
        return None
    if not math.isfinite(value):
        problems.append(RowProblem(line, field, f"not a finite number: {_quoted(raw)}"))
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
    for col, longest in TEXT_LENGTHS.items():  # as the JSON route's fields (lims/text.py, column lengths)
        value = texts.get(col, "")
        bad = (f"longer than {longest} characters ({len(value)})" if len(value) > longest else
               (printable_problem if col == "method" else text_problem)(value))
        if bad:
            problems.append(RowProblem(line, col, bad))
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


def _bounded(rows: Iterable[csvio.CsvRow]) -> list[csvio.CsvRow]:
    out: list[csvio.CsvRow] = []
    for record in rows:
        if len(out) == MAX_ROWS:
            raise SubmissionRejected([RowProblem(record.line, "file", f"more than {MAX_ROWS} data rows: "
                                                 "split the file (nothing was written)")], source="CSV")
        out.append(record)
    return out


def parse_submission_csv(data: bytes | str) -> list[SubmissionIn]:
    """Parse and check a submission CSV (read by :mod:`lims.csvio`); raises :class:`SubmissionRejected`
    naming every bad row."""
    try:
        table = csvio.CsvTable(csvio.decode(data, source="CSV") if isinstance(data, bytes) else data, source="CSV")
        missing = table.missing(CSV_REQUIRED)
        records = [] if missing else _bounded(table.rows(CSV_REQUIRED + CSV_OPTIONAL))
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


# ----------------------------------------------------------------------------------------------
# who may submit: participants bound to accounts
# ----------------------------------------------------------------------------------------------

def _participant(s: Session, rnd: PtRound, participant_code: str) -> PtParticipant:
    p = s.execute(select(PtParticipant).where(PtParticipant.round_id == rnd.id,
                                              PtParticipant.code == participant_code)).scalars().first()
    if p is None:
        raise NotFound(f"participant {participant_code} is not in round {rnd.code}", field="participant_code")
    return p


def bind_account(s: Session, round_code: str, participant_code: str, username: str) -> PtParticipantAccount:
    """Let the account ``username`` submit and read the results of ``participant_code`` in the round."""
    rnd = get_by_code(s, PtRound, round_code, field="round_code", what="PT round")
    p = _participant(s, rnd, participant_code)
    user = s.execute(select(User).where(User.username == username)).scalars().first()
    if user is None:
        raise NotFound(f"no account {username!r}", field="username")
    if s.execute(select(PtParticipantAccount.id).where(PtParticipantAccount.participant_id == p.id,
                                                       PtParticipantAccount.user_id == user.id)).first():
        raise Conflict(f"{username} is already bound to participant {participant_code}", field="username")
    link = PtParticipantAccount(participant_id=p.id, user_id=user.id)
    s.add(link)
    s.flush()
    return link


def bound_codes(s: Session, round_id: int, user_id: int) -> set[str]:
    """Codes of the round's participants bound to the account ``user_id``."""
    return set(s.execute(select(PtParticipant.code).join(
        PtParticipantAccount, PtParticipantAccount.participant_id == PtParticipant.id).where(
        PtParticipant.round_id == round_id, PtParticipantAccount.user_id == user_id)).scalars())


def check_submitter(s: Session, round_code: str, rows: Sequence[SubmissionIn], *, user_id: int,
                    on_behalf: bool) -> None:
    """Refuse (403 ``pt.participant_not_bound``, nothing written) rows for a participant not bound to the
    account ``user_id``, unless the submitter enters results on participants' behalf (``pt:manage``)."""
    if on_behalf:
        return
    rnd = get_by_code(s, PtRound, round_code, field="round_code", what="PT round")
    own = bound_codes(s, rnd.id, user_id)
    for i, row in enumerate(rows, start=1):
        if row.participant_code not in own:
            line = row.line if row.line is not None else i
            raise Forbidden(f"line {line}: participant {row.participant_code!r} is not bound to your account "
                            f"in round {round_code}; results of other participants cannot be submitted or changed",
                            field="participant_code", code="pt.participant_not_bound")


def visible_submissions(s: Session, round_code: str, *, user_id: int, everyone: bool) -> list[dict[str, object]]:
    """The round's submissions the caller may see: all of them for ``everyone`` (``pt:manage``), else those
    of the participants bound to the account ``user_id``."""
    rnd = get_by_code(s, PtRound, round_code, field="round_code", what="PT round")
    q = (select(PtSubmission, PtParticipant.code, PtRoundAnalyte.code)
         .join(PtParticipant, PtParticipant.id == PtSubmission.participant_id)
         .join(PtRoundAnalyte, PtRoundAnalyte.id == PtSubmission.round_analyte_id)
         .where(PtParticipant.round_id == rnd.id).order_by(PtParticipant.code, PtRoundAnalyte.code))
    if not everyone:
        q = q.join(PtParticipantAccount, PtParticipantAccount.participant_id == PtParticipant.id).where(
            PtParticipantAccount.user_id == user_id)
    return [{"participant_code": pcode, "analyte": acode, "result": sub.result, "unit": sub.unit,
             "method": sub.method, "loq": sub.loq, "expanded_uncertainty": sub.expanded_uncertainty,
             "coverage_factor": sub.coverage_factor, "recovery_percent": sub.recovery_percent,
             "channel": sub.channel, "submitted_at": sub.submitted_at.isoformat()}
            for sub, pcode, acode in s.execute(q).all()]
