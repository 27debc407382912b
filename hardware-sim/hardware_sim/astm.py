"""Device (e): a GC/LC data system sending results by ASTM E1381 / E1394 (PROTOCOLS.md (e)).

Written from the standards' text, independently of the project's codec:

- E1381 (CLSI LIS01-A2) low level, sender role: ENQ → ACK (NAK: busy, retry after
  ``busy_retry_s``, 10 s in the standard); frames ``<STX> FN text <ETB|ETX> C1 C2 <CR><LF>``,
  FN = frame number mod 8, 1 for the first frame of a session; text ≤ 240 chars, each record
  starts a frame, longer records continue in ETB frames; checksum = sum of FN..ETB/ETX mod 256
  as two uppercase hex digits; a NAKed or unanswered (15 s) frame is retransmitted, after 6
  failed attempts the sender sends EOT and gives up the session; EOT closes a session.
- E1394 (CLSI LIS02-A2) records H, P, O, R, C, L with delimiters ``|\\^&``.

:class:`AstmReceiverSim` plays the receiver (an LIS that is busy or noisy: NAK storms).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from .base import ThreadedSim
from .faults import Faults
from .link import Link, LinkClosed

STX, ETX, EOT, ENQ, ACK, NAK, ETB = 0x02, 0x03, 0x04, 0x05, 0x06, 0x15, 0x17
CR, LF = 0x0D, 0x0A
MAX_TEXT = 240
MAX_ATTEMPTS = 6
SENDER_ID = "GCSIM^1.0^SN0001"
CONTROL_BYTES = bytes([STX, ETX, EOT, ENQ, ACK, NAK, ETB, CR, LF])
BOOT_BANNER = b"GCSIM BOOT 1.0\r\n"


def escape(text: str) -> str:
    """E1394 7.1.5 escapes in data: & first, then | \\ ^."""
    return (text.replace("&", "&E&").replace("|", "&F&").replace("\\", "&R&").replace("^", "&S&"))


@dataclass(frozen=True)
class AstmResult:
    """One R record (and an optional C comment after it)."""

    analyte_code: str
    value: str
    units: str = "mg/kg"
    abnormal_flag: str = ""
    comment: str | None = None


@dataclass(frozen=True)
class AstmMessage:
    """One sample's results: a complete H … L message sent in one session."""

    sample_id: str
    results: tuple[AstmResult, ...]
    method: str = "GB23200.113"
    operator: str = ""
    instrument_id: str = "GC-01"
    completed_at: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))


def message_records(msg: AstmMessage, sent_at: datetime | None = None) -> list[str]:
    """The E1394 records (without the trailing CR) of one message."""
    stamp = (sent_at or msg.completed_at).strftime("%Y%m%d%H%M%S")
    done = msg.completed_at.strftime("%Y%m%d%H%M%S")
    records = [
        f"H|\\^&|||{SENDER_ID}|||||||P|E1394-97|{stamp}",
        "P|1",
        f"O|1|{escape(msg.sample_id)}||^^^{escape(msg.method)}|R||||||||||||||||||||F",
    ]
    comment_no = 0
    for n, r in enumerate(msg.results, start=1):
        records.append(f"R|{n}|^^^{escape(r.analyte_code)}|{escape(r.value)}|{escape(r.units)}||"
                       f"{r.abnormal_flag}||F||{escape(msg.operator)}||{done}|{escape(msg.instrument_id)}")
        if r.comment is not None:
            comment_no += 1
            records.append(f"C|{comment_no}|I|{escape(r.comment)}|G")
    records.append("L|1|N")
    return records


def checksum(body: bytes) -> bytes:
    """Sum of FN … ETB/ETX mod 256, two uppercase hex digits (E1381 6.3.3.4)."""
    return f"{sum(body) % 256:02X}".encode("ascii")


def frame(fn: int, text: bytes, last: bool) -> bytes:
    body = str(fn % 8).encode("ascii") + text + bytes([ETX if last else ETB])
    return bytes([STX]) + body + checksum(body) + b"\r\n"


def message_frames(records: list[str], encoding: str = "latin-1") -> list[bytes]:
    """Frames of one session: each record (with its CR) starts a frame; > 240 chars → ETB frames."""
    frames: list[bytes] = []
    fn = 1
    for record in records:
        raw = record.encode(encoding) + b"\r"
        chunks = [raw[i:i + MAX_TEXT] for i in range(0, len(raw), MAX_TEXT)]
        for k, chunk in enumerate(chunks):
            frames.append(frame(fn, chunk, last=k == len(chunks) - 1))
            fn += 1
    return frames


class _Restart(Exception):
    """The session must start again (disconnect or reboot)."""


