"""Device (c): colloidal-gold strip reader, ASCII records with T, C, T/C (PROTOCOLS.md (c)).

Serial 19200 8O1. One record per strip, acknowledged by the host (``ACK``/``NAK`` CR LF)::

    @GR;<seq>;<YYYYMMDD>;<hhmmss>;<lane>;<sample_id>;<item>;<T>;<C>;<TC>;<result>;<cutoff>;<CS>\\r\\n

CS = byte sum from ``@`` through the ``;`` before CS, mod 256, two uppercase hex digits.
Competitive strips: no control line (C < 300) → INV; T/C < cut-off → POS; else NEG.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from .base import ThreadedSim
from .faults import Faults
from .link import Link, LinkClosed

BAUD, PARITY, DATA_BITS, STOP_BITS = 19200, "O", 8, 1
C_LINE_MINIMUM = 300
MAX_RESENDS = 3
BOOT_BANNER = b"\r\nGOLD READER GR-8 FW3.02\r\n"


@dataclass(frozen=True)
class GoldStrip:
    """One strip read: lane 1..8, sample, test item code, line intensities and the kit cut-off."""

    lane: int
    sample_id: str
    item: str
    t_intensity: int
    c_intensity: int
    cutoff: float = 0.800

    def __post_init__(self) -> None:
        if not 1 <= self.lane <= 8:
            raise ValueError(f"lane {self.lane} outside 1..8")
        for name in ("sample_id", "item"):
            text = getattr(self, name)
            if not text or len(text) > 20 or not text.isascii() or any(c in text for c in ";@\r\n"):
                raise ValueError(f"{name} {text!r} must be 1-20 ASCII chars without ; @ CR LF")
        for name in ("t_intensity", "c_intensity"):
            if not 0 <= getattr(self, name) <= 65535:
                raise ValueError(f"{name} outside 0..65535")

    @property
    def tc_ratio(self) -> float:
        return round(self.t_intensity / self.c_intensity, 3) if self.c_intensity else 0.0

    @property
    def result(self) -> str:
        if self.c_intensity < C_LINE_MINIMUM:
            return "INV"
        return "POS" if self.tc_ratio < self.cutoff else "NEG"


def sum_checksum(text: bytes) -> str:
    return f"{sum(text) % 256:02X}"


def record_line(seq: int, when: datetime, strip: GoldStrip) -> bytes:
    body = (f"@GR;{seq:04d};{when:%Y%m%d};{when:%H%M%S};{strip.lane};{strip.sample_id};{strip.item};"
            f"{strip.t_intensity};{strip.c_intensity};{strip.tc_ratio:.3f};{strip.result};{strip.cutoff:.3f};")
    raw = body.encode("ascii")
    return raw + sum_checksum(raw).encode("ascii") + b"\r\n"


class GoldReaderSim(ThreadedSim):
    """Sends one record per strip and waits for ACK; NAK or silence → resend (≤ 3 times)."""

    def __init__(self, strips: list[GoldStrip], *, first_seq: int = 1, seed: int = 0,
                 faults: Faults | None = None, ack_timeout_s: float = 2.0, record_delay_s: float = 0.0,
                 started_at: datetime | None = None) -> None:
        super().__init__(seed=seed, faults=faults)
        self.strips = list(strips)
        self.ack_timeout_s = ack_timeout_s
        self.record_delay_s = record_delay_s
        when = started_at or datetime.now().replace(microsecond=0)
        self.records = [record_line((first_seq - 1 + k) % 9999 + 1, when, s) for k, s in enumerate(strips)]
        """The clean record of each strip, in order."""
        self.acked: list[int] = []
        """Indexes of the records the host acknowledged."""
        self._inbox = bytearray()
        self._transmissions = 0
        self._rebooted = False
        self._malformed_done: set[int] = set()

    def _serve(self, link: Link) -> None:
        self._wait_host(link)
        for index, record in enumerate(self.records):
            attempts = 0
            while attempts <= MAX_RESENDS and not self._stop.is_set():
                outcome = self._transmit(link, index, record)
                if outcome == "ack":
                    self.acked.append(index)
                    break
                if outcome in ("reboot", "disconnect"):
                    continue  # the unacknowledged record goes again, not counted as a retry
                attempts += 1
            else:
                self._event("gave_up", f"record {index} after {MAX_RESENDS} resends", index)
            self._sleep(self.record_delay_s)

    def _transmit(self, link: Link, index: int, record: bytes) -> str:
        f = self.faults
        if f.garbage_between_sessions:
            self._send(link, self.injector.garbage(exclude=b"@\r\n") + b"\r\n", damage=False)
        if index in f.malformed_lines and index not in self._malformed_done:
            self._malformed_done.add(index)
            record, how = _malform(record, self.injector.rng.random() < 0.5)
            self._event("malformed", how, index)
        n = self._transmissions
        self._transmissions += 1
        if f.reboot_after_messages is not None and not self._rebooted and n == f.reboot_after_messages:
            self._rebooted = True
            self._send(link, record[: len(record) // 2], damage=False)
            self._sleep(f.reconnect_delay_s)
            self._send(link, BOOT_BANNER, damage=False)
            self._event("reboot", "record cut by reboot", index)
            return "reboot"
        try:
            if not self._send(link, record, frame_index=index):
                return "disconnect"
        except LinkClosed:
            if self._stop.is_set():
                raise
            self._wait_host(link)
            return "disconnect"
        self._event("record", record.decode("ascii", "replace").rstrip(), index)
        reply = self._await_reply(link)
        self._event(reply, "", index)
        return reply

    def _await_reply(self, link: Link) -> str:
        deadline = time.monotonic() + self.ack_timeout_s
        while True:
            while b"\n" in self._inbox:
                line, _, rest = bytes(self._inbox).partition(b"\n")
                self._inbox = bytearray(rest)
                word = line.strip()
                if word == b"ACK":
                    return "ack"
                if word == b"NAK":
                    return "nak"
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stop.is_set():
                return "timeout"
            self._inbox += self._read(link, min(remaining, 0.05))



def _malform(record: bytes, bad_checksum: bool) -> tuple[bytes, str]:
    """Wrong checksum, or a T intensity with a letter in it (checksum then recomputed, so valid)."""
    body = record[:-4]
    if bad_checksum:
        bad = (int(record[-4:-2], 16) + 0x37) % 256
        return body + f"{bad:02X}".encode() + b"\r\n", "bad_checksum"
    fields = body.split(b";")
    fields[7] = b"1S" + fields[7][2:] if len(fields[7]) > 2 else b"S"
    new_body = b";".join(fields)
    return new_body + sum_checksum(new_body).encode() + b"\r\n", "non_numeric"
