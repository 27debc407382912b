"""Drain a backlog of certified results to a local hub, PostgreSQL on both ends (issue 14):

    .venv/bin/python bench/bench_hub.py [--results 100000] [--per-message 100] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

* The lab's outbox (one PostgreSQL schema) is filled with ``results / per-message`` cn-agri-residue/2
  messages (one sample each, ``per-message`` results), built from the canonical schema models and inserted
  directly (certifying 100,000 results through the workflow is not what is measured here).
* The hub is a real ``lims hub serve`` process on loopback with its own schema. The lab's delivery worker
  (lims.upstream.delivery.deliver_due, signing each message) drains the backlog over HTTP.
* Reported: results/s of the drain; the hub's raw insert rate of the same rows (executemany into the same
  hub_message/hub_result tables, one commit per message, as the receiver does) and the ratio; resident memory
  (VmRSS) of the hub process and of the lab worker (this process) sampled every 0.5 s (min/max: flat means
  the backlog is streamed, not loaded); hub p95/p50/max per batch (the HTTP round trip of one message of
  ``per-message`` results, signature to receipt).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import Engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lims.db.engine import make_engine, make_session_factory, normalise_url  # noqa: E402
from lims.db.migrate import upgrade  # noqa: E402
from lims.db.models import OutboxMessage  # noqa: E402
from lims.db.models_hub import HubMessage, HubResult  # noqa: E402
from lims.hub.partitions import ensure_partitions  # noqa: E402
from lims.hub.registry import add_lab_key  # noqa: E402
from lims.hub.store import result_rows  # noqa: E402
from lims.upstream import schema as w  # noqa: E402
from lims.upstream.delivery import deliver_due  # noqa: E402
from lims.upstream.signing import public_key_pem  # noqa: E402

LAB = "330102-01"


def _schema(base: str, name: str) -> tuple[str, Engine]:
    admin = make_engine(base)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{name}"'))
    admin.dispose()
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{name}"
    engine = make_engine(url)
    upgrade(engine)
    return url, engine


def _message(sample: int, per: int) -> w.ResultBatch:
    items = [w.ResultItem(result_id=sample * per + i + 1, version=1,
                          analysis=w.AnalysisRecord(analyte=f"A{i:03d}", method="GB 23200.113", kind="confirmatory"),
                          result=w.ResultValue(res_type="VAL" if i % 3 == 0 else "LOQ",
                                               value=0.031 if i % 3 == 0 else None, unit="mg/kg", lod=0.003, loq=0.01),
                          evaluation=w.Evaluation(code="compliant", limit=w.LimitRef(value=0.1, unit="mg/kg",
                                                                                     limit_type="MRL")))
             for i in range(per)]
    return w.ResultBatch(lab=w.LabRef(code=LAB, region_code="330102"),
                         sampling_event=w.SamplingEvent(region_code="330102", programme_type="routine"),
                         sample=w.SampleRecord(code=f"S{sample:06d}", product_code="QINCAI", product_name="芹菜"),
                         results=items)


def fill_outbox(engine: Engine, messages: int, per: int) -> None:
    rows = []
    for m in range(messages):
        rows.append({"kind": "result", "idempotency_key": f"{LAB}:result:{m * per + 1}", "sample_code": f"S{m:06d}",
                     "payload": json.dumps(_message(m, per).wire(), sort_keys=True), "status": "pending",
                     "attempts": 0, "last_error": "", "receipt_id": ""})
        if len(rows) == 200:
            with engine.begin() as c:
                c.execute(insert(OutboxMessage.__table__), rows)
            rows = []
    if rows:
        with engine.begin() as c:
            c.execute(insert(OutboxMessage.__table__), rows)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.samples = pids, {k: [] for k in pids}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for name, pid in self.pids.items():
                self.samples[name].append(rss_kib(pid))
            self.stop.wait(0.5)


def raw_insert_rate(engine: Engine, messages: int, per: int) -> float:
    """Results/s of inserting the same rows into hub_message/hub_result, one transaction per message."""
    import datetime as dt

    batches = [_message(m, per) for m in range(messages)]
    t0 = time.perf_counter()
    for m, b in enumerate(batches):
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as c:
            c.execute(insert(HubMessage.__table__).values(receipt_id=10_000_000 + m, received_at=now, lab_code=LAB,
                                                          schema=w.RESULTS_SCHEMA, sample_code=b.sample.code,
                                                          payload=json.dumps(b.wire())))
            c.execute(insert(HubResult.__table__), result_rows(b, receipt_id=10_000_000 + m, received_at=now))
    return messages * per / (time.perf_counter() - t0)


def _start_hub(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LIMS_HUB_DATABASE_URL": url, "LIMS_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "hub", "serve", "--port", str(port)], env=env,
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/hub/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("hub did not start")


def drain(lab_engine: Engine, key: object, hub: str, total_msgs: int, workers: int) -> tuple[float, list[float]]:
    """``workers`` delivery workers (threads, each its own HTTP client) drain the outbox; on PostgreSQL they
    claim messages with FOR UPDATE SKIP LOCKED, as several `lims upstream run` processes would."""
    latencies: list[float] = []
    lock = threading.Lock()
    delivered = [0]

    def on_request(request: httpx.Request) -> None:
        request.extensions["t0"] = time.perf_counter()

    def on_response(response: httpx.Response) -> None:
        with lock:
            latencies.append(time.perf_counter() - response.request.extensions["t0"])

    factory = make_session_factory(lab_engine)

    def work() -> None:
        idle = 0
        with httpx.Client(timeout=60, event_hooks={"request": [on_request], "response": [on_response]}) as client:
            while idle < 3:
                stats = deliver_due(factory, client, key, hub_url=hub, lab_code=LAB, limit=50)  # type: ignore[arg-type]
                with lock:
                    delivered[0] += stats.delivered
                idle = 0 if stats.delivered else idle + 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if delivered[0] != total_msgs:
        raise SystemExit(f"drain delivered {delivered[0]} of {total_msgs} messages")
    return time.perf_counter() - t0, latencies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=int, default=100_000)
    ap.add_argument("--per-message", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2, help="lab delivery workers (threads)")
    ap.add_argument("--pg", default=os.environ.get("LIMS_TEST_DATABASE",
                                                   "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lims.db.engine import session_scope
    from lims.demo.loopback import _free_port

    base, tag = normalise_url(args.pg), uuid.uuid4().hex[:8]
    messages = args.results // args.per_message
    lab_url, lab_engine = _schema(base, f"bench_lab_{tag}")
    hub_url, hub_engine = _schema(base, f"bench_hub_{tag}")
    raw_url, raw_engine = _schema(base, f"bench_raw_{tag}")
    key = Ed25519PrivateKey.generate()
    with session_scope(make_session_factory(hub_engine), actor="bench") as s:
        add_lab_key(s, LAB, public_key_pem(key), region_code="330100")
    t = time.perf_counter()
    fill_outbox(lab_engine, messages, args.per_message)
    print(f"backlog: {messages} messages × {args.per_message} results queued in {time.perf_counter() - t:.1f} s")
    port = _free_port()
    hub = _start_hub(hub_url, port)
    sampler = RssSampler({"hub": hub.pid, "lab worker": os.getpid()})
    sampler.start()
    try:
        seconds, lat = drain(lab_engine, key, f"http://127.0.0.1:{port}", messages, args.workers)
    finally:
        sampler.stop.set()
        hub.terminate()
        hub.wait(timeout=20)
    ensure_partitions(raw_engine)  # as the hub does when it starts
    raw = raw_insert_rate(raw_engine, messages, args.per_message)
    rate = args.results / seconds
    q = statistics.quantiles(lat, n=100)
    print(f"drain ({args.workers} lab workers): {args.results} results in {seconds:.1f} s = {rate:,.0f} results/s "
          "(target ≥ 2,000/s)")
    print(f"raw insert of the same rows (executemany, one commit per message): {raw:,.0f} results/s; "
          f"drain/raw = {rate / raw:.2f}")
    print(f"hub per batch of {args.per_message}: p50 {1000 * q[49]:.1f} ms, p95 {1000 * q[94]:.1f} ms, "
          f"max {1000 * max(lat):.1f} ms ({len(lat)} requests)")
    for name, samples in sampler.samples.items():
        first = samples[: max(1, len(samples) // 10)]
        print(f"RSS {name}: start {max(first) / 1024:.0f} MiB, min {min(samples) / 1024:.0f}, "
              f"max {max(samples) / 1024:.0f} MiB, end {samples[-1] / 1024:.0f} MiB ({len(samples)} samples)")
    for engine in (lab_engine, hub_engine, raw_engine):
        engine.dispose()
    admin = make_engine(base)
    with admin.begin() as c:
        for name in (f"bench_lab_{tag}", f"bench_hub_{tag}", f"bench_raw_{tag}"):
            c.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()
    _ = (lab_url, raw_url)


if __name__ == "__main__":
    main()
