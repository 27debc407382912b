"""ASCII line dialects, driven by a profile's ``[line]`` section (sans-I/O).

A line is ``<start><TAG><sep><field>…[<checksum marker><HH>]<terminator>``. :class:`LineFramer` cuts a byte
stream into :class:`RawLine` s with their stream offsets; :func:`parse_line` checks framing, checksum, field
count and field types and returns a :class:`LineRecord`; :class:`LineDecoder` does both and groups records
into runs (``[line.group]``: start record, item records, end record with a count).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.codecs.checksums import sum8, xor8
from drivers.errors import ChecksumError, FieldError, FramingError, ProtocolError, UnknownRecordError
from drivers.profiles import LineDialect, Profile, RecordSpec

_HEX_UPPER = frozenset(b"0123456789ABCDEF")


@dataclass(frozen=True)
class RawLine:
    """One line as received: ``offset`` is the byte offset of its first byte in the stream; ``raw``
    includes the terminator (a line cut by :meth:`LineFramer.flush`, by resynchronisation or by the
    length limit has none)."""

    offset: int
    raw: bytes


@dataclass(frozen=True)
class LineRecord:
    """A parsed, checksum-verified line. ``fields`` are converted to the profile's declared types."""

    record_type: str
    fields: dict[str, str | int | float]
    sample_id: str | None
    channel: int | None


@dataclass(frozen=True)
class LineRejected:
    """A line that failed to parse; ``error`` is the typed protocol error (with its byte offset)."""

    offset: int
    raw: bytes
    error: ProtocolError


@dataclass(frozen=True)
class RunCompleted:
    """A complete group: start record, every item, end record whose count matches."""

    key: str | int | float
    start: LineRecord
    items: tuple[LineRecord, ...]
    end: LineRecord


@dataclass(frozen=True)
class RunIncomplete:
    """A group that cannot be trusted as a whole (missing/rejected lines, count mismatch, interrupted).
    ``items`` holds the item records that were individually valid."""

    key: str | int | float | None
    reason: str
    start: LineRecord | None
    items: tuple[LineRecord, ...]


def _dialect(profile: Profile) -> LineDialect:
    if profile.line is None:
        raise ValueError(f"profile {profile.name!r} is not an ASCII line dialect (dialect={profile.dialect!r})")
    return profile.line


class LineFramer:
    """Cut a byte stream into lines at the profile's terminator (sans-I/O).

    With ``resync_on_start`` a start character inside a pending line begins a new line (the cut-off part is
    emitted on its own and fails to parse), so one dropped terminator does not swallow the next line. A
    pending line longer than ``max_line_bytes`` is emitted as is, so memory stays bounded on noise.
    """

    def __init__(self, profile: Profile) -> None:
        d = _dialect(profile)
        self._term = d.terminator
        self._start = d.start if d.resync_on_start and len(d.start) == 1 else b""
        self._max = d.max_line_bytes
        self._buf = bytearray()
        self._offset = 0  # stream offset of self._buf[0]

    def feed(self, data: bytes) -> list[RawLine]:
        """Add received bytes; return every line completed by them, in order."""
        out: list[RawLine] = []
        buf = self._buf
        scan_from = max(0, len(buf) - len(self._term) + 1)
        buf += data
        term, start = self._term, self._start
        while True:
            end = buf.find(term, scan_from)
            limit = end if end >= 0 else len(buf)
            if start:
                cut = buf.find(start, 1, limit)
                if cut > 0:
                    self._emit(out, cut)
                    scan_from = 0
                    continue
            if end >= 0:
                self._emit(out, end + len(term))
                scan_from = 0
                continue
            if len(buf) > self._max:
                self._emit(out, self._max)
                continue
            return out

    def _emit(self, out: list[RawLine], length: int) -> None:
        out.append(RawLine(self._offset, bytes(self._buf[:length])))
        del self._buf[:length]
        self._offset += length

    def flush(self) -> list[RawLine]:
        """Return the trailing partial line (if any), e.g. when the link closes."""
        if not self._buf:
            return []
        out: list[RawLine] = []
        self._emit(out, len(self._buf))
        return out

    @property
    def offset(self) -> int:
        """Stream offset of the next byte that is not yet part of an emitted line."""
        return self._offset


