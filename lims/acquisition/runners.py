"""One runner per dialect; each owns one instrument's link and runs on its own thread until ``stop``.

Every runner stores raw bytes before it acknowledges or parses them (see :mod:`lims.acquisition`).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from drivers.codecs.astm.link import (
    COMPUTER,
    AstmLink,
    DuplicateFrame,
    FrameAccepted,
    FrameRejected,
    SessionEnded,
    SessionStarted,
)
from drivers.codecs.binary import BinaryMessage, RequestSession, encode_fields
from drivers.codecs.line import LineFramer, RawLine
from drivers.codecs.modbus_map import block_span, decode_block
from drivers.errors import DriverError, LinkTimeout, ProtocolError, TransportError
from drivers.profiles import Profile
from drivers.transports.modbus import ModbusLink
from drivers.transports.tcp import ConnectionLost
from lims.acquisition.config import InstrumentConfig, WatchConfig
from lims.acquisition.links import ByteLink, ListenLink
from lims.acquisition.store import CaptureStore, NewCapture, StatusTracker, sha256_hex
from lims.db.engine import session_scope
from lims.db.models import RawCapture, utcnow
from lims.services.acquisition import (
    FILE_PROFILE,
    WorklistError,
    assign_channels,
    astm_message_records,
    astm_reading_values,
    astm_unit_sha256,
    binary_reply_unit,
    parse_binary_capture,
    parse_capture,
    parse_file_capture,
    parse_modbus_capture,
    read_worklist,
    registers_to_bytes,
)

log = logging.getLogger("lims.acquire")
READ_TIMEOUT_S = 0.05


@dataclass
class RunnerStats:
    """Counters a runner keeps (printed by ``lims acquire --json`` and read by the benchmarks)."""

    captures: int = 0
    readings: int = 0
    errors: int = 0
    duplicates: int = 0
    duplicate_resends: int = 0  # of ``duplicates``: sent again right after our ACK (late or lost ACK)
    bytes_in: int = 0
    reconnects: int = 0
    polls: int = 0
    missed_polls: int = 0
    failed_polls: int = 0
    max_poll_latency_s: float = 0.0
    polling_s: float = 0.0  # first poll's slot to the last one's: polls scheduled = polling_s / interval + 1
    extra: dict[str, int] = field(default_factory=dict)


class Runner:
    """Base: ``run()`` until ``stop`` is set."""

    def __init__(self, code: str, store: CaptureStore, status: StatusTracker, stop: threading.Event) -> None:
        self.code = code
        self.store = store
        self.status = status
        self.stop = stop
        self.stats = RunnerStats()

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.store.factory

    def run(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the link and the store's connection (called once the thread ended)."""
        self.store.close()


class StreamRunner(Runner):
    """Runners over a byte link: connect, read, hand bytes to :meth:`on_bytes`; on a lost link the
    partial unit is discarded (:meth:`on_disconnect`) and the link reconnects with backoff."""

    def __init__(self, cfg: InstrumentConfig, link: ByteLink, store: CaptureStore, status: StatusTracker,
                 stop: threading.Event) -> None:
        super().__init__(cfg.code, store, status, stop)
        self.cfg = cfg
        self.profile: Profile = cfg.profile
        self.link = link

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.link.connect(self.stop):
                return
            self.status.connected(True)
            self.on_connect()
            try:
                while not self.stop.is_set():
                    data = self.link.read(READ_TIMEOUT_S)
                    if data:
                        self.stats.bytes_in += len(data)
                    self.on_bytes(data, time.monotonic())
                    self.after_bytes(data)
            except ConnectionLost as exc:
                log.warning("%s: %s", self.code, exc)
                self.stats.reconnects += 1
                self.status.error()
            finally:
                self.on_disconnect()
                self.status.connected(False)
                self.link.close()

    def on_connect(self) -> None: ...

    def on_bytes(self, data: bytes, now: float) -> None:
        raise NotImplementedError

    def after_bytes(self, data: bytes) -> None:
        """Between reads (``data`` is what was just handled): write the status telemetry when due."""
        self.status.flush()

    def on_disconnect(self) -> None: ...

    def close(self) -> None:
        self.link.close()
        if isinstance(self.link, ListenLink):
            self.link.shutdown()
        super().close()


# --------------------------------------------------------------------------- ASCII lines


