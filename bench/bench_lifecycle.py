"""Lifecycle benchmarks on PostgreSQL (issue 6), run by hand:

    .venv/bin/python bench/bench_lifecycle.py [--results 1000000] [--clients 16] [--seconds 20]

1. With N results in PostgreSQL (bulk-loaded by SQL; the bulk load itself writes no audit events),
   the sample list and the result-review list endpoints of a running `lims serve` answer 16
   concurrent clients on loopback: p50/p95/p99 latency (target p95 < 100 ms).
2. A batch of 1,000 instrument readings into reviewable results (target < 1 s).
3. Approving 1,000 reviewed results with one e-signature (target < 2 s).
The anchor: an established open-source LIMS needed 90 s to submit 50 analyses after a performance fix.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import os
import pstats
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from lims.db import audit
from lims.db.engine import make_engine, make_session_factory, session_scope
from lims.db.migrate import upgrade
from lims.db.models import Analysis, Instrument, RawCapture, Reading, Sample, User
from lims.demo import LAB_CODE, PASSWORDS, seed_reference
from lims.services import signoff
from lims.services.screening import results_from_readings

PG = os.environ.get("LIMS_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SCHEMA = "lims_bench"
T = TypeVar("T")


def bulk_load(engine, n_results: int) -> None:  # type: ignore[no-untyped-def]
    per_sample = 5
    n_samples = n_results // per_sample
    with engine.begin() as c:
        ids = c.execute(text("SELECT (SELECT id FROM lab LIMIT 1), (SELECT min(id) FROM commodity), "
                             "(SELECT id FROM method WHERE code='GC-OP'), (SELECT min(id) FROM analyte), "
                             "(SELECT id FROM user_account WHERE username='zhangwei')")).one()
        lab, commodity, method, analyte, tech = ids
        c.execute(text(f"""
            INSERT INTO sample (code, lab_id, commodity_id, task_code, description, quantity, sampling_place,
                                region_code, sampling_link, certificate_no, trace_code, samplers, condition, status,
                                created_at, sampled_at, received_at)
            SELECT 'B' || lpad(g::text, 8, '0'), {lab}, {commodity}, 'T-BENCH', '', '', '某镇', '511521', '采收前',
                   '', '', '赵磊、孙敏', '完好', CASE WHEN g % 20 = 0 THEN 'to_be_reviewed' ELSE 'reported' END,
                   now() - (g || ' seconds')::interval, now(), now()
            FROM generate_series(1, {n_samples}) g"""))
        c.execute(text(f"""
            INSERT INTO analysis (sample_id, method_id, analyte_id, kind, status, dilution_factor, created_at)
            SELECT s.id, {method}, {analyte}, 'confirmatory', 'done', 1, now()
            FROM sample s CROSS JOIN generate_series(1, {per_sample}) k WHERE s.task_code = 'T-BENCH'"""))
        c.execute(text(f"""
            INSERT INTO result (analysis_id, version, value, value_text, unit, qualitative, decision_rule, verdict,
                                source, manual_reason, status, analyst_id, created_at)
            SELECT a.id, 1, 0.01 * (a.id % 50), '0.0' || (a.id % 9), 'mg/kg', '', 'simple_acceptance', 'compliant',
                   'calculated', '', CASE WHEN a.id % 20 = 0 THEN 'to_be_reviewed' ELSE 'rejected' END, {tech}, now()
            FROM analysis a JOIN sample s ON s.id = a.sample_id WHERE s.task_code = 'T-BENCH'"""))


def serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LIMS_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "serve", "--port", str(port), "--workers",
                             str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("lims serve did not start")


def load_test(base: str, token: str, clients: int, seconds: float) -> dict[str, list[float]]:
    """``clients`` closed-loop clients, each on its own keep-alive connection (http.client: a light
    client, so the 2-core machine's time goes to the server and PostgreSQL, not to the load generator)."""
    paths = {"samples": "/api/v1/samples?limit=50", "review": "/api/v1/results?status=to_be_reviewed&limit=50"}
    lat: dict[str, list[float]] = {k: [] for k in paths}
    errors: list[str] = []
    stop = time.monotonic() + seconds
    host, port = base.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {token}"}

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        k = 0
        while time.monotonic() < stop:
            name = "samples" if (i + k) % 2 == 0 else "review"
            t0 = time.perf_counter()
            conn.request("GET", paths[name], headers=headers)
            r = conn.getresponse()
            body = r.read()
            lat[name].append(time.perf_counter() - t0)
            if r.status != 200 or not body.startswith(b"{"):
                errors.append(f"{name}: {r.status}")
            k += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(f"  {len(errors)} errors, first: {errors[0]}")
    return lat


def profile_requests(engine, n: int) -> None:  # type: ignore[no-untyped-def]
    """Where a list request's server time goes (in-process, no HTTP server, one client)."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    client = TestClient(create_app(engine))
    token = client.post("/api/v1/auth/login", json={"username": "liqiang",
                                                     "password": PASSWORDS["liqiang"]}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    from sqlalchemy.orm import Session as _S

    from lims.services import auth as _auth
    from lims.services import queries as _q

    for label, fn in (("auth.resolve_token", lambda s: _auth.resolve_token(s, token)),
                      ("queries.list_samples", lambda s: _q.list_samples(s, limit=50)),
                      ("queries.list_results", lambda s: _q.list_results(s, status="to_be_reviewed", limit=50))):
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for _ in range(n):
            with _S(engine) as s:
                fn(s)
        prof.disable()
        print(f"{label}: {(time.perf_counter() - t0) / n * 1000:.1f} ms per call")
        pstats.Stats(prof).sort_stats("tottime").print_stats(8)
    for path in ("/api/v1/samples?limit=50", "/api/v1/results?status=to_be_reviewed&limit=50"):
        client.get(path, headers=h)
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for _ in range(n):
            client.get(path, headers=h)
        prof.disable()
        print(f"{path}: {(time.perf_counter() - t0) / n * 1000:.1f} ms per request in-process")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] * 1000 if len(values) > 2 else float("nan")


def _arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--workers", type=int, default=2, help="lims serve worker processes")
    ap.add_argument("--profile", action="store_true", help="cProfile the ingest and approval steps")
    ap.add_argument("--keep", action="store_true", help="keep the lims_bench schema afterwards")
    ap.add_argument("--reuse", action="store_true", help="reuse a lims_bench schema kept by --keep")
    ap.add_argument("--profile-requests", type=int, default=0,
                    help="also cProfile this many in-process list requests of each kind")
    return ap.parse_args()


def _fresh_schema(admin: Engine, reuse: bool) -> bool:
    """The bench schema, dropped and created unless ``reuse`` finds one kept by --keep; True when kept."""
    with admin.begin() as c:
        kept = c.execute(text("SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
                              "AND table_name = 'result'"), {"s": SCHEMA}).first() is not None
        if not (reuse and kept):
            c.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            c.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    return reuse and kept


def _load(engine: Engine, factory: sessionmaker[Session], n_results: int, reused: bool) -> None:
    """Migrated schema with the demo reference data and ``n_results`` bulk-loaded results (unless reused),
    vacuumed and analysed the way autovacuum leaves a table after bulk inserts."""
    upgrade(engine)
    if reused:
        with engine.begin() as c:  # the previous run's ingest and approval samples go, the bulk load stays
            n = c.execute(text("SELECT count(*) FROM result")).scalar_one()
        print(f"reusing {SCHEMA} ({n:,} results)")
    else:
        seed_reference(factory)
        t0 = time.perf_counter()
        bulk_load(engine, n_results)
        print(f"bulk-loaded {n_results:,} results in {time.perf_counter() - t0:.1f} s")
    # Statistics and the visibility map (index-only scans for the capped counts): a lab database reaches
    # this state on its own within minutes.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        for table in ("sample", "analysis", "result", "signature"):
            c.execute(text(f"VACUUM ANALYZE {table}"))


def _list_latencies(url: str, args: argparse.Namespace) -> dict[str, list[float]]:
    """Benchmark 1: the list endpoints of a running `lims serve` under concurrent clients."""
    if args.seconds <= 0:
        return {}
    proc = serve(url, args.port, args.workers)
    try:
        base = f"http://127.0.0.1:{args.port}"
        token = httpx.post(f"{base}/api/v1/auth/login", json={"username": "liqiang",
                                                               "password": PASSWORDS["liqiang"]}).json()["token"]
        return load_test(base, token, args.clients, args.seconds)
    finally:
        proc.terminate()
        proc.wait(10)


def _print_latencies(lat: dict[str, list[float]]) -> None:
    for name, values in lat.items():
        p95 = pct(values, 95)
        print(f"{name:8s} list: {len(values):6d} requests, p50 {pct(values, 50):6.1f} ms, p95 {p95:6.1f} ms, "
              f"p99 {pct(values, 99):6.1f} ms  (target p95 < 100 ms: {'met' if p95 < 100 else 'NOT met'})")


def _bench_readings(factory: sessionmaker[Session]) -> tuple[list[int], int]:
    """1,000 samples in analysis and their enzyme-tester readings (plus the run's control); returns the
    reading ids and the technician's user id."""
    with session_scope(factory, actor="bench") as s:
        inst = s.execute(select(Instrument).where(Instrument.code == "EI-01")).scalar_one()
        rapid = s.execute(text("SELECT id FROM method WHERE code='RAPID-EI'")).scalar_one()
        group = s.execute(text("SELECT id FROM analyte WHERE code='OP-CARB'")).scalar_one()
        lab = s.execute(text("SELECT id FROM lab LIMIT 1")).scalar_one()
        commodity = s.execute(text("SELECT min(id) FROM commodity")).scalar_one()
        cap = RawCapture(instrument_id=inst.id, data=b"bench", sha256="0" * 64, profile="enzyme_ascii_16ch")
        s.add(cap)
        s.flush()
        readings = [Reading(raw_capture_id=cap.id, instrument_id=inst.id, record_type="CH", channel=0, run_no="B1",
                            sample_code="CONTROL", fields={"a0": 0.35, "a3": 0.80})]
        run = int(time.time()) % 100_000  # distinct sample codes when --reuse runs again
        for i in range(1000):
            code = f"R{run:05d}-{i:04d}"
            smp = Sample(code=code, lab_id=lab, commodity_id=commodity, status="in_analysis")
            s.add(smp)
            s.flush()
            s.add(Analysis(sample_id=smp.id, method_id=rapid, analyte_id=group, kind="screening",
                           status="in_analysis"))
            readings.append(Reading(raw_capture_id=cap.id, instrument_id=inst.id, record_type="CH",
                                    channel=1 + i % 16, run_no="B1", sample_code=code,
                                    fields={"a0": 0.35, "a3": 0.80 - 0.0003 * (i % 100)}))
        s.add_all(readings)
        s.flush()
        return [r.id for r in readings], int(s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one())


def _timed(step: Callable[[], T], profile: bool) -> tuple[T, float]:
    """``step()`` and its wall time in seconds, under cProfile (top 18 by own time printed) if asked."""
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    value = step()
    elapsed = time.perf_counter() - t0
    if prof:
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)
    return value, elapsed


def _ingest_and_approve(factory: sessionmaker[Session], profile: bool) -> None:
    """Benchmarks 2 and 3: 1,000 readings into reviewable results, then one approval of all of them."""
    reading_ids, tech = _bench_readings(factory)

    def ingest() -> list[int]:
        with session_scope(factory, actor="zhangwei", reason="bench") as s:
            return list(results_from_readings(s, reading_ids, analyst_id=tech).results)

    results, t_ingest = _timed(ingest, profile)
    print(f"1,000 instrument readings → reviewable results: {t_ingest * 1000:.0f} ms "
          f"({len(results)} results; target < 1000 ms: {'met' if t_ingest < 1 else 'NOT met'})")
    with session_scope(factory, actor="zhangwei") as s:
        signoff.author_results(s, results, username="zhangwei", password=PASSWORDS["zhangwei"])
    with session_scope(factory, actor="liqiang") as s:
        signoff.review_results(s, results, username="liqiang", password=PASSWORDS["liqiang"])

    def approve() -> None:
        with session_scope(factory, actor="wangfang", reason="bench approval") as s:
            signoff.approve_results(s, results, username="wangfang", password=PASSWORDS["wangfang"],
                                    lab_code=LAB_CODE)

    _, t_approve = _timed(approve, profile)
    print(f"approving 1,000 results (one e-signature, 1,000 signature records, 1,000 outbox messages): "
          f"{t_approve * 1000:.0f} ms (target < 2000 ms: {'met' if t_approve < 2 else 'NOT met'})")
    print("anchor: an established open-source LIMS needed 90 s to submit 50 analyses → "
          f"{90 / 50 * 1000 / max(t_ingest, 1e-9):.0f}× the per-analysis rate of that anchor")


def main() -> None:
    args = _arguments()
    admin = make_engine(PG)
    reused = _fresh_schema(admin, args.reuse)
    url = f"{PG}?options=-csearch_path%3D{SCHEMA}"
    audit.install()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    _load(engine, factory, args.results, reused)
    latencies = _list_latencies(url, args)
    if args.profile_requests:
        profile_requests(engine, args.profile_requests)
    _print_latencies(latencies)
    _ingest_and_approve(factory, args.profile)
    engine.dispose()
    if not args.keep:
        with admin.begin() as c:
            c.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()
    Path("var").mkdir(exist_ok=True)


if __name__ == "__main__":
    main()
