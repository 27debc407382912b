"""ASTM E1381/E1394 (``astm``): frames are captures, a unit is one message (a session's frames, ENQ … EOT),
one reading per R record. The LIMS is the computer system (the receiver)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from drivers.codecs.astm.frames import Frame, parse_frame
from drivers.codecs.astm.link import (
    COMPUTER,
    AstmLink,
    DuplicateFrame,
    FrameAccepted,
    FrameRejected,
    SessionEnded,
    SessionStarted,
)
from drivers.codecs.astm.orders import HostQuery, host_queries
from drivers.codecs.astm.records import C_TEXT, Record, parse_records, results_from_records, sender_of
from drivers.errors import ProtocolError
from drivers.profiles import Profile
from lims.acquisition.dialects.astm_orders import AstmOrderDesk
from lims.acquisition.dialects.base import Dialect, register
from lims.acquisition.events import EventKind, record_event
from lims.acquisition.ingest import AcquisitionStats, Ingested, Quarantined, fail, parsed, unit_parsed
from lims.acquisition.runner import StreamRunner
from lims.acquisition.store import NewCapture
from lims.clock import utcnow
from lims.db.models import RawCapture, Reading
from lims.quality.instruments import FitnessCache

if TYPE_CHECKING:
    from lims.acquisition.settle import PendingOutcome

log = logging.getLogger("lims.acquire")

@dataclass(frozen=True)
class _StoredFrame:
    """A committed frame of the open ASTM session."""

    capture_id: int
    data: bytes
    received_at: dt.datetime


class AstmRunner(StreamRunner):
    """ASTM E1381 receiver (the LIMS is the computer system): every accepted frame is committed as a
    capture and only then ACKed (``AstmLink.ack``); a NAKed frame is kept as ``rejected``; at EOT the
    session's frames are parsed into one reading per R record (a message received before, e.g. resent
    after a lost link, becomes ``duplicate``); frames of a session cut by a lost link or the 30 s receiver
    timeout are marked ``incomplete`` (the data system sends the message again in a new session).

    E1381 is stop-and-wait (§8.3: one frame, then wait for its ACK), so the time from a frame's last byte
    to its ACK is dead time on the line. Only the capture INSERT and its commit stand in it
    (:class:`~lims.acquisition.store.CaptureStore`); the session's frames are kept in memory, and the rest —
    parsing a finished message into readings, marking captures, status telemetry — is deferred work done
    right after an ACK that lets the sender transmit a frame (the next frame is then on the wire for its
    whole length) or while the line is quiet. It is never done at EOT, where the sender's next ENQ would
    wait for it. Deferred work is done in order, and before the link closes.

    The sender role (:mod:`.astm_orders`): host queries are answered after their session, pending worklists
    are sent as order records while the line is idle.
    """

    @cached_property
    def desk(self) -> AstmOrderDesk:
        return AstmOrderDesk(self.factory, self.store.instrument_id, self.code, self.store.actor,
                             encoding=_encoding(self.profile), poll_interval_s=self.cfg.poll_interval_s)

    def on_connect(self) -> None:
        a = self.profile.astm
        assert a is not None
        self.astm = AstmLink(COMPUTER, sender_timeout_s=a.sender_timeout_s, receiver_timeout_s=a.receiver_timeout_s,
                             busy_retry_s=a.busy_retry_s)
        self.session: list[_StoredFrame] = []
        self.deferred: deque[Callable[[], None]] = deque()
        self.acked_at: float | None = None

    def on_bytes(self, data: bytes, now: float) -> None:
        events = self.astm.feed(data, now) if data else self.astm.tick(now)
        for ev in events:
            if isinstance(ev, FrameAccepted):
                self._accept(ev, now)
            elif isinstance(ev, FrameRejected):
                self.store.add_one(NewCapture(ev.raw, ev.offset, status="rejected", error=str(ev.error)))
                self.stats.errors += 1
                self.status.error()
            elif isinstance(ev, DuplicateFrame):
                self._duplicate_frame(ev, now)
            elif isinstance(ev, SessionStarted):
                self._defer_abandon("a new session started before EOT")
            elif isinstance(ev, SessionEnded):
                if ev.timed_out:
                    self._defer_abandon("receiver timeout (30 s without a frame)")
                else:
                    frames, self.session = self.session, []
                    if frames:
                        self.deferred.append(partial(self._finish_session, frames))
        self.desk.on_events(events)
        self._write()

    def _write(self) -> None:
        out = self.astm.data_to_send()
        if out:
            self.link.write(out)

    def _accept(self, ev: FrameAccepted, now: float) -> None:
        """Commit the frame's capture, then ACK it at once (the only work between a frame and its ACK)."""
        received_at = utcnow()
        try:
            cap_id = self.store.add_one(NewCapture(ev.frame.raw, ev.frame.offset, received_at=received_at))
        except Exception:
            self.astm.nak(now)  # not stored: the sender must send it again
            self.link.write(self.astm.data_to_send())
            raise
        self.astm.ack(now)  # sends nothing if the sender already ended the session (EOT read with the frame)
        out = self.astm.data_to_send()
        if out:
            self.link.write(out)
        self.acked_at = time.monotonic()
        self.session.append(_StoredFrame(cap_id, ev.frame.raw, received_at))
        self.stats.captures += 1
        self.status.message()

    def _duplicate_frame(self, ev: DuplicateFrame, now: float) -> None:
        """E1381 (LIS01-A2 §8.3): a frame repeating the last accepted frame number is a retransmission — the
        sender did not see our ACK within its 15 s — so :class:`AstmLink` ACKs it again and discards it
        (one read before our ACK was even written, ``before_ack``, gets no second ACK). Kept as a
        ``duplicate`` capture and counted as a duplicate resend: after a late ACK the sender takes that
        first ACK for its retransmission and a second one for its next frame, and runs one reply ahead; the
        frame numbers still keep every frame in order, and a refused one makes the sender abort and send
        the message again in a new session (:mod:`drivers.codecs.astm.link`)."""
        if ev.before_ack:
            when = "read before our ACK of it was written (a late ACK)"
        else:
            since = f"{now - self.acked_at:.3f} s after our ACK of it " if self.acked_at is not None else ""
            when = since + "(ACK lost or late); ACKed again"
        raw = ev.frame.raw
        note = f"retransmission of the last accepted frame, {when}"
        self.store.add_one(NewCapture(raw, ev.frame.offset, status="duplicate", error=note))
        self.stats.duplicates += 1
        self.stats.duplicate_resends += 1
        self.status.resend()
        log.warning("%s: frame %r: %s", self.code, raw[1:2].decode("latin-1"), note)

    def after_bytes(self, data: bytes) -> None:
        """Deferred work and telemetry, only while the sender is busy sending a frame or the line is quiet."""
        if data and self.astm.state != AstmLink.RECEIVING:
            return
        self.run_deferred()
        if not data:
            self.desk.poll(self.astm, time.monotonic())
            self.stats.extra.update(asdict(self.desk.stats))
        self._write()
        self.status.flush()

    def run_deferred(self) -> None:
        while self.deferred:
            self.deferred.popleft()()

    def on_disconnect(self) -> None:
        if hasattr(self, "session"):
            self._defer_abandon("link lost during the session")
            self.run_deferred()
            self.desk.on_disconnect()

    def _defer_abandon(self, why: str) -> None:
        ids = [f.capture_id for f in self.session]
        self.session = []
        if ids:
            self.deferred.append(partial(self._abandon, ids, why))

    def _abandon(self, ids: list[int], why: str) -> None:
        """Frames of a session cut before its end: ``incomplete`` captures and a visible event (the sender
        sends the whole message again in a new session; if it never does, the event says what is missing)."""
        self.store.mark(ids, "incomplete", error=why)
        try:
            record_event(self.factory, self.store.instrument_id, EventKind.RUN_INCOMPLETE,
                         f"ASTM session cut ({why}): {len(ids)} accepted frame(s) kept incomplete, captures "
                         f"{ids[0]}..{ids[-1]}; the message counts only when the sender sends it again whole",
                         actor=self.store.actor, capture_id=ids[0])
        except Exception:  # telemetry: never stops the link
            log.exception("%s: cannot record the cut session", self.code)

    @cached_property
    def fitness(self) -> FitnessCache:
        """Whether the instrument may feed results (register, calibration; lims.quality.instruments)."""
        return FitnessCache(self.store.factory, self.store.instrument_id)

    def _finish_session(self, frames: list[_StoredFrame]) -> None:
        """Parse a finished session's frames (kept in memory: no SELECT of the captures) into readings."""
        msg = read_message([f.data for f in frames], encoding=_encoding(self.profile))
        last = frames[-1]
        hold = self.fitness.reason(last.received_at)  # an overdue/failed instrument's readings are held (issue 15)
        values = [{**v, "review_hold": v.get("review_hold") or hold} for v in msg.values] if hold else msg.values
        status = self.store.settle_unit([f.capture_id for f in frames], msg.unit, values,
                                        reading_capture_id=last.capture_id, read_at=last.received_at,
                                        error=msg.error)
        self.count(Ingested(status, error=msg.error or "", inserted=len(msg.values)))
        if msg.queries and status != "duplicate":
            self.desk.answer(self.astm, msg.queries, time.monotonic())


