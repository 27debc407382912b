"""ASTM E1381 / CLSI LIS01-A2 frames: ``<STX> FN text <ETB|ETX> C1 C2 <CR><LF>``.

FN is the ASCII digit of the frame number mod 8 (first frame of a session: 1); the checksum is the sum of
the bytes from FN through ETB/ETX inclusive, mod 256, as two uppercase hex digits (§8.3.1); text is at most
240 characters (frame ≤ 247); a record longer than that continues in ETB frames and ends in an ETX frame;
each record starts a new frame.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from drivers.errors import ChecksumError, FramingError, ProtocolError

STX, ETX, EOT, ENQ, ACK, NAK, ETB, CR, LF = 0x02, 0x03, 0x04, 0x05, 0x06, 0x15, 0x17, 0x0D, 0x0A
MAX_TEXT = 240
MAX_FRAME = MAX_TEXT + 7
# LIS01-A2 restricted characters that may not appear in frame text (SOH STX ETX EOT ENQ ACK DLE NAK SYN
# ETB LF DC1-DC4).
RESTRICTED = frozenset((0x01, STX, ETX, EOT, ENQ, ACK, 0x10, NAK, 0x16, ETB, LF, 0x11, 0x12, 0x13, 0x14))
_RESTRICTED_RE = re.compile(b"[" + re.escape(bytes(sorted(RESTRICTED))) + b"]")
_HEX = frozenset(b"0123456789ABCDEF")


def checksum(body: bytes) -> bytes:
    """Two uppercase hex digits of sum(FN … ETB/ETX) mod 256 (LIS01-A2 §8.3.1)."""
    return b"%02X" % (sum(body) & 0xFF)


class Frame(NamedTuple):
    """A frame whose framing and checksum are valid. ``text`` excludes FN and ETB/ETX; ``final`` is True
    for an ETX frame (end of record), False for ETB (record continues). (A named tuple: immutable and
    cheap to make, one per received frame.)"""

    number: int
    text: bytes
    final: bool
    raw: bytes
    offset: int = 0


_RESTRICTED_BYTES = bytes(sorted(RESTRICTED))
_tuple_new = tuple.__new__


def _trailer_table() -> dict[bytes, tuple[bool, int]]:
    """``<ETB|ETX> C1 C2 <CR><LF>`` → (final, low byte that Adler-32 of the whole frame must have).

    Adler-32's A half is 1 + the byte sum mod 65521; a frame of at most 247 bytes sums to at most
    247 × 255 < 65520, so A is exactly 1 + sum(frame). The frame sum is STX + sum(FN … ETB/ETX) + C1 + C2 + CR
    + LF, and the checksum holds iff sum(FN … ETB/ETX) ≡ C1C2 (mod 256) (LIS01-A2 §8.3.1)."""
    table = {}
    for value in range(256):
        digits = b"%02X" % value
        low = (1 + STX + value + digits[0] + digits[1] + CR + LF) & 0xFF
        for marker in (ETX, ETB):
            table[bytes((marker,)) + digits + b"\r\n"] = (marker == ETX, low)
    return table


_TRAILERS = _trailer_table()


def parse_frame(raw: bytes, *, offset: int = 0) -> Frame:
    """Check framing and checksum of one complete frame (``raw`` from STX through LF).

    Raises :class:`FramingError` or :class:`ChecksumError`, with the stream ``offset`` of the fault."""
    # Well-formed frame in a few C calls: the trailer is a known one, the checksum holds (via Adler-32, see
    # _trailer_table), and the only restricted bytes are STX, ETX/ETB and LF. Anything else takes the
    # detailed path below to name its fault.
    try:
        trailer = _TRAILERS.get(raw[-5:])
    except TypeError:  # an unhashable buffer (bytearray): the detailed path handles it
        trailer = None
    if (trailer is not None and len(raw) <= MAX_FRAME and raw[0] == STX and 0x30 <= raw[1] <= 0x37
            and zlib.adler32(raw) & 0xFF == trailer[1]
            and len(raw.translate(None, _RESTRICTED_BYTES)) == len(raw) - 3):
        return _tuple_new(Frame, (raw[1] - 0x30, raw[2:-5], trailer[0], raw, offset))
    n = len(raw)
    if n < 7 or raw[0] != STX:
        raise FramingError("frame must start with STX and be at least 7 bytes", offset=offset)
    if n > MAX_FRAME:
        raise FramingError(f"frame is {n} bytes, longer than {MAX_FRAME}", offset=offset)
    end = n - 5
    marker = raw[end]
    if marker != ETX and marker != ETB:
        raise FramingError("no ETX/ETB before the checksum", offset=offset + end)
    if raw[n - 2] != CR or raw[n - 1] != LF:
        raise FramingError("frame does not end with CR LF", offset=offset + n - 2)
    fn = raw[1] - 0x30
    if not 0 <= fn <= 7:
        raise FramingError(f"frame number byte 0x{raw[1]:02X} is not a digit 0-7", offset=offset + 1)
    got = raw[end + 1:end + 3]
    want = b"%02X" % (sum(raw[1:end + 1]) & 0xFF)
    if got != want:
        if not set(got) <= _HEX:
            raise FramingError(f"checksum {got!r} is not two uppercase hex digits", offset=offset + end + 1)
        raise ChecksumError(f"checksum {got.decode()} does not match computed {want.decode()}",
                            offset=offset + end + 1)
    text = raw[2:end]
    bad = _RESTRICTED_RE.search(text)
    if bad is not None:
        raise FramingError(f"restricted control byte 0x{text[bad.start()]:02X} in frame text",
                           offset=offset + 2 + bad.start())
    return Frame(fn, text, marker == ETX, raw, offset)


def build_frame(number: int, text: bytes, final: bool) -> bytes:
    """One frame with FN = ``number`` mod 8 (``text`` of an ETX frame ends with the record's CR)."""
    if len(text) > MAX_TEXT:
        raise ValueError(f"frame text is {len(text)} bytes, more than {MAX_TEXT}")
    body = b"%d" % (number % 8) + text + (b"\x03" if final else b"\x17")
    return b"\x02" + body + checksum(body) + b"\r\n"


def build_frames(records: Iterable[bytes], *, first_number: int = 1, max_text: int = MAX_TEXT) -> list[bytes]:
    """Frames for a message: each record (without its CR) starts a new frame, long records continue in
    ETB frames; frame numbers run on from ``first_number`` mod 8."""
    frames: list[bytes] = []
    number = first_number
    for record in records:
        data = record + b"\r"
        for start in range(0, len(data), max_text):
            chunk = data[start:start + max_text]
            frames.append(build_frame(number, chunk, start + max_text >= len(data)))
            number += 1
    return frames


# --------------------------------------------------------------------------- stream scanner


@dataclass(frozen=True)
class Control:
    """A link control byte outside a frame (ENQ, EOT, ACK, NAK)."""

    byte: int
    offset: int


@dataclass(frozen=True)
class RawFrame:
    """Bytes from STX to the end of the trailer, not yet validated."""

    raw: bytes
    offset: int


@dataclass(frozen=True)
class BadFrame:
    """A frame that could not be delimited (truncated, overlong, interrupted by a control byte)."""

    raw: bytes
    offset: int
    error: ProtocolError


@dataclass(frozen=True)
class Noise:
    """Bytes outside any frame that are not control bytes (line noise, garbage between sessions)."""

    data: bytes
    offset: int


Token = Control | RawFrame | BadFrame | Noise

_OUTSIDE_RE = re.compile(b"[\x02\x04\x05\x06\x15]")
_INSIDE_RE = re.compile(b"[\x02-\x06\x15\x17]")  # STX ETX EOT ENQ ACK NAK ETB
_CONTROLS = frozenset((ENQ, EOT, ACK, NAK))


class FrameScanner:
    """Cut a byte stream into control bytes, frames and noise (sans-I/O, bounded memory)."""

    def __init__(self) -> None:
        self._buf = b""
        self._offset = 0  # stream offset of self._buf[0]

    @property
    def pending(self) -> int:
        """Bytes held for an unfinished frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Token]:
        buf = self._buf + data if self._buf else bytes(data)
        base = self._offset
        out: list[Token] = []
        pos, n = 0, len(buf)
        while pos < n:
            if buf[pos] != STX:
                m = _OUTSIDE_RE.search(buf, pos)
                stop = m.start() if m else n
                if stop > pos:
                    out.append(Noise(buf[pos:stop], base + pos))
                    pos = stop
                    continue
                byte = buf[pos]
                out.append(Control(byte, base + pos))
                pos += 1
                continue
            m = _INSIDE_RE.search(buf, pos + 1, min(n, pos + MAX_FRAME))
            if m is None:
                if n - pos >= MAX_FRAME:
                    out.append(BadFrame(buf[pos:pos + MAX_FRAME], base + pos,
                                        FramingError(f"no ETX/ETB within {MAX_FRAME} bytes", offset=base + pos)))
                    pos += MAX_FRAME
                    continue
                break  # wait for more bytes
            end = m.start()
            if buf[end] != ETX and buf[end] != ETB:
                out.append(BadFrame(buf[pos:end], base + pos,
                                    FramingError(f"frame interrupted by control byte 0x{buf[end]:02X}",
                                                 offset=base + end)))
                pos = end
                continue
            if end + 5 > n:
                if n - end > 1 and _INSIDE_RE.search(buf, end + 1, n):
                    bad = _INSIDE_RE.search(buf, end + 1, n)
                    assert bad is not None
                    out.append(BadFrame(buf[pos:bad.start()], base + pos,
                                        FramingError("frame trailer interrupted", offset=base + bad.start())))
                    pos = bad.start()
                    continue
                break
            trailer_bad = _INSIDE_RE.search(buf, end + 1, end + 5)
            if trailer_bad is not None:
                out.append(BadFrame(buf[pos:trailer_bad.start()], base + pos,
                                    FramingError("frame trailer interrupted", offset=base + trailer_bad.start())))
                pos = trailer_bad.start()
                continue
            out.append(RawFrame(buf[pos:end + 5], base + pos))
            pos = end + 5
        self._buf = buf[pos:]
        self._offset = base + pos
        return out

    def skip(self, n: int) -> None:
        """Count ``n`` bytes decoded elsewhere (only while no frame bytes are held)."""
        if self._buf:
            raise ValueError("cannot skip bytes while a frame is unfinished")
        self._offset += n

    def flush(self) -> list[Token]:
        """End of stream: an unfinished frame becomes a :class:`BadFrame`."""
        if not self._buf:
            return []
        token = BadFrame(self._buf, self._offset, FramingError("stream ended inside a frame", offset=self._offset))
        self._offset += len(self._buf)
        self._buf = b""
        return [token]
