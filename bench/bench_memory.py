"""Resident memory of a county install: `lims serve --workers 1` after use, and serve + `lims acquire` with
8 simulated instruments (issue 17: serve ≤ 150 MB, both together ≤ 300 MB on a 2-core mini-PC).

Set-up: a new SQLite database (migrated; `lims lab init`, one user per role with `lims user create`), or
``--database URL`` of one that has data (e.g. the one `lims demo` leaves, with its users' passwords).
Then, each its own process as a user starts it:

1. `lims serve --workers 1`: RSS (``VmRSS`` of /proc/PID/status) once it answers, then after a round of use
   — API login, the API lists (samples, tasks, results, instruments, PT rounds, reports, audit), every UI
   page of the navigation after a form login — repeated ``--rounds`` times; the peak (``VmHWM``) too.
2. `lims acquire` with 8 Modbus TCP analyzers (hardware_sim, polled at 2 Hz) for ``--seconds``: its RSS.

Printed: each RSS and the sum against the targets.

    .venv/bin/python bench/bench_memory.py [--seconds 20] [--rounds 3] [--database URL --user U --password P]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
LIMS = [str(VENV_BIN / "lims")] if (VENV_BIN / "lims").exists() else [sys.executable, "-m", "lims.cli"]
SERVE_LIMIT_MB, TOTAL_LIMIT_MB = 150.0, 300.0
USER, PASSWORD = "bench-admin", "bench-Passw0rd-2026"
API_LISTS = ["/api/v1/samples", "/api/v1/tasks", "/api/v1/results", "/api/v1/instruments", "/api/v1/pt/rounds",
             "/api/v1/reports", "/api/v1/audit/events", "/api/v1/auth/me"]
UI_PAGES = ["/", "/samples", "/batches", "/review", "/reports", "/instruments", "/pt",
            "/audit", "/admin/users"]


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {key} for {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(env: dict[str, str]) -> None:
    """A migrated database with a lab and one administrator (the CLI, as an installer runs it)."""
    for argv in (["db", "upgrade"],
                 ["lab", "init", "--code", "BENCH", "--name", "基准实验室", "--address", "县农检站",
                  "--region-code", "330106"],
                 ["user", "create", USER, "--full-name", "基准", "--role", "admin", "--password-env", "BENCH_PW"]):
        done = subprocess.run([*LIMS, *argv], env={**env, "BENCH_PW": PASSWORD}, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"lims {' '.join(argv)}: {done.stderr.strip()[-400:]}")


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"lims serve exited {proc.returncode}")
        try:
            httpx.get(url + "/login", timeout=5)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("lims serve did not answer")


def use(url: str, user: str, password: str) -> tuple[int, list[str]]:
    """One round of use: (requests made, "STATUS path" of the answers that were not OK)."""
    bad: list[str] = []
    total = 0
    with httpx.Client(base_url=url, timeout=60) as api:
        token = api.post("/api/v1/auth/login", json={"username": user, "password": password}).json()["token"]
        for path in API_LISTS:
            total += 1
            code = api.get(path, headers={"Authorization": f"Bearer {token}"}).status_code
            if code >= 300:
                bad.append(f"{code} {path}")
    with httpx.Client(base_url=url, timeout=60, follow_redirects=True) as ui:
        form = ui.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        done = ui.post("/login", data={"username": user, "password": password, "next": "/",
                                       "csrf_token": token.group(1) if token else ""})
        total += 1
        if done.status_code >= 300 or "/login" in str(done.url):
            bad.append(f"{done.status_code} POST /login")
        for path in UI_PAGES:
            total += 1
            code = ui.get(path).status_code
            if code >= 400:
                bad.append(f"{code} {path}")
    return total, bad


def measure_serve(env: dict[str, str], rounds: int, user: str, password: str) -> tuple[float, float, float, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([*LIMS, "serve", "--workers", "1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(url, proc)
        time.sleep(1.0)
        started = rss_mb(proc.pid)
        answers = [use(url, user, password) for _ in range(rounds)]
        time.sleep(1.0)
        after, peak = rss_mb(proc.pid), rss_mb(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    total, bad = sum(a for a, _ in answers), sorted({b for _, round_bad in answers for b in round_bad})
    return started, after, peak, f"{total} requests; not OK: {', '.join(bad) or 'none'}"


def measure_acquire(env: dict[str, str], tmp: Path, seconds: float, analyzers: int = 8) -> float:
    from hardware_sim.modbus_analyzer import ModbusAnalyzerSim, PlannedResult

    sims = [ModbusAnalyzerSim([PlannedResult(30.0 + i, 0.1)], measure_time_s=0.5, seed=i) for i in range(analyzers)]
    ports = [s.start_tcp() for s in sims]
    cfg = tmp / "acquire.toml"
    cfg.write_text("".join(f'[[instrument]]\ncode = "PH-{i}"\nprofile = "modbus_photometric"\n'
                           f'transport = "modbus-tcp://127.0.0.1:{p}?device_id=1"\npoll_interval_s = 0.5\n'
                           for i, p in enumerate(ports)))
    proc = subprocess.Popen([*LIMS, "acquire", "--config", str(cfg)], env=env, cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(seconds)
        if proc.poll() is not None:
            raise SystemExit(f"lims acquire exited {proc.returncode}")
        return rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        for s in sims:
            s.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="acquisition time before its RSS is read")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of API and UI use before serve's RSS is read")
    ap.add_argument("--database", help="use this database (with data) instead of a new one")
    ap.add_argument("--user", default=USER)
    ap.add_argument("--password", default=PASSWORD)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'lims.db'}"
        env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_REPORT_DIR": str(Path(tmp) / "reports")}
        if args.database is None:
            seed(env)
        started, after, peak, answers = measure_serve(env, args.rounds, args.user, args.password)
        acquire = measure_acquire(env, Path(tmp), args.seconds)
    together = after + acquire
    print(f"database: {'given' if args.database else 'new SQLite (seeded)'}")
    print(f"lims serve --workers 1: {started:.1f} MB once answering, {after:.1f} MB after {args.rounds} rounds of use "
          f"({answers}), peak {peak:.1f} MB (target ≤ {SERVE_LIMIT_MB:.0f} MB after use)")
    print(f"lims acquire, 8 Modbus analyzers for {args.seconds:g} s: {acquire:.1f} MB")
    print(f"serve + acquire: {together:.1f} MB (target ≤ {TOTAL_LIMIT_MB:.0f} MB)")
    ok = after <= SERVE_LIMIT_MB and together <= TOTAL_LIMIT_MB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