# --------------------------------------------------------------------------- messages (pure) and sessions


def astm_message_records(frames: Sequence[bytes], *, encoding: str = "latin-1") -> list[Record]:
    """E1394 records of one session from its accepted frames (ETB frames continue a record)."""
    text = bytearray()
    offset = 0
    for raw in frames:
        text += parse_frame(raw, offset=offset).text
        offset += len(raw)
    records, _ = parse_records(bytes(text), encoding=encoding)
    return records


def astm_unit_sha256(records: Sequence[Record]) -> str:
    """Identity of a message for de-duplication: every record except H (whose H.14 date-time a data system
    may stamp anew when it sends the message again)."""
    body = "\r".join(r.delimiters.field.join(r.fields) for r in records if r.type != "H")
    return hashlib.sha256(body.encode("utf-8", "surrogateescape")).hexdigest()


def astm_reading_values(records: Sequence[Record]) -> list[dict[str, Any]]:
    """The reading columns (``record_type``, ``channel``, ``sample_code``, ``run_no``, ``fields``) of one
    E1394 message: one per R record, with the C records that follow it as ``comments``. Pure; raises
    :class:`ProtocolError` for a message without the records a result needs."""
    results = results_from_records(records)
    sender = sender_of(records)
    comments: dict[int, list[str]] = {}
    r_index = -1
    for rec in records:
        if rec.type == "R":
            r_index += 1
        elif rec.type == "C" and r_index >= 0:
            comments.setdefault(r_index, []).append(rec.value(C_TEXT))
    out = []
    for i, r in enumerate(results):
        fields: dict[str, Any] = {"test_code": r.test_code, "value": r.value, "units": r.units, "flags": r.flags,
                                  "status": r.status, "completed_at": r.completed_at, "instrument": r.instrument,
                                  "sender": sender, "sequence": r.sequence}
        if i in comments:
            fields["comments"] = comments[i]
        out.append({"record_type": "R", "channel": None, "sample_code": r.sample_id, "run_no": r.sequence,
                    "fields": fields, "value_state": text_value_state(r.value),
                    "units": {"value": r.units} if r.units else None})
    return out


