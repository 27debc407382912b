"""Binary request/response dialects (``binary_frame``): the LIMS asks, the device answers with a CRC-checked
frame (hardware-sim/PROTOCOLS.md (b)); a unit is one valid reply, one reading per channel."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from drivers.codecs.binary import (
    BinaryFrame,
    BinaryFramer,
    BinaryMessage,
    RequestSession,
    decode_fixed,
    decode_payload,
    encode_fields,
)
from drivers.errors import DriverError
from drivers.profiles import Profile
from lims.acquisition.dialects.base import Dialect, register
from lims.acquisition.events import EventKind, record_event
from lims.acquisition.ingest import Ingested, ParseFailure, fail, ingest, parsed
from lims.acquisition.runner import READ_TIMEOUT_S, StreamRunner
from lims.acquisition.store import NewCapture, sha256_hex
from lims.acquisition.values import new_reading
from lims.acquisition.worklist import apply_worklist
from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.db.models import RawCapture, Reading

if TYPE_CHECKING:
    from drivers.transports.link import ByteLink
    from lims.acquisition.config import InstrumentConfig
    from lims.acquisition.settle import PendingOutcome
    from lims.acquisition.store import CaptureStore, StatusTracker


def binary_reply(profile: Profile, data: bytes) -> BinaryFrame:
    """The last CRC-valid frame in an exchange's received bytes; :class:`ParseFailure` if none."""
    frames = [f for f in BinaryFramer(profile).feed(data) if isinstance(f, BinaryFrame)]
    if not frames:
        raise ParseFailure(f"no CRC-valid frame in {len(data)} received bytes")
    return frames[-1]


def binary_reply_unit(profile: Profile, data: bytes) -> str:
    """Identity of a binary exchange: its valid reply frame (noise around it differs between transmissions),
    or all the bytes when none is valid."""
    try:
        if profile.binary is not None and profile.binary.framing == "fixed":
            return hashlib.sha256(data).hexdigest()  # the capture is exactly the reply
        return hashlib.sha256(binary_reply(profile, data).raw).hexdigest()
    except DriverError:
        return hashlib.sha256(data).hexdigest()


def parse_binary_capture(s: Session, cap: RawCapture, profile: Profile) -> list[Reading]:
    """Readings of a GET_RESULT-style reply: one per channel record (``channels`` group), or one for a
    flat reply. The capture keeps every byte received for the request."""
    try:
        if profile.binary is not None and profile.binary.framing == "fixed":  # the command is the source
            message = decode_fixed(profile, cap.source, cap.data, offset=cap.stream_offset)
        else:
            message = decode_payload(profile, binary_reply(profile, cap.data))
        if message.command == "ERROR":
            raise ParseFailure(f"device answered an error reply {message.fields}")
    except DriverError as exc:
        fail(cap, exc)
        return []
    flat = {k: v for k, v in message.fields.items() if not isinstance(v, list)}
    run_no = str(flat.get("run_no", ""))
    groups = [v for v in message.fields.values() if isinstance(v, list)]
    rows = groups[0] if groups else [{}] if message.command != "END" else []  # END: the device has no more
    readings = []
    for row in rows:
        fields = {**flat, **row}
        reading = new_reading(cap, profile, record_type=message.command, channel=row.get("channel",
                                                                                       flat.get("channel")),
                              run_no=run_no, fields=fields, read_at=cap.received_at or utcnow())
        s.add(reading)
        readings.append(reading)
    parsed(cap)
    s.flush()
    return readings