@dataclass
class _Acked:
    """The record last ACKed on a line link: its identity, capture, and when the ACK was written
    (``None`` while it is still to be written, for the lines of the batch being handled)."""

    unit: str
    capture_id: int
    at: float | None = None


def char_time_s(profile: Profile, overrides: dict[str, Any]) -> float:
    """Seconds one character takes on the profile's serial line: start bit, data bits, parity bit, stop
    bits at the baud rate (a serial-to-Ethernet converter still receives it at that rate)."""
    ser = profile.serial
    baud = overrides.get("baudrate", ser.baudrate)
    parity = overrides.get("parity", ser.parity)
    bits = 1 + overrides.get("bytesize", ser.bytesize) + (parity != "N") + overrides.get("stopbits", ser.stopbits)
    return bits / baud


class LineRunner(StreamRunner):
    """ASCII line dialects: each line committed, then parsed (a line already parsed before — resent after
    a NAK, a disconnect or a reboot — becomes a ``duplicate`` capture), then ACK/NAK when the profile
    declares them (``line.ack``/``line.nak``): NAK only for a damaged line (checksum/framing), ACK for a
    line whose checksum is good even if its content did not parse (resending would not change it).

    Late ACKs (PROTOCOLS.md (c): the reader resends a record it got no reply to within its timeout, and the
    ACK names no record): a line identical to the one last ACKed, arriving within ``resend_window_s`` of that
    ACK, is a *duplicate resend* — stored (every byte is kept) as ``duplicate`` with a note, never a second
    reading, counted in ``duplicate_resends`` and logged as a warning. If it left the device before our ACK
    of the original reached it (it was read in the same batch as the original, or arrived complete sooner
    after our ACK than the line takes to transmit it), that one ACK answers it — the device takes the late
    ACK for its resend — so it is not ACKed again: a second ACK would be taken for the device's next record,
    which would then never be resent if it arrived damaged. Otherwise our ACK was lost and it is ACKed again.
    """

    def on_connect(self) -> None:
        self.framer = LineFramer(self.profile)
        self.acked: _Acked | None = None
        self.char_time_s = char_time_s(self.profile, self.cfg.serial_overrides)
        self.line_ack = self.profile.line.ack if self.profile.line is not None else None

    def on_bytes(self, data: bytes, now: float) -> None:
        if data:
            self._store(self.framer.feed(data), complete=True, now=now)

    def on_disconnect(self) -> None:
        if hasattr(self, "framer"):
            self._store(self.framer.flush(), complete=False, now=time.monotonic())
            self.framer = LineFramer(self.profile)

    def _store(self, lines: list[RawLine], *, complete: bool, now: float) -> None:
        if not lines:
            return
        items = [NewCapture(ln.raw, ln.offset, unit_sha256=sha256_hex(ln.raw)) if complete else
                 NewCapture(ln.raw, ln.offset, status="incomplete", error="line cut by a lost link")
                 for ln in lines]
        ids = self.store.add(items)  # 1. raw bytes, committed
        self.stats.captures += len(ids)
        self.status.message(len(ids))
        if not complete:
            return
        replies: list[bytes | None] = []
        with session_scope(self.factory, actor=self.store.actor) as s:  # 2. parse
            for cap_id in ids:
                cap = s.get(RawCapture, cap_id)
                assert cap is not None and cap.unit_sha256 is not None
                resend = self._resend(cap, now)
                if resend is not None:
                    replies.append(resend)
                    continue
                if self.store.unit_seen(s, cap.unit_sha256, exclude_id=cap.id):
                    cap.parse_status = "duplicate"
                    self.stats.duplicates += 1
                elif parse_capture(s, cap, self.profile) is None:
                    self.stats.errors += 1
                    self.status.error()
                else:
                    self.stats.readings += 1
                reply = self._reply(cap)
                if reply is not None and reply == self.line_ack:
                    self.acked = _Acked(cap.unit_sha256, cap.id)
                replies.append(reply)
        for reply in replies:  # 3. acknowledge what is stored
            if reply:
                self.link.write(reply)
        if self.acked is not None and self.acked.at is None:
            self.acked.at = time.monotonic()

    def _resend(self, cap: RawCapture, now: float) -> bytes | None:
        """If ``cap`` is a duplicate resend of the record last ACKed, mark and count it and return the reply
        it gets (``b""``: none, our earlier ACK answers it); else None."""
        last = self.acked
        if last is None or cap.unit_sha256 != last.unit:
            return None
        after = None if last.at is None else now - last.at
        if after is not None and after > self.cfg.resend_window_s:
            return None
        answered = after is None or after < len(cap.data) * self.char_time_s
        when = "before our ACK of it was sent" if after is None else f"{after:.3f} s after our ACK of it"
        if answered:
            note = (f"duplicate resend of capture {last.capture_id}, received {when}: it left the device before "
                    "that ACK arrived (a late ACK), which answers it; not ACKed again")
        else:
            note = (f"duplicate resend of capture {last.capture_id}, received {when} (ACK lost or late); ACKed "
                    "again - if it was late the device may take this ACK for its next record (the ACK names no "
                    "record)")
        cap.parse_status, cap.error = "duplicate", note
        self.stats.duplicates += 1
        self.stats.duplicate_resends += 1
        self.status.resend()
        log.warning("%s: capture %d: %s", self.code, cap.id, note)
        if answered:
            return b""
        last.at = None  # ACKed again: a further copy is measured from this ACK
        return self._reply(cap) or b""

    def _reply(self, cap: RawCapture) -> bytes | None:
        d = self.profile.line
        assert d is not None
        if d.ack is None or not cap.data.startswith(d.start):
            return None
        damaged = cap.parse_status == "error" and cap.error.startswith(("ChecksumError", "FramingError"))
        return d.nak if damaged else d.ack


