"""Binary framed dialects (``SOF ADDR CMD LEN PAYLOAD CRC``) driven by a profile's ``[binary]`` section.

Sans-I/O: :class:`BinaryFramer` finds frames in a byte stream (no byte stuffing: find SOF, read LEN, verify
the CRC; on a bad CRC discard the SOF byte and rescan), :func:`build_frame` makes requests, and
:func:`decode_payload` turns a reply payload into named fields (bit flags expanded, groups repeated).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Literal

from drivers.codecs.checksums import crc, crc_spec
from drivers.errors import ChecksumError, FieldError, FramingError, ProtocolError, UnknownRecordError
from drivers.profiles import Profile
from drivers.profiles._dialects import STRUCT_TYPES, BinaryDialect, BinField

HEADER = 3  # ADDR CMD LEN


@dataclass(frozen=True)
class BinaryFrame:
    """A frame whose CRC verified."""

    offset: int
    address: int
    command: int
    payload: bytes
    raw: bytes


@dataclass(frozen=True)
class BinaryRejected:
    """Bytes rejected while hunting for frames (bad CRC, …)."""

    offset: int
    raw: bytes
    error: ProtocolError


@dataclass(frozen=True)
class BinaryMessage:
    """A decoded reply: ``command`` is the profile's command name (or ``"ERROR"``)."""

    command: str
    address: int
    fields: dict[str, Any]


def _dialect(profile: Profile) -> BinaryDialect:
    if profile.binary is None:
        raise ValueError(f"profile {profile.name!r} is not a binary frame dialect")
    dialect: BinaryDialect = profile.binary
    return dialect


def _byte_order(order: str) -> Literal["little", "big"]:
    """The profile's ``byteorder`` (validated to big/little when the profile is loaded)."""
    return "little" if order == "little" else "big"


