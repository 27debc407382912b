"""Provider side of proficiency testing (ISO/IEC 17043; statistics ISO 13528:2022 via :mod:`proficiency`).

A round goes draft → open → closed → scored → published. Results are accepted only while the
round is open and before its deadline. Scoring takes, per analyte, the assigned value by consensus
(Algorithm A, C.3.1) or from a reference value with its standard uncertainty, σ_pt by fitness for
purpose (RSD, e.g. 25 % as in EU pesticide PTs), Thompson-modified Horwitz or the robust SD, and
scores every result (z, or z′ when u(x_pt) > 0.3 σ_pt, ζ, E_n); multi-residue rounds also judge
false positives/negatives against the MRRL and combine scores per participant (AZ², RSZ, SSZ).

Functions take an open :class:`~sqlalchemy.orm.Session`; the caller owns the transaction
(``session_scope``), so a refused step writes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import units
from lims.clock import as_utc, utcnow
from lims.db.audit import append_events
from lims.db.models import AuditEvent
from lims.db.models_pt import (
    PtItemMeasurement,
    PtParticipant,
    PtRound,
    PtRoundAnalyte,
    PtScheme,
    PtSubmission,
    PtTestItem,
    RoundStatus,
)
from lims.pt.submissions import (
    RowProblem,
    SubmissionIn,
    SubmissionRejected,
    UnitConversion,
    convert_row,
    parse_submission_csv,
)
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.lookup import code_exists, find_by_code, get_by_code
from lims.workflow import transition
from proficiency import sigma
from proficiency.errors import ProficiencyError
from proficiency.outcomes import HomogeneityResult, StabilityResult

ASSIGNED_METHODS = ("consensus", "reference")
SIGMA_METHODS = ("ffp", "horwitz", "robust")
#: Anonymous participant codes are drawn from this range (4 digits), shuffled by the round's seed.
CODE_SPACE = range(1000, 10000)
CODE_PREFIX = "P"
#: Audit-trail action of a submission converted to its analyte's unit (old = as submitted).
CONVERT_UNIT = "convert_unit"


def now_utc(now: dt.datetime | None) -> dt.datetime:
    """``now`` as aware UTC, or the current time."""
    return as_utc(now) if now is not None else utcnow()


# ----------------------------------------------------------------------------------------------
# scheme, round, analytes
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnalyteSpec:
    """Scope of one analyte in a round and the choice of assigned value and σ_pt."""

    code: str
    mrrl: float
    unit: str = "mg/kg"
    name_zh: str = ""
    present: bool = True
    assigned_method: str = "consensus"
    reference_value: float | None = None
    reference_u: float | None = None
    sigma_method: str = "ffp"
    ffp_rsd: float | None = sigma.EU_PESTICIDE_FFP_RSD


def _check_spec(spec: AnalyteSpec, where: str) -> None:
    if not spec.code.strip():
        raise InvalidInput("analyte code is missing", field=f"{where}.code")
    if not (math.isfinite(spec.mrrl) and spec.mrrl > 0):
        raise InvalidInput(f"MRRL must be a positive number (got {spec.mrrl!r})", field=f"{where}.mrrl")
    if spec.assigned_method not in ASSIGNED_METHODS:
        raise InvalidInput(f"assigned_method must be one of {', '.join(ASSIGNED_METHODS)}",
                           field=f"{where}.assigned_method")
    if spec.sigma_method not in SIGMA_METHODS:
        raise InvalidInput(f"sigma_method must be one of {', '.join(SIGMA_METHODS)}", field=f"{where}.sigma_method")
    if spec.assigned_method == "reference":
        if spec.reference_value is None or not math.isfinite(spec.reference_value) or spec.reference_value < 0:
            raise InvalidInput("a reference assigned value needs reference_value >= 0",
                               field=f"{where}.reference_value")
        if spec.reference_u is None or not math.isfinite(spec.reference_u) or spec.reference_u < 0:
            raise InvalidInput("a reference assigned value needs its standard uncertainty reference_u >= 0",
                               field=f"{where}.reference_u")
    if spec.sigma_method == "ffp" and (spec.ffp_rsd is None or not (0 < spec.ffp_rsd < 1)):
        raise InvalidInput("fitness-for-purpose σ_pt needs ffp_rsd between 0 and 1 (e.g. 0.25)",
                           field=f"{where}.ffp_rsd")
    if spec.sigma_method == "horwitz" and not units.is_mass_fraction(spec.unit):
        raise InvalidInput(f"Horwitz σ_pt needs a mass-fraction unit ({', '.join(units.SPELLINGS)})",
                           field=f"{where}.unit")


def create_scheme(s: Session, *, code: str, name: str, provider_name: str, description: str = "") -> PtScheme:
    if code_exists(s, PtScheme, code):
        raise Conflict(f"PT scheme {code} already exists", field="code")
    scheme = PtScheme(code=code, name=name, provider_name=provider_name, description=description)
    s.add(scheme)
    s.flush()
    return scheme


def create_round(s: Session, *, scheme_code: str, code: str, title: str, deadline: dt.datetime,
                 analytes: Sequence[AnalyteSpec], matrix: str = "") -> PtRound:
    """A new round in status draft with its analytes (unit, MRRL, assigned-value and σ_pt choice)."""
    scheme = get_by_code(s, PtScheme, scheme_code, field="scheme_code", what="PT scheme")
    if not code.strip():
        raise InvalidInput("round code is missing", field="code")
    if code_exists(s, PtRound, code):
        raise Conflict(f"PT round {code} already exists", field="code")
    if deadline.tzinfo is None:
        raise InvalidInput("deadline needs a time zone (e.g. +08:00)", field="deadline")
    if not analytes:
        raise InvalidInput("a round needs at least one analyte", field="analytes")
    seen: set[str] = set()
    for i, spec in enumerate(analytes):
        _check_spec(spec, f"analytes[{i}]")
        if spec.code in seen:
            raise InvalidInput(f"analyte {spec.code} is listed twice", field=f"analytes[{i}].code")
        seen.add(spec.code)
    rnd = PtRound(scheme_id=scheme.id, code=code, title=title, matrix=matrix, deadline=as_utc(deadline),
                  status=RoundStatus.DRAFT)
    s.add(rnd)
    s.flush()
    for i, spec in enumerate(analytes):
        s.add(PtRoundAnalyte(round_id=rnd.id, position=i, **dataclasses.asdict(spec)))
    s.flush()
    s.refresh(rnd)
    return rnd


def get_round(s: Session, code: str) -> PtRound:
    return get_by_code(s, PtRound, code, field="round_code", what="PT round")


def round_analyte(rnd: PtRound, code: str, field: str = "analyte") -> PtRoundAnalyte:
    for a in rnd.analytes:
        if a.code == code:
            return a
    raise NotFound(f"analyte {code} is not in round {rnd.code}", field=field)


def require_status(rnd: PtRound, allowed: Sequence[str], action: str) -> None:
    if rnd.status not in allowed:
        raise Conflict(f"round {rnd.code} is {rnd.status}: cannot {action} (needs {' or '.join(allowed)})",
                       field="status")


def _round_in(s: Session, code: str, allowed: Sequence[str], action: str) -> PtRound:
    rnd = get_round(s, code)
    require_status(rnd, allowed, action)
    return rnd


def _stamped(rnd: PtRound, status: RoundStatus, stamp: str, now: dt.datetime | None) -> PtRound:
    """Move the round to ``status`` and record when in its ``stamp`` column (opened_at, closed_at, …)."""
    transition(rnd, status)
    setattr(rnd, stamp, now_utc(now))
    return rnd


def open_round(s: Session, code: str, *, now: dt.datetime | None = None) -> PtRound:
    rnd = _round_in(s, code, [RoundStatus.DRAFT], "open it")
    if as_utc(rnd.deadline) <= now_utc(now):
        raise Conflict(f"round {code}: the deadline {rnd.deadline.isoformat()} has already passed", field="deadline")
    return _stamped(rnd, RoundStatus.OPEN, "opened_at", now)


def close_round(s: Session, code: str, *, now: dt.datetime | None = None) -> PtRound:
    return _stamped(_round_in(s, code, [RoundStatus.OPEN], "close it"), RoundStatus.CLOSED, "closed_at", now)


def publish_round(s: Session, code: str, *, now: dt.datetime | None = None) -> PtRound:
    return _stamped(_round_in(s, code, [RoundStatus.SCORED], "publish it"), RoundStatus.PUBLISHED, "published_at",
                    now)


# ----------------------------------------------------------------------------------------------
# participants
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabEntry:
    lab_code: str
    lab_name: str
    contact: str = ""


def anonymous_codes(seed: int, start: int, count: int) -> list[str]:
    """Codes ``start .. start+count-1`` of the round's shuffled code space (reproducible from ``seed``)."""
    pool = list(CODE_SPACE)
    random.Random(seed).shuffle(pool)
    if start + count > len(pool):
        raise InvalidInput(f"at most {len(pool)} participants per round", field="participants")
    return [f"{CODE_PREFIX}{n}" for n in pool[start:start + count]]


