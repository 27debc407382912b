"""The runner base: one instrument's link on its own thread until ``stop`` (one subclass per dialect in
:mod:`lims.acquisition.dialects`). Every runner stores raw bytes before it acknowledges or parses them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from drivers.profiles import Profile
from drivers.transports.link import ByteLink
from drivers.transports.tcp import ConnectionLost
from lims.acquisition.ingest import Ingested, Tally
from lims.acquisition.links import ListenLink
from lims.acquisition.store import CaptureStore, StatusTracker

if TYPE_CHECKING:
    from lims.acquisition.config import InstrumentConfig

log = logging.getLogger("lims.acquire")
READ_TIMEOUT_S = 0.05


@dataclass
class RunnerStats(Tally):
    """Counters a runner keeps (printed by ``lims acquire --json`` and read by the benchmarks)."""

    duplicate_resends: int = 0  # of ``duplicates``: sent again right after our ACK (late or lost ACK)
    bytes_in: int = 0
    reconnects: int = 0
    polls: int = 0
    missed_polls: int = 0
    failed_polls: int = 0
    max_poll_latency_s: float = 0.0
    polling_s: float = 0.0  # first poll's slot to the last one's: polls scheduled = polling_s / interval + 1
    extra: dict[str, int] = field(default_factory=dict)


class Runner:
    """Base: ``run()`` until ``stop`` is set."""

    def __init__(self, code: str, store: CaptureStore, status: StatusTracker, stop: threading.Event) -> None:
        self.code = code
        self.store = store
        self.status = status
        self.stop = stop
        self.stats = RunnerStats()
        #: called with every unit's outcome (e.g. to collect the new readings' ids)
        self.listener: Callable[[Ingested], None] | None = None

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.store.factory

    def run(self) -> None:
        raise NotImplementedError

    def count(self, outcome: Ingested) -> None:
        """Count a unit's outcome in the stats (and an error in the instrument's status)."""
        self.stats.count(outcome)
        if outcome.status == "error":
            self.status.error()
        if self.listener is not None:
            self.listener(outcome)

    def close(self) -> None:
        """Release the link and the store's connection (called once the thread ended)."""
        self.store.close()


class StreamRunner(Runner):
    """Runners over a byte link: connect, read, hand bytes to :meth:`on_bytes`; on a lost link the
    partial unit is discarded (:meth:`on_disconnect`) and the link reconnects with backoff."""

    def __init__(self, cfg: InstrumentConfig, link: ByteLink, store: CaptureStore, status: StatusTracker,
                 stop: threading.Event) -> None:
        super().__init__(cfg.code, store, status, stop)
        self.cfg = cfg
        self.profile: Profile = cfg.profile
        self.link = link

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.link.connect(self.stop):
                return
            self.status.connected(True)
            self.on_connect()
            try:
                while not self.stop.is_set():
                    data = self.link.read(READ_TIMEOUT_S)
                    if data:
                        self.stats.bytes_in += len(data)
                        self.status.heard()
                    self.on_bytes(data, time.monotonic())
                    self.after_bytes(data)
            except ConnectionLost as exc:
                log.warning("%s: %s", self.code, exc)
                self.stats.reconnects += 1
                self.status.error()
            finally:
                self.on_disconnect()
                self.status.connected(False)
                self.link.close()

    def on_connect(self) -> None: ...

    def on_bytes(self, data: bytes, now: float) -> None:
        raise NotImplementedError

    def after_bytes(self, data: bytes) -> None:
        """Between reads (``data`` is what was just handled): write the status telemetry when due."""
        self.status.flush()

    def on_disconnect(self) -> None: ...

    def close(self) -> None:
        self.link.close()
        if isinstance(self.link, ListenLink):
            self.link.shutdown()
        super().close()