def _crc_bytes(d: BinaryDialect, data: bytes) -> bytes:
    spec = crc_spec(d.crc)
    order = "little" if spec.refout and spec.width > 8 else _byte_order(d.byteorder)
    return crc(spec, data).to_bytes(spec.width // 8, order)


def build_frame(profile: Profile, command: str | int, payload: bytes = b"", *, address: int | None = None) -> bytes:
    """A complete frame for ``command`` (name or code) with ``payload``."""
    d = _dialect(profile)
    code = d.commands[command].code if isinstance(command, str) else command
    if len(payload) > 255:
        raise ValueError("payload longer than 255 bytes")
    body = bytes([d.address if address is None else address, code, len(payload)]) + payload
    return d.sof + body + _crc_bytes(d, body)


class BinaryFramer:
    """Find CRC-verified frames in a byte stream (bounded memory; resynchronises on SOF)."""

    def __init__(self, profile: Profile) -> None:
        self._d = _dialect(profile)
        self._crc_len = crc_spec(self._d.crc).width // 8
        self._buf = b""
        self._offset = 0

    def feed(self, data: bytes) -> list[BinaryFrame | BinaryRejected]:
        d = self._d
        out: list[BinaryFrame | BinaryRejected] = []
        buf = self._buf + data
        pos, n, sof = 0, len(buf), d.sof
        while True:
            start = buf.find(sof, pos)
            if start < 0:
                keep = max(pos, n - len(sof) + 1)
                if keep > pos:
                    out.append(BinaryRejected(self._offset + pos, buf[pos:keep],
                                              FramingError("bytes outside a frame", offset=self._offset + pos)))
                pos = keep
                break
            if start > pos:
                out.append(BinaryRejected(self._offset + pos, buf[pos:start],
                                          FramingError("bytes outside a frame", offset=self._offset + pos)))
            pos = start
            head = start + len(sof)
            if n < head + HEADER:
                break
            total = len(sof) + HEADER + buf[head + 2] + self._crc_len
            if n < start + total:
                break
            raw = buf[start:start + total]
            body = raw[len(sof):total - self._crc_len]
            if _crc_bytes(d, body) != raw[total - self._crc_len:]:
                out.append(BinaryRejected(self._offset + start, raw,
                                          ChecksumError(f"{d.crc} does not match", offset=self._offset + start
                                                        + total - self._crc_len)))
                pos = start + 1  # discard the SOF byte and rescan
                continue
            out.append(BinaryFrame(self._offset + start, body[0], body[1], body[3:], raw))
            pos = start + total
        self._buf = buf[pos:]
        self._offset += pos
        return out


def _unpack(fields: tuple[BinField, ...], payload: bytes, pos: int, order: str, offset: int,
            out: dict[str, Any]) -> int:
    for f in fields:
        if f.type == "group":
            if f.count_field is None:  # the profile loader requires it for a group
                raise FieldError(f"group {f.name!r} names no count field", offset=offset + pos, field=f.name)
            count = out[f.count_field]
            items = []
            for _ in range(count):
                item: dict[str, Any] = {}
                pos = _unpack(f.fields, payload, pos, order, offset, item)
                items.append(item)
            out[f.name] = items
            continue
        fmt = (">" if order == "big" else "<") + STRUCT_TYPES[f.type]
        size = struct.calcsize(fmt)
        if pos + size > len(payload):
            raise FieldError(f"payload ends before field {f.name!r}", offset=offset + pos, field=f.name)
        (value,) = struct.unpack_from(fmt, payload, pos)
        out[f.name] = value
        for bit_name, bit in f.bits:
            out[bit_name] = bool(value >> bit & 1)
        pos += size
    return pos


def decode_payload(profile: Profile, frame: BinaryFrame) -> BinaryMessage:
    """Decode a reply frame's payload by the profile's command table."""
    d = _dialect(profile)
    offset = frame.offset + len(d.sof) + HEADER
    if d.error_code is not None and frame.command == d.error_code:
        fields: dict[str, Any] = {}
        _unpack(d.error_fields, frame.payload, 0, d.byteorder, offset, fields)
        return BinaryMessage("ERROR", frame.address, fields)
    for cmd in d.commands.values():
        if frame.command in (cmd.code | d.reply_flag, cmd.code):
            fields = {}
            end = _unpack(cmd.reply if frame.command != cmd.code else cmd.request, frame.payload, 0, d.byteorder,
                          offset, fields)
            if end != len(frame.payload):
                raise FieldError(f"{cmd.name}: payload has {len(frame.payload) - end} bytes beyond its fields",
                                 offset=offset + end)
            return BinaryMessage(cmd.name, frame.address, fields)
    raise UnknownRecordError(f"unknown command 0x{frame.command:02X}", offset=frame.offset + len(d.sof) + 1)


def encode_fields(profile: Profile, command: str, values: dict[str, Any], *, reply: bool = False) -> bytes:
    """Pack a flat request (or reply) payload from named values (groups are not supported here)."""
    d = _dialect(profile)
    cmd = d.commands[command]
    out = b""
    for f in (cmd.reply if reply else cmd.request):
        if f.type == "group":
            raise ValueError("encode_fields does not pack groups")
        out += struct.pack((">" if d.byteorder == "big" else "<") + STRUCT_TYPES[f.type], values[f.name])
    return out


class RequestSession:
    """Request/response on a binary dialect (sans-I/O): one outstanding request, a reply timeout."""

    def __init__(self, profile: Profile, *, timeout_s: float | None = None) -> None:
        self._profile = profile
        self._d = _dialect(profile)
        self._framer = BinaryFramer(profile)
        self._timeout = self._d.timeout_s if timeout_s is None else timeout_s
        self._pending: str | None = None
        self._deadline: float | None = None

    def request(self, command: str, payload: bytes = b"", *, now: float) -> bytes:
        """Bytes to send for ``command``; the reply is expected before ``now + timeout``."""
        if self._pending is not None:
            raise RuntimeError(f"request {self._pending} still outstanding")
        self._pending, self._deadline = command, now + self._timeout
        return build_frame(self._profile, command, payload)

    def feed(self, data: bytes, now: float) -> tuple[BinaryMessage | None, list[BinaryRejected]]:
        """Received bytes → (the reply when complete, rejected bytes). Replies for another address are
        ignored."""
        rejected: list[BinaryRejected] = []
        for item in self._framer.feed(data):
            if isinstance(item, BinaryRejected):
                rejected.append(item)
                continue
            if self._pending is None or item.address != self._d.address:
                continue
            try:
                message = decode_payload(self._profile, item)
            except ProtocolError as exc:
                rejected.append(BinaryRejected(item.offset, item.raw, exc))
                continue
            if message.command in (self._pending, "ERROR"):
                self._pending = self._deadline = None
                return message, rejected
        return None, rejected

    def timed_out(self, now: float) -> bool:
        """True (and the request is dropped) if the reply deadline has passed."""
        if self._deadline is not None and now >= self._deadline:
            self._pending = self._deadline = None
            return True
        return False