def enrol_participants(s: Session, round_code: str, labs: Sequence[LabEntry], *,
                       seed: int | None = None) -> list[PtParticipant]:
    """Enrol labs under random anonymous codes. The round's seed is drawn once (or taken from
    ``seed``) and recorded, so the codes can be reproduced from the seed and the enrolment order."""
    rnd = get_round(s, round_code)
    require_status(rnd, [RoundStatus.DRAFT, RoundStatus.OPEN], "enrol participants")
    if rnd.code_seed is None:
        rnd.code_seed = seed if seed is not None else secrets.randbelow(2**31)
    elif seed is not None and seed != rnd.code_seed:
        raise Conflict(f"round {round_code} already uses code seed {rnd.code_seed}", field="seed")
    existing = s.execute(select(PtParticipant.lab_code).where(PtParticipant.round_id == rnd.id)).scalars().all()
    taken = set(existing)
    for i, lab in enumerate(labs):
        if not lab.lab_code.strip():
            raise InvalidInput("lab code is missing", field=f"labs[{i}].lab_code")
        if lab.lab_code in taken:
            raise Conflict(f"lab {lab.lab_code} is already enrolled in {round_code}", field=f"labs[{i}].lab_code")
        taken.add(lab.lab_code)
    codes = anonymous_codes(rnd.code_seed, len(existing), len(labs))
    out = [PtParticipant(round_id=rnd.id, code=c, lab_code=lab.lab_code, lab_name=lab.lab_name, contact=lab.contact)
           for c, lab in zip(codes, labs, strict=True)]
    s.add_all(out)
    s.flush()
    return out


