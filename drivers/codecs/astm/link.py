"""ASTM E1381 / CLSI LIS01-A2 low-level link as a sans-I/O state machine, both roles in one endpoint.

Feed received bytes with ``feed(data, now)``, drive timers with ``tick(now)``, take bytes to transmit
with ``data_to_send()``. Clause references are to CLSI LIS01-A2 (ASTM E1381-02):

- establishment (§8.2): sender ENQ; receiver ACK (ready) or NAK (busy: sender retries after ≥ 10 s);
- contention (§8.2.7): both sent ENQ; the computer system yields and prepares to receive, the instrument
  waits ≥ 1 s and sends ENQ again; the computer waits ≥ 20 s before trying to send again;
- transfer (§8.3): FN = 1, 2, …, 7, 0, …; receiver NAKs a bad checksum/frame number, the sender
  retransmits and aborts with EOT after 6 failed attempts; any reply other than ACK or EOT is a NAK;
- receiver interrupt (§8.3.5): EOT in reply to a frame is an ACK that asks the sender to stop; a sender
  that stops waits ≥ 15 s before establishing again;
- timers (§8.5): sender 15 s for a reply to ENQ or a frame; receiver 30 s without a frame or EOT.

The receiver does not acknowledge a valid frame by itself: it emits :class:`FrameAccepted` and waits for
the application to call :meth:`AstmLink.ack` (or :meth:`AstmLink.nak`) after the frame's bytes are durably
stored — once per accepted frame, in order. If the session ended first (EOT, receiver timeout) that call
sends nothing: after EOT the line is neutral (§8.4) and a reply would be taken for the next ENQ.

Retransmissions (§8.3: a frame with the number of the last accepted one is a retransmission, ACKed and
discarded) come out as :class:`DuplicateFrame`, never delivered twice:

- read while the original still awaits :meth:`AstmLink.ack` (the sender gave up waiting for a slow ACK
  and resent): nothing is sent for it, the one reply to the original answers both (``before_ack``);
- read after the original was ACKed (that ACK was lost, or late): ACKed again.

The link cannot tell a lost ACK from a late one (that would take timing, which stays with the caller).
After a late ACK the sender takes it for its retransmission; if the retransmission was read after that
ACK, it is ACKed again and that second ACK is taken for the sender's next frame: the sender runs one
reply ahead. Frames still arrive in order, each checked against the expected frame number, so none is
accepted twice or out of order. Either the session ends normally (its EOT possibly read while the last
frame awaits :meth:`AstmLink.ack`), or a frame is refused (read before the previous one was acknowledged,
or damaged): the sender has already taken a reply for it, so the frames it sends next are NAKed for their
number until it aborts (6 attempts) and sends the message again in a new session.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from drivers.codecs.astm.frames import (
    ACK,
    ENQ,
    EOT,
    NAK,
    BadFrame,
    Control,
    Frame,
    FrameScanner,
    Noise,
    RawFrame,
    build_frames,
    parse_frame,
)
from drivers.codecs.astm.records import DEFAULT_DELIMITERS, Delimiters, Record
from drivers.errors import FrameNumberError, ProtocolError

SENDER_REPLY_TIMEOUT_S = 15.0   # §8.5.1
RECEIVER_TIMEOUT_S = 30.0       # §8.5.2
BUSY_RETRY_DELAY_S = 10.0       # §8.2.6
INSTRUMENT_CONTENTION_DELAY_S = 1.0   # §8.2.7.1
COMPUTER_CONTENTION_DELAY_S = 20.0    # §8.2.7.1
INTERRUPT_DELAY_S = 15.0        # §8.3.5
MAX_FRAME_ATTEMPTS = 6          # §8.3.4

INSTRUMENT, COMPUTER = "instrument", "computer"


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class SessionStarted:
    """An ENQ was answered with ACK: the other side is about to send frames."""

    offset: int


@dataclass(frozen=True)
class FrameAccepted:
    """A valid frame in sequence. Store ``frame.raw`` durably, then call :meth:`AstmLink.ack`."""

    frame: Frame


@dataclass(frozen=True)
class FrameRejected:
    """A frame that was NAKed (bad framing, checksum or frame number); never decoded."""

    offset: int
    raw: bytes
    error: ProtocolError


@dataclass(frozen=True)
class DuplicateFrame:
    """Retransmission of the last accepted frame, identical bytes (§8.3), not delivered twice. ``before_ack``:
    read while the original awaits :meth:`AstmLink.ack`, whose one reply answers both (nothing is sent for
    it); otherwise our ACK of the original was lost or late, and it is ACKed again."""

    frame: Frame
    before_ack: bool = False


@dataclass(frozen=True)
class SessionEnded:
    """EOT received from the sender; ``timed_out`` if the receiver gave up after 30 s instead."""

    offset: int | None
    timed_out: bool = False


@dataclass(frozen=True)
class MessageDelivered:
    """Every frame of an outgoing message was acknowledged."""

    message_id: int


@dataclass(frozen=True)
class MessageAborted:
    """An outgoing message was abandoned (6 NAKs on a frame, no reply in 15 s, …)."""

    message_id: int
    reason: str


@dataclass(frozen=True)
class MessageDeferred:
    """An outgoing message was put back in the queue (busy receiver, contention, receiver interrupt)."""

    message_id: int
    reason: str
    not_before: float


LinkEvent = (SessionStarted | FrameAccepted | FrameRejected | DuplicateFrame | SessionEnded | MessageDelivered
             | MessageAborted | MessageDeferred)


@dataclass
class _Outgoing:
    message_id: int
    records: tuple[bytes, ...]
    frames: list[bytes] = field(default_factory=list)
    index: int = 0
    attempts: int = 0


class AstmLink:
    """One end of an E1381 link (``role`` = ``"instrument"`` or ``"computer"``; the instrument wins
    contention). Call :meth:`tick` at or after :attr:`next_deadline`."""

    IDLE, ESTABLISHING, SENDING, RECEIVING, AWAITING_ACK = "idle", "establishing", "sending", "receiving", \
        "awaiting-ack"

    def __init__(self, role: str = COMPUTER, *, max_frame_attempts: int = MAX_FRAME_ATTEMPTS,
                 sender_timeout_s: float = SENDER_REPLY_TIMEOUT_S, receiver_timeout_s: float = RECEIVER_TIMEOUT_S,
                 busy_retry_s: float = BUSY_RETRY_DELAY_S, honour_interrupts: bool = True) -> None:
        if role not in (INSTRUMENT, COMPUTER):
            raise ValueError(f"role must be {INSTRUMENT!r} or {COMPUTER!r}")
        self.role = role
        self.busy = False  # receiver answers ENQ with NAK while True
        self._max_attempts = max_frame_attempts
        self._sender_timeout = sender_timeout_s
        self._receiver_timeout = receiver_timeout_s
        self._busy_retry = busy_retry_s
        self._honour_interrupts = honour_interrupts
        self._scanner = FrameScanner()
        self._out = bytearray()
        self._queue: deque[_Outgoing] = deque()
        self._next_id = 1
        self._not_before = 0.0
        self._deadline: float | None = None
        self._state = self.IDLE
        self._last_fn = 0
        self._last_raw = b""
        self._lapsed_replies = 0  # accepted frames whose session ended before ack()/nak()

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> str:
        return self._state

    @property
    def next_deadline(self) -> float | None:
        """When :meth:`tick` must next be called (a timer expires or a queued message may start)."""
        if self._state == self.IDLE:
            return self._not_before if self._queue else None
        return self._deadline

    def data_to_send(self) -> bytes:
        """Bytes to transmit now (drained)."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def send(self, records: Sequence[bytes], now: float) -> int:
        """Queue a message (records without CR, e.g. from :func:`encode_record`); returns its id."""
        msg = _Outgoing(self._next_id, tuple(records))
        self._next_id += 1
        self._queue.append(msg)
        self.tick(now)
        return msg.message_id

    def ack(self, now: float, *, interrupt: bool = False) -> None:
        """Acknowledge the frame last reported by :class:`FrameAccepted` (after it is durably stored), and with
        it any ``before_ack`` :class:`DuplicateFrame` of it. ``interrupt=True`` replies EOT instead (§8.3.5)."""
        if self._reply_lapsed():
            return
        self._out.append(EOT if interrupt else ACK)
        self._state = self.RECEIVING
        self._deadline = now + self._receiver_timeout

    def nak(self, now: float) -> None:
        """Refuse the frame last reported (e.g. it could not be stored), with any ``before_ack`` copy of it:
        the sender retransmits it."""
        if self._reply_lapsed():
            return
        self._last_fn = (self._last_fn - 1) % 8
        self._last_raw = b""
        self._out.append(NAK)
        self._state = self.RECEIVING
        self._deadline = now + self._receiver_timeout

    def feed(self, data: bytes, now: float) -> list[LinkEvent]:
        """Process received bytes at time ``now`` (seconds, any monotonic clock)."""
        events: list[LinkEvent] = self.tick(now)
        for tok in self._scanner.feed(data):
            if self._state in (self.RECEIVING, self.AWAITING_ACK):
                self._receiver_token(tok, now, events)
            elif self._state == self.SENDING:
                self._sender_token(tok, now, events)
            elif self._state == self.ESTABLISHING:
                self._establishing_token(tok, now, events)
            else:
                self._idle_token(tok, now, events)
        events.extend(self.tick(now))
        return events

    def tick(self, now: float) -> list[LinkEvent]:
        """Expire timers and start queued messages."""
        events: list[LinkEvent] = []
        if self._state == self.IDLE:
            if self._queue and now >= self._not_before:
                self._out.append(ENQ)
                self._state = self.ESTABLISHING
                self._deadline = now + self._sender_timeout
        elif self._deadline is not None and now >= self._deadline:
            if self._state in (self.RECEIVING, self.AWAITING_ACK):
                self._end_receiving()
                events.append(SessionEnded(None, timed_out=True))
            elif self._state == self.ESTABLISHING:
                msg = self._queue.popleft()
                self._out.append(EOT)
                self._to_idle()
                events.append(MessageAborted(msg.message_id, "no reply to ENQ within "
                                             f"{self._sender_timeout:g} s"))
            elif self._state == self.SENDING:
                msg = self._queue.popleft()
                self._out.append(EOT)
                self._to_idle()
                events.append(MessageAborted(msg.message_id, f"no reply to frame {msg.index + 1} within "
                                             f"{self._sender_timeout:g} s"))
        return events

    # ------------------------------------------------------------------ internals

    def _to_idle(self) -> None:
        self._state = self.IDLE
        self._deadline = None

    def _end_receiving(self) -> None:
        if self._state == self.AWAITING_ACK:
            self._lapsed_replies += 1
        self._to_idle()

    def _reply_lapsed(self) -> bool:
        """Whether the frame an ack()/nak() answers belongs to a session that has ended (no reply is sent)."""
        if self._lapsed_replies:
            self._lapsed_replies -= 1
            return True
        if self._state != self.AWAITING_ACK:
            raise RuntimeError(f"no frame awaits acknowledgement (state {self._state})")
        return False

    def _start_receiving(self, offset: int, now: float, events: list[LinkEvent]) -> None:
        if self.busy:
            self._out.append(NAK)
            return
        self._out.append(ACK)
        self._state = self.RECEIVING
        self._deadline = now + self._receiver_timeout
        self._last_fn, self._last_raw = 0, b""
        events.append(SessionStarted(offset))

    def _idle_token(self, tok: object, now: float, events: list[LinkEvent]) -> None:
        if isinstance(tok, Control) and tok.byte == ENQ:
            self._start_receiving(tok.offset, now, events)

    def _establishing_token(self, tok: object, now: float, events: list[LinkEvent]) -> None:
        if not isinstance(tok, Control):
            return
        msg = self._queue[0]
        if tok.byte == ACK:
            msg.frames = build_frames(msg.records)
            msg.index, msg.attempts = 0, 1
            self._out += msg.frames[0]
            self._state = self.SENDING
            self._deadline = now + self._sender_timeout
        elif tok.byte == NAK:
            self._defer(msg, now + self._busy_retry, "receiver busy (NAK to ENQ)", events)
        elif tok.byte == ENQ:  # contention, §8.2.7
            if self.role == INSTRUMENT:
                self._defer(msg, now + INSTRUMENT_CONTENTION_DELAY_S, "line contention (instrument retries)",
                            events)
            else:
                # the computer yields without replying; it answers the instrument's next ENQ
                self._defer(msg, now + COMPUTER_CONTENTION_DELAY_S, "line contention (computer yields)",
                            events)

    def _defer(self, msg: _Outgoing, not_before: float, reason: str, events: list[LinkEvent]) -> None:
        self._not_before = not_before
        self._to_idle()
        events.append(MessageDeferred(msg.message_id, reason, not_before))

    def _sender_token(self, tok: object, now: float, events: list[LinkEvent]) -> None:
        msg = self._queue[0]
        if isinstance(tok, Control) and tok.byte in (ACK, EOT):
            msg.index += 1
            if msg.index >= len(msg.frames):
                self._queue.popleft()
                self._out.append(EOT)
                self._to_idle()
                events.append(MessageDelivered(msg.message_id))
            elif tok.byte == EOT and self._honour_interrupts:
                self._out.append(EOT)
                msg.index, msg.frames = 0, []
                self._defer(msg, now + INTERRUPT_DELAY_S, "receiver interrupt (EOT)", events)
            else:
                msg.attempts = 1
                self._out += msg.frames[msg.index]
                self._deadline = now + self._sender_timeout
            return
        # NAK, or any other reply, is a negative acknowledgement (§8.3.4)
        if msg.attempts >= self._max_attempts:
            self._queue.popleft()
            self._out.append(EOT)
            self._to_idle()
            events.append(MessageAborted(msg.message_id, f"frame {msg.index + 1} refused "
                                         f"{msg.attempts} times"))
            return
        msg.attempts += 1
        self._out += msg.frames[msg.index]
        self._deadline = now + self._sender_timeout

    def _receiver_token(self, tok: object, now: float, events: list[LinkEvent]) -> None:
        if isinstance(tok, Control):
            if tok.byte == EOT:
                self._end_receiving()
                events.append(SessionEnded(tok.offset))
            return
        if isinstance(tok, Noise):
            return
        self._deadline = now + self._receiver_timeout
        if self._state == self.AWAITING_ACK:
            if isinstance(tok, RawFrame) and tok.raw == self._last_raw:  # resent before our reply to it
                events.append(DuplicateFrame(parse_frame(tok.raw, offset=tok.offset), before_ack=True))
                return
            raw = tok.raw if isinstance(tok, (RawFrame, BadFrame)) else b""
            offset = tok.offset if isinstance(tok, (RawFrame, BadFrame)) else 0
            events.append(FrameRejected(offset, raw, ProtocolError(
                "frame received before the previous one was acknowledged", offset=offset)))
            return
        if isinstance(tok, BadFrame):
            self._out.append(NAK)
            events.append(FrameRejected(tok.offset, tok.raw, tok.error))
            return
        assert isinstance(tok, RawFrame)
        try:
            frame = parse_frame(tok.raw, offset=tok.offset)
            expected = (self._last_fn + 1) % 8
            if frame.number != expected:
                if frame.number == self._last_fn and frame.raw == self._last_raw:
                    self._out.append(ACK)
                    events.append(DuplicateFrame(frame))
                    return
                raise FrameNumberError(f"frame number {frame.number}, expected {expected}", offset=tok.offset + 1)
        except ProtocolError as exc:
            self._out.append(NAK)
            events.append(FrameRejected(tok.offset, tok.raw, exc))
            return
        self._last_fn, self._last_raw = frame.number, frame.raw
        self._state = self.AWAITING_ACK
        events.append(FrameAccepted(frame))


class RecordAssembler:
    """Join accepted frames into E1394 records (ETB frames continue a record; ETX ends it)."""

    def __init__(self, *, encoding: str = "latin-1") -> None:
        self._encoding = encoding
        self._pending = bytearray()
        self.delimiters: Delimiters = DEFAULT_DELIMITERS

    def add(self, frame: Frame) -> list[Record]:
        self._pending += frame.text
        if not frame.final:
            return []
        text = bytes(self._pending).decode(self._encoding)
        self._pending.clear()
        out = []
        for line in text.split("\r"):
            if not line:
                continue
            if line[0] == "H":
                self.delimiters = Delimiters.from_header(line, offset=frame.offset)
            out.append(Record(tuple(line.split(self.delimiters.field)), self.delimiters))
        return out
