"""ASCII line dialects (``ascii_line``): one capture per line, one reading per parsed line; ACK/NAK when the
profile declares them, with late-ACK resends recognised (hardware-sim/PROTOCOLS.md (a), (c))."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from drivers.codecs.line import LineFramer, LineRecord, RawLine, parse_line
from drivers.errors import ProtocolError
from drivers.profiles import Profile
from lims.acquisition.dialects.base import Dialect, register
from lims.acquisition.ingest import fail, ingest, parsed
from lims.acquisition.runner import StreamRunner
from lims.acquisition.runs import abandon_open_run, check_run, check_sequence, group_of
from lims.acquisition.store import NewCapture, sha256_hex
from lims.acquisition.values import new_reading
from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.db.models import RawCapture, Reading

log = logging.getLogger("lims.acquire")


def parse_line_capture(s: Session, cap: RawCapture, profile: Profile) -> Reading | None:
    """Parse one line capture; on error keep the capture with its error and return None."""
    try:
        record: LineRecord = parse_line(profile, cap.data, offset=cap.stream_offset)
    except ProtocolError as exc:
        fail(cap, exc)
        return None
    parsed(cap)
    run = record.fields.get("run_no", "")
    reading = new_reading(cap, profile, record_type=record.record_type, channel=record.channel,
                          sample_code=record.sample_id, run_no=str(run), fields=dict(record.fields),
                          read_at=cap.received_at or utcnow())
    s.add(reading)
    s.flush()
    check_run(s, cap, reading, profile)
    check_sequence(s, cap, reading, profile)
    return reading


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
    return float(bits / baud)


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
        group = group_of(self.profile)
        if group is None:
            return
        try:
            with session_scope(self.factory, actor=self.store.actor) as s:
                abandon_open_run(s, self.store.instrument_id, group, before_capture=None,
                                 why="the link was lost or closed before its end record")
        except Exception:  # checked again at the next run's start; never stops the runner
            log.exception("%s: checking the open run failed", self.code)

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
        replies = self._parse(ids, now)  # 2. parse
        for reply in replies:  # 3. acknowledge what is stored
            if reply:
                self.link.write(reply)
        if self.acked is not None and self.acked.at is None:
            self.acked.at = time.monotonic()

    def _parse(self, ids: list[int], now: float) -> list[bytes | None]:
        """Parse the stored lines ``ids``; returns the reply each gets (None or ``b""``: none)."""
        replies: list[bytes | None] = []
        with session_scope(self.factory, actor=self.store.actor) as s:
            for cap_id in ids:
                cap = s.get(RawCapture, cap_id)
                assert cap is not None and cap.unit_sha256 is not None
                resend = self._resend(cap, now)
                if resend is not None:
                    replies.append(resend)
                    continue
                self.count(ingest(s, cap, DIALECT, self.profile))
                reply = self._reply(cap)
                if reply is not None and reply == self.line_ack:
                    self.acked = _Acked(cap.unit_sha256, cap.id)
                replies.append(reply)
        return replies

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


class AsciiLines(Dialect):
    """``ascii_line``: a unit is one line (its bytes' SHA-256)."""

    kind = "ascii_line"
    runner_class = LineRunner

    def parse(self, s: Session, cap: RawCapture, profile: Profile | None) -> list[Reading]:
        assert profile is not None
        reading = parse_line_capture(s, cap, profile)
        return [reading] if reading is not None else []


DIALECT = register(AsciiLines())