def line_checksum(kind: str, payload: bytes) -> int:
    """Checksum of a line payload (``xor8`` or ``sum8``)."""
    if kind == "xor8":
        return xor8(payload)
    if kind == "sum8":
        return sum8(payload)
    raise ValueError(f"unknown line checksum {kind!r}")


def parse_line(profile: Profile, raw: bytes, *, offset: int = 0) -> LineRecord:
    """Parse one line (``raw`` including its terminator). ``offset`` is the line's stream offset, added to
    the byte offsets in error messages. Raises :class:`FramingError`, :class:`ChecksumError`,
    :class:`UnknownRecordError` or :class:`FieldError`."""
    d = _dialect(profile)
    if len(raw) > d.max_line_bytes:
        raise FramingError(f"line is {len(raw)} bytes, longer than the limit {d.max_line_bytes}", offset=offset)
    if not raw.endswith(d.terminator):
        raise FramingError(f"line is not terminated by {d.terminator!r}", offset=offset + len(raw))
    body = raw[: len(raw) - len(d.terminator)]
    if not body.startswith(d.start):
        raise FramingError(f"line does not start with {d.start!r}", offset=offset)
    begin = len(d.start)
    payload = body[begin:_checked_end(d, body, offset)]
    try:
        text = payload.decode(d.encoding)
    except UnicodeDecodeError as exc:
        raise FramingError(f"byte 0x{payload[exc.start]:02X} is not {d.encoding} text",
                           offset=offset + begin + exc.start) from None
    parts = text.split(d.separator)
    tag = parts[0]
    spec = d.records.get(tag)
    if spec is None:
        raise UnknownRecordError(f"unknown record type {tag!r} (profile {profile.name!r} declares "
                                 f"{', '.join(d.records)})", offset=offset + begin)
    fields = _convert(d, spec, tag, parts[1:], offset + begin)
    sample = fields[spec.sample_id_field] if spec.sample_id_field else None
    channel = fields[spec.channel_field] if spec.channel_field else None
    return LineRecord(record_type=tag, fields=fields,
                      sample_id=str(sample) if sample is not None else None,
                      channel=int(channel) if channel is not None else None)


def _checked_end(d: LineDialect, body: bytes, offset: int) -> int:
    """Where the payload of ``body`` (a line without its terminator) ends: at the checksum marker, once the
    checksum was verified; at the end when the dialect has none."""
    if d.checksum == "none":
        return len(body)
    marker = body.rfind(d.checksum_marker, len(d.start))
    if marker < 0:
        raise FramingError(f"no checksum marker {d.checksum_marker!r}", offset=offset + len(body))
    digits = body[marker + len(d.checksum_marker):]
    at = offset + marker + len(d.checksum_marker)
    if len(digits) != d.checksum_digits or not set(digits) <= _HEX_UPPER:
        raise FramingError(f"checksum must be {d.checksum_digits} uppercase hex digits, got {digits!r}", offset=at)
    covered = body[0 if d.checksum_covers_start else len(d.start):
                   marker + (len(d.checksum_marker) if d.checksum_covers_marker else 0)]
    expected = line_checksum(d.checksum, covered)
    if int(digits, 16) != expected:
        raise ChecksumError(f"{d.checksum} checksum {digits.decode()} does not match computed {expected:02X}",
                            offset=at)
    return marker


def _convert(d: LineDialect, spec: RecordSpec, tag: str, values: list[str], at: int) -> dict[str, str | int | float]:
    """The typed fields of a record (``at``: stream offset of its tag)."""
    if len(values) != len(spec.fields):
        raise FieldError(f"record {tag} has {len(values)} fields, expected {len(spec.fields)} "
                         f"({', '.join(f.name for f in spec.fields)})", offset=at)
    fields: dict[str, str | int | float] = {}
    pos = at + len(tag.encode(d.encoding)) + len(d.separator)
    for fspec, value in zip(spec.fields, values, strict=True):
        try:
            fields[fspec.name] = fspec.convert(value)
        except ValueError as exc:
            raise FieldError(f"record {tag}: {exc}", offset=pos, field=fspec.name) from None
        pos += len(value.encode(d.encoding)) + len(d.separator)
    return fields