def participants(s: Session, rnd: PtRound) -> list[PtParticipant]:
    return list(s.execute(select(PtParticipant).where(PtParticipant.round_id == rnd.id)
                          .order_by(PtParticipant.code)).scalars())


# ----------------------------------------------------------------------------------------------
# homogeneity and stability (ISO 13528:2022 Annex B)
# ----------------------------------------------------------------------------------------------

def _item(s: Session, rnd: PtRound, code: str) -> PtTestItem:
    item = find_by_code(s, PtTestItem, code, PtTestItem.round_id == rnd.id)
    if item is None:
        item = PtTestItem(round_id=rnd.id, code=code)
        s.add(item)
        s.flush()
    return item


def method_sigma(a: PtRoundAnalyte, level: float) -> float | None:
    """σ_pt of the analyte's fitness-for-purpose or Horwitz method at ``level``; None when σ_pt is the
    participants' robust SD (known only once the round is scored)."""
    if a.sigma_method == "ffp":
        return sigma.ffp_sigma(level, a.ffp_rsd or sigma.EU_PESTICIDE_FFP_RSD)
    if a.sigma_method == "horwitz":
        return units.from_mg_per_kg(sigma.horwitz_sigma_mg_kg(units.to_mg_per_kg(level, a.unit)), a.unit)
    return None


