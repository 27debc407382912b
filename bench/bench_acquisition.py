"""Acquisition benchmarks (run by hand; figures go in the closing note).

1. A sustained 115200-baud ASTM E1381 stream over a pty into the database: the simulated data system
   (hardware_sim AstmSenderSim) is paced at the line rate (10 bits per byte, 8N1); `lims acquire` runs as
   its own process. Printed: payload throughput as % of the line rate, the same for a null receiver that
   ACKs every frame at once without storing anything (the peer: what the stop-and-wait protocol itself
   allows), their ratio, loss (frames the sender saw ACKed but missing from the database: must be 0) and
   the acquisition process' CPU as % of one core (from /proc/<pid>/stat over the measured window).
2. Modbus TCP polling of 8 simulated analyzers at 10 Hz each: polls done vs scheduled, missed polls
   (failed or later than one interval), acquisition CPU %.

    .venv/bin/python bench/bench_acquisition.py [--seconds 20] [--modbus-seconds 60]
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
import threading
import time
from collections import Counter
from pathlib import Path

from hardware_sim.astm import AstmMessage, AstmResult, AstmSenderSim
from hardware_sim.modbus_analyzer import ModbusAnalyzerSim, PlannedResult
from sqlalchemy import select as sql_select

from lims.db.engine import make_engine, make_session_factory
from lims.db.migrate import upgrade
from lims.db.models import RawCapture

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


def null_receiver(path: str, stop: threading.Event) -> None:
    """ACK every ENQ and every frame at once (no checks, no storage): the protocol's own ceiling."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        while not stop.is_set():
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                data = os.read(fd, 4096)
                n = data.count(b"\x05") + data.count(b"\n")
                if n:
                    os.write(fd, b"\x06" * n)
    finally:
        os.close(fd)


def bench_astm(seconds: float, tmp: Path) -> None:
    n = int(seconds * LINE_BYTES_PER_S / 200) + 200
    peer = PacedSender(_messages(n), reply_timeout_s=2.0, busy_retry_s=0.5)
    stop = threading.Event()
    t = threading.Thread(target=null_receiver, args=(peer.start_pty(), stop), daemon=True)
    t.start()
    peer_rate, _ = _window(peer, min(seconds, 5.0), None)
    stop.set()
    peer.stop()

    db = tmp / "astm.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    sim = PacedSender(_messages(n), reply_timeout_s=2.0, busy_retry_s=0.5)
    path = sim.start_pty()
    cfg = tmp / "astm.toml"
    cfg.write_text(f'[[instrument]]\ncode = "GC-B"\nprofile = "astm_gc_datasystem"\ntransport = "{path}"\n'
                   'baudrate = 115200\n')
    proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "acquire", "--config", str(cfg)], cwd=ROOT,
                            env={**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{db}"},
                            stdout=subprocess.DEVNULL)
    try:
        rate, cpu = _window(sim, seconds, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        sim.stop()
    acked = Counter(sim.acked_frames)
    with make_session_factory(engine)() as s:
        stored = Counter(s.execute(sql_select(RawCapture.data).where(
            RawCapture.parse_status.in_(("parsed", "pending", "incomplete")))).scalars())
    lost = sum((acked - stored).values())
    print(f"ASTM 115200 baud over a pty, {seconds:g} s, SQLite WAL:")
    print(f"  lims acquire : {rate:8.0f} payload B/s = {100 * rate / LINE_BYTES_PER_S:5.1f} % of line rate")
    print(f"  null receiver: {peer_rate:8.0f} payload B/s = {100 * peer_rate / LINE_BYTES_PER_S:5.1f} % of line "
          "rate (stop-and-wait ceiling)")
    print(f"  ratio acquire / null receiver: {rate / peer_rate:.3f}")
    print(f"  frames ACKed {sum(acked.values())}, lost {lost}; acquisition CPU {100 * (cpu or 0):.1f} % of one core")


def bench_modbus(seconds: float, tmp: Path, analyzers: int = 8, hz: float = 10.0) -> None:
    sims = [ModbusAnalyzerSim([PlannedResult(30.0 + i, 0.1)], measure_time_s=0.5, seed=i) for i in range(analyzers)]
    ports = [s.start_tcp() for s in sims]
    db = tmp / "modbus.db"
    upgrade(make_engine(f"sqlite:///{db}"))
    cfg = tmp / "modbus.toml"
    cfg.write_text("".join(f'[[instrument]]\ncode = "PH-{i}"\nprofile = "modbus_photometric"\n'
                           f'transport = "modbus-tcp://127.0.0.1:{p}?device_id=1"\npoll_interval_s = {1 / hz}\n'
                           for i, p in enumerate(ports)))
    proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "acquire", "--config", str(cfg), "--json"],
                            cwd=ROOT, env={**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{db}"},
                            stdout=subprocess.PIPE)
    try:
        time.sleep(3.0)  # imports and connections
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
    missed = sum(i["missed_polls"] for i in stats)
    failed = sum(i["failed_polls"] for i in stats)
    worst = max(i["max_poll_latency_s"] for i in stats)
    print(f"Modbus TCP, {analyzers} analyzers at {hz:g} Hz, {seconds:g} s measured (+ ~3 s start-up polls):")
    print(f"  polls {polls}, missed {missed} (failed {failed}), worst poll latency {1000 * worst:.1f} ms "
          f"(interval {1000 / hz:.0f} ms); acquisition CPU {100 * cpu:.1f} % of one core")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="ASTM stream duration (default 20)")
    ap.add_argument("--modbus-seconds", type=float, default=60.0, help="Modbus polling duration (default 60)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-acq-") as tmp:
        bench_astm(args.seconds, Path(tmp))
        bench_modbus(args.modbus_seconds, Path(tmp))


if __name__ == "__main__":
    main()