class BinaryRunner(StreamRunner):
    """Binary request/response dialects (profile commands ``GET_STATUS``, ``GET_RESULT``, ``ACK_RESULT``):
    every ``poll_interval_s`` ask the status; when a result is ready (state 2) fetch it, commit the bytes
    received for the request, parse them, and only then confirm it with ``ACK_RESULT``. A reply that fails
    its CRC or does not come within the timeout is asked again (up to ``MAX_ATTEMPTS`` times per poll);
    the bytes of such an exchange are kept as a ``rejected`` capture."""

    MAX_ATTEMPTS = 12
    READY_STATE = 2

    def on_connect(self) -> None:
        self.session = RequestSession(self.profile, timeout_s=self.cfg.timeout_s)
        self.next_poll = 0.0

    def on_bytes(self, data: bytes, now: float) -> None:
        if now < self.next_poll:
            return
        self.next_poll = now + self.cfg.poll_interval_s
        self.stats.polls += 1
        assert self.profile.binary is not None
        cmds = self.profile.binary.commands
        if "GET_STATUS" in cmds:
            status, _ = self._exchange("GET_STATUS", b"", store=False)
            if status is None or status.fields.get("state") != self.READY_STATE:
                return
        for _ in range(self.MAX_ATTEMPTS):
            reply, cap_id = self._exchange("GET_RESULT", b"", store=True)
            if reply is not None and reply.command == "GET_RESULT":
                break
            if reply is not None and reply.command == "ERROR":
                return
        else:
            self.stats.failed_polls += 1
            record_event(self.factory, self.store.instrument_id, EventKind.GAVE_UP,
                         f"GET_RESULT: no valid reply after {self.MAX_ATTEMPTS} attempts; the device's result "
                         "was not read (it stays on the device and is asked again at the next poll)",
                         actor=self.store.actor)
            return
        run_no = reply.fields.get("run_no")
        self._parse(cap_id)
        if "ACK_RESULT" in cmds and run_no is not None:
            payload = encode_fields(self.profile, "ACK_RESULT", {"run_no": run_no})
            for _ in range(self.MAX_ATTEMPTS):
                ack, _ = self._exchange("ACK_RESULT", payload, store=False)
                if ack is not None and ack.command == "ACK_RESULT" and ack.fields.get("run_no") == run_no:
                    break

    def _exchange(self, command: str, payload: bytes, *, store: bool) -> tuple[BinaryMessage | None, int | None]:
        """Send one request and collect every byte until the reply or the timeout."""
        now = time.monotonic()
        self.link.write(self.session.request(command, payload, now=now))
        received = bytearray()
        reply: BinaryMessage | None = None
        errors: list[str] = []
        while reply is None and not self.stop.is_set():
            data = self.link.read(READ_TIMEOUT_S)
            now = time.monotonic()
            if data:
                self.stats.bytes_in += len(data)
                received += data
                reply, rejected = self.session.feed(data, now)
                errors += [str(r.error) for r in rejected]
            if reply is None and self.session.timed_out(now):
                errors.append(f"no valid reply to {command} within the timeout")
                break
        if reply is None:
            self.session = RequestSession(self.profile, timeout_s=self.cfg.timeout_s)
        cap_id = None
        if store or (reply is None and received):
            status = "pending" if reply is not None else "rejected"
            unit = sha256_hex(bytes(received)) if reply is not None else None
            cap_id = self.store.add_one(NewCapture(bytes(received), source=command, status=status,
                                                   error="; ".join(errors)[:2000] if reply is None else "",
                                                   unit_sha256=unit))
            self.stats.captures += 1
            self.status.message()
        if reply is None:
            self.stats.errors += 1
            self.status.error()
        return reply, cap_id

    def _parse(self, cap_id: int | None) -> None:
        if cap_id is None:
            return
        with session_scope(self.factory, actor=self.store.actor) as s:
            cap = s.get(RawCapture, cap_id)
            assert cap is not None
            outcome = ingest(s, cap, DIALECT, self.profile)
            self.count(outcome)
            if outcome.status == "parsed" and outcome.readings:  # a CSV worklist, or one sent from a batch
                key, n = apply_worklist(s, self.cfg, outcome.readings[0].run_no, self.store.instrument_id)
                if n:
                    self.stats.extra[key] = self.stats.extra.get(key, 0) + n
                if key == "worklist_errors":
                    self.status.error()


def binary_runner(cfg: InstrumentConfig, link: ByteLink, store: CaptureStore, status: StatusTracker,
                  stop: threading.Event) -> BinaryRunner:
    """The runner of a binary profile: records downloaded (``[binary.download]``) or results polled."""
    if cfg.profile.binary is not None and cfg.profile.binary.download is not None:
        from lims.acquisition.dialects.download import DownloadRunner

        return DownloadRunner(cfg, link, store, status, stop)
    return BinaryRunner(cfg, link, store, status, stop)


class BinaryFrames(Dialect):
    """``binary_frame``: a unit is the valid reply frame of an exchange (:func:`binary_reply_unit`)."""

    kind = "binary_frame"
    runner_class = staticmethod(binary_runner)
    takes_worklist = True

    def unit(self, profile: Profile | None, cap: RawCapture) -> str:
        assert profile is not None
        return binary_reply_unit(profile, cap.data)

    def parse(self, s: Session, cap: RawCapture, profile: Profile | None) -> list[Reading]:
        assert profile is not None
        return parse_binary_capture(s, cap, profile)

    def settled(self, cap: RawCapture, outcome: Ingested, out: PendingOutcome) -> None:
        if outcome.status == "parsed" and outcome.readings:
            out.binary_runs.append(outcome.readings[0].run_no)


DIALECT = register(BinaryFrames())