def _planning_sigma(a: PtRoundAnalyte, level: float, sigma_pt: float | None) -> float:
    """σ_pt for a check made before the round is scored: given, or from the σ_pt method at ``level``."""
    if sigma_pt is not None:
        if not (math.isfinite(sigma_pt) and sigma_pt > 0):
            raise InvalidInput(f"sigma_pt must be positive (got {sigma_pt!r})", field="sigma_pt")
        return sigma_pt
    fixed = method_sigma(a, level)
    if fixed is None:
        raise InvalidInput(f"analyte {a.code} takes σ_pt from the participants' robust SD: give sigma_pt "
                           "for the homogeneity/stability check", field="sigma_pt")
    return fixed


def as_json(obj: Any) -> dict[str, Any]:
    return {k: (bool(v) if isinstance(v, bool) else v) for k, v in dataclasses.asdict(obj).items()}


def record_homogeneity(s: Session, round_code: str, analyte_code: str, items: Sequence[Sequence[float]], *,
                       sigma_pt: float | None = None) -> HomogeneityResult:
    """Store a g × m homogeneity study (items H01…) and check it (B.2, B.3).

    σ_pt is the given one or follows the analyte's σ_pt method at the study's mean; the check is
    repeated with the round's final σ_pt when the round is scored."""
    from proficiency import homogeneity  # numpy: loaded with the first study, not with the web app

    rnd = get_round(s, round_code)
    require_status(rnd, [RoundStatus.DRAFT, RoundStatus.OPEN, RoundStatus.CLOSED], "record homogeneity data")
    a = round_analyte(rnd, analyte_code)
    try:
        level = sum(sum(r) for r in items) / sum(len(r) for r in items)
        result = homogeneity.homogeneity_check(items, _planning_sigma(a, level, sigma_pt))
    except ZeroDivisionError:
        raise InvalidInput("homogeneity: no measurements given", field="items") from None
    except ProficiencyError as exc:
        raise InvalidInput(str(exc), field="items") from None
    _delete_measurements(s, a, ("homogeneity",))
    for i, replicates in enumerate(items, start=1):
        item = _item(s, rnd, f"H{i:02d}")
        for j, value in enumerate(replicates, start=1):
            s.add(PtItemMeasurement(item_id=item.id, round_analyte_id=a.id, study="homogeneity",
                                    replicate=j, value=float(value)))
    a.homogeneity = as_json(result)
    s.flush()
    return result


def record_stability(s: Session, round_code: str, analyte_code: str, before: Sequence[float],
                     after: Sequence[float], *, sigma_pt: float | None = None) -> StabilityResult:
    """Store a stability study (items S01…, results before and after) and check it (B.5.1)."""
    from proficiency import homogeneity

    rnd = get_round(s, round_code)
    require_status(rnd, [RoundStatus.DRAFT, RoundStatus.OPEN, RoundStatus.CLOSED], "record stability data")
    a = round_analyte(rnd, analyte_code)
    try:
        level = sum(before) / len(before)
        result = homogeneity.stability_check(before, after, _planning_sigma(a, level, sigma_pt))
    except ZeroDivisionError:
        raise InvalidInput("stability: no results before storage", field="before") from None
    except ProficiencyError as exc:
        raise InvalidInput(str(exc), field="after" if "after" in str(exc) else "before") from None
    _delete_measurements(s, a, ("stability_before", "stability_after"))
    for study, values in (("stability_before", before), ("stability_after", after)):
        for i, value in enumerate(values, start=1):
            item = _item(s, rnd, f"S{i:02d}")
            s.add(PtItemMeasurement(item_id=item.id, round_analyte_id=a.id, study=study, replicate=1,
                                    value=float(value)))
    a.stability = as_json(result)
    s.flush()
    return result