def encode_line(profile: Profile, record_type: str, values: list[str]) -> bytes:
    """Build one line of the dialect from field texts (for simulators' cross-checks and tests)."""
    d = _dialect(profile)
    payload = d.separator.join([record_type, *values]).encode(d.encoding)
    tail = b""
    if d.checksum != "none":
        covered = (d.start if d.checksum_covers_start else b"") + payload + (
            d.checksum_marker if d.checksum_covers_marker else b"")
        tail = d.checksum_marker + f"{line_checksum(d.checksum, covered):02X}".encode()
    return d.start + payload + tail + d.terminator


LineEvent = LineRecord | LineRejected | RunCompleted | RunIncomplete


class LineDecoder:
    """Stream decoder: bytes in → accepted records, rejected lines and (with ``[line.group]``) runs.

    A run is reported complete only when its start, every item and its end arrived valid, the item keys
    match and the end's count equals the number of items; anything else gives :class:`RunIncomplete`.
    """

    def __init__(self, profile: Profile) -> None:
        self._profile = profile
        self._dialect = _dialect(profile)
        self._framer = LineFramer(profile)
        self._start: LineRecord | None = None
        self._items: list[LineRecord] = []
        self._tainted: list[str] = []

    def feed(self, data: bytes) -> list[LineEvent]:
        """Add received bytes; return the events they complete."""
        return self._process(self._framer.feed(data))

    def flush(self) -> list[LineEvent]:
        """End of stream: the trailing partial line is rejected and an open run is reported incomplete."""
        events = self._process(self._framer.flush())
        if self._start is not None:
            events.append(self._close("stream ended before the end record"))
        return events

    def _process(self, lines: list[RawLine]) -> list[LineEvent]:
        events: list[LineEvent] = []
        for line in lines:
            try:
                record = parse_line(self._profile, line.raw, offset=line.offset)
            except ProtocolError as exc:
                events.append(LineRejected(line.offset, line.raw, exc))
                if self._start is not None:
                    self._tainted.append(f"line at byte {line.offset} rejected: {exc}")
                continue
            events.append(record)
            events.extend(self._group(record))
        return events

    def _close(self, reason: str) -> RunIncomplete:
        assert self._dialect.group is not None
        key = self._start.fields[self._dialect.group.key_field] if self._start else None
        event = RunIncomplete(key, reason, self._start, tuple(self._items))
        self._start, self._items, self._tainted = None, [], []
        return event

    def _group(self, record: LineRecord) -> list[LineEvent]:
        g = self._dialect.group
        if g is None:
            return []
        out: list[LineEvent] = []
        key = record.fields.get(g.key_field)
        if record.record_type == g.start:
            if self._start is not None:
                out.append(self._close(f"a new run started (key {key}) before the end record"))
            self._start = record
        elif self._start is None:
            out.append(RunIncomplete(key, f"{record.record_type} record without a preceding {g.start}",
                                     None, (record,) if record.record_type == g.item else ()))
        elif key != self._start.fields[g.key_field]:
            self._tainted.append(f"{record.record_type} record has key {key}, run has "
                                 f"{self._start.fields[g.key_field]}")
        elif record.record_type == g.item:
            if record.channel is not None and any(i.channel == record.channel for i in self._items):
                self._tainted.append(f"channel {record.channel} repeated")
            else:
                self._items.append(record)
        elif record.record_type == g.end:
            problems = list(self._tainted)
            if g.count_field is not None and record.fields[g.count_field] != len(self._items):
                problems.append(f"end record counts {record.fields[g.count_field]} items, "
                                f"{len(self._items)} received")
            if problems:
                out.append(self._close("; ".join(problems)))
            else:
                out.append(RunCompleted(key, self._start, tuple(self._items), record))
                self._start, self._items, self._tainted = None, [], []
        return out
