"""Acquisition for ASCII-line instruments: raw bytes are committed before anything is parsed.

For every line the framer cuts from the stream, a :class:`RawCapture` row is committed first; the
line is then parsed against the instrument's profile into a :class:`Reading`. A line that fails to
parse stays as a capture with ``parse_status = 'error'`` and its typed error (byte offset included),
and can be parsed again after a profile fix (:func:`reparse_captures`).

The parse functions of the other dialects live here too, so that live acquisition (:mod:`lims.acquisition`)
and re-parsing share one code path: :func:`parse_astm_message` (the frames of one E1381 session → one
reading per E1394 R record), :func:`parse_binary_capture` (a GET_RESULT reply → one reading per channel),
:func:`parse_modbus_capture` (a register block → one reading), :func:`parse_file_capture` (an export file →
one reading per peak or trace), and :func:`reparse_instrument` dispatches on the instrument's profile.

Capture ``parse_status``: ``pending`` (stored, not parsed yet), ``parsed``, ``error`` (content did not
parse; kept with its typed error, re-parseable), ``rejected`` (damaged in transmission and asked again:
an ASTM frame that was NAKed, a binary exchange without a valid reply), ``incomplete`` (part of a unit cut
by a disconnect or reboot; the unit is sent again), ``duplicate`` (a unit received again — after a lost
ACK, a resend or a restart — whose readings already exist).
"""

from __future__ import annotations

import csv
import hashlib
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from drivers.codecs.astm.frames import Frame, parse_frame
from drivers.codecs.astm.records import Delimiters, Record, results_from_records, sender_of
from drivers.codecs.binary import BinaryFrame, BinaryFramer, decode_payload
from drivers.codecs.line import LineFramer, LineRecord, parse_line
from drivers.codecs.modbus_map import decode_block
from drivers.errors import DriverError, ProtocolError
from drivers.files import ChromatogramFileError, read_chromatogram_file
from drivers.profiles import Profile, load_profile
from lims.db.audit import append_events
from lims.db.engine import session_scope
from lims.db.models import Instrument, RawCapture, Reading, utcnow

#: ``RawCapture.profile`` of export files imported from a watch folder.
FILE_PROFILE = "export_file"


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


# --------------------------------------------------------------------------- other dialects


class ParseFailure(DriverError):
    """A unit (message, reply, register block, file) whose content does not give readings."""


def _fail(cap: RawCapture, exc: BaseException, status: str = "error") -> None:
    cap.parse_status = status
    cap.error = f"{type(exc).__name__}: {exc}"


def astm_message_records(frames: Sequence[bytes], *, encoding: str = "latin-1") -> list[Record]:
    """E1394 records of one session from its accepted frames (ETB frames continue a record)."""
    text = bytearray()
    offset = 0
    for raw in frames:
        frame = parse_frame(raw, offset=offset)
        text += frame.text
        offset += len(raw)
    delimiters = Delimiters()
    out = []
    for line in bytes(text).decode(encoding).split("\r"):
        if not line:
            continue
        if line[0] == "H":
            delimiters = Delimiters.from_header(line)
        out.append(Record(tuple(line.split(delimiters.field)), delimiters))
    return out


def astm_unit_sha256(records: Sequence[Record]) -> str:
    """Identity of a message for de-duplication: every record except H (whose H.14 date-time a data system
    may stamp anew when it sends the message again)."""
    body = "\r".join(r.delimiters.field.join(r.fields) for r in records if r.type != "H")
    return hashlib.sha256(body.encode("utf-8", "surrogateescape")).hexdigest()


