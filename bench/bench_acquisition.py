"""Acquisition benchmarks (run by hand; figures go in the closing note).

1. A sustained 115200-baud ASTM E1381 stream over a pty into the database. The simulated data system
   (hardware_sim AstmSenderSim) holds each write for its time on a 115200-baud 8N1 wire (10 bits per byte);
   `lims acquire` runs as its own process, into SQLite in WAL mode (default) or, with ``--database URL``,
   into a PostgreSQL database (a dedicated schema, created, migrated and dropped by the run). Printed, as payload throughput (frame bytes
   the sender saw ACKed, per second):

   - the stop-and-wait bound: E1381 is stop-and-wait (LIS01-A2 §8.3: the sender sends one frame and waits
     for its ACK before the next; ENQ, its ACK and EOT frame every message). Even with zero processing and
     zero turnaround, each frame of L bytes occupies the line for L + 1 byte times (its ACK must arrive
     before the next frame starts) and each message 3 byte times more, so the payload can never fill the
     raw line rate — the bound is computed from the corpus' frame sizes;
   - the instant-ACK receiver (the peer, same process run): ACKs every ENQ and frame the moment it reads
     it, checks nothing, stores nothing. What it reaches is what the protocol plus this simulator, pty and
     scheduler allow (every frame adds the sender's and the pty's turnaround): the practical ceiling of any
     receiver. It is measured before and after the acquisition run, so load drift on a shared machine shows;
   - `lims acquire`, which ACKs a frame only once its raw capture is committed: as % of raw line rate and
     as ratio to the instant-ACK ceiling; loss = frames the sender saw ACKed but missing from the database
     (must be 0); CPU of the acquisition process as % of one core (from /proc/<pid>/stat over the window).
2. Modbus TCP polling of 8 simulated analyzers at 10 Hz each: polls done vs scheduled, counted from each
   instrument's first poll (start-up is not polling time), missed polls (failed or later than one
   interval), CPU % of the acquisition process over a window that starts once every analyzer is connected.

    .venv/bin/python bench/bench_acquisition.py [--seconds 20] [--modbus-seconds 60] [--database URL]

    e.g. --database postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from hardware_sim.astm import AstmMessage, AstmResult, AstmSenderSim
from hardware_sim.modbus_analyzer import ModbusAnalyzerSim, PlannedResult
from sqlalchemy import Engine, func, text
from sqlalchemy import select as sql_select

from lims.db.engine import make_engine, make_session_factory, normalise_url
from lims.db.migrate import upgrade
from lims.db.models import Instrument, RawCapture

ROOT = Path(__file__).resolve().parents[1]
BAUD = 115200
LINE_BYTES_PER_S = BAUD / 10  # 8N1: start + 8 data + stop bits per byte
TICKS = os.sysconf("SC_CLK_TCK")


class PacedSender(AstmSenderSim):
    """The simulator, holding each write for its time on a 115200-baud wire."""

    def _put(self, link, data, *, damage=True, index=None):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        super()._put(link, data, damage=damage, index=index)
        left = len(data) / LINE_BYTES_PER_S - (time.perf_counter() - t0)
        if left > 0:
            time.sleep(left)


def _messages(n: int) -> list[AstmMessage]:
    return [AstmMessage(f"S{i:06d}", tuple(AstmResult(code, f"{(i % 997) / 1000:.3f}", abnormal_flag="")
                                           for code in ("CHLORPYRIFOS", "DIMETHOATE", "OMETHOATE")))
            for i in range(n)]


class BenchDatabase:
    """Where one benchmark's acquisition writes: a new SQLite file in ``tmp`` (``url`` None), or a schema of
    its own in the PostgreSQL database ``url``, created and migrated here and dropped by :meth:`close`."""

    def __init__(self, url: str | None, tmp: Path, name: str) -> None:
        self.schema: str | None = None
        self._admin: Engine | None = None
        if url is None:
            self.url = f"sqlite:///{tmp / (name + '.db')}"
            self.label = "SQLite WAL"
        else:
            base = normalise_url(url)
            if not base.startswith("postgresql"):
                raise SystemExit(f"--database: a PostgreSQL URL is expected, got {url!r}")
            self.schema = f"bench_acq_{name}_{uuid.uuid4().hex[:8]}"
            self._admin = make_engine(base)
            with self._admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            self.url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{self.schema}"
            self.label = f"PostgreSQL (schema {self.schema})"
        self.engine = make_engine(self.url)
        upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()
        if self._admin is not None:
            with self._admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            self._admin.dispose()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _payload_bytes(sim: AstmSenderSim) -> int:
    return sum(len(f) for f in sim.acked_frames)


def _window(sim: AstmSenderSim, seconds: float, pid: int | None) -> tuple[float, float | None]:
    """Payload bytes/s over ``seconds`` once the stream runs, and CPU seconds of ``pid`` over it."""
    while not sim.acked_frames:
        time.sleep(0.01)
    time.sleep(0.5)
    b0, t0, c0 = _payload_bytes(sim), time.monotonic(), _cpu_s(pid) if pid else None
    time.sleep(seconds)
    b1, t1, c1 = _payload_bytes(sim), time.monotonic(), _cpu_s(pid) if pid else None
    cpu = (c1 - c0) / (t1 - t0) if c0 is not None and c1 is not None else None
    return (b1 - b0) / (t1 - t0), cpu


def instant_ack_receiver(path: str) -> None:
    """ACK every ENQ and every frame the moment it is read (no checks, no storage) until SIGTERM: the
    protocol's own ceiling. Runs in its own process, like `lims acquire`."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        while True:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                data = os.read(fd, 4096)
                n = data.count(b"\x05") + data.count(b"\n")
                if n:
                    os.write(fd, b"\x06" * n)
    finally:
        os.close(fd)


