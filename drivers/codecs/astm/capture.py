"""Decode a raw capture of ASTM E1381 sessions (ENQ … EOT with the receiver's ACK/NAK interleaved, as a
serial sniffer records them) into sessions, records and results.

Frames with a bad checksum, bad framing or an unexpected frame number are reported and never decoded; a
retransmission of the last accepted frame (its ACK was lost) is counted but not decoded twice; a record
split over ETB frames is joined; a record left unfinished when the session ends is reported and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drivers.codecs.astm.frames import ENQ, EOT, BadFrame, Control, FrameScanner, RawFrame, Token, parse_frame
from drivers.codecs.astm.records import (
    DEFAULT_DELIMITERS,
    AstmResult,
    Delimiters,
    Record,
    parse_record,
    results_from_records,
    sender_of,
)
from drivers.errors import FrameNumberError, ProtocolError


@dataclass(frozen=True)
class RejectedFrame:
    """A frame reported and not decoded."""

    offset: int
    frame_number: int | None
    error: str
    message: str


@dataclass(frozen=True)
class CaptureSession:
    """One ENQ … EOT session of a capture."""

    offset: int
    sender: str | None
    frames: int
    rejected: tuple[RejectedFrame, ...]
    records: tuple[Record, ...]
    results: tuple[AstmResult, ...]
    complete: bool
    problems: tuple[str, ...] = ()


@dataclass
class _Open:
    offset: int
    implicit: bool = False
    frames: int = 0
    last_fn: int = 0
    last_raw: bytes = b""
    pending: bytearray = field(default_factory=bytearray)
    pending_offset: int = 0
    rejected: list[RejectedFrame] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    delimiters: Delimiters = DEFAULT_DELIMITERS


class CaptureDecoder:
    """Incremental capture decoder: ``feed(bytes)`` returns the sessions the bytes completed."""

    def __init__(self, *, encoding: str = "latin-1") -> None:
        self._encoding = encoding
        self._scanner = FrameScanner()
        self._session: _Open | None = None

    def feed(self, data: bytes) -> list[CaptureSession]:
        return self._tokens(self._scanner.feed(data))

    @property
    def idle(self) -> bool:
        """No session open and no frame bytes held: the next byte starts afresh."""
        return self._session is None and self._scanner.pending == 0

    def skip(self, n: int) -> None:
        """Count ``n`` bytes decoded elsewhere (only when :attr:`idle`; see :mod:`.documents`)."""
        if not self.idle:
            raise ValueError("cannot skip bytes inside a session")
        self._scanner.skip(n)

    def close(self) -> list[CaptureSession]:
        """End of capture: an unfinished session is returned with ``complete=False``."""
        out = self._tokens(self._scanner.flush())
        if self._session is not None:
            out.extend(self._finish(complete=False, reason="capture ended before EOT"))
        return out

    def _tokens(self, tokens: list[Token]) -> list[CaptureSession]:
        out: list[CaptureSession] = []
        for tok in tokens:
            if isinstance(tok, Control):
                if tok.byte == ENQ:
                    if self._session is not None:
                        out.extend(self._finish(complete=False, reason="ENQ inside a session (no EOT)"))
                    self._session = _Open(tok.offset)
                elif tok.byte == EOT and self._session is not None:
                    out.extend(self._finish(complete=True))
            elif isinstance(tok, RawFrame):
                self._frame(tok)
            elif isinstance(tok, BadFrame):
                s = self._ensure(tok.offset)
                s.frames += 1
                s.rejected.append(RejectedFrame(tok.offset, None, type(tok.error).__name__, str(tok.error)))
        return out

    def _ensure(self, offset: int) -> _Open:
        if self._session is None:
            self._session = _Open(offset, implicit=True)
            self._session.problems.append(f"frames at byte {offset} without a preceding ENQ")
        return self._session

    def _frame(self, tok: RawFrame) -> None:
        s = self._ensure(tok.offset)
        s.frames += 1
        fn = tok.raw[1] - 0x30 if len(tok.raw) > 1 and 0x30 <= tok.raw[1] <= 0x37 else None
        try:
            frame = parse_frame(tok.raw, offset=tok.offset)
            expected = (s.last_fn + 1) % 8
            if frame.number != expected and not (s.implicit and s.frames == 1):
                if frame.number == s.last_fn and frame.raw == s.last_raw:
                    return  # retransmission after a lost ACK: already decoded
                raise FrameNumberError(f"frame number {frame.number}, expected {expected}", offset=tok.offset + 1)
        except ProtocolError as exc:
            s.rejected.append(RejectedFrame(tok.offset, fn, type(exc).__name__, str(exc)))
            return
        s.last_fn, s.last_raw = frame.number, frame.raw
        if not s.pending:
            s.pending_offset = tok.offset
        s.pending += frame.text
        if frame.final:
            self._records(s, bytes(s.pending))
            s.pending.clear()

    def _records(self, s: _Open, data: bytes) -> None:
        text = data.decode(self._encoding)
        for line in text.split("\r"):
            if not line:
                continue
            if line[0] == "H":
                try:
                    s.delimiters = Delimiters.from_header(line, offset=s.pending_offset)
                except ProtocolError as exc:
                    s.problems.append(str(exc))
                    continue
            s.records.append(parse_record(line, s.delimiters))

    def _finish(self, *, complete: bool, reason: str = "") -> list[CaptureSession]:
        s = self._session
        self._session = None
        assert s is not None
        if s.pending:
            s.problems.append(f"record starting at byte {s.pending_offset} unfinished (no ETX frame); dropped")
        if reason:
            s.problems.append(reason)
        if s.frames == 0:
            return []  # ENQ answered NAK (busy), or an empty session
        return [CaptureSession(offset=s.offset, sender=sender_of(s.records), frames=s.frames,
                               rejected=tuple(s.rejected), records=tuple(s.records),
                               results=tuple(results_from_records(s.records)), complete=complete,
                               problems=tuple(s.problems))]


def decode_capture(data: bytes, *, encoding: str = "latin-1") -> list[CaptureSession]:
    """Every session of a capture, in order."""
    dec = CaptureDecoder(encoding=encoding)
    out: list[CaptureSession] = []
    view = memoryview(data)
    for start in range(0, len(data), 1 << 16):  # bounded token lists keep memory and GC work linear
        out += dec.feed(bytes(view[start:start + (1 << 16)]))
    return out + dec.close()


def session_document(session: CaptureSession) -> dict[str, Any]:
    """The JSON shape of one session for ``lims astm decode --json`` (CONTRACTS.md, plus extra keys)."""
    return {
        "sender": session.sender,
        "frames": session.frames,
        "rejected_frames": len(session.rejected),
        "results": [
            {"sample_id": r.sample_id, "test_code": r.test_code, "value": r.value, "units": r.units,
             "flags": r.flags, "status": r.status, "completed_at": r.completed_at, "instrument": r.instrument}
            for r in session.results
        ],
        "offset": session.offset,
        "complete": session.complete,
        "records": len(session.records),
        "rejections": [{"offset": r.offset, "frame_number": r.frame_number, "error": r.error,
                        "message": r.message} for r in session.rejected],
        "problems": list(session.problems),
    }
