"""`lims upstream …` as an operator runs it (CONTRACTS.md, Upstream delivery (lab side)), in subprocesses,
against the real hub on loopback and the test database (SQLite, or PostgreSQL with LIMS_TEST_DATABASE)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import HubReceipt, OutboxMessage
from lims.demo.loopback import LoopbackHub, _free_port
from lims.services.hub import register_lab_key
from lims.upstream import schema as w

LIMS = [sys.executable, "-m", "lims.cli"]
LAB = "LAB-CLI"


def _payload(sample: str, rid: int) -> str:
    doc = w.ResultBatch(lab=w.LabRef(code=LAB), sampling_event=w.SamplingEvent(),
                        sample=w.SampleRecord(code=sample, product_code="QINCAI"),
                        results=[w.ResultItem(result_id=rid, version=1,
                                              analysis=w.AnalysisRecord(analyte="A", method="M", kind="screening"),
                                              result=w.ResultValue(res_type="BIN", unit="-", qualitative="negative"),
                                              evaluation=w.Evaluation(code="not_evaluated"))])
    return json.dumps(doc.wire())


def _queue(factory, n: int) -> None:
    with session_scope(factory, actor="test") as s:
        for i in range(1, n + 1):
            s.add(OutboxMessage(kind="result", idempotency_key=f"{LAB}:result:{i}", payload=_payload(f"S{i}", i),
                                sample_code=f"S{i}"))


@pytest.fixture
def env(tmp_path, db_url):
    return {**os.environ, "LIMS_DATABASE_URL": db_url, "LIMS_UPSTREAM_KEY": str(tmp_path / "keys" / "lab.pem"),
            "LIMS_LAB_CODE": LAB, "LIMS_ANCHOR_LOG": str(tmp_path / "anchors.log")}


def lims(env, *args: str, **over: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LIMS, "upstream", *args], capture_output=True, text=True, env={**env, **over},
                          timeout=60)


def test_keygen_refuses_to_overwrite_and_public_key_matches(env, tmp_path):
    made = lims(env, "keygen", "--json")
    assert made.returncode == 0, made.stderr
    doc = json.loads(made.stdout)
    assert set(doc) == {"key_path", "public_key_pem", "fingerprint"}
    assert doc["key_path"] == env["LIMS_UPSTREAM_KEY"] and doc["public_key_pem"].startswith("-----BEGIN PUBLIC KEY")
    assert oct(os.stat(doc["key_path"]).st_mode & 0o777) == "0o600"
    before = open(doc["key_path"], "rb").read()
    again = lims(env, "keygen", "--json")
    assert again.returncode == 2 and again.stdout == "" and len(again.stderr.strip().splitlines()) == 1
    assert "never overwritten" in again.stderr and open(doc["key_path"], "rb").read() == before
    other = lims(env, "keygen", "--out", str(tmp_path / "k2.pem"), "--json")
    assert other.returncode == 0 and json.loads(other.stdout)["fingerprint"] != doc["fingerprint"]
    pub = lims(env, "public-key", "--json")
    assert json.loads(pub.stdout) == {"public_key_pem": doc["public_key_pem"], "fingerprint": doc["fingerprint"]}
    missing = lims(env, "public-key", "--json", LIMS_UPSTREAM_KEY=str(tmp_path / "none.pem"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_run_once_and_status_json_with_the_hub_down_then_up(env, db_factory, tmp_path):
    doc = json.loads(lims(env, "keygen", "--json").stdout)
    _queue(db_factory, 3)
    down = lims(env, "run", "--once", "--json", LIMS_UPSTREAM_URL=f"http://127.0.0.1:{_free_port()}")
    assert down.returncode == 0, down.stderr  # an unreachable hub is no failure: messages stay pending
    assert json.loads(down.stdout) == {"delivered": 0, "pending": 3, "failed": 3, "dead_letter": 0}
    status = json.loads(lims(env, "status", "--json").stdout)
    assert set(status) == {"pending", "delivered", "dead_letter", "oldest_pending_at"}
    assert status["pending"] == 3 and status["oldest_pending_at"] is not None
    with session_scope(db_factory, actor="test") as s:  # time passes: the backoff is over
        for m in s.execute(select(OutboxMessage)).scalars():
            m.next_attempt_at = m.created_at
    with LoopbackHub(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        with session_scope(hub.factory, actor="hub:admin") as s:
            register_lab_key(s, LAB, doc["public_key_pem"])
        up = lims(env, "run", "--once", "--json", LIMS_UPSTREAM_URL=hub.url)
        assert up.returncode == 0, up.stderr
        assert json.loads(up.stdout) == {"delivered": 3, "pending": 0, "failed": 0, "dead_letter": 0}
        with hub.factory() as s:
            assert len(s.execute(select(HubReceipt)).all()) == 3
    status = json.loads(lims(env, "status", "--json").stdout)
    assert status == {"pending": 0, "delivered": 3, "dead_letter": 0, "oldest_pending_at": None}
    assert lims(env, "run", "--once", "--json").returncode == 2  # no LIMS_UPSTREAM_URL: one line, exit 2


def test_requeue_from_the_command_line_is_audited(env, db_factory):
    _queue(db_factory, 2)
    with session_scope(db_factory, actor="test") as s:
        for m in s.execute(select(OutboxMessage)).scalars():
            m.status = "dead"
            m.last_error = "HTTP 422: rule"
    assert lims(env, "requeue").returncode == 2
    wrong = lims(env, "requeue", "999")
    assert wrong.returncode == 2 and "999" in wrong.stderr
    one = lims(env, "requeue", "1", "--reason", "checked with the province", "--json")
    assert one.returncode == 0, one.stderr and json.loads(one.stdout) == {"requeued": [1]}
    assert lims(env, "requeue", "1").returncode == 2  # no longer dead
    rest = lims(env, "requeue", "--dead", "--json")
    assert json.loads(rest.stdout) == {"requeued": [2]}
    from lims.db.models import AuditEvent

    with db_factory() as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.table_name == "outbox_message",
                                                AuditEvent.record_id == "1").order_by(AuditEvent.seq.desc())
                       ).scalars().first()
    assert ev.actor.startswith("cli:") and ev.reason == "checked with the province"


def test_run_without_once_delivers_until_sigterm(env, db_factory, tmp_path):
    doc = json.loads(lims(env, "keygen", "--json").stdout)
    with LoopbackHub(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        with session_scope(hub.factory, actor="hub:admin") as s:
            register_lab_key(s, LAB, doc["public_key_pem"])
        proc = subprocess.Popen([*LIMS, "upstream", "run"], env={**env, "LIMS_UPSTREAM_URL": hub.url},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _queue(db_factory, 2)  # queued while the worker runs
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with hub.factory() as s:
                    if len(s.execute(select(HubReceipt)).all()) == 2:
                        break
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        with hub.factory() as s:
            assert len(s.execute(select(HubReceipt)).all()) == 2


def test_lims_serve_runs_the_delivery_worker_when_upstream_url_is_set(env, db_factory, tmp_path):
    no_key = subprocess.run([*LIMS, "serve", "--port", str(_free_port())], capture_output=True, text=True,
                            timeout=60, env={**env, "LIMS_UPSTREAM_URL": "http://127.0.0.1:9"})
    assert no_key.returncode == 2 and "LIMS_UPSTREAM_KEY" in no_key.stderr  # named, before serving anything
    doc = json.loads(lims(env, "keygen", "--json").stdout)
    _queue(db_factory, 2)
    with LoopbackHub(f"sqlite:///{tmp_path / 'hub.db'}") as hub:
        with session_scope(hub.factory, actor="hub:admin") as s:
            register_lab_key(s, LAB, doc["public_key_pem"])
        proc = subprocess.Popen([*LIMS, "serve", "--port", str(_free_port())],
                                env={**env, "LIMS_UPSTREAM_URL": hub.url},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline, stored = time.monotonic() + 30, 0
            while time.monotonic() < deadline and stored < 2:
                time.sleep(0.3)
                with hub.factory() as s:
                    stored = len(s.execute(select(HubReceipt)).all())
            assert stored == 2, proc.stderr.read() if proc.poll() is not None else "serve still running"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    with db_factory() as s:
        assert {m.status for m in s.execute(select(OutboxMessage)).scalars()} == {"delivered"}