def text_value_state(text: str) -> str:
    """State of a result sent as text (R.4): ``nan``/``infinite`` when it spells a non-finite number."""
    try:
        value = float(text)
    except ValueError:
        return "ok"  # ND, <LOD, a qualitative value: read by the result rules
    return "nan" if math.isnan(value) else "infinite" if math.isinf(value) else "ok"


@dataclass(frozen=True)
class Message:
    """One received message: its identity, its readings' column values, and why it gave none (or None)."""

    unit: str
    values: list[dict[str, Any]]
    error: str | None
    queries: tuple[HostQuery, ...] = ()  # Q records: the instrument asks for its orders


def read_message(frames: Sequence[bytes], *, encoding: str) -> Message:
    """The identity and readings of the message whose accepted frames are ``frames`` (in order); an
    unreadable message is identified by its bytes and carries its typed error."""
    try:
        records = astm_message_records(frames, encoding=encoding)
    except ProtocolError as exc:
        return Message(hashlib.sha256(b"".join(frames)).hexdigest(), [], f"{type(exc).__name__}: {exc}")
    unit = astm_unit_sha256(records)
    queries = tuple(host_queries(records))
    try:
        return Message(unit, astm_reading_values(records), None, queries)
    except ProtocolError as exc:
        return Message(unit, [], f"{type(exc).__name__}: {exc}", queries)


def parse_astm_message(s: Session, caps: Sequence[RawCapture], *, encoding: str = "latin-1") -> list[Reading]:
    """One reading per R record of the session whose frames are ``caps`` (in order), each linked to the
    capture of the session's last frame. Raises :class:`ProtocolError` (captures marked)."""
    try:
        values = astm_reading_values(astm_message_records([c.data for c in caps], encoding=encoding))
    except ProtocolError as exc:
        for c in caps:
            fail(c, exc)
        raise
    last = caps[-1]
    readings = [Reading(raw_capture_id=last.id, instrument_id=last.instrument_id,
                        read_at=last.received_at or utcnow(), **v) for v in values]
    s.add_all(readings)
    for c in caps:
        parsed(c)
    s.flush()
    return readings


