"""A real `lims serve` process and a load of technicians registering samples through it, for the fault
tests (tests/integration/test_process_faults.py): each sample the server acknowledged (201) is recorded,
so a test can prove none was lost, and every other answer is kept by status."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from lims.db.models import Commodity, Sample
from lims.demo import PASSWORDS


def children(pid: int) -> set[int]:
    """The process ids whose parent is ``pid`` (read from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(env: dict[str, str], port: int, *, workers: int = 1, cwd: Path | None = None,
                preexec: Any = None) -> subprocess.Popen[bytes]:
    """`lims serve` on ``port``, answering /health (120 s at most); its log lines go to a temporary file
    (a pipe nobody reads would block the server once full), kept as ``proc.log_path``."""
    log = tempfile.NamedTemporaryFile(prefix="lims-serve-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "serve", "--port", str(port), "--workers",
                             str(workers)], env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=log, preexec_fn=preexec)
    log.close()
    proc.log_path = Path(log.name)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"lims serve exited {proc.returncode}: {Path(log.name).read_text()[-2000:]}")
        assert time.monotonic() < deadline, f"lims serve did not answer: {Path(log.name).read_text()[-2000:]}"
        time.sleep(0.2)


def token(port: int, username: str = "zhangwei") -> str:
    r = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/login",
                   json={"username": username, "password": PASSWORDS[username]}, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def commodity_code(factory: Any) -> str:
    with factory() as s:
        return str(s.execute(select(Commodity.code).order_by(Commodity.id)).scalars().first())


def sample_body(code: str, commodity: str) -> dict[str, Any]:
    return {"code": code, "commodity_code": commodity, "sampled_at": "2026-11-28T08:00:00+08:00",
            "sampling_place": "城关镇农贸市场", "region_code": "511521", "sampling_link": "retail",
            "samplers": ["张三", "李四"]}


class SampleLoad:
    """``threads`` technicians registering samples on ``port`` until stopped; ``acknowledged`` holds the
    codes answered 201, ``statuses`` every answer (``"conn"``: no answer at all)."""

    def __init__(self, port: int, bearer: str, commodity: str, prefix: str, threads: int = 4) -> None:
        self.url = f"http://127.0.0.1:{port}/api/v1/samples"
        self.headers = {"Authorization": f"Bearer {bearer}"}
        self.commodity, self.prefix = commodity, prefix
        self.acknowledged: list[str] = []
        self.statuses: Counter[str] = Counter()
        self.bodies: dict[int, str] = {}
        self._stop = threading.Event()
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> SampleLoad:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def _run(self) -> None:
        with httpx.Client(timeout=15) as client:
            while not self._stop.is_set():
                code = f"{self.prefix}-{next(self._numbers):05d}"
                try:
                    r = client.post(self.url, json=sample_body(code, self.commodity), headers=self.headers)
                except httpx.HTTPError:
                    with self._lock:
                        self.statuses["conn"] += 1
                    time.sleep(0.05)
                    continue
                with self._lock:
                    self.statuses[str(r.status_code)] += 1
                    if r.status_code == 201:
                        self.acknowledged.append(code)
                    elif r.status_code >= 500:
                        self.bodies.setdefault(r.status_code, r.text[:300])
                if r.status_code >= 500:
                    time.sleep(0.05)

    def wait_for(self, count: int, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} samples acknowledged: {self.statuses}"
            time.sleep(0.05)


def stored_codes(factory: Any, prefix: str) -> set[str]:
    with factory() as s:
        return set(s.execute(select(Sample.code).where(Sample.code.like(f"{prefix}-%"))).scalars())
