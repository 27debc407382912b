"""One instrument's console (the web UI's /instruments/{code}): its link state and fitness for use, the last
readings, the raw captures with their bytes shown as frames (control characters named, as a serial sniffer
shows them) and the readings decoded from each, parse errors, events, held readings and the unmatched
readings queue (lims.acquisition.unmatched) with the open screening analyses a reading may be assigned to.

Reads only; re-parse, assign, dismiss and release are the services of lims.acquisition."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from lims.acquisition.events import list_events
from lims.acquisition.holds import held_readings
from lims.acquisition.unmatched import unmatched_readings
from lims.db.models import Analysis, Instrument, RawCapture, Reading, Result, Sample
from lims.quality import instruments as inst_register
from lims.services.lookup import find_by_code
from lims.services.views.common import iso
from lims.services.views.instruments import instrument_row
from lims.vocabulary import AnalysisKind, AnalysisStatus, ParseStatus, ResultStatus

#: Names of the control bytes of ASTM E1381 and the ASCII line protocols (ENQ … EOT, STX … ETX/ETB).
CONTROL_NAMES = {0x02: "<STX>", 0x03: "<ETX>", 0x04: "<EOT>", 0x05: "<ENQ>", 0x06: "<ACK>", 0x0D: "<CR>",
                 0x0A: "<LF>", 0x15: "<NAK>", 0x17: "<ETB>", 0x1C: "<FS>", 0x1D: "<GS>", 0x1E: "<RS>",
                 0x09: "<TAB>", 0x00: "<NUL>"}
#: A frame ends after these bytes (a line feed, or the end of an E1381 frame, ENQ/EOT/ACK/NAK on their own).
FRAME_ENDS = (0x0A, 0x04, 0x05, 0x06, 0x15)
#: Bytes shown of a capture (its full length and SHA-256 are shown beside).
SHOWN_BYTES = 16_384
READINGS_SHOWN = 20
CAPTURES_SHOWN = 20


def _printable(byte: int) -> str:
    if byte in CONTROL_NAMES:
        return CONTROL_NAMES[byte]
    if 0x20 <= byte < 0x7F:
        return chr(byte)
    return f"<{byte:02X}>"


def is_text(data: bytes) -> bool:
    """Does the capture look like a text protocol (mostly printable ASCII and protocol control bytes)?"""
    if not data:
        return True
    texty = sum(1 for b in data if 0x20 <= b < 0x7F or b in CONTROL_NAMES)
    return texty / len(data) >= 0.9


def frames_of(data: bytes) -> list[str]:
    """The bytes split into frames (after each LF, ENQ, EOT, ACK, NAK), control bytes named: what the
    instrument sent, readable, never altered. Binary captures (Modbus registers, vendor frames) are shown
    as hex, 16 bytes a line."""
    if not is_text(data):
        return [f"{i:04x}  " + " ".join(f"{b:02X}" for b in data[i:i + 16]) for i in range(0, len(data), 16)]
    frames, current = [], []
    for b in data:
        current.append(_printable(b))
        if b in FRAME_ENDS:
            frames.append("".join(current))
            current = []
    if current:
        frames.append("".join(current))
    return frames


def _reading_row(r: Reading) -> dict[str, Any]:
    return {"id": r.id, "record_type": r.record_type, "channel": r.channel, "sample_code": r.sample_code,
            "run_no": r.run_no, "value_state": r.value_state, "review_hold": r.review_hold,
            "read_at": iso(r.read_at), "fields": dict(r.fields or {}), "units": dict(r.units or {}),
            "raw_capture_id": r.raw_capture_id}


def _capture_row(c: RawCapture) -> dict[str, Any]:
    return {"id": c.id, "received_at": iso(c.received_at), "source": c.source, "profile": c.profile,
            "length": len(c.data), "sha256": c.sha256, "parse_status": c.parse_status, "error": c.error,
            "preview": "".join(_printable(b) for b in c.data[:120])}


def last_readings(s: Session, instrument_id: int, limit: int = READINGS_SHOWN) -> list[dict[str, Any]]:
    """The instrument's newest readings with the result each made (if any)."""
    rows = s.execute(select(Reading, Result.id, Result.status).outerjoin(Result, Result.reading_id == Reading.id)
                     .where(Reading.instrument_id == instrument_id).order_by(Reading.id.desc()).limit(limit)).all()
    return [{**_reading_row(r), "result_id": rid, "result_status": rst} for r, rid, rst in rows]