def _delete_measurements(s: Session, a: PtRoundAnalyte, studies: Sequence[str]) -> None:
    """Replace a study: ORM deletes, so the audit trail keeps the earlier values."""
    for m in s.execute(select(PtItemMeasurement).where(PtItemMeasurement.round_analyte_id == a.id,
                                                       PtItemMeasurement.study.in_(studies))).scalars():
        s.delete(m)
    s.flush()


def measurements(s: Session, a: PtRoundAnalyte, study: str) -> dict[str, list[float]]:
    rows = s.execute(select(PtTestItem.code, PtItemMeasurement.value)
                     .join(PtTestItem, PtTestItem.id == PtItemMeasurement.item_id)
                     .where(PtItemMeasurement.round_analyte_id == a.id, PtItemMeasurement.study == study)
                     .order_by(PtTestItem.code, PtItemMeasurement.replicate)).all()
    out: dict[str, list[float]] = {}
    for code, value in rows:
        out.setdefault(code, []).append(value)
    return out


# ----------------------------------------------------------------------------------------------
# submissions
# ----------------------------------------------------------------------------------------------

def _accepting(rnd: PtRound, now: dt.datetime) -> None:
    if rnd.status != RoundStatus.OPEN:
        raise Conflict(f"round {rnd.code} is {rnd.status}: results are not accepted", field="round_code")
    if now > as_utc(rnd.deadline):
        raise Conflict(f"round {rnd.code}: the deadline {as_utc(rnd.deadline).isoformat()} has passed; "
                       "results are no longer accepted", field="deadline")


def submit_results(s: Session, round_code: str, rows: Sequence[SubmissionIn], *, channel: str = "api",
                   now: dt.datetime | None = None) -> list[PtSubmission]:
    """Accept results while the round is open and before its deadline. Every row is checked against
    the round (participant, analyte, unit, LOQ, duplicates); any problem refuses all rows.
    A participant may replace its own result until the deadline (the audit trail keeps the old one).

    A result in µg/kg for an analyte in mg/kg (or the reverse) is converted (1 mg/kg = 1000 µg/kg) and
    the values as submitted go into the audit trail as a ``convert_unit`` event of the submission in
    the same transaction (:func:`unit_conversions` reads them back); any other unit is refused."""
    rnd = get_round(s, round_code)
    when = now_utc(now)
    _accepting(rnd, when)
    if not rows:
        raise InvalidInput("no results given", field="results")
    by_code = {p.code: p for p in participants(s, rnd)}
    analytes = {a.code: a for a in rnd.analytes}
    converted, conversions = _checked_rows(round_code, rows, by_code, analytes)
    existing = {(sub.participant_id, sub.round_analyte_id): sub for sub in s.execute(
        select(PtSubmission).join(PtParticipant).where(PtParticipant.round_id == rnd.id)).scalars()}
    out: list[PtSubmission] = []
    for row in converted:
        p, a = by_code[row.participant_code], analytes[row.analyte]
        values = _submission_values(row, channel, when)
        sub = existing.get((p.id, a.id))
        if sub is None:
            sub = PtSubmission(participant_id=p.id, round_analyte_id=a.id, **values)
            s.add(sub)
        else:
            for k, v in values.items():
                setattr(sub, k, v)
        out.append(sub)
    s.flush()
    if conversions:
        append_events(s, [(CONVERT_UNIT, PtSubmission.__tablename__, str(out[i].id), c.audit_old(),
                           {**c.audit_new(), "submitted_at": as_utc(when).isoformat()})
                          for i, c in conversions.items()])
    return out