def astm_reading_values(records: Sequence[Record]) -> list[dict[str, Any]]:
    """The reading columns (``record_type``, ``channel``, ``sample_code``, ``run_no``, ``fields``) of one
    E1394 message: one per R record, with the C records that follow it as ``comments``. Pure; raises
    :class:`ProtocolError` for a message without the records a result needs."""
    results = results_from_records(records)
    sender = sender_of(records)
    comments: dict[int, list[str]] = {}
    r_index = -1
    for rec in records:
        if rec.type == "R":
            r_index += 1
        elif rec.type == "C" and r_index >= 0:
            comments.setdefault(r_index, []).append(rec.value(4))
    out = []
    for i, r in enumerate(results):
        fields: dict[str, Any] = {"test_code": r.test_code, "value": r.value, "units": r.units, "flags": r.flags,
                                  "status": r.status, "completed_at": r.completed_at, "instrument": r.instrument,
                                  "sender": sender, "sequence": r.sequence}
        if i in comments:
            fields["comments"] = comments[i]
        out.append({"record_type": "R", "channel": None, "sample_code": r.sample_id, "run_no": r.sequence,
                    "fields": fields})
    return out


def parse_astm_message(s: Session, caps: Sequence[RawCapture], *, encoding: str = "latin-1") -> list[Reading]:
    """One reading per R record of the session whose frames are ``caps`` (in order), each linked to the
    capture of the session's last frame. Raises :class:`ProtocolError` (captures marked)."""
    try:
        values = astm_reading_values(astm_message_records([c.data for c in caps], encoding=encoding))
    except ProtocolError as exc:
        for c in caps:
            _fail(c, exc)
        raise
    last = caps[-1]
    readings = [Reading(raw_capture_id=last.id, instrument_id=last.instrument_id,
                        read_at=last.received_at or utcnow(), **v) for v in values]
    s.add_all(readings)
    for c in caps:
        c.parse_status, c.error = "parsed", ""
    s.flush()
    return readings


def binary_reply(profile: Profile, data: bytes) -> BinaryFrame:
    """The last CRC-valid frame in an exchange's received bytes; :class:`ParseFailure` if none."""
    frames = [f for f in BinaryFramer(profile).feed(data) if isinstance(f, BinaryFrame)]
    if not frames:
        raise ParseFailure(f"no CRC-valid frame in {len(data)} received bytes")
    return frames[-1]


def parse_binary_capture(s: Session, cap: RawCapture, profile: Profile) -> list[Reading]:
    """Readings of a GET_RESULT-style reply: one per channel record (``channels`` group), or one for a
    flat reply. The capture keeps every byte received for the request."""
    try:
        message = decode_payload(profile, binary_reply(profile, cap.data))
        if message.command == "ERROR":
            raise ParseFailure(f"device answered an error reply {message.fields}")
    except DriverError as exc:
        _fail(cap, exc)
        return []
    flat = {k: v for k, v in message.fields.items() if not isinstance(v, list)}
    run_no = str(flat.get("run_no", ""))
    groups = [v for v in message.fields.values() if isinstance(v, list)]
    rows = groups[0] if groups else [{}]
    readings = []
    for row in rows:
        fields = {**flat, **row}
        reading = Reading(raw_capture_id=cap.id, instrument_id=cap.instrument_id, record_type=message.command,
                          channel=row.get("channel"), sample_code=None, run_no=run_no, fields=fields,
                          read_at=cap.received_at or utcnow())
        s.add(reading)
        readings.append(reading)
    cap.parse_status, cap.error = "parsed", ""
    s.flush()
    return readings


def registers_to_bytes(registers: Sequence[int]) -> bytes:
    """Register values as the bytes on the wire (big-endian inside a register, Modbus §4.2)."""
    return struct.pack(f">{len(registers)}H", *registers)


def parse_modbus_capture(s: Session, cap: RawCapture, profile: Profile) -> list[Reading]:
    """One reading from a register block; ``cap.source`` is ``"<table>:<start>"`` (e.g. ``input:0``)."""
    try:
        table, _, start = cap.source.partition(":")
        if len(cap.data) % 2:
            raise ParseFailure(f"register block of {len(cap.data)} bytes is not whole registers")
        regs = list(struct.unpack(f">{len(cap.data) // 2}H", cap.data))
        values = decode_block(profile, table, int(start or 0), regs)
    except (DriverError, ValueError) as exc:
        _fail(cap, exc)
        return []
    fields: dict[str, Any] = {}
    sample = None
    for name, rv in values.items():
        fields[name] = rv.value
        if name in ("result_sample_id", "sample_id") and isinstance(rv.value, str):
            sample = rv.value or sample
    counter = fields.get("result_counter")
    reading = Reading(raw_capture_id=cap.id, instrument_id=cap.instrument_id, record_type="result",
                      channel=None, sample_code=sample, run_no="" if counter is None else str(counter),
                      fields=fields, read_at=cap.received_at or utcnow())
    s.add(reading)
    cap.parse_status, cap.error = "parsed", ""
    s.flush()
    return [reading]


