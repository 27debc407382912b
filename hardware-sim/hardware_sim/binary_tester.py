"""Device (b): binary-framed 16-channel rapid tester, CRC-8, request/response (PROTOCOLS.md (b)).

Frame: ``AA ADDR CMD LEN PAYLOAD CRC``; CRC-8/MAXIM-DOW (poly 0x31 reflected, init 0x00,
xorout 0x00, check('123456789') = 0xA1) over ADDR..PAYLOAD. Floats are big-endian IEEE 754.
"""

from __future__ import annotations

import random
import struct
import time
from dataclasses import dataclass
from datetime import datetime

from .base import ThreadedSim
from .enzyme import ChannelReading, SimSample, simulate_readings
from .faults import Faults
from .link import Link, LinkClosed

SOF = 0xAA
CMD_GET_STATUS = 0x01
CMD_GET_RESULT = 0x02
CMD_ACK_RESULT = 0x03
CMD_ERROR = 0xEE
ERR_BAD_CRC = 0x01
ERR_UNKNOWN_COMMAND = 0x02
ERR_NO_RESULT = 0x03
ERR_BAD_LENGTH = 0x04
STATE_IDLE, STATE_MEASURING, STATE_READY = 0, 1, 2
FLAG_PRESENT, FLAG_POSITIVE, FLAG_ERROR = 0x01, 0x02, 0x04
POSITIVE_THRESHOLD_PERCENT = 50.0  # GB/T 5009.199-2003: inhibition ≥ 50 % is positive
REQUEST_TIMEOUT_S = 0.5
BOOT_BANNER = b"\x00\xffRT16 BOOT V1.7\r\n"


def crc8_maxim(data: bytes) -> int:
    """CRC-8/MAXIM-DOW: poly 0x31 bit-reflected (0x8C), init 0x00, refin/refout, xorout 0x00."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc


def build_frame(addr: int, cmd: int, payload: bytes = b"") -> bytes:
    if len(payload) > 255:
        raise ValueError(f"payload of {len(payload)} bytes exceeds LEN's 255")
    body = bytes([addr, cmd, len(payload)]) + payload
    return bytes([SOF]) + body + bytes([crc8_maxim(body)])


@dataclass(frozen=True)
class Request:
    addr: int
    cmd: int
    payload: bytes
    crc_ok: bool


def result_payload(run_no: int, when: datetime, readings: list[ChannelReading]) -> bytes:
    """GET_RESULT payload: run_no, timestamp, control ΔA, n, then 14-byte channel records."""
    control = readings[0]
    head = struct.pack(">H6Bf", run_no, when.year - 2000, when.month, when.day, when.hour, when.minute,
                       when.second, control.a3 - control.a0)
    samples = readings[1:]
    records = b"".join(
        struct.pack(">BBfff", r.channel,
                    FLAG_PRESENT | (FLAG_POSITIVE if r.inhibition_percent >= POSITIVE_THRESHOLD_PERCENT else 0),
                    r.a0, r.a3, r.inhibition_percent)
        for r in samples)
    return head + bytes([len(samples)]) + records


class RequestParser:
    """Device-side frame finder: SOF scan, LEN, CRC; drops a stale partial frame after a timeout."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.last_byte_at = 0.0

    def feed(self, data: bytes, now: float) -> list[Request]:
        if self.buffer and data and now - self.last_byte_at > REQUEST_TIMEOUT_S:
            self.buffer.clear()
        if data:
            self.last_byte_at = now
        self.buffer += data
        out: list[Request] = []
        while True:
            start = self.buffer.find(SOF)
            if start < 0:
                self.buffer.clear()
                return out
            del self.buffer[:start]
            if len(self.buffer) < 4:
                return out
            total = 5 + self.buffer[3]
            if len(self.buffer) < total:
                return out
            frame = bytes(self.buffer[:total])
            crc_ok = crc8_maxim(frame[1:-1]) == frame[-1]
            if crc_ok:
                del self.buffer[:total]
            else:
                del self.buffer[:1]  # resync on the next SOF
            out.append(Request(frame[1], frame[2], frame[4:-1], crc_ok))