class AstmSenderSim(ThreadedSim):
    """An instrument sending ``messages`` one session each, over a pty or TCP.

    ``acked_frames`` holds, in order, each clean frame the host ACKed (a test counts them);
    ``completed`` the indexes of messages whose session ended normally with EOT.
    """

    def __init__(self, messages: list[AstmMessage], *, seed: int = 0, faults: Faults | None = None,
                 reply_timeout_s: float = 15.0, busy_retry_s: float = 10.0,
                 max_message_attempts: int = 10, message_interval_s: float = 0.0,
                 encoding: str = "latin-1") -> None:
        super().__init__(seed=seed, faults=faults)
        self.messages = list(messages)
        self.reply_timeout_s = reply_timeout_s
        self.busy_retry_s = busy_retry_s
        self.max_message_attempts = max_message_attempts
        self.message_interval_s = message_interval_s
        self.records = [message_records(m) for m in self.messages]
        self.frames = [message_frames(r, encoding) for r in self.records]
        """The clean frames of each message."""
        self.acked_frames: list[bytes] = []
        self.acks_received = 0
        self.naks_received = 0
        self.completed: list[int] = []
        self.abandoned: list[int] = []
        self._inbox = bytearray()
        self._sessions = 0
        self._rebooted = False
        self._host_lost = False

    # -- reading replies --------------------------------------------------------------------------------
    def _read(self, link: Link, timeout: float) -> bytes:
        try:
            data = link.read(timeout)
        except LinkClosed:
            if self._stop.is_set():
                raise
            self._event("host_disconnected")
            self._host_lost = True
            self._wait_host(link)
            return b""
        if data:
            self.received.append(data)
        return data

    def _reply(self, link: Link) -> int | None:
        """The next ACK / NAK / EOT / ENQ byte from the host, or None after ``reply_timeout_s``."""
        deadline = time.monotonic() + self.reply_timeout_s
        while True:
            while self._inbox:
                byte = self._inbox.pop(0)
                if byte in (ACK, NAK, EOT, ENQ):
                    return byte
            if self._host_lost:
                self._host_lost = False
                raise _Restart("host disconnected")
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stop.is_set():
                return None
            self._inbox += self._read(link, min(remaining, 0.05))

    def _drain(self, link: Link) -> None:
        self._inbox.clear()
        while self._read(link, 0):
            pass
        self._host_lost = False

    def _put(self, link: Link, data: bytes, *, damage: bool = True, index: int | None = None) -> None:
        try:
            ok = self._send(link, data, frame_index=index, damage=damage)
        except LinkClosed:
            if self._stop.is_set():
                raise
            self._wait_host(link)
            raise _Restart("host disconnected while sending") from None
        if not ok:
            raise _Restart("link dropped mid-message")

    # -- the sender state machine ------------------------------------------------------------------------
    def _serve(self, link: Link) -> None:
        self._wait_host(link)
        for index in range(len(self.messages)):
            for _attempt in range(self.max_message_attempts):
                if self._stop.is_set():
                    return
                try:
                    if self._session(link, index):
                        self.completed.append(index)
                        break
                except _Restart as why:
                    self._event("restart", str(why), index)
            else:
                self.abandoned.append(index)
                self._event("abandoned", f"message {index}", index)
            self._sleep(self.message_interval_s)

    def _establish(self, link: Link, index: int) -> None:
        """Establishment phase: ENQ until the host ACKs it."""
        while not self._stop.is_set():
            self._drain(link)
            self._put(link, bytes([ENQ]), damage=False, index=index)
            self._event("enq", "", index)
            reply = self._reply(link)
            if reply == ACK:
                self.acks_received += 1
                self._event("ack", "ENQ", index)
                return
            if reply == ENQ:  # contention: the instrument has priority, retry after 1 s
                self._event("contention", "", index)
                self._sleep(1.0)
                continue
            if reply == NAK:
                self.naks_received += 1
            self._event("busy" if reply == NAK else "no_reply", "ENQ", index)
            if reply is None:
                self._put(link, bytes([EOT]), damage=False, index=index)
            self._sleep(self.busy_retry_s)
        raise LinkClosed("stopped")

    def _session(self, link: Link, index: int) -> bool:
        f = self.faults
        if f.garbage_between_sessions:
            self._put(link, self.injector.garbage(exclude=CONTROL_BYTES), damage=False)
        session_no = self._sessions
        self._sessions += 1
        self._establish(link, index)
        frames = self.frames[index]
        for k, clean in enumerate(frames):
            if (f.reboot_after_messages is not None and not self._rebooted
                    and session_no == f.reboot_after_messages and k == len(frames) // 2):
                self._rebooted = True
                self._sleep(f.reconnect_delay_s)
                self._put(link, BOOT_BANNER, damage=False)
                raise _Restart("device rebooted mid-message")
            if not self._transfer(link, index, k, clean):
                self._put(link, bytes([EOT]), damage=False, index=index)
                self._event("aborted", f"frame {k} failed {MAX_ATTEMPTS} times", index)
                return False
        self._put(link, bytes([EOT]), damage=False, index=index)
        self._event("eot", "", index)
        return True

    def _transfer(self, link: Link, index: int, k: int, clean: bytes) -> bool:
        """Send one frame until ACKed; False after MAX_ATTEMPTS failures."""
        for attempt in range(MAX_ATTEMPTS):
            out = clean
            if attempt == 0 and index * 1000 + k in self._malformed_keys():
                out = clean[:-4] + bytes([clean[-4] ^ 0x01]) + clean[-3:]
                self._event("malformed", "bad checksum", index)
            if (attempt == 0 and self.faults.wrong_frame_numbers
                    and self.injector.rng.random() < self.faults.wrong_frame_numbers):
                out = _renumber(clean, (int(chr(clean[1])) + 1) % 8)
                self._event("wrong_frame_number", out[1:2].decode(), index)
            self._drain(link)
            self._put(link, out, index=index)
            reply = self._reply(link)
            if reply in (ACK, EOT):  # EOT here = ACK + receiver interrupt request
                self.acks_received += 1
                self.acked_frames.append(clean)
                self._event("ack", clean[1:2].decode(), index)
                return True
            if reply == NAK:
                self.naks_received += 1
            self._event("nak" if reply == NAK else "no_reply", f"frame {k} attempt {attempt + 1}", index)
        return False

    def _malformed_keys(self) -> set[int]:
        """``malformed_lines`` counts frames over all messages in output order; mapped to keys."""
        if not self.faults.malformed_lines:
            return set()
        keys: list[int] = []
        for i, frames in enumerate(self.frames):
            keys.extend(i * 1000 + k for k in range(len(frames)))
        return {keys[n] for n in self.faults.malformed_lines if n < len(keys)}


def _renumber(clean: bytes, fn: int) -> bytes:
    body = str(fn).encode() + clean[2:-4]
    return bytes([STX]) + body + checksum(body) + b"\r\n"


@dataclass(frozen=True)
class ReceivedFrame:
    fn: int
    text: bytes
    last: bool



def _sums_ok(raw: bytes) -> bool:
    """A whole frame (STX FN text ETX|ETB C1 C2 CR LF) whose checksum matches."""
    return len(raw) >= 7 and checksum(raw[1:-4]) == raw[-4:-2]


def _frame_ok(raw: bytes, fn: int) -> bool:
    """A frame numbered ``fn``, properly ended, with a matching checksum."""
    return _sums_ok(raw) and raw[-2:] == b"\r\n" and raw[-5] in (ETX, ETB) and raw[1] == ord(str(fn))

class AstmReceiverSim(ThreadedSim):
    """An LIS receiver: ACKs good frames, NAKs bad ones; ``Faults.nak_storm`` NAKs each frame
    (and ENQ) that many times first. ``messages`` collects the text of each completed session."""

    def __init__(self, *, seed: int = 0, faults: Faults | None = None, frame_timeout_s: float = 30.0) -> None:
        super().__init__(seed=seed, faults=faults)
        self.frame_timeout_s = frame_timeout_s
        self.messages: list[bytes] = []
        self.frames: list[ReceivedFrame] = []
        self.naks_sent = 0
        self.acks_sent = 0

    def _answer(self, link: Link, good: bool, key: tuple[int, bytes], storms: dict[tuple[int, bytes], int]) -> bool:
        if good and storms.get(key, 0) < self.faults.nak_storm:
            storms[key] = storms.get(key, 0) + 1
            good = False
        self._send(link, bytes([ACK if good else NAK]), damage=False)
        if good:
            self.acks_sent += 1
        else:
            self.naks_sent += 1
        return good

    def _serve(self, link: Link) -> None:
        self._wait_host(link)
        buf = bytearray()
        storms: dict[tuple[int, bytes], int] = {}
        in_session = False
        expected_fn = 1
        text = bytearray()
        last_activity = time.monotonic()
        while not self._stop.is_set():
            data = self._read(link, 0.05)
            if data:
                buf += data
                last_activity = time.monotonic()
            elif in_session and time.monotonic() - last_activity > self.frame_timeout_s:
                self._event("timeout", "no frame within the receiver timeout")
                in_session, text = False, bytearray()
            while buf:
                if not in_session:
                    byte = buf.pop(0)
                    if byte == ENQ:
                        key = (-1, bytes([len(self.messages)]))
                        if self._answer(link, True, key, storms):
                            in_session, expected_fn, text = True, 1, bytearray()
                            self._event("session", "ENQ accepted")
                    continue
                if buf[0] == EOT:
                    buf.pop(0)
                    self.messages.append(bytes(text))
                    self._event("message", bytes(text).decode("latin-1"))
                    in_session = False
                    continue
                if buf[0] == ENQ:  # a new ENQ inside a session: sender restarted
                    in_session = False
                    continue
                start = buf.find(bytes([STX]))
                if start < 0:
                    buf.clear()
                    break
                end = buf.find(b"\n", start)
                if end < 0:
                    del buf[:start]
                    break
                raw = bytes(buf[start:end + 1])
                del buf[:end + 1]
                good = _frame_ok(raw, expected_fn % 8)
                if _sums_ok(raw) and raw[1] == ord(str((expected_fn - 1) % 8)):
                    self._send(link, bytes([ACK]), damage=False)  # a repeat of the last frame
                    self._event("duplicate", raw[1:2].decode())
                    continue
                key = (len(self.messages), raw)
                if self._answer(link, good, key, storms):
                    self.frames.append(ReceivedFrame(expected_fn % 8, raw[2:-5], raw[-5] == ETX))
                    text += raw[2:-5]
                    expected_fn += 1
