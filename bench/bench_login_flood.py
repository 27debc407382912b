"""/auth/me latency while anonymous clients flood the login (issue 11: "a 20 s flood slowed /auth/me from
15 ms to 3 s with 500s"). Run by hand against a real `lims serve` (SQLite under a temporary folder, the
demo users, production argon2 cost):

    .venv/bin/python bench/bench_login_flood.py [--seconds 20] [--threads 8] [--mode one|many] [--tree DIR]

``--mode one``: every flood request from 127.0.0.1 for one account (wrong passwords); ``--mode many``: each
flood thread from its own loopback address (127.0.0.2…) with made-up usernames, so the per-address throttle
bites late. ``--tree`` runs another checkout of the project (e.g. the code before the change) with this
venv. Prints the baseline and the under-flood latency of /auth/me (p50/p95/max), its non-200 answers, and
what the flood got back.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(port: int, method: str, path: str, body: dict[str, str] | None = None,
             headers: dict[str, str] | None = None, source: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                      source_address=(source, 0) if source else None)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _setup(tree: Path, folder: Path) -> dict[str, str]:
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{folder / 'flood.db'}", "PYTHONPATH": str(tree)}
    env.pop("LIMS_ARGON2_TIME_COST", None)
    env.pop("LIMS_ARGON2_MEMORY_KIB", None)
    seed = ("from lims import demo; from lims.db import audit; from lims.db.engine import make_engine, "
            "make_session_factory; from lims.db.migrate import upgrade; audit.install(); e = make_engine(); "
            "upgrade(e); demo.seed_reference(make_session_factory(e))")
    subprocess.run([sys.executable, "-c", seed], env=env, check=True, cwd=tree, capture_output=True)
    return env


def _latencies(port: int, headers: dict[str, str], seconds: float, stop: threading.Event | None = None
               ) -> tuple[list[float], Counter[int]]:
    out: list[float] = []
    statuses: Counter[int] = Counter()
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (stop and stop.is_set()):
        t = time.perf_counter()
        status, _ = _request(port, "GET", "/api/v1/auth/me", headers=headers)
        out.append((time.perf_counter() - t) * 1000)
        statuses[status] += 1
        time.sleep(0.05)
    return out, statuses


def _summary(name: str, ms: list[float], statuses: Counter[int]) -> str:
    q = statistics.quantiles(ms, n=20) if len(ms) >= 20 else [max(ms)] * 19
    return (f"{name}: n={len(ms)} p50={statistics.median(ms):.1f} ms p95={q[18]:.1f} ms max={max(ms):.1f} ms "
            f"statuses={dict(statuses)}")


def _flood(port: int, mode: str, index: int, stop: threading.Event, results: Counter[int]) -> None:
    source = f"127.0.{index // 250}.{2 + index % 250}" if mode == "many" else None
    i = 0
    while not stop.is_set():
        username = f"nobody{index}x{i}" if mode == "many" else "liqiang"
        try:
            status, _ = _request(port, "POST", "/api/v1/auth/login",
                                 body={"username": username, "password": f"wrong-guess-{i}"}, source=source)
        except OSError:
            status = 0
        results[status] += 1
        i += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--mode", choices=["one", "many"], default="one")
    parser.add_argument("--tree", type=Path, default=ROOT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = _setup(args.tree.resolve(), Path(tmp))
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "lims.cli", "serve", "--port", str(port)], env=env,
                                  cwd=args.tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    status, body = _request(port, "POST", "/api/v1/auth/login",
                                            body={"username": "zhangwei", "password": "demo-tech-2026"})
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(server.stderr.read().decode() if server.stderr else "no server") from None
                    time.sleep(0.2)
            headers = {"Authorization": f"Bearer {json.loads(body)['token']}"}
            base, base_st = _latencies(port, headers, 5)
            print(_summary("baseline", base, base_st))
            stop = threading.Event()
            flood: Counter[int] = Counter()
            threads = [threading.Thread(target=_flood, args=(port, args.mode, i, stop, flood), daemon=True)
                       for i in range(args.threads)]
            for t in threads:
                t.start()
            under, under_st = _latencies(port, headers, args.seconds)
            stop.set()
            for t in threads:
                t.join(60)
            print(_summary(f"under a {args.seconds:.0f} s login flood ({args.threads} threads, mode {args.mode})",
                           under, under_st))
            print(f"flood answers: {dict(flood)} ({sum(flood.values()) / args.seconds:.0f} login attempts/s)")
            print(f"p50 ratio under flood / baseline: {statistics.median(under) / statistics.median(base):.1f}")
        finally:
            server.terminate()
            server.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