class BinaryTesterSim(ThreadedSim):
    """Answers GET_STATUS / GET_RESULT / ACK_RESULT for ``runs`` successive runs of ``samples``.

    ``malformed_lines`` are indexes of reply frames sent with a wrong CRC;
    ``reboot_after_messages`` reboots once after that many replies (banner, request lost).
    """

    def __init__(self, samples: list[SimSample], *, run_no: int = 1, control_delta_a: float = 0.45,
                 seed: int = 0, faults: Faults | None = None, address: int = 0x01, runs: int = 1,
                 measure_time_s: float = 0.0, reply_delay_s: float = 0.02,
                 started_at: datetime | None = None) -> None:
        super().__init__(seed=seed, faults=faults)
        if not samples or len({s.channel for s in samples}) != len(samples):
            raise ValueError("samples must be non-empty with distinct channels")
        self.samples = list(samples)
        self.address = address
        self.measure_time_s = measure_time_s
        self.reply_delay_s = reply_delay_s
        rng = random.Random(seed)
        when = started_at or datetime.now().replace(microsecond=0)
        self.readings = [simulate_readings(self.samples, control_delta_a, rng) for _ in range(runs)]
        self.payloads = [result_payload(run_no + k, when, r) for k, r in enumerate(self.readings)]
        self.first_run_no = run_no
        self.current = 0  # index of the run being offered
        self.acked_runs: list[int] = []
        self.requests: list[Request] = []
        self._replies = 0
        self._rebooted = False
        self._measure_started = time.monotonic()

    @property
    def state(self) -> int:
        if self.current >= len(self.payloads):
            return STATE_IDLE
        if time.monotonic() - self._measure_started < self.measure_time_s:
            return STATE_MEASURING
        return STATE_READY

    @property
    def run_no(self) -> int:
        return self.first_run_no + min(self.current, len(self.payloads) - 1)

    def reply_to(self, req: Request) -> bytes | None:
        """The reply frame for one request (None: not addressed to this device)."""
        if req.addr != self.address:
            return None
        if not req.crc_ok:
            return build_frame(self.address, CMD_ERROR, bytes([ERR_BAD_CRC]))
        if req.cmd == CMD_GET_STATUS:
            if req.payload:
                return build_frame(self.address, CMD_ERROR, bytes([ERR_BAD_LENGTH]))
            return build_frame(self.address, 0x81, struct.pack(">BH", self.state, self.run_no))
        if req.cmd == CMD_GET_RESULT:
            if req.payload:
                return build_frame(self.address, CMD_ERROR, bytes([ERR_BAD_LENGTH]))
            if self.state != STATE_READY:
                return build_frame(self.address, CMD_ERROR, bytes([ERR_NO_RESULT]))
            return build_frame(self.address, 0x82, self.payloads[self.current])
        if req.cmd == CMD_ACK_RESULT:
            if len(req.payload) != 2:
                return build_frame(self.address, CMD_ERROR, bytes([ERR_BAD_LENGTH]))
            (acked,) = struct.unpack(">H", req.payload)
            if self.state == STATE_READY and acked == self.run_no:
                self.acked_runs.append(acked)
                self._event("result_acked", f"run {acked}")
                self.current += 1
                self._measure_started = time.monotonic()
            return build_frame(self.address, 0x83, req.payload)
        return build_frame(self.address, CMD_ERROR, bytes([ERR_UNKNOWN_COMMAND]))

    def _serve(self, link: Link) -> None:
        self._wait_host(link)
        parser = RequestParser()
        while not self._stop.is_set():
            data = self._read(link, 0.05)
            for req in parser.feed(data, time.monotonic()):
                self.requests.append(req)
                self._event("request", f"addr={req.addr:#04x} cmd={req.cmd:#04x} crc_ok={req.crc_ok}")
                try:
                    self._answer(link, req)
                except LinkClosed:
                    if self._stop.is_set():
                        raise
                    self._wait_host(link)

    def _answer(self, link: Link, req: Request) -> None:
        f = self.faults
        reply = self.reply_to(req)
        if reply is None:
            return
        index = self._replies
        self._replies += 1
        if f.reboot_after_messages is not None and not self._rebooted and index == f.reboot_after_messages:
            self._rebooted = True
            self._sleep(f.reconnect_delay_s)
            self._send(link, BOOT_BANNER, damage=False)
            self._event("reboot", "request lost, banner sent", index)
            return
        self._sleep(self.reply_delay_s)
        if f.garbage_between_sessions:
            self._send(link, self.injector.garbage(exclude=bytes([SOF])), damage=False)
        if index in f.malformed_lines:
            reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
            self._event("malformed", "bad CRC", index)
        self._send(link, reply, frame_index=index)
        self._event("reply", reply.hex(" "), index)
