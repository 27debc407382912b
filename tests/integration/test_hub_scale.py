"""Several hub processes on one database: two `lims hub serve` processes on two ports, the same messages
delivered concurrently to both — each stored once (the insert-first claim under the unique (lab, key)),
every sender answered with the same receipt. SQLite and PostgreSQL; the CLI's `lims hub stats` and
`lims hub lab add` on the same database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from lims.db.engine import make_engine, make_session_factory
from lims.db.models_hub import HubMessage, HubReceipt, HubResult
from lims.demo.loopback import _free_port
from lims.upstream.signing import public_key_pem
from tests.integration.hub_support import batch, item, post


def _env(db_url: str) -> dict[str, str]:
    return {**os.environ, "LIMS_HUB_DATABASE_URL": db_url, "LIMS_DATABASE_URL": db_url}


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lims.cli", "hub", *args], env=_env(db_url), text=True,
                          capture_output=True, timeout=120)


@pytest.fixture
def two_hubs(db_url):
    ports = [_free_port(), _free_port()]
    procs = [subprocess.Popen([sys.executable, "-m", "lims.cli", "hub", "serve", "--port", str(p)], env=_env(db_url),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for p in ports]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        deadline = time.monotonic() + 60
        for url, proc in zip(urls, procs, strict=True):
            while True:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                try:
                    if httpx.get(f"{url}/hub/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "hub did not start"
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def test_lab_add_cli_then_two_hub_processes_store_each_message_once(db_url, tmp_path, two_hubs):
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "lab1.pub"
    pem.write_text(public_key_pem(key))
    added = _cli(db_url, "lab", "add", "LAB1", "--public-key", str(pem), "--region", "330100", "--name", "检测站",
                 "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["keys"][0]["active"] is True
    docs = [batch([item(3 * i + 1), item(3 * i + 2, "ACEPHATE"), item(3 * i + 3, "DIMETHOATE")], sample=f"S{i}")
            for i in range(40)]

    def deliver(job: tuple[int, str]) -> tuple[int, int, object]:
        i, url = job
        with httpx.Client(timeout=30) as c:
            for _ in range(200):
                r = post(c, url, key, docs[i], idem=f"LAB1:result:{3 * i + 1}")
                if r.status_code != 409:  # in flight at the other hub: retry as the lab's worker does
                    return i, r.status_code, r.json().get("receipt")
                time.sleep(0.05)
        raise AssertionError("still in flight")

    jobs = [(i, url) for i in range(len(docs)) for url in two_hubs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(deliver, jobs))
    by_message: dict[int, list[tuple[int, object]]] = {}
    for i, status, receipt in answers:
        by_message.setdefault(i, []).append((status, receipt))
    for i, got in by_message.items():
        assert sorted(s for s, _ in got) == [200, 201], (i, got)  # one stored it, the other got its receipt
        assert len({r for _, r in got}) == 1
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s:
            assert s.execute(select(func.count()).select_from(HubReceipt)).scalar_one() == 40
            assert s.execute(select(func.count()).select_from(HubMessage)).scalar_one() == 40
            assert s.execute(select(func.count()).select_from(HubResult)).scalar_one() == 120
    finally:
        engine.dispose()
    stats = _cli(db_url, "stats", "--by", "region,analyte", "--json")
    assert stats.returncode == 0, stats.stderr
    doc = json.loads(stats.stdout)
    assert (doc["messages"], doc["results"], doc["non_compliant"]) == (40, 120, 0)
    assert doc["rows"] == [{"region": "330102", "analyte": a, "tested": 40, "non_compliant": 0, "positive": 40}
                           for a in ("ACEPHATE", "CHLORPYRIFOS", "DIMETHOATE")]
    bad = _cli(db_url, "stats", "--by", "colour", "--json")
    assert bad.returncode == 2 and "colour" in bad.stderr and not bad.stdout
