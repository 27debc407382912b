"""Record downloads of binary devices (``[binary.download]``): the LIMS asks a tester for its stored records
and checks that the download is whole.

- Framed (TL310): one request, then one CRC-checked frame per record until ``total_field`` records came;
  each record carries its ``sequence_field`` (1-based), so missing records are named.
- Fixed (TY16): an optional handshake, then ``command``; after each reply ``next_command`` until the device
  answers ``end_reply`` (no start byte, no CRC: a reply is known by its length).

Every reply is committed as its own capture (a unit: the same record downloaded again is a ``duplicate``),
then parsed. A download that stops short — the total not reached, sequence numbers missing, or no end reply
before the timeout — leaves an instrument event (``sequence_gap`` / ``run_incomplete``) and holds the
readings it gave for review (``Reading.review_hold``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select, update

from drivers.codecs.binary import BinaryFrame, BinaryFramer, build_frame, decode_payload, encode_fields
from drivers.errors import DriverError
from drivers.profiles._dialects import DownloadSpec
from lims.acquisition.dialects.binary import BinaryRunner
from lims.acquisition.events import EventKind, add_event
from lims.acquisition.runner import READ_TIMEOUT_S
from lims.acquisition.store import NewCapture, sha256_hex
from lims.db.engine import session_scope
from lims.db.models import Reading

#: At most this many replies in one fixed-framing download (a device that never sends its end reply).
MAX_GROUPS = 256


@dataclass
class Download:
    """What one download brought: its captures, the records' sequence numbers and the total announced."""

    captures: list[int] = field(default_factory=list)
    sequence: list[int] = field(default_factory=list)
    total: int | None = None
    ended: bool = False
    problem: str = ""
    received: bytearray = field(default_factory=bytearray)
    rejected: list[str] = field(default_factory=list)


class DownloadRunner(BinaryRunner):
    """Every ``poll_interval_s``: download the device's stored records (see the module docstring)."""

    @property
    def spec(self) -> DownloadSpec:
        assert self.profile.binary is not None and self.profile.binary.download is not None
        return self.profile.binary.download

    def on_bytes(self, data: bytes, now: float) -> None:
        if now < self.next_poll:
            return
        self.next_poll = now + self.cfg.poll_interval_s
        self.stats.polls += 1
        spec = self.spec
        if spec.handshake is not None:
            reply, _ = self._exchange(spec.handshake, b"", store=False)
            if reply is None:
                self.stats.failed_polls += 1
                return
        assert self.profile.binary is not None
        got = self._fixed(spec) if self.profile.binary.framing == "fixed" else self._framed(spec)
        for cap_id in got.captures:
            self._parse(cap_id)
        if not self.stop.is_set():  # a download cut by our own stop is simply asked again next time
            self._check(spec, got)

    def _fixed(self, spec: DownloadSpec) -> Download:
        got = Download()
        command = spec.command
        for _ in range(MAX_GROUPS):
            reply, cap_id = self._exchange(command, b"", store=True)
            if reply is None:
                got.problem = f"no valid reply to {command} after {len(got.captures)} group(s)"
                break
            if cap_id is not None:
                got.captures.append(cap_id)
            if reply.command == "END":
                got.ended = True
                break
            command = spec.next_command or spec.command
        else:
            got.problem = f"no end reply after {MAX_GROUPS} groups"
        return got

    def _framed(self, spec: DownloadSpec) -> Download:
        """One request; record frames until the announced total came or the device fell silent."""
        got = Download()
        assert self.profile.binary is not None
        self.link.write(build_frame(self.profile, spec.command, encode_fields(self.profile, spec.command,
                                                                              dict(spec.request))))
        framer = BinaryFramer(self.profile)
        timeout = self.cfg.timeout_s if self.cfg.timeout_s is not None else self.profile.binary.timeout_s
        deadline = time.monotonic() + timeout
        while not self.stop.is_set() and (got.total is None or len(got.sequence) < got.total):
            data = self.link.read(READ_TIMEOUT_S)
            if data:
                self.stats.bytes_in += len(data)
                got.received += data
                deadline = time.monotonic() + timeout
                for item in framer.feed(data):
                    self._record(item, spec, got)
            elif time.monotonic() >= deadline:
                got.problem = "the device fell silent"
                break
        if got.rejected:  # every byte kept: the whole exchange, beside the valid frames' own captures
            self.store.add_one(NewCapture(bytes(got.received), source=spec.command, status="rejected",
                                          error="; ".join(got.rejected)[:2000]))
            self.stats.errors += 1
            self.status.error()
        return got

    def _record(self, item: object, spec: DownloadSpec, got: Download) -> None:
        """Commit one frame (or rejected bytes) of a framed download; note its sequence number."""
        if not isinstance(item, BinaryFrame):
            got.rejected.append(f"{type(getattr(item, 'error', None)).__name__}: {getattr(item, 'error', '')}")
            return
        cap_id = self.store.add_one(NewCapture(item.raw, offset=item.offset, source=spec.command,
                                               unit_sha256=sha256_hex(item.raw)))
        self.stats.captures += 1
        self.status.message()
        got.captures.append(cap_id)
        try:
            fields = decode_payload(self.profile, item).fields
        except DriverError:
            return  # kept; its parse records the error
        if spec.total_field is not None and isinstance(fields.get(spec.total_field), int):
            got.total = int(fields[spec.total_field])
        if spec.sequence_field is not None and isinstance(fields.get(spec.sequence_field), int):
            got.sequence.append(int(fields[spec.sequence_field]))

    def _check(self, spec: DownloadSpec, got: Download) -> None:
        """Event and review hold for a download that is not whole."""
        missing: list[int] = []
        if got.total is not None and spec.sequence_field is not None:
            missing = sorted(set(range(1, got.total + 1)) - set(got.sequence))
        if spec.end_reply and not got.ended and not got.problem:
            got.problem = "no end reply"
        if not missing and not got.problem and (got.total is None or len(set(got.sequence)) >= got.total):
            return
        kind = EventKind.SEQUENCE_GAP if missing else EventKind.RUN_INCOMPLETE
        what = (f"records {missing[:50]} of {got.total} missing" if missing else got.problem)
        reason = f"download incomplete: {what}"
        with session_scope(self.factory, actor=self.store.actor) as s:
            held = list(s.execute(select(Reading.id).where(Reading.raw_capture_id.in_(got.captures))).scalars())
            if held:
                s.execute(update(Reading).where(Reading.id.in_(held)).values(review_hold=reason[:300]))
            add_event(s, self.store.instrument_id, kind,
                      f"{spec.command}: {reason}; {len(held)} new reading(s) held for review",
                      capture_id=got.captures[0] if got.captures else None)
        self.stats.failed_polls += 1
        self.status.error()
