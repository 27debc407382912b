"""Binary dialects driven by a profile's ``[binary]`` section.

Framed (default): frames laid out as ``[binary].layout`` says (default ``SOF ADDR CMD LEN PAYLOAD CRC``;
e.g. ``SOF CMD LEN16 PAYLOAD CRC EOF`` for the TL310). Fixed (``framing = "fixed"``): no start byte and no
CRC; a command is literal bytes and its reply is the length the command declares (the TY16).

Sans-I/O: :class:`BinaryFramer` finds frames in a byte stream (no byte stuffing: find SOF, read the length,
verify the CRC and end byte; on a mismatch discard the SOF byte and rescan), :func:`build_frame` makes
requests, :func:`decode_payload` turns a reply payload into named fields (bit flags expanded, groups
repeated, fixed-count groups with a stride and a presence bit map), and :class:`RequestSession` pairs one
request with its reply in either framing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Literal

from drivers.codecs.checksums import crc, crc_spec
from drivers.errors import ChecksumError, FieldError, FramingError, ProtocolError, UnknownRecordError
from drivers.profiles import Profile
from drivers.profiles._dialects import STRUCT_TYPES, BinaryDialect, BinField

HEADER = 3  # ADDR CMD LEN (the default layout)
_PART_SIZE = {"addr": 1, "cmd": 1, "len8": 1, "len16": 2}


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
    if d.crc == "none":
        return b""
    spec = crc_spec(d.crc)
    order = "little" if spec.refout and spec.width > 8 else _byte_order(d.byteorder)
    return crc(spec, data).to_bytes(spec.width // 8, order)


def _header(d: BinaryDialect) -> tuple[str, ...]:
    """The layout's parts between the start-of-frame and the payload."""
    return d.layout[1:d.layout.index("payload")]


def build_frame(profile: Profile, command: str | int, payload: bytes = b"", *, address: int | None = None) -> bytes:
    """A complete frame for ``command`` (name or code) with ``payload`` (fixed framing: the command's
    literal bytes, then ``payload``)."""
    d = _dialect(profile)
    if d.framing == "fixed":
        if not isinstance(command, str):
            raise ValueError("fixed framing: commands are named")
        return d.commands[command].request_bytes + payload
    code = d.commands[command].code if isinstance(command, str) else command
    values = {"addr": bytes([d.address if address is None else address]), "cmd": bytes([code]),
              "len8": bytes([len(payload)]) if len(payload) <= 255 else b"",
              "len16": len(payload).to_bytes(2, _byte_order(d.byteorder)) if len(payload) <= 0xFFFF else b""}
    if "len8" in d.layout and len(payload) > 255:
        raise ValueError("payload longer than 255 bytes")
    body = b"".join(values[part] for part in _header(d)) + payload
    return d.sof + body + _crc_bytes(d, body) + d.eof


class BinaryFramer:
    """Find CRC-verified frames in a byte stream (bounded memory; resynchronises on SOF)."""

    def __init__(self, profile: Profile) -> None:
        self._d = _dialect(profile)
        self._crc_len = 0 if self._d.crc == "none" else crc_spec(self._d.crc).width // 8
        self._parts = _header(self._d)
        self._head = sum(_PART_SIZE[p] for p in self._parts)
        self._buf = b""
        self._offset = 0

    def _fields(self, head: bytes) -> tuple[int, int, int]:
        """(address, command, payload length) from a frame's header bytes."""
        out = {"addr": self._d.address, "cmd": 0, "len": 0}
        pos = 0
        for part in self._parts:
            size = _PART_SIZE[part]
            value = int.from_bytes(head[pos:pos + size], _byte_order(self._d.byteorder))
            out["len" if part.startswith("len") else part] = value
            pos += size
        return out["addr"], out["cmd"], out["len"]

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
            if n < head + self._head:
                break
            address, command, length = self._fields(buf[head:head + self._head])
            total = len(sof) + self._head + length + self._crc_len + len(d.eof)
            if n < start + total:
                break
            raw = buf[start:start + total]
            body = raw[len(sof):total - self._crc_len - len(d.eof)]
            error = self._check(raw, body, total, self._offset + start)
            if error is not None:
                out.append(BinaryRejected(self._offset + start, raw, error))
                pos = start + 1  # discard the SOF byte and rescan
                continue
            out.append(BinaryFrame(self._offset + start, address, command, body[self._head:], raw))
            pos = start + total
        self._buf = buf[pos:]
        self._offset += pos
        return out

    def _check(self, raw: bytes, body: bytes, total: int, offset: int) -> ProtocolError | None:
        d = self._d
        end = total - len(d.eof)
        if _crc_bytes(d, body) != raw[end - self._crc_len:end]:
            return ChecksumError(f"{d.crc} does not match", offset=offset + end - self._crc_len)
        if raw[end:] != d.eof:
            return FramingError(f"frame does not end with {d.eof.hex().upper()}", offset=offset + end)
        return None


def _present(f: BinField, out: dict[str, Any], count: int) -> list[bool]:
    """Which items of a group hold a value (all, unless the group names a presence bit map)."""
    if f.present_field is None:
        return [True] * count
    bitmap = int(out[f.present_field])
    if f.present_order == "msb_first":
        return [bool(bitmap >> (count - 1 - i) & 1) for i in range(count)]
    return [bool(bitmap >> i & 1) for i in range(count)]


