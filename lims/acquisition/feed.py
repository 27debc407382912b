"""Bytes read by the caller (a port it opened itself), handed to an instrument's runner: the same path as
``lims acquire`` — raw lines committed first, then the one dedupe-and-parse step, ACK/NAK as the profile
declares — for one-off reads such as ``lims demo``'s enzyme-tester run."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from drivers.profiles import Profile, load_profile
from lims.acquisition.config import InstrumentConfig, TransportSpec
from lims.acquisition.dialects import dialect_of
from lims.acquisition.ingest import AcquisitionStats
from lims.acquisition.runner import StreamRunner
from lims.acquisition.store import CaptureStore, StatusTracker
from lims.db.models import Instrument
from lims.services.lookup import get_by_code


class _Port(Protocol):
    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...


class _PortLink:
    """The caller's open port as the runner's byte link (it is opened and closed by the caller)."""

    def __init__(self, port: _Port | None, address: str) -> None:
        self.port = port
        self.address = address

    def connect(self, stop: threading.Event | None = None) -> bool:
        return True

    def read(self, timeout_s: float) -> bytes:
        return b""

    def write(self, data: bytes) -> None:
        if self.port is not None:
            self.port.write(data)

    def close(self) -> None:
        pass


class LineAcquisition:
    """Feeds bytes from one instrument through its dialect's runner (raw first, then parsed). ``stats``
    counts captures, readings (with their ids and record types) and errors (with their messages)."""

    def __init__(self, factory: sessionmaker[Session], instrument_code: str, profile: Profile | str, *,
                 port: _Port | None = None) -> None:
        self.factory = factory
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        with factory() as s:
            inst = get_by_code(s, Instrument, instrument_code, field="instrument_code")
            instrument_id = inst.id
        cfg = InstrumentConfig(code=instrument_code, name=instrument_code, profile=self.profile,
                               transport=TransportSpec("serial", "fed://"))
        store = CaptureStore(factory, instrument_id, instrument_code, self.profile.name)
        self.status = StatusTracker(factory, instrument_id, interval_s=0.0)
        runner = dialect_of(self.profile).runner_class(cfg, _PortLink(port, "fed://"), store, self.status,
                                                       threading.Event())
        assert isinstance(runner, StreamRunner)
        self.runner = runner
        self.stats = AcquisitionStats()
        self.runner.listener = self.stats.count
        self.runner.on_connect()
        self.status.connected(True)

    def feed(self, data: bytes) -> None:
        self.runner.on_bytes(data, time.monotonic())
        self.stats.captures = self.runner.stats.captures
        self.status.flush()

    def close(self) -> None:
        """The partial line at the end (kept ``incomplete``), and the status written."""
        self.runner.on_disconnect()
        self.stats.captures = self.runner.stats.captures
        self.status.flush(force=True)
        self.runner.store.close()


def read_serial_until(port: _Port, acquisition: LineAcquisition, *, end_record: str | None, runs: int = 1,
                      idle_timeout_s: float = 3.0) -> None:
    """Read a serial port into ``acquisition`` until ``runs`` end records were stored or the line is idle."""
    last = time.monotonic()
    while True:
        chunk = port.read(4096)
        if chunk:
            last = time.monotonic()
            acquisition.feed(chunk)
            if end_record and acquisition.stats.record_types[end_record] >= runs:
                break
        elif time.monotonic() - last > idle_timeout_s:
            break
    acquisition.close()
