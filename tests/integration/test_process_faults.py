"""Faults under load (issue 17, operations), on real processes:

* kill -9 of `lims serve` while technicians register samples: every sample the server acknowledged (201)
  is in the database; a new `lims serve` (what systemd's Restart=always does) starts on the same port and
  database with nobody repairing anything, and serves; a worker killed under `--workers 2` is replaced by
  the supervisor by itself.
* kill -9 of `lims upstream run` mid-delivery: a new worker delivers every message exactly once (the hub
  holds each once; the killed worker's claims are taken over when their lease runs out).
* PostgreSQL "restarted" under load — every connection of the app terminated (pg_terminate_backend; the
  shared server itself is not restarted): requests fail cleanly (503 with Retry-After, never a 500 or a
  dropped connection), nothing acknowledged is lost, and the service recovers without a person.
* The disk full under the SQLite file (RLIMIT_FSIZE on the server process — the machine allows no small
  filesystem to be mounted here): writes get a clear 507 naming the full disk, reads still work, nothing
  acknowledged is lost and the database passes `PRAGMA integrity_check` and `lims audit verify`.

* kill -9 of `lims acquire` mid-stream while the instrument keeps sending: a new process resumes the stream
  and every completed message gives its readings once (no acknowledged frame lost:
  tests/integration/test_acquire_service.py).
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lims import demo
from lims.db.engine import make_engine, session_scope
from lims.db.models import OutboxMessage
from tests.integration.serve_support import (
    SampleLoad,
    children,
    commodity_code,
    free_port,
    sample_body,
    start_serve,
    stored_codes,
    token,
)

pytestmark = pytest.mark.slow


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_kill_9_of_serve_under_load_loses_nothing_acknowledged_and_a_restart_serves(db_url, db_factory, tmp_path):
    demo.seed_reference(db_factory)
    commodity = commodity_code(db_factory)
    port = free_port()
    env = {"LIMS_DATABASE_URL": db_url, "LIMS_REPORT_DIR": str(tmp_path / "reports")}
    proc = start_serve(env, port)
    try:
        with SampleLoad(port, token(port), commodity, "K9") as load:
            load.wait_for(30)
            proc.send_signal(signal.SIGKILL)  # mid-request: the load threads are posting
            proc.wait(10)
            time.sleep(0.5)
            load.stop()
        acknowledged = set(load.acknowledged)
        assert not acknowledged - stored_codes(db_factory, "K9"), "an acknowledged sample was lost"
        assert not {s for s in load.statuses if s.startswith("5")}, load.statuses
        proc = start_serve(env, port)  # what Restart=always does: same port, same database, nothing repaired
        with SampleLoad(port, token(port), commodity, "K9B") as again:
            again.wait_for(10)
        assert set(again.acknowledged) <= stored_codes(db_factory, "K9B")
    finally:
        _stop(proc)




def test_a_worker_killed_under_load_is_replaced_by_the_supervisor(db_url, db_factory, tmp_path):
    demo.seed_reference(db_factory)
    port = free_port()
    proc = start_serve({"LIMS_DATABASE_URL": db_url, "LIMS_REPORT_DIR": str(tmp_path / "reports")}, port,
                       workers=2)
    try:
        with SampleLoad(port, token(port), commodity_code(db_factory), "W9") as load:
            load.wait_for(20)
            before = children(proc.pid)
            victim = max(before)
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while not (children(proc.pid) - before) and time.monotonic() < deadline:
                time.sleep(0.2)
            count = len(load.acknowledged)
            load.wait_for(count + 20)  # still served, by the survivor and the replacement
        assert children(proc.pid) - before, "no replacement worker"
        assert not set(load.acknowledged) - stored_codes(db_factory, "W9")
        assert not {s for s in load.statuses if s.startswith("5")}, load.statuses
    finally:
        _stop(proc)


# ----------------------------------------------------------------------------------- PostgreSQL goes away

def test_postgresql_connections_terminated_under_load_fail_cleanly_and_recover(db_url, db_factory, tmp_path):
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a database server whose connections are terminated: PostgreSQL")
    demo.seed_reference(db_factory)
    app_name = f"lims_fault_{uuid.uuid4().hex[:8]}"
    sep = "&" if "?" in db_url else "?"
    port = free_port()
    env = {"LIMS_DATABASE_URL": f"{db_url}{sep}application_name={app_name}",
           "LIMS_REPORT_DIR": str(tmp_path / "reports")}
    proc = start_serve(env, port)
    admin = make_engine(db_url)
    try:
        with SampleLoad(port, token(port), commodity_code(db_factory), "PG") as load:
            load.wait_for(20)
            for _ in range(3):  # the server "restarts" three times under load
                with admin.connect() as c:
                    killed = c.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                            "WHERE application_name = :n"), {"n": app_name}).scalar_one()
                assert killed >= 1
                time.sleep(0.7)
            count = len(load.acknowledged)
            load.wait_for(count + 20)  # recovered, nobody restarted anything
        statuses = load.statuses
        assert set(statuses) <= {"201", "503"}, (statuses, load.bodies)  # never a 500 or a dropped connection
        assert not set(load.acknowledged) - stored_codes(db_factory, "PG")
        r = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10)
        assert r.status_code == 200, r.text
    finally:
        _stop(proc)
        admin.dispose()


# -------------------------------------------------------------------------------- upstream worker kill -9

def test_kill_9_of_the_upstream_worker_mid_delivery_then_every_message_once(db_url, db_factory, tmp_path):
    from lims.upstream.signing import create_key, public_key_pem
    from tests.integration.test_upstream_cli import LAB, _payload

    key = tmp_path / "keys" / "lab.pem"
    public = public_key_pem(create_key(key))
    hub_db = tmp_path / "hub.db"
    hub_port = free_port()
    hub_env = {**os.environ, "LIMS_HUB_DATABASE_URL": f"sqlite:///{hub_db}", "LIMS_DATABASE_URL": f"sqlite:///{hub_db}"}
    (tmp_path / "lab.pub").write_text(public)
    hub = subprocess.Popen([sys.executable, "-m", "lims.cli", "hub", "serve", "--port", str(hub_port)],
                           env=hub_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    n = 300
    with session_scope(db_factory, actor="test") as s:
        for i in range(1, n + 1):
            s.add(OutboxMessage(kind="result", idempotency_key=f"{LAB}:result:{i}", payload=_payload(f"S{i}", i),
                                sample_code=f"S{i}"))
    env = {**os.environ, "LIMS_DATABASE_URL": db_url, "LIMS_UPSTREAM_KEY": str(key), "LIMS_LAB_CODE": LAB,
           "LIMS_UPSTREAM_URL": f"http://127.0.0.1:{hub_port}", "LIMS_UPSTREAM_TIMEOUT_S": "2",
           "LIMS_ANCHOR_LOG": str(tmp_path / "anchors.log")}
    worker = None
    try:
        _wait_http(f"http://127.0.0.1:{hub_port}/hub/v1/health", hub)
        added = subprocess.run([sys.executable, "-m", "lims.cli", "hub", "lab", "add", LAB, "--public-key",
                                str(tmp_path / "lab.pub")], env=hub_env, capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
        worker = subprocess.Popen([sys.executable, "-m", "lims.cli", "upstream", "run"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert _wait(lambda: 20 <= _delivered(db_factory) < n, 60), "the worker delivered nothing"
        worker.send_signal(signal.SIGKILL)  # mid-delivery
        worker.wait(10)
        assert _delivered(db_factory) < n
        worker = subprocess.Popen([sys.executable, "-m", "lims.cli", "upstream", "run"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert _wait(lambda: _delivered(db_factory) == n, 300), f"{_delivered(db_factory)} of {n} delivered"
    finally:
        for p in (worker, hub):
            if p is not None:
                _stop(p)
    with sqlite3.connect(hub_db) as c:
        held = c.execute("SELECT count(*), count(DISTINCT idempotency_key) FROM hub_receipt").fetchone()
    assert held == (n, n), held  # each once: a resend after the kill got the stored receipt


def _wait(cond, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return bool(cond())


def _wait_http(url: str, proc: subprocess.Popen[bytes]) -> None:
    def up() -> bool:
        assert proc.poll() is None, f"exited {proc.returncode}"
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert _wait(up, 60), f"{url} did not answer"


def _delivered(factory) -> int:  # type: ignore[no-untyped-def]
    with factory() as s:
        return int(s.execute(text("SELECT count(*) FROM outbox_message WHERE status = 'delivered'")).scalar_one())


# ---------------------------------------------------------------------------------------- the disk is full

def _limit_file_size(limit: int):  # type: ignore[no-untyped-def]
    def apply() -> None:  # in the child, before exec: a write past the limit fails with EFBIG, no signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_disk_full_under_sqlite_is_a_clear_error_and_no_corruption(db_url, db_factory, tmp_path):
    if make_url(db_url).get_backend_name() != "sqlite":
        pytest.skip("the SQLite file's disk")
    demo.seed_reference(db_factory)
    commodity = commodity_code(db_factory)
    db = Path(str(make_url(db_url).database))
    with sqlite3.connect(db) as c:  # fold the WAL in: the file's size is what the limit is added to
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    port = free_port()
    env = {"LIMS_DATABASE_URL": db_url, "LIMS_REPORT_DIR": str(tmp_path / "reports"),
           "LIMS_AUDIT_STATUS_FILE": str(tmp_path / "verify.json")}
    proc = start_serve(env, port, preexec=_limit_file_size(db.stat().st_size + 96 * 1024))
    try:
        bearer = token(port)
        with SampleLoad(port, bearer, commodity, "DF", threads=2) as load:
            deadline = time.monotonic() + 90
            while not any(s == "507" for s in load.statuses) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
        assert load.statuses["507"] >= 1, load.statuses  # the disk filled up
        assert set(load.statuses) <= {"201", "507", "503"}, (load.statuses, load.bodies)
        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/samples", json=sample_body("DF-LAST", commodity),
                       headers={"Authorization": f"Bearer {bearer}"}, timeout=15)
        assert r.status_code == 507 and r.json()["detail"]["code"] == "db.disk_full", r.text
        assert "磁盘" in r.json()["detail"]["message"] and "disk is full" in r.json()["detail"]["message"]
        reads = httpx.get(f"http://127.0.0.1:{port}/api/v1/samples?limit=5",
                          headers={"Authorization": f"Bearer {bearer}"}, timeout=15)
        assert reads.status_code == 200  # reading goes on
    finally:
        _stop(proc)
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not set(load.acknowledged) - stored_codes(db_factory, "DF"), "an acknowledged sample was lost"
    verify = subprocess.run([sys.executable, "-m", "lims.cli", "audit", "verify"], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr


# ------------------------------------------------------------------------------------ lims acquire kill -9

def test_kill_9_of_acquire_then_a_new_process_resumes_the_stream_by_itself(db_url, db_factory, tmp_path):
    """The instrument keeps sending while `lims acquire` is killed and started again (what Restart=always
    does): the new process picks the stream up, the instrument finishes, and every message it completed
    gives its readings exactly once — the killed process's stored-but-unparsed captures included."""
    from collections import Counter

    from hardware_sim.astm import AstmMessage, AstmResult, AstmSenderSim
    from sqlalchemy import select

    from lims.db.models import RawCapture, Reading

    msgs = [AstmMessage(f"R{i:04d}", (AstmResult("CHLORPYRIFOS", f"{i / 1000:.3f}"),)) for i in range(120)]
    sim = AstmSenderSim(msgs, reply_timeout_s=0.5, busy_retry_s=0.2)
    cfg = tmp_path / "acquire.toml"
    cfg.write_text(f'[[instrument]]\ncode = "GC-R9"\nprofile = "astm_gc_datasystem"\ntransport = "{sim.start_pty()}"\n',
                   encoding="utf-8")
    env = {**os.environ, "LIMS_DATABASE_URL": db_url}

    def acquire() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "lims.cli", "acquire", "--config", str(cfg)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    proc = acquire()
    try:
        assert _wait(lambda: len(sim.acked_frames) >= 30, 60), "no ACKs"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert len(sim.completed) < len(msgs)
        proc = acquire()  # nobody repairs anything
        assert _wait(lambda: len(sim.completed) == len(msgs), 240), f"{len(sim.completed)} of {len(msgs)} completed"
        assert _wait(lambda: _readings(db_factory, Reading) >= len(msgs), 60)
    finally:
        _stop(proc)
        sim.stop()
    with db_factory() as s:
        samples = Counter(s.execute(select(Reading.sample_code)).scalars())
        pending = s.execute(select(RawCapture.id).where(RawCapture.parse_status == "pending")).all()
    assert set(samples) == {m.sample_id for m in msgs} and set(samples.values()) == {1}
    assert not pending


def _readings(factory, model) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    with factory() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())
