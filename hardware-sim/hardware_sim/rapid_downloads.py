"""Two named pesticide-residue testers whose stored records a PC downloads over serial, written from a
public integrator's reader (facts only, no code: soldiers1989/UploadSoftWare @ 9f7fab87, ``clsTL310.cs`` and
``clsTY16.cs``/``ucTTNJ16.cs``; see drivers/profiles/tl310_pesticide.toml and ty16_pesticide.toml for the
layouts). Own encoders here: nothing of the project's codecs is imported.

- :class:`TL310Sim` (115200 8N1): ``7E 15 04 00 <sel u32 LE> <crc> AA`` → one 27-byte frame per record,
  ``7E 16 15 00 <21 data bytes> <crc> AA``; CRC-8 poly 0x31, init 0, MSB first, over CMD..DATA. The record
  command byte 0x16 is an assumption (the cited reader does not check it).
- :class:`TY16Sim` (9600 8N1): ``1B BF`` → ``1B 02``; ``1B B1`` → 2 bytes + a 73-byte group; ``24`` → the next
  group, or ``1B FE`` when there is none. Group: ss mm hh dd MM, 1 byte, yy, presence bit map (top bit =
  slot 1), 5 bytes, then 8 slots 8 bytes apart, each starting with a big-endian float32 (the last slot only
  its 4 bytes). The 2-byte prefix of the first reply is sent as ``1B B1`` (not stated by the source).

Faults: the shared :class:`~hardware_sim.faults.Faults` (bit errors, dropped bytes, disconnects, slow bytes;
``malformed_lines`` = indexes of replies sent damaged) and per device ``drop_records`` (TL310: record
numbers never sent — a sequence gap) and ``omit_end`` (TY16: never sends ``1B FE``).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from datetime import datetime

from .base import ThreadedSim
from .faults import Faults
from .link import Link

TL310_READ, TL310_RECORD = 0x15, 0x16
TL310_NA = 0x7FFE
TL310_LIMITS = {0: 50.0, 1: 70.0}  # standard code → limit %: 00 GB/T 5009.199-2003, 01 NY/T 448-2001
TY16_HANDSHAKE, TY16_FIRST, TY16_NEXT = b"\x1b\xbf", b"\x1b\xb1", b"\x24"
TY16_HANDSHAKE_REPLY, TY16_FIRST_PREFIX, TY16_END = b"\x1b\x02", b"\x1b\xb1", b"\x1b\xfe"


def crc8_31(data: bytes) -> int:
    """CRC-8, polynomial 0x31, initial value 0, most significant bit first, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def tl310_frame(cmd: int, data: bytes) -> bytes:
    body = bytes([cmd]) + struct.pack("<H", len(data)) + data
    return b"\x7e" + body + bytes([crc8_31(body)]) + b"\xaa"


@dataclass(frozen=True)
class TL310Record:
    """One stored test: ``inhibition_percent`` None is stored as the NA code 0x7FFE."""

    channel: int
    when: datetime
    inhibition_percent: float | None
    standard: int = 0


def tl310_record_data(rec: TL310Record, number: int, total: int) -> bytes:
    """The 21 data bytes of a record frame."""
    raw = TL310_NA if rec.inhibition_percent is None else round(rec.inhibition_percent * 10)
    verdict = 0 if rec.inhibition_percent is None else (1 if rec.inhibition_percent >= TL310_LIMITS[rec.standard]
                                                        else 2)
    w = rec.when
    return (bytes([0xFF]) + struct.pack("<HH", total, number)
            + bytes([rec.channel, rec.standard, w.year - 2000, w.month, w.day, w.hour, w.minute, w.second])
            + bytes(4) + struct.pack("<H", raw) + bytes([verdict, 0]))