def _unpack_group(f: BinField, payload: bytes, pos: int, order: str, offset: int, out: dict[str, Any]) -> int:
    count = f.count if f.count is not None else int(out[f.count_field or ""])
    items = []
    end = pos
    for i, present in enumerate(_present(f, out, count)):
        start = pos + i * f.stride if f.stride is not None else end
        item: dict[str, Any] = {}
        end = _unpack(f.fields, payload, start, order, offset, item)
        if f.index_field is not None:
            item[f.index_field] = i + 1
        if present:
            items.append(item)
    out[f.name] = items
    return end


def _unpack(fields: tuple[BinField, ...], payload: bytes, pos: int, order: str, offset: int,
            out: dict[str, Any]) -> int:
    for f in fields:
        if f.type == "group":
            pos = _unpack_group(f, payload, pos, order, offset, out)
            continue
        if f.type == "skip":
            if pos + f.size > len(payload):
                raise FieldError(f"payload ends before field {f.name!r}", offset=offset + pos, field=f.name)
            pos += f.size
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
    offset = frame.offset + len(d.sof) + sum(_PART_SIZE[p] for p in _header(d))
    if d.error_code is not None and frame.command == d.error_code:
        fields: dict[str, Any] = {}
        _unpack(d.error_fields, frame.payload, 0, d.byteorder, offset, fields)
        return BinaryMessage("ERROR", frame.address, fields)
    for cmd in d.commands.values():
        if frame.command in (cmd.code | d.reply_flag, cmd.code, cmd.reply_code):
            is_request = frame.command == cmd.code and cmd.reply_code is None and d.reply_flag != 0
            return _decode(cmd.name, cmd.request if is_request else cmd.reply, frame, d, offset)
    raise UnknownRecordError(f"unknown command 0x{frame.command:02X}", offset=frame.offset + len(d.sof) + 1)


def _decode(name: str, fields: tuple[BinField, ...], frame: BinaryFrame, d: BinaryDialect,
            offset: int) -> BinaryMessage:
    out: dict[str, Any] = {}
    end = _unpack(fields, frame.payload, 0, d.byteorder, offset, out)
    if end != len(frame.payload):
        raise FieldError(f"{name}: payload has {len(frame.payload) - end} bytes beyond its fields",
                         offset=offset + end)
    return BinaryMessage(name, frame.address, out)


def decode_fixed(profile: Profile, command: str, data: bytes, *, offset: int = 0) -> BinaryMessage:
    """Decode a fixed-framing reply to ``command`` (exactly its ``reply_length`` bytes); the profile's
    download ``end_reply`` decodes to the message ``"END"``."""
    d = _dialect(profile)
    end = d.download.end_reply if d.download is not None else b""
    if end and data == end:
        return BinaryMessage("END", d.address, {})
    cmd = d.commands[command]
    if len(data) != cmd.reply_length:
        raise FramingError(f"{command}: reply of {len(data)} bytes, expected {cmd.reply_length}", offset=offset)
    return _decode(command, cmd.reply, BinaryFrame(offset, d.address, cmd.code, data, data), d, offset)


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
        self._fixed = b""  # fixed framing: bytes of the reply so far

    def request(self, command: str, payload: bytes = b"", *, now: float) -> bytes:
        """Bytes to send for ``command``; the reply is expected before ``now + timeout``."""
        if self._pending is not None:
            raise RuntimeError(f"request {self._pending} still outstanding")
        self._pending, self._deadline = command, now + self._timeout
        return build_frame(self._profile, command, payload)

    def feed(self, data: bytes, now: float) -> tuple[BinaryMessage | None, list[BinaryRejected]]:
        """Received bytes → (the reply when complete, rejected bytes). Replies for another address are
        ignored."""
        if self._d.framing == "fixed":
            return self._feed_fixed(data)
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

    def _feed_fixed(self, data: bytes) -> tuple[BinaryMessage | None, list[BinaryRejected]]:
        """Fixed framing: the reply is the pending command's ``reply_length`` bytes, or the download's
        ``end_reply``; bytes while nothing is pending, or beyond the reply, are rejected."""
        rejected: list[BinaryRejected] = []
        if self._pending is None:
            if data:
                rejected.append(BinaryRejected(0, data, FramingError("bytes while no request is outstanding")))
            return None, rejected
        self._fixed += data
        cmd = self._d.commands[self._pending]
        end = self._d.download.end_reply if self._d.download is not None else b""
        size = len(end) if end and self._fixed[:len(end)] == end else cmd.reply_length or 0
        if len(self._fixed) < size:
            return None, rejected
        raw, extra, self._fixed = self._fixed[:size], self._fixed[size:], b""
        if extra:
            rejected.append(BinaryRejected(size, extra, FramingError(f"{len(extra)} bytes beyond the reply")))
        try:
            message = decode_fixed(self._profile, self._pending, raw)
        except ProtocolError as exc:
            rejected.append(BinaryRejected(0, raw, exc))
            return None, rejected
        self._pending = self._deadline = None
        return message, rejected

    def timed_out(self, now: float) -> bool:
        """True (and the request is dropped) if the reply deadline has passed."""
        if self._deadline is not None and now >= self._deadline:
            self._pending = self._deadline = None
            self._fixed = b""
            return True
        return False