def _checked_rows(round_code: str, rows: Sequence[SubmissionIn], by_code: Mapping[str, PtParticipant],
                  analytes: Mapping[str, PtRoundAnalyte]) -> tuple[list[SubmissionIn], dict[int, UnitConversion]]:
    """The rows with their line numbers, converted to their analyte's unit, and the conversions by row
    index; SubmissionRejected lists every problem of every row."""
    problems: list[RowProblem] = []
    seen: dict[tuple[str, str], int | None] = {}
    converted: list[SubmissionIn] = []
    conversions: dict[int, UnitConversion] = {}
    for i, given in enumerate(rows, start=1):
        line = given.line if given.line is not None else i
        row = dataclasses.replace(given, line=line)
        if row.participant_code not in by_code:
            problems.append(RowProblem(line, "participant_code",
                                       f"{row.participant_code!r} is not a participant of {round_code}"))
        a = analytes.get(row.analyte)
        if a is None:
            problems.append(RowProblem(line, "analyte", f"{row.analyte!r} is not an analyte of {round_code}"))
        else:
            try:
                row, conversion = convert_row(row, a.unit)
            except SubmissionRejected as exc:
                problems.extend(exc.problems)
            else:
                if conversion is not None:
                    conversions[len(converted)] = conversion
        converted.append(row)
        problems += _value_problems(row, line)
        key = (row.participant_code, row.analyte)
        if key in seen:
            problems.append(RowProblem(line, "analyte", f"second result of {row.participant_code} for {row.analyte} "
                                       f"(first on line {seen[key]})"))
        seen[key] = line
    if problems:
        raise SubmissionRejected(problems, source="submission")
    return converted, conversions


def _value_problems(row: SubmissionIn, line: int) -> list[RowProblem]:
    """A result below its LOQ (report not detected instead), a coverage factor without its U."""
    problems: list[RowProblem] = []
    if row.result is not None and row.loq is not None and row.result < row.loq:
        problems.append(RowProblem(line, "result", f"{row.result:g} is below the LOQ {row.loq:g}: "
                                   "report it as not detected (empty result)"))
    if row.coverage_factor is not None and row.expanded_uncertainty is None:
        problems.append(RowProblem(line, "expanded_uncertainty", "a coverage factor needs its expanded uncertainty"))
    return problems


def _submission_values(row: SubmissionIn, channel: str, when: dt.datetime) -> dict[str, Any]:
    """Column values of a submission; k defaults to 2 when an expanded uncertainty is given."""
    k = row.coverage_factor if row.coverage_factor is not None else (2.0 if row.expanded_uncertainty is not None
                                                                     else None)
    return dict(result=row.result, unit=row.unit, method=row.method, loq=row.loq,
                expanded_uncertainty=row.expanded_uncertainty, coverage_factor=k,
                recovery_percent=row.recovery_percent, channel=channel, submitted_at=when)


def unit_conversions(s: Session, submissions: Sequence[PtSubmission]) -> dict[int, dict[str, Any]]:
    """Submission id → the values as submitted (``result``, ``unit``, ``loq``, ``expanded_uncertainty``)
    for those whose current values came from a unit conversion (the ``convert_unit`` audit event
    written with the same ``submitted_at``)."""
    if not submissions:
        return {}
    by_id = {str(sub.id): sub for sub in submissions}
    events = s.execute(select(AuditEvent.record_id, AuditEvent.old, AuditEvent.new)
                       .where(AuditEvent.table_name == PtSubmission.__tablename__,
                              AuditEvent.action == CONVERT_UNIT)
                       .order_by(AuditEvent.seq)).all()
    out: dict[int, dict[str, Any]] = {}
    for record_id, old, new in events:
        sub = by_id.get(record_id)
        stamp = json.loads(new).get("submitted_at")
        if sub is not None and stamp and dt.datetime.fromisoformat(stamp) == as_utc(sub.submitted_at):
            out[sub.id] = json.loads(old)
    return out


def upload_csv(s: Session, round_code: str, data: bytes | str, *, now: dt.datetime | None = None) -> list[PtSubmission]:
    """CSV upload: parse, check every row (line and field named), then write all or nothing."""
    rnd = get_round(s, round_code)
    _accepting(rnd, now_utc(now))
    return submit_results(s, round_code, parse_submission_csv(data), channel="csv", now=now)