def parse_file_capture(s: Session, cap: RawCapture) -> list[Reading]:
    """Readings of an export file kept in ``cap`` (``cap.source`` is its file name, which selects the
    reader): one ``peak`` reading per row of each peak table, one ``trace`` reading per detector trace."""
    name = Path(cap.source or "export.csv").name
    with tempfile.TemporaryDirectory(prefix="lims-import-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(cap.data)
        try:
            chrom = read_chromatogram_file(path)
        except (ChromatogramFileError, ValueError, OSError) as exc:
            cap.parse_status = "error"
            cap.error = f"{type(exc).__name__}: {str(exc).replace(str(path), name)}"
            return []
    readings = []
    when = cap.received_at or utcnow()
    meta = {"file": name, "source_format": chrom.source_format}
    sample = chrom.metadata.get("sample_id") or chrom.metadata.get("sample_name") or None
    for table in chrom.peak_tables:
        for n, peak in enumerate(table.peaks, start=1):
            fields = {**meta, "channel": table.channel, "area_units": table.area_units,
                      "retention_time_min": peak.retention_time_min, "area": peak.area, "height": peak.height,
                      "start_min": peak.start_min, "end_min": peak.end_min, "name": peak.name,
                      "peak_type": peak.peak_type}
            readings.append(Reading(raw_capture_id=cap.id, instrument_id=cap.instrument_id, record_type="peak",
                                    channel=n, sample_code=sample, run_no="", fields=fields, read_at=when))
    for trace in chrom.traces:
        fields = {**meta, "channel": trace.channel, "units": trace.units, "points": int(len(trace.signal)),
                  "start_min": float(trace.times_min[0]) if len(trace.times_min) else None,
                  "end_min": float(trace.times_min[-1]) if len(trace.times_min) else None}
        readings.append(Reading(raw_capture_id=cap.id, instrument_id=cap.instrument_id, record_type="trace",
                                channel=None, sample_code=sample, run_no="", fields=fields, read_at=when))
    s.add_all(readings)
    cap.parse_status, cap.error = "parsed", ""
    s.flush()
    return readings


def reparse_instrument(factory: sessionmaker[Session], code: str, *, actor: str,
                       profile: Profile | str | None = None) -> AcquisitionStats:
    """Parse again every capture in ``error`` of instrument ``code`` with its (fixed) profile, or with
    ``profile`` when given. ASTM captures are re-parsed per message (frames sharing ``unit_sha256``).
    One audit event records the re-parse (captures and readings themselves are evidence, not audited)."""
    with factory() as s:
        inst = s.execute(select(Instrument).where(Instrument.code == code)).scalar_one_or_none()
        if inst is None:
            raise LookupError(f"no instrument with code {code!r}")
        instrument_id, profile_name = inst.id, inst.profile
    prof = profile if isinstance(profile, Profile) else None
    stats = AcquisitionStats()
    reason = f"re-parse captures in error of instrument {code}"
    with session_scope(factory, actor=actor, reason=reason) as s:
        caps = s.execute(select(RawCapture).where(RawCapture.instrument_id == instrument_id,
                                                  RawCapture.parse_status == "error")
                         .order_by(RawCapture.id)).scalars().all()
        astm_units: dict[str, list[RawCapture]] = {}
        for cap in caps:
            if cap.profile == FILE_PROFILE:
                readings = parse_file_capture(s, cap)
            else:
                p = prof or load_profile(profile if isinstance(profile, str) else cap.profile or profile_name)
                if p.dialect == "ascii_line":
                    r = parse_capture(s, cap, p)
                    readings = [r] if r is not None else []
                elif p.dialect == "binary_frame":
                    readings = parse_binary_capture(s, cap, p)
                elif p.dialect == "modbus":
                    readings = parse_modbus_capture(s, cap, p)
                else:
                    astm_units.setdefault(cap.unit_sha256 or f"capture {cap.id}", []).append(cap)
                    continue
            _count(stats, cap, readings)
        for unit_caps in astm_units.values():
            try:
                readings = parse_astm_message(s, unit_caps)
            except ProtocolError:
                readings = []
            for cap in unit_caps[:-1]:
                _count(stats, cap, [None] if cap.parse_status == "parsed" else [])  # type: ignore[list-item]
            _count(stats, unit_caps[-1], readings)
        s.info["audit_extra"] = [("update", "raw_capture", f"instrument:{code}", None,
                                  {"reparsed": len(caps), "readings": stats.readings, "errors": stats.errors})]
        s.flush()
    return stats


# --------------------------------------------------------------------------- captures left pending


def binary_reply_unit(profile: Profile, data: bytes) -> str:
    """Identity of a binary exchange: its valid reply frame (noise around it differs between transmissions),
    or all the bytes when none is valid."""
    try:
        return hashlib.sha256(binary_reply(profile, data).raw).hexdigest()
    except DriverError:
        return hashlib.sha256(data).hexdigest()


def astm_sessions(frames: Sequence[bytes]) -> list[tuple[list[int], bool]]:
    """Split ASTM frames stored in arrival order into sessions: ``(indexes, complete)`` each. A session
    starts at a frame numbered 1 carrying an H record after a final frame, or wherever the frame number does
    not follow on (E1381: FN 1 for a session's first frame, then +1 mod 8); it is ``complete`` when its last
    record is the L message terminator (E1394): the whole message is stored, and a sender that saw its last
    frame ACKed will not send it again. An unreadable frame is a session of its own, never complete."""
    out: list[tuple[list[int], bool]] = []
    group: list[int] = []
    texts: list[bytes] = []
    prev: Frame | None = None

    def close() -> None:
        if group:
            records = [r for r in b"".join(texts).split(b"\r") if r]
            out.append((list(group), bool(prev and prev.final and records and records[-1][:1] == b"L")))
            group.clear()
            texts.clear()

    for i, raw in enumerate(frames):
        try:
            frame = parse_frame(raw)
        except ProtocolError:
            close()
            out.append(([i], False))
            prev = None
            continue
        starts = frame.number == 1 and frame.text[:1] == b"H" and (prev is None or prev.final)
        if prev is None or starts or frame.number != (prev.number + 1) % 8:
            close()
        group.append(i)
        texts.append(frame.text)
        prev = frame
    close()
    return out


@dataclass
class PendingOutcome:
    """What :func:`settle_pending` did with the captures an earlier run left ``pending``."""

    captures: int = 0
    parsed: int = 0
    readings: int = 0
    duplicates: int = 0
    errors: int = 0
    incomplete: int = 0
    left_pending: int = 0  # their profile does not load (logged in ``problems``)
    problems: list[str] = field(default_factory=list)
    binary_runs: list[str] = field(default_factory=list)  # run numbers of binary replies parsed (worklists)
    file_errors: list[tuple[str, str, str]] = field(default_factory=list)  # (file name, sha256, error)

    def as_dict(self) -> dict[str, int]:
        return {"captures": self.captures, "parsed": self.parsed, "readings": self.readings,
                "duplicates": self.duplicates, "errors": self.errors, "incomplete": self.incomplete,
                "left_pending": self.left_pending}


def _unit_parsed(s: Session, cap: RawCapture, unit: str) -> bool:
    q = select(RawCapture.id).where(RawCapture.instrument_id == cap.instrument_id, RawCapture.unit_sha256 == unit,
                                    RawCapture.parse_status == "parsed", RawCapture.id != cap.id)
    return s.execute(q.limit(1)).first() is not None


def _settle_one(s: Session, cap: RawCapture, profile: Profile | None, out: PendingOutcome) -> None:
    """One line, binary reply, register block or export file, as its live runner would have parsed it."""
    if profile is None:
        unit = cap.unit_sha256 or hashlib.sha256(cap.data).hexdigest()
    elif profile.dialect == "binary_frame":
        unit = binary_reply_unit(profile, cap.data)
    else:
        unit = cap.unit_sha256 or hashlib.sha256(cap.data).hexdigest()
    cap.unit_sha256 = unit
    if _unit_parsed(s, cap, unit):
        cap.parse_status, cap.error = "duplicate", ""
        out.duplicates += 1
        return
    if profile is None:
        readings = parse_file_capture(s, cap)
    elif profile.dialect == "ascii_line":
        reading = parse_capture(s, cap, profile)
        readings = [reading] if reading is not None else []
    elif profile.dialect == "binary_frame":
        readings = parse_binary_capture(s, cap, profile)
        if readings and cap.parse_status == "parsed":
            out.binary_runs.append(readings[0].run_no)
    else:
        readings = parse_modbus_capture(s, cap, profile)
    if cap.parse_status == "parsed":
        out.parsed += 1
        out.readings += len(readings)
    else:
        out.errors += 1
        if profile is None:
            out.file_errors.append((cap.source, cap.sha256, cap.error))


def _settle_astm(s: Session, caps: Sequence[RawCapture], encoding: str, out: PendingOutcome) -> None:
    """The pending frames of an ASTM instrument, session by session: a complete message is parsed as
    :meth:`lims.acquisition.runners.AstmRunner._finish_session` does (its sender saw every frame ACKed and
    will not send it again); the frames of a cut session become ``incomplete`` (the sender sends the
    message again in a new session)."""
    for indexes, complete in astm_sessions([c.data for c in caps]):
        frames = [caps[i] for i in indexes]
        if not complete:
            for c in frames:
                c.parse_status = "incomplete"
                c.error = "session cut: the acquisition stopped before the message's L record was stored"
            out.incomplete += len(frames)
            continue
        problem: ProtocolError | None = None
        values: list[dict[str, Any]] = []
        try:
            records = astm_message_records([c.data for c in frames], encoding=encoding)
        except ProtocolError as exc:
            problem, unit = exc, hashlib.sha256(b"".join(c.data for c in frames)).hexdigest()
        else:
            unit = astm_unit_sha256(records)
            try:
                values = astm_reading_values(records)
            except ProtocolError as exc:
                problem = exc
        last = frames[-1]
        if _unit_parsed(s, last, unit):
            status, error = "duplicate", ""
            out.duplicates += len(frames)
        elif problem is not None:
            status, error = "error", f"{type(problem).__name__}: {problem}"
            out.errors += len(frames)
        else:
            status, error = "parsed", ""
            s.add_all([Reading(raw_capture_id=last.id, instrument_id=last.instrument_id,
                               read_at=last.received_at or utcnow(), **v) for v in values])
            out.parsed += len(frames)
            out.readings += len(values)
        for c in frames:
            c.parse_status, c.error, c.unit_sha256 = status, error, unit
        s.flush()


def settle_pending(factory: sessionmaker[Session], instrument_id: int, *, actor: str,
                   profiles: Sequence[str] | None = None) -> PendingOutcome:
    """Parse the captures of one instrument left ``pending`` by an earlier run — the process stopped (kill -9,
    power cut, a runner crash) after committing the raw bytes and before parsing them — exactly as the live
    runner would have: a unit whose identity was parsed before becomes ``duplicate``, content that does not
    parse an ``error`` capture with its typed error, ASTM frames are settled per session
    (:func:`_settle_astm`). ``profiles`` limits it to captures stored under those profile names.

    Idempotent: one transaction moves every capture out of ``pending`` together with its readings, so a
    capture gives readings once; a second call finds nothing (on PostgreSQL a concurrent one skips the rows
    this one holds, on SQLite the write lock serialises them). A capture whose profile no longer loads stays
    ``pending`` and is named in ``problems``. One audit event records what was settled."""
    out = PendingOutcome()
    loaded: dict[str, Profile | None] = {FILE_PROFILE: None}
    with session_scope(factory, actor=actor, reason="settle captures left pending by an earlier run") as s:
        q = select(RawCapture).where(RawCapture.instrument_id == instrument_id, RawCapture.parse_status == "pending")
        if profiles is not None:
            q = q.where(RawCapture.profile.in_(list(profiles)))
        caps = s.execute(q.order_by(RawCapture.id).with_for_update(skip_locked=True)).scalars().all()
        if not caps:
            return out
        out.captures = len(caps)
        astm: dict[str, list[RawCapture]] = {}
        for cap in caps:
            if cap.profile not in loaded:
                try:
                    loaded[cap.profile] = load_profile(cap.profile)
                except DriverError as exc:
                    out.problems.append(f"capture {cap.id}: profile {cap.profile!r} does not load: {exc}")
                    out.left_pending += 1
                    continue
            profile = loaded[cap.profile]
            if profile is not None and profile.dialect == "astm":
                astm.setdefault(cap.profile, []).append(cap)
            else:
                _settle_one(s, cap, profile, out)
        for name, frames in astm.items():
            prof = loaded[name]
            assert prof is not None and prof.astm is not None
            _settle_astm(s, frames, prof.astm.encoding, out)
        if out.errors:
            s.execute(update(Instrument.__table__).where(Instrument.__table__.c.id == instrument_id)
                      .values(error_count=Instrument.__table__.c.error_count + out.errors))
        s.flush()
        code = s.execute(select(Instrument.code).where(Instrument.id == instrument_id)).scalar_one()
        append_events(s, [("update", "raw_capture", f"instrument:{code}", {"pending": out.captures},
                           {"settled": out.as_dict()})])
    return out


def _count(stats: AcquisitionStats, cap: RawCapture, readings: list[Reading]) -> None:
    if cap.parse_status == "parsed":
        stats.readings += len([r for r in readings if r is not None])
        stats.reading_ids.extend(r.id for r in readings if r is not None)
    else:
        stats.errors += 1
        stats.error_messages.append(cap.error)


# --------------------------------------------------------------------------- channel → sample worklists


class WorklistError(ValueError):
    """A channel → sample assignment that cannot be applied; the message names the instrument, run, channel
    (and for a worklist file the file, line and field)."""


@dataclass(frozen=True)
class ChannelAssignment:
    """What :func:`assign_channels` did: readings given a sample code (``assigned``) and readings that
    already carried that code (``unchanged``), as ``(channel, reading id)`` pairs."""

    instrument_code: str
    run_no: str
    assigned: tuple[tuple[int, int], ...]
    unchanged: tuple[tuple[int, int], ...]


def assign_channels(s: Session, instrument_code: str, run_no: str | int, samples: Mapping[int, str], *,
                    source: str = "", reassign: bool = False) -> ChannelAssignment:
    """Attach sample codes to the channel readings of one run of a multi-channel tester whose wire carries
    no sample ID (hardware-sim/PROTOCOLS.md (b): "the host maps channel → sample"): the reading of run
    ``run_no`` on channel ``c`` gets ``sample_code = samples[c]`` (and ``fields["sample_source"] = source``),
    so results attach to the sample by its code like those of instruments that send it.

    Raises :class:`WorklistError` — nothing is changed — for an unknown instrument, a run without readings,
    a channel without exactly one reading in that run, an empty or over-long sample code, or a channel
    already assigned to another sample (unless ``reassign``). A change appends one audit event (readings
    themselves are not audited, :mod:`lims.acquisition`); applying the same mapping again changes nothing.
    """
    run = str(run_no)
    where = f"instrument {instrument_code!r} run {run}"
    inst = s.execute(select(Instrument).where(Instrument.code == instrument_code)).scalar_one_or_none()
    if inst is None:
        raise WorklistError(f"no instrument with code {instrument_code!r}")
    readings = s.execute(select(Reading).where(
        Reading.instrument_id == inst.id, Reading.run_no == run, Reading.channel.is_not(None))
        .order_by(Reading.id)).scalars().all()
    if not readings:
        raise WorklistError(f"{where}: no channel readings")
    by_channel: dict[int, list[Reading]] = {}
    for r in readings:
        by_channel.setdefault(int(r.channel), []).append(r)  # type: ignore[arg-type]
    limit = Reading.__table__.c.sample_code.type.length
    plan: list[tuple[int, Reading, str]] = []
    for channel, code in sorted(samples.items()):
        code = str(code).strip()
        if not code or (limit is not None and len(code) > limit):
            raise WorklistError(f"{where} channel {channel}: sample code must be 1-{limit} characters, "
                                f"got {code!r}")
        found = by_channel.get(channel, [])
        if len(found) != 1:
            raise WorklistError(f"{where} channel {channel}: " + (
                "the instrument reported no such channel" if not found else
                f"{len(found)} readings (run number reused?); assign them one by one"))
        reading = found[0]
        if reading.sample_code not in (None, "", code) and not reassign:
            raise WorklistError(f"{where} channel {channel}: already assigned to sample "
                                f"{reading.sample_code!r} (not {code!r}); reassign to change it")
        plan.append((channel, reading, code))
    assigned, unchanged, before, after = [], [], {}, {}
    for channel, reading, code in plan:
        if reading.sample_code == code:
            unchanged.append((channel, reading.id))
            continue
        before[str(channel)], after[str(channel)] = reading.sample_code, code
        reading.sample_code = code
        reading.fields = {**reading.fields, "sample_source": source or "assigned"}
        assigned.append((channel, reading.id))
    if assigned:
        s.info.setdefault("audit_extra", []).append(
            ("update", "reading", f"instrument:{instrument_code}/run:{run}", {"channels": before},
             {"channels": after, "source": source or "assigned"}))
        s.flush()
    return ChannelAssignment(instrument_code, run, tuple(assigned), tuple(unchanged))


def read_worklist(path: Path) -> dict[str, dict[int, str]]:
    """A worklist CSV (UTF-8, header ``run_no,channel,sample_code``; ``#`` starts a comment line):
    ``{run_no: {channel: sample_code}}``. :class:`WorklistError` names the file, line and field."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorklistError(f"{path}: cannot read the worklist: {exc}") from None
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1)
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return {}
    rows = csv.reader([ln for _, ln in lines])
    header = [h.strip() for h in next(rows)]
    need = ("run_no", "channel", "sample_code")
    missing = [h for h in need if h not in header]
    if missing:
        raise WorklistError(f"{path}: line {lines[0][0]}: header lacks {', '.join(missing)} "
                            f"(need {','.join(need)})")
    col = {h: header.index(h) for h in need}
    out: dict[str, dict[int, str]] = {}
    for (line_no, _), row in zip(lines[1:], rows, strict=True):
        cells = {h: (row[i].strip() if i < len(row) else "") for h, i in col.items()}
        run = cells["run_no"]
        run = str(int(run)) if run.isdigit() else run  # "0007" is run 7, as the device numbers it
        if not run:
            raise WorklistError(f"{path}: line {line_no}: field run_no is empty")
        try:
            channel = int(cells["channel"])
        except ValueError:
            raise WorklistError(f"{path}: line {line_no}: field channel is not a whole number: "
                                f"{cells['channel']!r}") from None
        if not cells["sample_code"]:
            raise WorklistError(f"{path}: line {line_no}: field sample_code is empty")
        run_map = out.setdefault(run, {})
        if channel in run_map and run_map[channel] != cells["sample_code"]:
            raise WorklistError(f"{path}: line {line_no}: run {run} channel {channel} is listed twice")
        run_map[channel] = cells["sample_code"]
    return out
