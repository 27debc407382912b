"""Load test of a county install (issue 17, operations): `lims serve` on PostgreSQL under concurrent
technicians — through the REST API (list samples, list results, register a sample) and through the web UI
(signed in with the login form: dashboard, samples, review) — while instruments stream ASTM E1381 results
over ptys into `lims acquire` (a process of its own on the same database).

Printed: per kind of request and overall p50/p95/p99 latency, throughput (requests/s), errors (any answer
other than the expected one, or no answer: must be 0), instrument captures stored per second, and the
resident memory (RSS, summed over the server's processes) of `lims serve` and `lims acquire` at the end.

Reproducible: a scratch database is created on the server of ``--database`` (dropped afterwards unless
``--keep``), migrated and seeded with the demo's reference data; the request mix is drawn from a seeded
random generator (``--seed``); the run lasts ``--seconds``.

    .venv/bin/python bench/bench_load.py [--database postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--seconds 60] [--api 8] [--ui 4] [--instruments 4] [--workers 2] [--seed 17]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import httpx
from hardware_sim.astm import AstmMessage, AstmResult, AstmSenderSim
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from lims import demo
from lims.db import audit
from lims.db.engine import make_engine, make_session_factory, normalise_url
from lims.db.migrate import upgrade
from lims.db.models import Commodity, RawCapture
from lims.demo import PASSWORDS

ROOT = Path(__file__).resolve().parents[1]
#: The API technicians register samples as the analyst zhangwei (检验员); the UI ones are the three roles.
TECHNICIANS = ("zhangwei", "liqiang", "wangfang")
API_MIX = (("api list samples", 0.45), ("api list results", 0.35), ("api register sample", 0.20))
UI_PAGES = ("/", "/samples", "/review")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scratch(base_url: str) -> tuple[str, str]:
    name = f"lims_bench_load_{uuid.uuid4().hex[:8]}"
    admin = make_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, make_url(normalise_url(base_url)).set(database=name).render_as_string(hide_password=False)


def _drop(base_url: str, name: str) -> None:
    admin = make_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _prepare(url: str) -> str:
    engine = make_engine(url)
    upgrade(engine)
    audit.install()
    factory = make_session_factory(engine)
    demo.seed_reference(factory)
    demo.register_samples(factory)
    with factory() as s:
        commodity = str(s.execute(select(Commodity.code).order_by(Commodity.id)).scalars().first())
    engine.dispose()
    return commodity


def _rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (KiB)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += int(next(x for x in Path(f"/proc/{p}/status").read_text().splitlines()
                              if x.startswith("VmRSS:")).split()[1])
            todo += [int(c) for t in Path(f"/proc/{p}/task").iterdir()
                     for c in (t / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total


def _wait_health(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline, last = time.monotonic() + 300, "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"lims serve exited {proc.returncode}: {log.read_text()[-1500:]}")
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10)
            if r.status_code == 200:
                return
            last = r.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise SystemExit(f"lims serve did not become ready: {last}")


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()

    def add(self, kind: str, seconds: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            if not ok:
                self.errors[f"{kind}: {detail}"] += 1


def _timed(rec: Recorder, kind: str, call, expect: int) -> httpx.Response | None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    try:
        r = call()
    except httpx.HTTPError as exc:
        rec.add(kind, time.perf_counter() - started, False, type(exc).__name__)
        return None
    rec.add(kind, time.perf_counter() - started, r.status_code == expect, str(r.status_code))
    return r


def _token(base: str, who: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/login", json={"username": who, "password": PASSWORDS[who]}, timeout=60)
    if r.status_code != 200:
        raise SystemExit(f"login of {who} failed: {r.status_code} {r.text[:200]}")
    return str(r.json()["token"])


def _api_technician(base: str, bearer: str, commodity: str, rng: random.Random, stop: threading.Event,
                    rec: Recorder, n: int) -> None:
    with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {bearer}"}) as client:
        i = 0
        while not stop.is_set():
            kind = rng.choices([k for k, _ in API_MIX], [w for _, w in API_MIX])[0]
            if kind == "api list samples":
                _timed(rec, kind, lambda: client.get("/api/v1/samples", params={"limit": 50,
                                                                               "offset": rng.randrange(0, 40)}), 200)
            elif kind == "api list results":
                _timed(rec, kind, lambda: client.get("/api/v1/results", params={"limit": 50}), 200)
            else:
                i += 1
                body = {"code": f"LD{n:02d}-{i:06d}", "commodity_code": commodity,
                        "sampled_at": "2026-11-28T08:00:00+08:00", "sampling_place": "城关镇农贸市场",
                        "region_code": "511521", "sampling_link": "retail", "samplers": ["张三", "李四"]}
                _timed(rec, kind, lambda body=body: client.post("/api/v1/samples", json=body), 201)


def _ui_session(base: str, who: str) -> httpx.Client:
    """A browser signed in through the login form (CSRF field from the page), before the clock starts."""
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    for _ in range(10):
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        r = client.post("/login", data={"username": who, "password": PASSWORDS[who],
                                        "csrf_token": csrf.group(1) if csrf else "", "next": "/"})
        if r.status_code in (302, 303):
            return client
        time.sleep(float(r.headers.get("retry-after", "1")))
    raise SystemExit(f"UI login of {who} failed: {r.status_code}")


def _ui_technician(client: httpx.Client, rng: random.Random, stop: threading.Event, rec: Recorder) -> None:
    try:
        while not stop.is_set():
            path = rng.choice(UI_PAGES)
            _timed(rec, f"ui {path}", lambda path=path: client.get(path, headers={"Accept": "text/html"}), 200)
    finally:
        client.close()


def _instruments(count: int, seed: int) -> list[AstmSenderSim]:
    sims = []
    for n in range(count):
        msgs = [AstmMessage(f"IN{n}-{i:05d}", (AstmResult("CHLORPYRIFOS", f"{(i % 97) / 1000:.3f}"),
                                               AstmResult("DICHLORVOS", f"{(i % 31) / 1000:.3f}")))
                for i in range(20000)]
        sims.append(AstmSenderSim(msgs, seed=seed + n, reply_timeout_s=2.0, busy_retry_s=0.2))
    return sims


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return v, v, v
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


def _report(rec: Recorder, seconds: float, captures: int, serve_kib: int, acquire_kib: int, args) -> None:  # type: ignore[no-untyped-def]
    print(f"\nlims serve --workers {args.workers} on PostgreSQL, {args.api} API + {args.ui} UI technicians, "
          f"{args.instruments} instruments streaming ASTM; {seconds:.0f} s (seed {args.seed})")
    print(f"{'requests':<26}{'n':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'req/s':>9}")
    every: list[float] = []
    for kind in sorted(rec.latency):
        values = rec.latency[kind]
        every += values
        p50, p95, p99 = _percentiles(values)
        print(f"{kind:<26}{len(values):>8}{p50 * 1000:>10.1f}{p95 * 1000:>10.1f}{p99 * 1000:>10.1f}"
              f"{len(values) / seconds:>9.1f}")
    p50, p95, p99 = _percentiles(every)
    print(f"{'all':<26}{len(every):>8}{p50 * 1000:>10.1f}{p95 * 1000:>10.1f}{p99 * 1000:>10.1f}"
          f"{len(every) / seconds:>9.1f}")
    print(f"errors: {sum(rec.errors.values())}" + (f" {dict(rec.errors)}" if rec.errors else ""))
    print(f"instrument captures stored: {captures} ({captures / seconds:.1f}/s)")
    print(f"resident memory: lims serve {serve_kib / 1024:.0f} MB (all processes), "
          f"lims acquire {acquire_kib / 1024:.0f} MB, together {(serve_kib + acquire_kib) / 1024:.0f} MB")


def _start(url: str, args, port: int, sims: list[AstmSenderSim], work: Path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_REPORT_DIR": str(work / "reports"),
           "LIMS_LOG_FORMAT": "json", "LIMS_LOG_LEVEL": "WARNING"}
    serve = subprocess.Popen([sys.executable, "-m", "lims.cli", "serve", "--port", str(port), "--workers",
                              str(args.workers)], env=env, cwd=work, stdout=subprocess.DEVNULL,
                             stderr=(work / "serve.log").open("wb"))
    cfg = work / "acquire.toml"
    cfg.write_text("".join(f'[[instrument]]\ncode = "GC-LD{n}"\nprofile = "astm_gc_datasystem"\n'
                           f'transport = "{sim.start_pty()}"\n' for n, sim in enumerate(sims)), encoding="utf-8")
    acquire = subprocess.Popen([sys.executable, "-m", "lims.cli", "acquire", "--config", str(cfg)], env=env,
                               cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return serve, acquire


def run(args: argparse.Namespace) -> None:
    name, url = _scratch(args.database)
    serve = acquire = None
    sims = _instruments(args.instruments, args.seed)
    try:
        commodity = _prepare(url)
        port = _free_port()
        with tempfile.TemporaryDirectory(prefix="lims-bench-load-") as tmp:
            serve, acquire = _start(url, args, port, sims, Path(tmp))
            _wait_health(port, serve, Path(tmp) / "serve.log")
            base, rec, stop = f"http://127.0.0.1:{port}", Recorder(), threading.Event()
            rng = random.Random(args.seed)
            bearer = _token(base, "zhangwei")  # one API key per script, as a lab's integration would hold
            threads = [threading.Thread(target=_api_technician, args=(base, bearer, commodity,
                                        random.Random(rng.random()), stop, rec, i)) for i in range(args.api)]
            threads += [threading.Thread(target=_ui_technician, args=(_ui_session(base, TECHNICIANS[i % 3]),
                                         random.Random(rng.random()), stop, rec)) for i in range(args.ui)]
            engine = make_engine(url)
            with engine.connect() as c:
                before = c.execute(select(func.count()).select_from(RawCapture)).scalar_one()
            started = time.monotonic()
            for t in threads:
                t.start()
            time.sleep(args.seconds)
            serve_kib, acquire_kib = _rss_kib(serve.pid), _rss_kib(acquire.pid)
            stop.set()
            for t in threads:
                t.join(60)
            elapsed = time.monotonic() - started
            with engine.connect() as c:
                captures = c.execute(select(func.count()).select_from(RawCapture)).scalar_one() - before
            engine.dispose()
            _report(rec, elapsed, captures, serve_kib, acquire_kib, args)
    finally:
        for proc in (acquire, serve):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for sim in sims:
            sim.stop()
        if not args.keep:
            _drop(args.database, name)
        else:
            print(f"kept database {name}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database", default=os.environ.get("LIMS_TEST_POSTGRES_URL",
                                                        "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
                   help="a PostgreSQL URL; the scratch database is created on its server")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--api", type=int, default=8, help="technicians using the REST API")
    p.add_argument("--ui", type=int, default=4, help="technicians using the web UI")
    p.add_argument("--instruments", type=int, default=4, help="ASTM instruments streaming over ptys")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--keep", action="store_true", help="keep the scratch database")
    run(p.parse_args())


if __name__ == "__main__":
    main()