class TL310Sim(ThreadedSim):
    """Answers the record-download request with one frame per stored record."""

    def __init__(self, records: list[TL310Record], *, seed: int = 0, faults: Faults | None = None,
                 drop_records: tuple[int, ...] = (), reply_delay_s: float = 0.01) -> None:
        super().__init__(seed=seed, faults=faults)
        self.records = list(records)
        self.drop_records = drop_records
        self.reply_delay_s = reply_delay_s
        self.downloads = 0
        self._replies = 0

    def frames(self, selector: int) -> list[tuple[int, bytes]]:
        """(record number, frame) for a request: all records, or the last one (selector 0x000000FF)."""
        total = len(self.records)
        numbered = list(enumerate(self.records, start=1))
        chosen = numbered if selector == 0xFFFFFFFF else numbered[-1:]
        return [(n, tl310_frame(TL310_RECORD, tl310_record_data(r, n, total))) for n, r in chosen]

    def _serve(self, link: Link) -> None:
        self._wait_host(link)
        buf = b""
        while not self._stop.is_set():
            buf += self._read(link, 0.05)
            start = buf.find(b"\x7e")
            if start < 0 or len(buf) < start + 10:
                buf = buf[start:] if start >= 0 else b""
                continue
            frame, buf = buf[start:start + 10], buf[start + 10:]
            if frame[1] != TL310_READ or frame[-1] != 0xAA or crc8_31(frame[1:8]) != frame[8]:
                self._event("bad_request", frame.hex(" "))
                continue
            (selector,) = struct.unpack("<I", frame[4:8])
            self.downloads += 1
            self._event("request", f"selector={selector:#010x}")
            for number, reply in self.frames(selector):
                if number in self.drop_records:
                    self._event("dropped", f"record {number}")
                    continue
                self._sleep(self.reply_delay_s)
                index = self._replies
                self._replies += 1
                if index in self.faults.malformed_lines:
                    reply = reply[:-2] + bytes([reply[-2] ^ 0x5A]) + reply[-1:]
                    self._event("malformed", "bad CRC", index)
                if not self._send(link, reply, frame_index=index):
                    break
                self._event("record", f"{number}", index)


@dataclass(frozen=True)
class TY16Group:
    """One stored group: up to 8 slot values (None: the slot holds no result)."""

    when: datetime
    values: tuple[float | None, ...]


def ty16_group_bytes(group: TY16Group) -> bytes:
    """The 73 bytes of a group record."""
    values = list(group.values) + [None] * (8 - len(group.values))
    bitmap = sum(1 << (7 - i) for i, v in enumerate(values) if v is not None)
    w = group.when
    head = bytes([w.second, w.minute, w.hour, w.day, w.month, 0, w.year - 2000, bitmap]) + bytes(5)
    slots = b"".join(struct.pack(">f", v if v is not None else 0.0) + (bytes(4) if i < 7 else b"")
                     for i, v in enumerate(values))
    return head + slots


class TY16Sim(ThreadedSim):
    """Answers the TY16 handshake and the group reads (first, next …, end)."""

    def __init__(self, groups: list[TY16Group], *, seed: int = 0, faults: Faults | None = None,
                 omit_end: bool = False, reply_delay_s: float = 0.01) -> None:
        super().__init__(seed=seed, faults=faults)
        self.groups = list(groups)
        self.omit_end = omit_end
        self.reply_delay_s = reply_delay_s
        self.commands: list[bytes] = []
        self._next = 0
        self._replies = 0

    def reply_to(self, command: bytes) -> bytes | None:
        if command == TY16_HANDSHAKE:
            return TY16_HANDSHAKE_REPLY
        if command == TY16_FIRST:
            self._next = 0
        if self._next >= len(self.groups):
            return None if self.omit_end else TY16_END
        group = ty16_group_bytes(self.groups[self._next])
        self._next += 1
        return TY16_FIRST_PREFIX + group if command == TY16_FIRST else group

    def _serve(self, link: Link) -> None:
        self._wait_host(link)
        buf = b""
        while not self._stop.is_set():
            buf += self._read(link, 0.05)
            while buf:
                if buf[:2] in (TY16_HANDSHAKE, TY16_FIRST):
                    command, buf = buf[:2], buf[2:]
                elif buf[:1] == TY16_NEXT:
                    command, buf = buf[:1], buf[1:]
                elif buf[:1] == b"\x1b" and len(buf) < 2:
                    break  # the rest of the command is on its way
                else:
                    self._event("bad_request", buf[:1].hex())
                    buf = buf[1:]
                    continue
                self.commands.append(command)
                self._answer(link, command)

    def _answer(self, link: Link, command: bytes) -> None:
        reply = self.reply_to(command)
        if reply is None:
            self._event("silent", command.hex())
            return
        self._sleep(self.reply_delay_s)
        index = self._replies
        self._replies += 1
        if index in self.faults.malformed_lines:
            reply = reply[:-1]  # one byte short: the reader waits for it and times out
            self._event("malformed", "short reply", index)
        self._send(link, reply, frame_index=index)
        self._event("reply", f"{len(reply)} bytes", index)


def wait_downloads(sim: TL310Sim, count: int, timeout_s: float) -> bool:
    """True once ``sim`` answered ``count`` download requests (or False after ``timeout_s``)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if sim.downloads >= count:
            return True
        time.sleep(0.02)
    return False
