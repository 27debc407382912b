"""Acquisition for ASCII-line instruments: raw bytes are committed before anything is parsed.

For every line the framer cuts from the stream, a :class:`RawCapture` row is committed first; the
line is then parsed against the instrument's profile into a :class:`Reading`. A line that fails to
parse stays as a capture with ``parse_status = 'error'`` and its typed error (byte offset included),
and can be parsed again after a profile fix (:func:`reparse_captures`).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from drivers.codecs.line import LineFramer, LineRecord, parse_line
from drivers.errors import ProtocolError
from drivers.profiles import Profile, load_profile
from lims.db.engine import session_scope
from lims.db.models import Instrument, RawCapture, Reading, utcnow


@dataclass
class AcquisitionStats:
    captures: int = 0
    readings: int = 0
    errors: int = 0
    reading_ids: list[int] = field(default_factory=list)
    error_messages: list[str] = field(default_factory=list)
    record_types: Counter[str] = field(default_factory=Counter)


class LineAcquisition:
    """Feeds bytes from one instrument into the database (raw first, then parsed)."""

    def __init__(self, factory: sessionmaker[Session], instrument_code: str, profile: Profile | str) -> None:
        self.factory = factory
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self.framer = LineFramer(self.profile)
        self.actor = f"instrument:{instrument_code}"
        with session_scope(factory, actor=self.actor) as s:
            inst = s.execute(select(Instrument).where(Instrument.code == instrument_code)).scalar_one()
            self.instrument_id = inst.id
        self.stats = AcquisitionStats()

    def feed(self, data: bytes) -> None:
        self._store(self.framer.feed(data))

    def close(self) -> None:
        self._store(self.framer.flush())

    def _store(self, lines: list) -> None:  # type: ignore[type-arg]
        if not lines:
            return
        # 1. raw bytes, durably, before parsing
        with session_scope(self.factory, actor=self.actor) as s:
            captures = [RawCapture(instrument_id=self.instrument_id, stream_offset=ln.offset, data=ln.raw,
                                   sha256=hashlib.sha256(ln.raw).hexdigest(), profile=self.profile.name)
                        for ln in lines]
            s.add_all(captures)
            s.flush()
            ids = [c.id for c in captures]
        self.stats.captures += len(ids)
        # 2. parse
        with session_scope(self.factory, actor=self.actor) as s:
            inst = s.get(Instrument, self.instrument_id)
            assert inst is not None
            errors_before = self.stats.errors
            for cap_id in ids:
                cap = s.get(RawCapture, cap_id)
                assert cap is not None
                self._parse_capture(s, cap)
            inst.connected = True
            inst.last_message_at = utcnow()
            inst.message_count += len(ids)
            inst.error_count += self.stats.errors - errors_before

    def _parse_capture(self, s: Session, cap: RawCapture) -> Reading | None:
        reading = parse_capture(s, cap, self.profile)
        if reading is None:
            self.stats.errors += 1
            self.stats.error_messages.append(cap.error)
        else:
            self.stats.readings += 1
            self.stats.reading_ids.append(reading.id)
            self.stats.record_types[reading.record_type] += 1
        return reading


def parse_capture(s: Session, cap: RawCapture, profile: Profile) -> Reading | None:
    """Parse one capture; on error keep the capture with its error and return None."""
    try:
        record: LineRecord = parse_line(profile, cap.data, offset=cap.stream_offset)
    except ProtocolError as exc:
        cap.parse_status = "error"
        cap.error = f"{type(exc).__name__}: {exc}"
        return None
    cap.parse_status = "parsed"
    cap.error = ""
    run = record.fields.get("run_no", "")
    reading = Reading(raw_capture_id=cap.id, instrument_id=cap.instrument_id, record_type=record.record_type,
                      channel=record.channel, sample_code=record.sample_id, run_no=str(run),
                      fields={k: v for k, v in record.fields.items()}, read_at=cap.received_at or utcnow())
    s.add(reading)
    s.flush()
    return reading


def reparse_captures(factory: sessionmaker[Session], profile: Profile, *, actor: str,
                     instrument_id: int | None = None) -> AcquisitionStats:
    """Parse again every capture in error (after a profile fix); successes become readings."""
    stats = AcquisitionStats()
    with session_scope(factory, actor=actor, reason=f"re-parse with profile {profile.name}") as s:
        q = select(RawCapture).where(RawCapture.parse_status == "error")
        if instrument_id is not None:
            q = q.where(RawCapture.instrument_id == instrument_id)
        for cap in s.execute(q.order_by(RawCapture.id)).scalars():
            reading = parse_capture(s, cap, profile)
            if reading is None:
                stats.errors += 1
            else:
                stats.readings += 1
                stats.reading_ids.append(reading.id)
    return stats


def read_serial_until(port, acquisition: LineAcquisition, *, end_record: str | None, runs: int = 1,  # type: ignore[no-untyped-def]
                      idle_timeout_s: float = 3.0) -> None:
    """Read a serial port into ``acquisition`` until ``runs`` end records were stored or the line is idle."""
    last = time.monotonic()
    while True:
        chunk = port.read(4096)
        if chunk:
            last = time.monotonic()
            acquisition.feed(chunk)
            if end_record and acquisition.stats.record_types[end_record] >= runs:
                break
        elif time.monotonic() - last > idle_timeout_s:
            break
    acquisition.close()