def astm_sessions(frames: Sequence[bytes]) -> list[tuple[list[int], bool]]:
    """Split ASTM frames stored in arrival order into sessions: ``(indexes, complete)`` each. A session
    starts at a frame numbered 1 carrying an H record after a final frame, or wherever the frame number does
    not follow on (E1381: FN 1 for a session's first frame, then +1 mod 8); it is ``complete`` when its last
    record is the L message terminator (E1394): the whole message is stored, and a sender that saw its last
    frame ACKed will not send it again. An unreadable frame is a session of its own, never complete."""
    out: list[tuple[list[int], bool]] = []
    group: list[int] = []
    texts: list[bytes] = []
    prev: Frame | None = None

    def close() -> None:
        if group:
            records = [r for r in b"".join(texts).split(b"\r") if r]
            out.append((list(group), bool(prev and prev.final and records and records[-1][:1] == b"L")))
            group.clear()
            texts.clear()

    for i, raw in enumerate(frames):
        try:
            frame = parse_frame(raw)
        except ProtocolError:
            close()
            out.append(([i], False))
            prev = None
            continue
        starts = frame.number == 1 and frame.text[:1] == b"H" and (prev is None or prev.final)
        if prev is None or starts or frame.number != (prev.number + 1) % 8:
            close()
        group.append(i)
        texts.append(frame.text)
        prev = frame
    close()
    return out


# --------------------------------------------------------------------------- the handler


class AstmMessages(Dialect):
    """``astm``: frames are stored one by one; a unit is a whole message (:func:`read_message`)."""

    kind = "astm"
    runner_class = AstmRunner
    keeps_connection = True

    def parse(self, s: Session, cap: RawCapture, profile: Profile | None) -> list[Reading]:
        return parse_astm_message(s, [cap], encoding=_encoding(profile))

    def settle(self, s: Session, caps: list[RawCapture], profile: Profile | None, out: PendingOutcome) -> None:
        """The pending frames session by session: a complete message is parsed as
        :meth:`AstmRunner._finish_session` does (its sender saw every frame ACKed and will not send it
        again); the frames of a cut session become ``incomplete`` (the sender sends the message again in a
        new session)."""
        for indexes, complete in astm_sessions([c.data for c in caps]):
            frames = [caps[i] for i in indexes]
            if not complete:
                for c in frames:
                    c.parse_status = "incomplete"
                    c.error = "session cut: the acquisition stopped before the message's L record was stored"
                out.incomplete += len(frames)
                continue
            s.flush()
            try:
                with s.begin_nested():  # one poisoned message never stops the settling of the others
                    self._settle_message(s, frames, _encoding(profile), out)
            except Exception as exc:
                log.exception("ASTM message of captures %s quarantined", [c.id for c in frames])
                for c in frames:
                    fail(c, Quarantined(f"{type(exc).__name__}: {exc}"[:1500]))
                out.errors += len(frames)
                s.flush()

    def _settle_message(self, s: Session, frames: list[RawCapture], encoding: str, out: PendingOutcome) -> None:
        msg = read_message([c.data for c in frames], encoding=encoding)
        last = frames[-1]
        if unit_parsed(s, last.instrument_id, msg.unit, exclude_id=last.id):
            status, error = "duplicate", ""
            out.duplicates += len(frames)
        elif msg.error is not None:
            status, error = "error", msg.error
            out.errors += len(frames)
        else:
            status, error = "parsed", ""
            s.add_all([Reading(raw_capture_id=last.id, instrument_id=last.instrument_id,
                               read_at=last.received_at or utcnow(), **v) for v in msg.values])
            out.parsed += len(frames)
            out.readings += len(msg.values)
        for c in frames:
            c.parse_status, c.error, c.unit_sha256 = status, error, msg.unit
        s.flush()

    def reparse(self, s: Session, caps: list[RawCapture], profile: Profile | None, stats: AcquisitionStats) -> None:
        """Captures in error are re-parsed per message (frames sharing ``unit_sha256``)."""
        units: dict[str, list[RawCapture]] = {}
        for cap in caps:
            units.setdefault(cap.unit_sha256 or f"capture {cap.id}", []).append(cap)
        for unit_caps in units.values():
            try:
                readings = parse_astm_message(s, unit_caps, encoding=_encoding(profile))
            except ProtocolError:
                readings = []
            for cap in unit_caps[:-1]:
                stats.count(Ingested(cap.parse_status, error=cap.error, inserted=0))
            last = unit_caps[-1]
            stats.count(Ingested(last.parse_status, tuple(readings), last.error))


def _encoding(profile: Profile | None) -> str:
    return profile.astm.encoding if profile is not None and profile.astm is not None else "latin-1"


DIALECT = register(AstmMessages())