def open_analyses(s: Session, limit: int = 200) -> list[dict[str, Any]]:
    """Analyses a reading may be assigned to: pending or in analysis, without a current result — screening
    ones for rapid testers' readings, confirmatory ones for an analyzer's ASTM results (the assignment
    service refuses a reading of the other kind with its reason)."""
    current = exists(select(Result.id).where(Result.analysis_id == Analysis.id,
                                             Result.status != ResultStatus.SUPERSEDED.value,
                                             Result.status != ResultStatus.REJECTED.value))
    rows = s.execute(select(Analysis).join(Sample, Sample.id == Analysis.sample_id)
                     .where(Analysis.kind.in_([AnalysisKind.SCREENING.value, AnalysisKind.CONFIRMATORY.value]),
                            Analysis.status.in_([AnalysisStatus.PENDING.value, AnalysisStatus.IN_ANALYSIS.value]),
                            ~current).order_by(Sample.code, Analysis.kind.desc(), Analysis.id).limit(limit)).scalars().all()
    return [{"id": a.id, "sample_code": a.sample.code, "analyte": a.analyte.name_zh, "analyte_en": a.analyte.name_en,
             "method": a.method.code, "kind": a.kind} for a in rows]


def capture_page(s: Session, instrument_id: int, status: str | None, offset: int) -> dict[str, Any]:
    q = select(RawCapture).where(RawCapture.instrument_id == instrument_id)
    if status:
        q = q.where(RawCapture.parse_status == status)
    total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    caps = s.execute(q.order_by(RawCapture.id.desc()).limit(CAPTURES_SHOWN).offset(offset)).scalars().all()
    counts = dict(s.execute(select(RawCapture.parse_status, func.count()).where(
        RawCapture.instrument_id == instrument_id).group_by(RawCapture.parse_status)).all())
    return {"rows": [_capture_row(c) for c in caps], "total": int(total),
            "counts": {st.value: int(counts.get(st.value, 0)) for st in ParseStatus}}


def instrument_console(s: Session, code: str, *, capture_status: str | None = None,
                       capture_offset: int = 0) -> dict[str, Any] | None:
    """Everything the console shows of instrument ``code``; None when there is no such instrument."""
    inst = find_by_code(s, Instrument, code)
    if inst is None:
        return None
    fit = inst_register.fitness(s, inst.id)
    return {"instrument": {**instrument_row(inst), "silent_since": iso(inst.silent_since),
                           "expected_interval_s": inst.expected_interval_s},
            "fitness": {"state": fit.fitness, "calibration_due": fit.calibration_due.isoformat()
                        if fit.calibration_due else None, "reason": fit.reason, "may_feed": fit.may_feed},
            "readings": last_readings(s, inst.id), "captures": capture_page(s, inst.id, capture_status, capture_offset),
            "unmatched": unmatched_readings(s, code, limit=50), "held": held_readings(s, code, limit=50),
            "events": list_events(s, code, limit=20)}


def capture_detail(s: Session, code: str, capture_id: int) -> dict[str, Any] | None:
    """One raw capture of instrument ``code``: its bytes as frames, its parse status and error, and the
    readings decoded from it; None when there is no such capture of that instrument."""
    inst = find_by_code(s, Instrument, code)
    cap = s.get(RawCapture, capture_id) if inst is not None else None
    if inst is None or cap is None or cap.instrument_id != inst.id:
        return None
    readings = s.execute(select(Reading).where(Reading.raw_capture_id == cap.id).order_by(Reading.id)).scalars().all()
    shown = cap.data[:SHOWN_BYTES]
    return {"instrument": instrument_row(inst), "capture": {**_capture_row(cap), "stream_offset": cap.stream_offset,
                                                            "unit_sha256": cap.unit_sha256},
            "text": is_text(shown), "frames": frames_of(shown), "truncated": len(cap.data) > SHOWN_BYTES,
            "readings": [_reading_row(r) for r in readings]}
