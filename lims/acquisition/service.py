"""Runs every configured instrument concurrently (one thread each) and supervises them: a runner that
crashes is logged, counted as an error on its instrument and restarted after a backoff delay — it never
stops the other instruments. Before any runner starts (and before a crashed one is restarted), captures an
earlier run committed but did not parse are settled (:meth:`AcquisitionService.settle_pending`)."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from drivers.transports.backoff import Backoff, Retrier
from lims.acquisition import linkwatch
from lims.acquisition.config import AcquireConfig, InstrumentConfig, WatchConfig
from lims.acquisition.dialects import FILE_PROFILE, dialect_of
from lims.acquisition.dialects.files import WatchFolderRunner, quarantine
from lims.acquisition.runner import Runner
from lims.acquisition.settle import PendingOutcome, settle_pending
from lims.acquisition.store import CaptureStore, StatusTracker, WalCheckpointer
from lims.acquisition.worklist import apply_worklist
from lims.db.engine import session_scope
from lims.db.models import Instrument, Lab
from lims.services.lookup import find_by_code

log = logging.getLogger("lims.acquire")
RESTART_BACKOFF = Backoff(base_s=0.5, cap_s=30.0)


class UnknownInstrument(LookupError):
    """An instrument of the configuration is not in the database and may not be created."""


@dataclass(frozen=True)
class InstrumentStats:
    code: str
    kind: str
    crashes: int
    stats: dict[str, Any]


def ensure_instruments(factory: sessionmaker[Session], config: AcquireConfig) -> dict[str, tuple[int, str]]:
    """Instrument ids (and profile names) of every configured instrument and watch folder, creating the
    missing ones when ``create_instruments`` is on; :class:`UnknownInstrument` names the first missing."""
    wanted: dict[str, tuple[str, str, str]] = {c.code: (c.name, c.profile.name, c.transport.url)
                                               for c in config.instruments}
    expected = {c.code: c.expected_interval_s for c in config.instruments}
    for w in config.watches:
        wanted.setdefault(w.instrument, (w.instrument, FILE_PROFILE, str(w.folder)))
    out: dict[str, tuple[int, str]] = {}
    with session_scope(factory, actor="acquire", reason=f"instruments of {config.path}") as s:
        for code, (name, profile, url) in wanted.items():
            inst = find_by_code(s, Instrument, code)
            if inst is None:
                if not config.create_instruments:
                    raise UnknownInstrument(f"{config.path}: instrument {code!r} is not in the database "
                                            "(set [acquire] create_instruments = true to add it)")
                # one laboratory per database (README): the database's own, else the configured one
                lab = find_by_code(s, Lab, config.lab_code) or s.execute(select(Lab).order_by(Lab.id)).scalar()
                if lab is None:
                    lab = Lab(code=config.lab_code, name=config.lab_code)
                    s.add(lab)
                    s.flush()
                inst = Instrument(lab_id=lab.id, code=code, name=name, profile=profile, transport_url=url)
                s.add(inst)
                s.flush()
            if code in expected and inst.expected_interval_s != expected[code]:
                inst.expected_interval_s = expected[code]  # what the link watch holds it to (the view shows it)
            out[code] = (inst.id, inst.profile)
    return out


class AcquisitionService:
    """Build runners from a configuration and run them on threads until :meth:`stop`."""

    def __init__(self, config: AcquireConfig, factory: sessionmaker[Session]) -> None:
        self.config = config
        self.factory = factory
        self.stop_event = threading.Event()
        self.runners: dict[str, Runner] = {}
        self.crashes: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self._ids: dict[str, tuple[int, str]] = {}
        self._checkpointer: WalCheckpointer | None = None
        self.settled: dict[str, Counter[str]] = {}  # instrument code → what settle_pending did (report())

    def prepare(self) -> None:
        self._ids = ensure_instruments(self.factory, self.config)

    def settle_pending(self) -> dict[str, PendingOutcome]:
        """Settle the captures every configured instrument and watch folder left ``pending`` in an earlier
        run (stopped between committing raw bytes and parsing them; :func:`settle_pending`): run by
        :meth:`start` before any runner, so a unit the device sends again is recognised as a duplicate."""
        if not self._ids:
            self.prepare()
        out: dict[str, PendingOutcome] = {}
        for code in self._ids:
            try:
                out[code] = self._settle(code)
            except Exception as exc:  # one instrument's leftovers never stop the others or the start
                log.exception("%s: settling pending captures failed; they stay pending", code)
                out[code] = PendingOutcome(problems=[f"settling failed: {type(exc).__name__}: {exc}"])
        return out

    def _settle(self, code: str, profiles: list[str] | None = None) -> PendingOutcome:
        """Settle one instrument's pending captures (only those of ``profiles`` when given: a restarted
        runner must not touch the captures another live runner of the instrument is still working on),
        log what was done, apply the worklist to binary runs and quarantine export files in error."""
        inst_id, _ = self._ids[code]
        out = settle_pending(self.factory, inst_id, actor="acquire", profiles=profiles)
        for problem in out.problems:
            log.error("%s: pending capture not settled: %s", code, problem)
        if not out.captures:
            return out
        log.warning("%s: %d capture(s) left pending by an earlier run (stopped between storing and parsing "
                    "them) settled before its runner started: %d parsed into %d reading(s), %d duplicate, %d error, "
                    "%d incomplete, %d left pending", code, out.captures, out.parsed, out.readings, out.duplicates,
                    out.errors, out.incomplete, out.left_pending)
        self.settled.setdefault(code, Counter()).update(out.as_dict())
        cfg = next((c for c in self.config.instruments if c.code == code), None)
        if cfg is not None and out.binary_runs:
            with session_scope(self.factory, actor=f"instrument:{code}") as s:
                for run_no in out.binary_runs:
                    apply_worklist(s, cfg, run_no, inst_id)
        for name, sha, error in out.file_errors:
            for w in self.config.watches:
                path = w.folder / name
                if (w.instrument == code and not path.is_symlink() and path.is_file()
                        and hashlib.sha256(path.read_bytes()).hexdigest() == sha):
                    quarantine(w, path, error)
        return out

    def _runner(self, cfg: InstrumentConfig) -> Runner:
        inst_id, _ = self._ids[cfg.code]
        dialect = dialect_of(cfg.profile)
        # the ASTM ACK waits for the capture commit: that runner keeps its own connection, and on SQLite
        # leaves WAL checkpoints to the checkpointer thread
        store = CaptureStore(self.factory, inst_id, cfg.code, cfg.profile.name,
                             keep_connection=dialect.keeps_connection,
                             wal_checkpoints_elsewhere=self._checkpointer is not None)
        status = StatusTracker(self.factory, inst_id, interval_s=self.config.status_interval_s)
        return dialect.runner(cfg, store, status, self.stop_event)

    def start(self) -> None:
        """Prepare the database, settle what an earlier run left pending, and start one thread per instrument
        and watch folder."""
        self.settle_pending()
        engine = self.factory.kw["bind"]
        if engine.dialect.name == "sqlite" and any(c.enabled and dialect_of(c.profile).keeps_connection
                                                   for c in self.config.instruments):
            self._checkpointer = WalCheckpointer(engine, self.stop_event)
            t = threading.Thread(target=self._checkpointer.run, name="acquire wal-checkpoint", daemon=True)
            self._threads.append(t)
            t.start()
        for cfg in self.config.instruments:
            if cfg.enabled:
                self._spawn(cfg.code, lambda cfg=cfg: self._runner(cfg),
                            lambda cfg=cfg: self._settle(cfg.code, [cfg.profile.name]))
        self._watch_links()
        for w in self.config.watches:
            inst_id, _ = self._ids[w.instrument]

            def make(w: WatchConfig = w, inst_id: int = inst_id) -> Runner:
                return WatchFolderRunner(w, CaptureStore(self.factory, inst_id, w.instrument, FILE_PROFILE),
                                         StatusTracker(self.factory, inst_id), self.stop_event)
            self._spawn(f"watch:{w.instrument}:{w.folder}", make,
                        lambda w=w: self._settle(w.instrument, [FILE_PROFILE]))

    def _watch_links(self) -> None:
        """The link-silence watch of the instruments with ``expected_interval_s`` (lims.acquisition.linkwatch)."""
        watched = [linkwatch.Watched(self._ids[c.code][0], c.code, c.expected_interval_s,
                                     lambda code=c.code: self._status_of(code))
                   for c in self.config.instruments if c.enabled and c.expected_interval_s is not None]
        linkwatch.clear(self.factory, {c.code: self._ids[c.code][0] for c in self.config.instruments})
        if watched:
            t = threading.Thread(target=linkwatch.watch, args=(self.factory, watched, self.stop_event),
                                 name="acquire link-watch", daemon=True)
            self._threads.append(t)
            t.start()

    def _status_of(self, code: str) -> StatusTracker | None:
        runner = self.runners.get(code)
        return runner.status if runner is not None else None

    def _spawn(self, name: str, make: Any, settle: Any) -> None:
        t = threading.Thread(target=self._supervise, args=(name, make, settle), name=f"acquire {name}",
                             daemon=True)
        self._threads.append(t)
        t.start()

    def _supervise(self, name: str, make: Any, settle: Any) -> None:
        retrier = Retrier(RESTART_BACKOFF, random.Random())
        self.crashes[name] = 0
        while not self.stop_event.is_set():
            runner: Runner | None = None
            try:
                if self.crashes[name]:  # what the crashed runner stored but did not parse
                    settle()
                runner = make()
                self.runners[name] = runner
                runner.run()
                return
            except Exception:  # a crashing driver must not stop the others: log, count, restart
                self.crashes[name] += 1
                log.exception("%s: runner crashed; restarting", name)
                if runner is not None:
                    try:
                        runner.status.error()
                        runner.status.connected(False)
                    except Exception:
                        log.exception("%s: cannot record the crash in the database", name)
                retrier.failed(self.stop_event)
            finally:
                if runner is not None:
                    try:
                        runner.close()
                        runner.status.flush(force=True)
                    except Exception:
                        log.exception("%s: closing failed", name)

    def stop(self, timeout_s: float = 5.0) -> None:
        self.stop_event.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def run(self, duration_s: float | None = None) -> None:
        """Start, run until :meth:`stop` is called from elsewhere (or ``duration_s`` passed), stop."""
        self.start()
        try:
            self.stop_event.wait(duration_s)
        finally:
            self.stop()

    def report(self) -> list[InstrumentStats]:
        """Per runner: its counters, and under ``settled_pending`` what start-up settled for its instrument."""
        out = []
        for name, r in sorted(self.runners.items()):
            stats = asdict(r.stats)
            settled = self.settled.get(r.code)
            if settled:
                stats["settled_pending"] = dict(settled)
            out.append(InstrumentStats(name, type(r).__name__, self.crashes.get(name, 0), stats))
        return out