# --------------------------------------------------------------------------- ASTM E1381 / E1394


@dataclass(frozen=True)
class _StoredFrame:
    """A committed frame of the open ASTM session."""

    capture_id: int
    data: bytes
    received_at: dt.datetime


class AstmRunner(StreamRunner):
    """ASTM E1381 receiver (the LIMS is the computer system): every accepted frame is committed as a
    capture and only then ACKed (``AstmLink.ack``); a NAKed frame is kept as ``rejected``; at EOT the
    session's frames are parsed into one reading per R record (a message received before, e.g. resent
    after a lost link, becomes ``duplicate``); frames of a session cut by a lost link or the 30 s receiver
    timeout are marked ``incomplete`` (the data system sends the message again in a new session).

    E1381 is stop-and-wait (§8.3: one frame, then wait for its ACK), so the time from a frame's last byte
    to its ACK is dead time on the line. Only the capture INSERT and its commit stand in it
    (:class:`~lims.acquisition.store.CaptureStore`); the session's frames are kept in memory, and the rest —
    parsing a finished message into readings, marking captures, status telemetry — is deferred work done
    right after an ACK that lets the sender transmit a frame (the next frame is then on the wire for its
    whole length) or while the line is quiet. It is never done at EOT, where the sender's next ENQ would
    wait for it. Deferred work is done in order, and before the link closes.
    """

    def on_connect(self) -> None:
        a = self.profile.astm
        self.astm = AstmLink(COMPUTER, sender_timeout_s=a.sender_timeout_s, receiver_timeout_s=a.receiver_timeout_s,
                             busy_retry_s=a.busy_retry_s)
        self.session: list[_StoredFrame] = []
        self.deferred: deque[Callable[[], None]] = deque()
        self.acked_at: float | None = None

    def on_bytes(self, data: bytes, now: float) -> None:
        events = self.astm.feed(data, now) if data else self.astm.tick(now)
        for ev in events:
            if isinstance(ev, FrameAccepted):
                self._accept(ev, now)
            elif isinstance(ev, FrameRejected):
                self.store.add_one(NewCapture(ev.raw, ev.offset, status="rejected", error=str(ev.error)))
                self.stats.errors += 1
                self.status.error()
            elif isinstance(ev, DuplicateFrame):
                self._duplicate_frame(ev, now)
            elif isinstance(ev, SessionStarted):
                self._defer_abandon("a new session started before EOT")
            elif isinstance(ev, SessionEnded):
                if ev.timed_out:
                    self._defer_abandon("receiver timeout (30 s without a frame)")
                else:
                    frames, self.session = self.session, []
                    if frames:
                        self.deferred.append(partial(self._finish_session, frames))
        out = self.astm.data_to_send()
        if out:
            self.link.write(out)

    def _accept(self, ev: FrameAccepted, now: float) -> None:
        """Commit the frame's capture, then ACK it at once (the only work between a frame and its ACK)."""
        received_at = utcnow()
        try:
            cap_id = self.store.add_one(NewCapture(ev.frame.raw, ev.frame.offset, received_at=received_at))
        except Exception:
            self.astm.nak(now)  # not stored: the sender must send it again
            self.link.write(self.astm.data_to_send())
            raise
        self.astm.ack(now)  # sends nothing if the sender already ended the session (EOT read with the frame)
        out = self.astm.data_to_send()
        if out:
            self.link.write(out)
        self.acked_at = time.monotonic()
        self.session.append(_StoredFrame(cap_id, ev.frame.raw, received_at))
        self.stats.captures += 1
        self.status.message()

    def _duplicate_frame(self, ev: DuplicateFrame, now: float) -> None:
        """E1381 (LIS01-A2 §8.3): a frame repeating the last accepted frame number is a retransmission — the
        sender did not see our ACK within its 15 s — so :class:`AstmLink` ACKs it again and discards it
        (one read before our ACK was even written, ``before_ack``, gets no second ACK). Kept as a
        ``duplicate`` capture and counted as a duplicate resend: after a late ACK the sender takes that
        first ACK for its retransmission and a second one for its next frame, and runs one reply ahead; the
        frame numbers still keep every frame in order, and a refused one makes the sender abort and send
        the message again in a new session (:mod:`drivers.codecs.astm.link`)."""
        if ev.before_ack:
            when = "read before our ACK of it was written (a late ACK)"
        else:
            since = f"{now - self.acked_at:.3f} s after our ACK of it " if self.acked_at is not None else ""
            when = since + "(ACK lost or late); ACKed again"
        raw = ev.frame.raw
        note = f"retransmission of the last accepted frame, {when}"
        self.store.add_one(NewCapture(raw, ev.frame.offset, status="duplicate", error=note))
        self.stats.duplicates += 1
        self.stats.duplicate_resends += 1
        self.status.resend()
        log.warning("%s: frame %r: %s", self.code, raw[1:2].decode("latin-1"), note)

    def after_bytes(self, data: bytes) -> None:
        """Deferred work and telemetry, only while the sender is busy sending a frame or the line is quiet."""
        if data and self.astm.state != AstmLink.RECEIVING:
            return
        self.run_deferred()
        self.status.flush()

    def run_deferred(self) -> None:
        while self.deferred:
            self.deferred.popleft()()

    def on_disconnect(self) -> None:
        if hasattr(self, "session"):
            self._defer_abandon("link lost during the session")
            self.run_deferred()

    def _defer_abandon(self, why: str) -> None:
        ids = [f.capture_id for f in self.session]
        self.session = []
        if ids:
            self.deferred.append(partial(self.store.mark, ids, "incomplete", error=why))

    def _finish_session(self, frames: list[_StoredFrame]) -> None:
        """Parse a finished session's frames (kept in memory: no SELECT of the captures) into readings."""
        encoding = self.profile.astm.encoding
        values: list[dict[str, Any]] = []
        problem: ProtocolError | None = None
        try:
            records = astm_message_records([f.data for f in frames], encoding=encoding)
        except ProtocolError as exc:
            problem = exc
            unit = sha256_hex(b"".join(f.data for f in frames))
        else:
            unit = astm_unit_sha256(records)
            try:
                values = astm_reading_values(records)
            except ProtocolError as exc:
                problem = exc
        last = frames[-1]
        error = None if problem is None else f"{type(problem).__name__}: {problem}"
        status = self.store.settle_unit([f.capture_id for f in frames], unit, values,
                                        reading_capture_id=last.capture_id, read_at=last.received_at, error=error)
        if status == "duplicate":
            self.stats.duplicates += 1
        elif status == "error":
            self.stats.errors += 1
            self.status.error()
        else:
            self.stats.readings += len(values)