def stop_and_wait_bound(sim: AstmSenderSim) -> float:
    """Payload fraction of the line with zero processing and zero turnaround: per message, ENQ + its ACK
    + EOT, and per frame its bytes + its ACK, all at the line rate (LIS01-A2 §8.2-8.3)."""
    payload = sum(len(f) for frames in sim.frames for f in frames)
    overhead = sum(3 + len(frames) for frames in sim.frames)
    return payload / (payload + overhead)


def _instant_ack(n: int, seconds: float) -> float:
    peer = PacedSender(_messages(n), reply_timeout_s=2.0, busy_retry_s=0.5)
    proc = subprocess.Popen([sys.executable, __file__, "--instant-ack-receiver", peer.start_pty()])
    try:
        rate, _ = _window(peer, seconds, None)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)
        peer.stop()
    return rate


def bench_astm(seconds: float, tmp: Path, database: str | None) -> None:
    n = int(seconds * LINE_BYTES_PER_S / 200) + 200
    peer_s = max(2.0, seconds / 2)
    ceiling_before = _instant_ack(n, peer_s)

    db = BenchDatabase(database, tmp, "astm")
    try:
        _bench_astm(seconds, tmp, db, n, peer_s, ceiling_before)
    finally:
        db.close()


def _bench_astm(seconds: float, tmp: Path, db: BenchDatabase, n: int, peer_s: float,
                ceiling_before: float) -> None:
    engine = db.engine
    sim = PacedSender(_messages(n), reply_timeout_s=2.0, busy_retry_s=0.5)
    path = sim.start_pty()
    cfg = tmp / "astm.toml"
    cfg.write_text(f'[[instrument]]\ncode = "GC-B"\nprofile = "astm_gc_datasystem"\ntransport = "{path}"\n'
                   'baudrate = 115200\n')
    proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "acquire", "--config", str(cfg)], cwd=ROOT,
                            env={**os.environ, "LIMS_DATABASE_URL": db.url},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rate, cpu = _window(sim, seconds, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        sim.stop()
    ceiling_after = _instant_ack(n, peer_s)
    ceiling = (ceiling_before + ceiling_after) / 2
    acked = Counter(sim.acked_frames)
    with make_session_factory(engine)() as s:
        stored = Counter(s.execute(sql_select(RawCapture.data).where(
            RawCapture.parse_status.in_(("parsed", "pending", "incomplete")))).scalars())
    lost = sum((acked - stored).values())
    mean_frame = sum(map(len, sim.acked_frames)) / max(1, len(sim.acked_frames))

    def pct(r: float) -> str:
        return f"{r:8.0f} payload B/s = {100 * r / LINE_BYTES_PER_S:5.1f} % of raw line rate"

    before, after = (100 * c / LINE_BYTES_PER_S for c in (ceiling_before, ceiling_after))
    print(f"ASTM E1381 at {BAUD} baud 8N1 over a pty ({LINE_BYTES_PER_S:.0f} B/s raw), {seconds:g} s, "
          f"{db.label}; frames of {mean_frame:.0f} B on average:")
    print(f"  stop-and-wait bound (zero latency) : {100 * stop_and_wait_bound(sim):30.1f} % of raw line rate")
    print(f"  instant-ACK receiver (ceiling)     : {pct(ceiling)}  (before {before:.1f} %, after {after:.1f} %)")
    print(f"  lims acquire (ACK after commit)    : {pct(rate)}")
    print(f"  ratio lims acquire / instant-ACK ceiling: {rate / ceiling:.3f}")
    print(f"  frames ACKed {sum(acked.values())}, lost {lost}; "
          f"acquisition CPU {100 * (cpu or 0):.1f} % of one core")
    print("  (100 % of the raw line rate is out of reach for any E1381 receiver: the sender waits for each\n"
          "   ACK, so the line idles for the ACK and every turnaround; the instant-ACK figure is the measured\n"
          "   ceiling)")


def _all_connected(engine: Engine, n: int) -> bool:
    with engine.connect() as c:
        q = sql_select(func.count()).select_from(Instrument).where(Instrument.connected)
        return c.execute(q).scalar_one() >= n


def bench_modbus(seconds: float, tmp: Path, database: str | None, analyzers: int = 8, hz: float = 10.0) -> None:
    db = BenchDatabase(database, tmp, "modbus")
    try:
        _bench_modbus(seconds, tmp, db, analyzers, hz)
    finally:
        db.close()


def _bench_modbus(seconds: float, tmp: Path, db: BenchDatabase, analyzers: int, hz: float) -> None:
    sims = [ModbusAnalyzerSim([PlannedResult(30.0 + i, 0.1)], measure_time_s=0.5, seed=i)
            for i in range(analyzers)]
    ports = [s.start_tcp() for s in sims]
    engine = db.engine
    cfg = tmp / "modbus.toml"
    cfg.write_text("".join(f'[[instrument]]\ncode = "PH-{i}"\nprofile = "modbus_photometric"\n'
                           f'transport = "modbus-tcp://127.0.0.1:{p}?device_id=1"\npoll_interval_s = {1 / hz}\n'
                           for i, p in enumerate(ports)))
    proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "acquire", "--config", str(cfg), "--json"],
                            cwd=ROOT, env={**os.environ, "LIMS_DATABASE_URL": db.url},
                            stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not _all_connected(engine, analyzers) and time.monotonic() < deadline:
            time.sleep(0.1)
        c0, t0 = _cpu_s(proc.pid), time.monotonic()
        time.sleep(seconds)
        cpu = (_cpu_s(proc.pid) - c0) / (time.monotonic() - t0)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
        for s in sims:
            s.stop()
    stats = json.loads(out)["instruments"]
    polls = sum(i["polls"] for i in stats)
    scheduled = sum(round(i["polling_s"] * hz) + 1 for i in stats if i["polls"])
    missed = sum(i["missed_polls"] for i in stats)
    failed = sum(i["failed_polls"] for i in stats)
    worst = max(i["max_poll_latency_s"] for i in stats)
    span = sum(i["polling_s"] for i in stats) / len(stats)
    print(f"Modbus TCP, {analyzers} analyzers at {hz:g} Hz into {db.label}, polled {span:.1f} s each on "
          f"average (counted from each one's first poll):")
    print(f"  polls {polls} of {scheduled} scheduled, missed {missed} (failed {failed}), worst poll latency "
          f"{1000 * worst:.1f} ms (interval {1000 / hz:.0f} ms); acquisition CPU {100 * cpu:.1f} % of one core "
          f"over {seconds:g} s once all were connected")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="ASTM stream duration (default 20)")
    ap.add_argument("--modbus-seconds", type=float, default=60.0, help="Modbus polling duration (default 60)")
    ap.add_argument("--database", metavar="URL", default=None,
                    help="PostgreSQL URL to measure into (a dedicated schema, dropped after; default: SQLite files)")
    ap.add_argument("--instant-ack-receiver", metavar="PTY", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.instant_ack_receiver:
        instant_ack_receiver(args.instant_ack_receiver)
        return
    with tempfile.TemporaryDirectory(prefix="bench-acq-") as tmp:
        bench_astm(args.seconds, Path(tmp), args.database)
        bench_modbus(args.modbus_seconds, Path(tmp), args.database)


if __name__ == "__main__":
    main()
