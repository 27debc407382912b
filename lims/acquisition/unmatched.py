"""Unmatched readings (issue 13): readings that should have become a result and did not, kept in a queue
until a person assigns each to a sample's analysis or dismisses it with a reason (both audited through the
``reading_disposition`` row the action writes; readings themselves are not echoed into the audit trail).

A reading is **unmatched** when all of these hold:

- its record type bears a result (:data:`RESULT_RECORD_TYPES`): an enzyme tester's sample channel (``CH``,
  channel ≠ 0 — channel 0 is the run's control), a colloidal-gold strip (``GR``), an ASTM result record
  (``R``); a Modbus photometer's result (``result``);
- no result names it (``Result.reading_id``) — its sample ID is unknown, its sample has no open analysis of
  the right kind, or that analysis already had a current result (lims.services.results_guard);
- it is not held for review (``review_hold`` empty: held readings have their own list, lims.acquisition.holds);
- no disposition row exists for it (not assigned, not dismissed).

Assigning makes the result through the screening path (:class:`lims.services.screening.ScreenBatch`: same
versioning, attribution check, second-result refusal, workflow transitions and confirmation request of a
positive) for rapid testers, through :func:`lims.services.attach.astm_result` (judged against its limit) for a
data system's R record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from calibration.rapid import ScreenCall, delta_absorbance, enzyme_inhibition
from lims.db.models import Analysis, Instrument, Reading, ReadingDisposition, Result
from lims.services.attach import astm_result, gold_result, photometer_result
from lims.services.batches import latest_result_versions
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.results_guard import refuse_second_result
from lims.services.screening import ENZYME_DECISION_RULE, ReadingsOutcome, ScreenBatch, screen_text

#: Record types that become results when their sample has an open analysis (``result``: a Modbus
#: photometer's register block, lims.acquisition.dialects.modbus).
RESULT_RECORD_TYPES = ("CH", "GR", "R", "result")


class UnmatchedReading(TypedDict):
    id: int
    instrument: str
    record_type: str
    channel: int | None
    sample_code: str | None
    run_no: str
    value_state: str
    read_at: str | None
    fields: dict[str, Any]


class UnmatchedList(TypedDict):
    instrument: str | None
    total: int
    readings: list[UnmatchedReading]


class Disposed(TypedDict):
    reading_id: int
    action: str
    analysis_id: int | None
    result_id: int | None
    reason: str


def unmatched_clause() -> Any:
    """WHERE clause on :class:`Reading`: the reading is unmatched (module docstring)."""
    return and_(
        Reading.record_type.in_(RESULT_RECORD_TYPES),
        or_(Reading.record_type != "CH", Reading.channel.is_(None), Reading.channel != 0),
        Reading.review_hold == "",
        ~exists(select(Result.id).where(Result.reading_id == Reading.id)),
        ~exists(select(ReadingDisposition.id).where(ReadingDisposition.reading_id == Reading.id)))


def unmatched_readings(s: Session, code: str | None = None, *, limit: int = 50, offset: int = 0) -> UnmatchedList:
    """The unmatched readings (of instrument ``code``, or of all), newest first, with their total."""
    q = select(Reading, Instrument.code).join(Instrument, Instrument.id == Reading.instrument_id).where(
        unmatched_clause())
    if code is not None:
        inst_id = s.execute(select(Instrument.id).where(Instrument.code == code)).scalar_one_or_none()
        if inst_id is None:
            raise NotFound(f"instrument {code} not found", field="code")
        q = q.where(Reading.instrument_id == inst_id)
    total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = s.execute(q.order_by(Reading.id.desc()).limit(limit).offset(offset)).all()
    return {"instrument": code, "total": int(total), "readings": [
        {"id": r.id, "instrument": inst, "record_type": r.record_type, "channel": r.channel,
         "sample_code": r.sample_code, "run_no": r.run_no, "value_state": r.value_state,
         "read_at": r.read_at.isoformat() if r.read_at else None, "fields": dict(r.fields or {})}
        for r, inst in rows]}


def unmatched_counts(s: Session) -> dict[int, int]:
    """{instrument id: number of unmatched readings} (the instruments page)."""
    rows = s.execute(select(Reading.instrument_id, func.count()).where(unmatched_clause())
                     .group_by(Reading.instrument_id)).all()
    return {int(i): int(n) for i, n in rows}


def _queued(s: Session, reading_id: int) -> Reading:
    """The reading if it is in the queue; else a typed refusal saying why not."""
    reading = s.get(Reading, reading_id)
    if reading is None:
        raise NotFound(f"reading {reading_id} not found", field="reading_id", code="reading.not_found")
    if reading.review_hold:
        raise Conflict(f"reading {reading_id} is held for review ({reading.review_hold}); release it first",
                       field="reading_id", code="reading.held")
    done = s.execute(select(ReadingDisposition).where(ReadingDisposition.reading_id == reading_id)).scalar_one_or_none()
    if done is not None:
        raise Conflict(f"reading {reading_id} was already {done.action}", field="reading_id",
                       code="reading.already_disposed")
    if s.execute(select(Result.id).where(Result.reading_id == reading_id).limit(1)).first() is not None:
        raise Conflict(f"reading {reading_id} already gave a result", field="reading_id",
                       code="reading.already_disposed")
    if s.execute(select(Reading.id).where(Reading.id == reading_id, unmatched_clause())).first() is None:
        raise Conflict(f"reading {reading_id} ({reading.record_type}) bears no result", field="reading_id",
                       code="reading.not_unmatched")
    return reading


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required", field="reason", code="reading.reason_required")
    return reason[:500]


def dismiss_reading(s: Session, reading_id: int, reason: str) -> Disposed:
    """Take an unmatched reading out of the queue with a reason (audited by the disposition row)."""
    reason = _reason(reason)
    _queued(s, reading_id)
    s.add(ReadingDisposition(reading_id=reading_id, action="dismissed", reason=reason,
                             by=str(s.info.get("actor") or "system")))
    s.flush()
    return {"reading_id": reading_id, "action": "dismissed", "analysis_id": None, "result_id": None,
            "reason": reason}


def _control(s: Session, reading: Reading) -> Reading:
    control = s.execute(select(Reading).where(
        Reading.instrument_id == reading.instrument_id, Reading.run_no == reading.run_no,
        Reading.record_type == "CH", Reading.channel == 0, Reading.id < reading.id).order_by(Reading.id.desc())
    ).scalars().first()
    if control is None or control.review_hold or control.value_state != "ok":
        raise Conflict(f"reading {reading.id}: run {reading.run_no} has no valid control channel",
                       field="reading_id", code="reading.no_control")
    return control


def _open_analysis(s: Session, analysis_id: int, kind: str) -> Analysis:
    """The analysis a reading is assigned to: it exists, has no standing result and is an open analysis of
    ``kind`` (screening for rapid testers, confirmatory for a data system's R records)."""
    analysis = s.get(Analysis, analysis_id)
    if analysis is None:
        raise NotFound(f"analysis {analysis_id} not found", field="analysis_id", code="reading.analysis_not_found")
    refuse_second_result(s, [analysis_id])  # result.already_current (409), before the status check
    if analysis.kind != kind or analysis.status not in ("pending", "in_analysis"):
        raise Conflict(f"analysis {analysis_id} is not an open {kind} analysis ({analysis.kind}, "
                       f"{analysis.status})", field="analysis_id", code="reading.analysis_not_open")
    return analysis


def _enzyme(s: Session, batch: ScreenBatch, analysis: Analysis, reading: Reading, analyst_id: int | None,
            note: dict[str, Any]) -> Result | None:
    control = _control(s, reading)
    call = enzyme_inhibition(delta_absorbance(float(control.fields["a0"]), float(control.fields["a3"])),
                             delta_absorbance(float(reading.fields["a0"]), float(reading.fields["a3"])))
    return batch.add(analysis, call.call, unit="%", inhibition_percent=call.inhibition_percent,
                     value=call.inhibition_percent if call.call != ScreenCall.INVALID else None,
                     value_text=screen_text(call.call, call.inhibition_percent), reading_id=reading.id,
                     analyst_id=analyst_id, decision_rule=ENZYME_DECISION_RULE, details=note)


def _screening_result(s: Session, analysis_id: int, reading: Reading, analyst_id: int | None,
                      note: dict[str, Any]) -> Result | None:
    """A rapid tester's reading (enzyme channel, photometer, colloidal-gold strip) → a screening result
    through :class:`ScreenBatch` (same versioning, attribution check, confirmation request of a positive)."""
    analysis = _open_analysis(s, analysis_id, "screening")
    batch = ScreenBatch(s, [analysis])
    out = ReadingsOutcome()
    if reading.record_type == "CH":
        result = _enzyme(s, batch, analysis, reading, analyst_id, note)
    elif reading.record_type == "GR":
        result = gold_result(batch, analysis, reading, out, analyst_id=analyst_id, details=note)
    else:
        result = photometer_result(batch, analysis, reading, analyst_id=analyst_id, details=note)
    if result is not None:
        batch.settle(out)
    return result


def assign_reading(s: Session, reading_id: int, analysis_id: int, reason: str, *,
                   analyst_id: int | None = None) -> Disposed:
    """Make the result of an unmatched reading in ``analysis_id`` (audited by the disposition row):

    - an enzyme-tester channel (``CH``), a colloidal-gold strip (``GR``) or a Modbus photometer result
      (``result``) in an open screening analysis, through :class:`ScreenBatch`;
    - an ASTM result record (``R``) in an open confirmatory analysis, judged against its limit
      (:func:`lims.services.attach.astm_result`); a test code other than the analysis's analyte is kept in
      the result's details (the person's decision, with the reason).

    :class:`Conflict` ``reading.held`` for a reading without a usable value, ``reading.no_value`` when the
    reading lacks what its result needs (T/C, inhibition %, a number or ND in a mass-fraction unit)."""
    reason = _reason(reason)
    reading = _queued(s, reading_id)
    if reading.value_state != "ok":
        raise Conflict(f"reading {reading_id} has no usable value ({reading.value_state})", field="reading_id",
                       code="reading.held")
    note: dict[str, Any] = {"assigned": {"reading_sample_code": reading.sample_code, "reason": reason}}
    out = ReadingsOutcome()
    if reading.record_type == "R":
        analysis = _open_analysis(s, analysis_id, "confirmatory")
        note["assigned"]["reading_test_code"] = reading.fields.get("test_code")
        result = astm_result(s, analysis, reading, out, versions=latest_result_versions(s, [analysis_id]),
                             analyst_id=analyst_id, details=note)
    else:
        result = _screening_result(s, analysis_id, reading, analyst_id, note)
    if result is None:
        why = "; ".join(out.problems) or "the reading lacks the values its result needs"
        raise Conflict(f"reading {reading_id}: {why}", field="reading_id", code="reading.no_value")
    s.add(ReadingDisposition(reading_id=reading_id, action="assigned", analysis_id=analysis_id, reason=reason,
                             by=str(s.info.get("actor") or "system")))
    s.flush()
    return {"reading_id": reading_id, "action": "assigned", "analysis_id": analysis_id, "result_id": result.id,
            "reason": reason}