# --------------------------------------------------------------------------- binary request/response


class BinaryRunner(StreamRunner):
    """Binary request/response dialects (profile commands ``GET_STATUS``, ``GET_RESULT``, ``ACK_RESULT``):
    every ``poll_interval_s`` ask the status; when a result is ready (state 2) fetch it, commit the bytes
    received for the request, parse them, and only then confirm it with ``ACK_RESULT``. A reply that fails
    its CRC or does not come within the timeout is asked again (up to ``MAX_ATTEMPTS`` times per poll);
    the bytes of such an exchange are kept as a ``rejected`` capture."""

    MAX_ATTEMPTS = 12
    READY_STATE = 2

    def on_connect(self) -> None:
        self.session = RequestSession(self.profile, timeout_s=self.cfg.timeout_s)
        self.next_poll = 0.0

    def on_bytes(self, data: bytes, now: float) -> None:
        if now < self.next_poll:
            return
        self.next_poll = now + self.cfg.poll_interval_s
        self.stats.polls += 1
        cmds = self.profile.binary.commands
        if "GET_STATUS" in cmds:
            status, _ = self._exchange("GET_STATUS", b"", store=False)
            if status is None or status.fields.get("state") != self.READY_STATE:
                return
        for _ in range(self.MAX_ATTEMPTS):
            reply, cap_id = self._exchange("GET_RESULT", b"", store=True)
            if reply is not None and reply.command == "GET_RESULT":
                break
            if reply is not None and reply.command == "ERROR":
                return
        else:
            self.stats.failed_polls += 1
            return
        run_no = reply.fields.get("run_no")
        self._parse(cap_id)
        if "ACK_RESULT" in cmds and run_no is not None:
            payload = encode_fields(self.profile, "ACK_RESULT", {"run_no": run_no})
            for _ in range(self.MAX_ATTEMPTS):
                ack, _ = self._exchange("ACK_RESULT", payload, store=False)
                if ack is not None and ack.command == "ACK_RESULT" and ack.fields.get("run_no") == run_no:
                    break

    def _exchange(self, command: str, payload: bytes, *, store: bool) -> tuple[BinaryMessage | None, int | None]:
        """Send one request and collect every byte until the reply or the timeout."""
        now = time.monotonic()
        self.link.write(self.session.request(command, payload, now=now))
        received = bytearray()
        reply: BinaryMessage | None = None
        errors: list[str] = []
        while reply is None and not self.stop.is_set():
            data = self.link.read(READ_TIMEOUT_S)
            now = time.monotonic()
            if data:
                self.stats.bytes_in += len(data)
                received += data
                reply, rejected = self.session.feed(data, now)
                errors += [str(r.error) for r in rejected]
            if reply is None and self.session.timed_out(now):
                errors.append(f"no valid reply to {command} within the timeout")
                break
        if reply is None:
            self.session = RequestSession(self.profile, timeout_s=self.cfg.timeout_s)
        cap_id = None
        if store or (reply is None and received):
            status = "pending" if reply is not None else "rejected"
            unit = sha256_hex(bytes(received)) if reply is not None else None
            cap_id = self.store.add_one(NewCapture(bytes(received), source=command, status=status,
                                                   error="; ".join(errors)[:2000] if reply is None else "",
                                                   unit_sha256=unit))
            self.stats.captures += 1
            self.status.message()
        if reply is None:
            self.stats.errors += 1
            self.status.error()
        return reply, cap_id

    def _parse(self, cap_id: int | None) -> None:
        if cap_id is None:
            return
        with session_scope(self.factory, actor=self.store.actor) as s:
            cap = s.get(RawCapture, cap_id)
            assert cap is not None
            frame_unit = binary_reply_unit(self.profile, cap.data)
            cap.unit_sha256 = frame_unit
            if self.store.unit_seen(s, frame_unit, exclude_id=cap.id):
                cap.parse_status = "duplicate"
                self.stats.duplicates += 1
                return
            readings = parse_binary_capture(s, cap, self.profile)
            if cap.parse_status == "parsed":
                self.stats.readings += len(readings)
                if self.cfg.worklist is not None and readings:
                    key, n = apply_worklist(s, self.cfg, readings[0].run_no)
                    self.stats.extra[key] = self.stats.extra.get(key, 0) + n
                    if key == "worklist_errors":
                        self.status.error()
            else:
                self.stats.errors += 1
                self.status.error()


