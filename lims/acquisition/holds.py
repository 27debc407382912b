"""Readings held for review (``Reading.review_hold``: a run that came incomplete, a download with a sequence
gap): listed per instrument, and released by a person with a reason (audited: readings are not echoed into
the audit trail by themselves, :mod:`lims.acquisition`, so the release appends its own event). A released
reading is then turned into results like any other."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from lims.db.audit import append_events
from lims.db.models import Instrument, Reading
from lims.services.errors import Conflict, InvalidInput, NotFound


class HeldReading(TypedDict):
    id: int
    record_type: str
    channel: int | None
    sample_code: str | None
    run_no: str
    value_state: str
    review_hold: str
    read_at: str | None


class HeldList(TypedDict):
    instrument: str
    total: int
    readings: list[HeldReading]


class Released(TypedDict):
    instrument: str
    reading_id: int
    was_held_for: str


def _instrument_id(s: Session, code: str) -> int:
    inst_id = s.execute(select(Instrument.id).where(Instrument.code == code)).scalar_one_or_none()
    if inst_id is None:
        raise NotFound(f"instrument {code} not found", field="code")
    return int(inst_id)


def held_readings(s: Session, code: str, *, limit: int = 50, offset: int = 0) -> HeldList:
    """The instrument's readings held for review, newest first."""
    q = select(Reading).where(Reading.instrument_id == _instrument_id(s, code), Reading.review_hold != "")
    total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = s.execute(q.order_by(Reading.id.desc()).limit(limit).offset(offset)).scalars().all()
    return {"instrument": code, "total": total, "readings": [
        {"id": r.id, "record_type": r.record_type, "channel": r.channel, "sample_code": r.sample_code,
         "run_no": r.run_no, "value_state": r.value_state, "review_hold": r.review_hold,
         "read_at": r.read_at.isoformat() if r.read_at else None} for r in rows]}


def release_hold(s: Session, code: str, reading_id: int, reason: str) -> Released:
    """Lift the hold of one reading of instrument ``code`` (``reason`` required; audited)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required to release a held reading", field="reason")
    reading = s.get(Reading, reading_id)
    if reading is None or reading.instrument_id != _instrument_id(s, code):
        raise NotFound(f"reading {reading_id} of instrument {code} not found", field="reading_id")
    if not reading.review_hold:
        raise Conflict(f"reading {reading_id} is not held for review", field="reading_id")
    held_for = reading.review_hold
    reading.review_hold = ""
    s.flush()
    append_events(s, [("update", "reading", str(reading_id), {"review_hold": held_for},
                       {"review_hold": "", "release_reason": reason[:500]})])
    return {"instrument": code, "reading_id": reading_id, "was_held_for": held_for}