def apply_worklist(s: Session, cfg: InstrumentConfig, run_no: str) -> tuple[str, int]:
    """Map a run's channels to samples from the instrument's worklist; returns the counter to add to
    (``worklist_assigned`` with the channels assigned, ``worklist_missing`` or ``worklist_errors`` with 1).
    A worklist problem is logged, never loses the readings (they stay unassigned, :func:`assign_channels`
    can be run later)."""
    assert cfg.worklist is not None
    try:
        samples = read_worklist(cfg.worklist).get(run_no) if cfg.worklist.exists() else None
        if not samples:
            log.info("%s: run %s is not in the worklist %s", cfg.code, run_no, cfg.worklist)
            return "worklist_missing", 1
        done = assign_channels(s, cfg.code, run_no, samples, source=f"worklist:{cfg.worklist.name}")
    except WorklistError as exc:
        log.warning("%s: worklist not applied: %s", cfg.code, exc)
        return "worklist_errors", 1
    return "worklist_assigned", len(done.assigned)


# --------------------------------------------------------------------------- Modbus polling


class ModbusRunner(Runner):
    """Polls the input-register block of a Modbus profile every ``poll_interval_s`` on a fixed schedule.
    A new result (``result_counter`` changed while ``result_available`` is set, or — without those
    registers — any change outside status bits) is committed as a register-block capture, then parsed.
    A poll that fails (timeout, CRC error, exception response) or starts later than one interval after
    its slot counts as missed."""

    def __init__(self, cfg: InstrumentConfig, link: ModbusLink, store: CaptureStore, status: StatusTracker,
                 stop: threading.Event) -> None:
        super().__init__(cfg.code, store, status, stop)
        self.cfg = cfg
        self.profile = cfg.profile
        self.link = link
        self.start, self.count = block_span(self.profile, "input")
        self.last_unit: str | None = None
        self.first_slot: float | None = None
        regs = self.profile.modbus.registers
        self.status_names = {n for n, r in regs.items() if r.table == "input" and r.type == "bits"}

    def run(self) -> None:
        interval = self.cfg.poll_interval_s
        while not self.stop.is_set():
            if not self.link.connect(self.stop):
                return
            self.status.connected(True)
            due = time.monotonic()
            try:
                while not self.stop.is_set():
                    now = time.monotonic()
                    if now < due:
                        self.stop.wait(due - now)
                        continue
                    if now - due > interval:
                        skipped = int((now - due) // interval)
                        self.stats.missed_polls += skipped
                        due += skipped * interval
                    self._poll(due)
                    self.status.flush()
                    due += interval
            except ConnectionLost as exc:
                log.warning("%s: %s", self.code, exc)
                self.stats.reconnects += 1
                self.status.error()
            finally:
                self.status.connected(False)
                self.link.close()

    def _poll(self, due: float) -> None:
        if self.first_slot is None:
            self.first_slot = due
        self.stats.polling_s = due - self.first_slot
        self.stats.polls += 1
        try:
            regs = self.link.read_input_registers(self.start, self.count)
        except (LinkTimeout, TransportError) as exc:
            if isinstance(exc, ConnectionLost):
                raise
            self.stats.failed_polls += 1
            self.stats.missed_polls += 1
            self.status.error()
            log.info("%s: poll failed: %s", self.code, exc)
            return
        latency = time.monotonic() - due
        self.stats.max_poll_latency_s = max(self.stats.max_poll_latency_s, latency)
        try:
            values = decode_block(self.profile, "input", self.start, regs)
        except DriverError:
            values = {}
        counter = values.get("result_counter")
        flags = values.get("status")
        available = True
        if flags is not None and isinstance(flags.value, dict) and "result_available" in flags.value:
            available = bool(flags.value["result_available"])
        if counter is not None and (not available or counter.value == 0):
            return
        unit = self._unit(regs)
        if unit == self.last_unit:
            return
        self.last_unit = unit
        data = registers_to_bytes(regs)
        cap_id = self.store.add_one(NewCapture(data, source=f"input:{self.start}", unit_sha256=unit))
        self.stats.captures += 1
        self.status.message()
        with session_scope(self.factory, actor=self.store.actor) as s:
            cap = s.get(RawCapture, cap_id)
            assert cap is not None
            if self.store.unit_seen(s, unit, exclude_id=cap.id):
                cap.parse_status = "duplicate"
                self.stats.duplicates += 1
                return
            readings = parse_modbus_capture(s, cap, self.profile)
            if cap.parse_status == "parsed":
                self.stats.readings += len(readings)
            else:
                self.stats.errors += 1
                self.status.error()

    def _unit(self, regs: list[int]) -> str:
        """Identity of the result in a block: every register except status bits (which change while the
        same result stays on display)."""
        skip: set[int] = set()
        for name in self.status_names:
            spec = self.profile.modbus.registers[name]
            skip.update(range(spec.address - self.start, spec.address - self.start + spec.count))
        for name in ("error",):
            spec = self.profile.modbus.registers.get(name)
            if spec is not None and spec.table == "input":
                skip.update(range(spec.address - self.start, spec.address - self.start + spec.count))
        kept = [r for i, r in enumerate(regs) if i not in skip]
        return sha256_hex(registers_to_bytes(kept))

    def close(self) -> None:
        self.link.close()
        super().close()


# --------------------------------------------------------------------------- watch folder


class WatchFolderRunner(Runner):
    """Imports chromatography export files dropped into a folder, once each by SHA-256 of the content: the
    file's bytes are committed as a capture (``source`` = file name), then read with
    :func:`drivers.files.read_chromatogram_file`; a malformed file is moved to the quarantine folder with a
    ``<name>.reason.txt`` beside it (its capture stays in ``error`` and can be re-parsed). A file still
    being written (modified less than ``settle_s`` ago) waits for the next scan."""

    def __init__(self, cfg: WatchConfig, store: CaptureStore, status: StatusTracker, stop: threading.Event) -> None:
        super().__init__(cfg.instrument, store, status, stop)
        self.cfg = cfg
        self._seen: dict[tuple[str, int, int], str] = {}

    def run(self) -> None:
        self.status.connected(True)
        while not self.stop.is_set():
            self.scan()
            self.status.flush()
            self.stop.wait(self.cfg.interval_s)
        self.status.connected(False)

    def scan(self) -> int:
        """One pass over the folder; returns the number of files imported."""
        folder = self.cfg.folder
        if not folder.is_dir():
            return 0
        files = sorted({p for pat in self.cfg.patterns for p in folder.glob(pat) if p.is_file()})
        imported = 0
        now = time.time()
        for path in files:
            try:
                st = path.stat()
            except OSError:
                continue
            if now - st.st_mtime < self.cfg.settle_s:
                continue
            key = (path.name, st.st_size, st.st_mtime_ns)
            if key in self._seen:
                continue
            try:
                data = path.read_bytes()
            except OSError as exc:
                log.warning("%s: cannot read %s: %s", self.code, path, exc)
                continue
            unit = sha256_hex(data)
            self._seen[key] = unit
            if self._known(unit):
                continue
            self._import(path, data, unit)
            imported += 1
        return imported

    def _known(self, unit: str) -> bool:
        from sqlalchemy import select

        with self.factory() as s:
            q = select(RawCapture.id).where(RawCapture.instrument_id == self.store.instrument_id,
                                            RawCapture.unit_sha256 == unit, RawCapture.profile == FILE_PROFILE)
            return s.execute(q.limit(1)).first() is not None

    def _import(self, path: Path, data: bytes, unit: str) -> None:
        cap_id = self.store.add_one(NewCapture(data, source=path.name, unit_sha256=unit))
        self.stats.captures += 1
        self.status.message()
        with session_scope(self.factory, actor=self.store.actor) as s:
            cap = s.get(RawCapture, cap_id)
            assert cap is not None
            readings = parse_file_capture(s, cap)
            ok, error = cap.parse_status == "parsed", cap.error
        if ok:
            self.stats.readings += len(readings)
            return
        self.stats.errors += 1
        self.status.error()
        self._quarantine(path, error)

    def _quarantine(self, path: Path, reason: str) -> None:
        quarantine(self.cfg, path, reason)


def quarantine(cfg: WatchConfig, path: Path, reason: str) -> Path:
    """Move a malformed export file into the watch's quarantine folder (never over another file) with a
    ``<name>.reason.txt`` beside it; returns where it went."""
    q = cfg.quarantine
    q.mkdir(parents=True, exist_ok=True)
    target = q / path.name
    n = 1
    while target.exists():
        target = q / f"{path.stem}.{n}{path.suffix}"
        n += 1
    shutil.move(str(path), target)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    log.warning("%s: %s quarantined: %s", cfg.instrument, path.name, reason)
    return target
