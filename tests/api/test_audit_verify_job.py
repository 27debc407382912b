"""GET /api/v1/audit/verify no longer verifies the whole trail on every request (11.9 s at 601k events,
issue 11): it answers the newest finished run with its time; POST starts a run in the background (one at a
time); the outcome is stored (audit_verify_run) and is the same as lims.db.verify.verify_database."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from lims.db.engine import session_scope
from lims.db.models import Lab
from lims.db.models_system import AuditVerifyRun
from lims.services import auth, verify_runs

PASSWORD = "Verify-Job-Passw0rd!"


@pytest.fixture
def client(db_engine, db_factory):
    with session_scope(db_factory, actor="setup") as s:
        s.add(Lab(code="LAB1", name="县检测站"))
        s.flush()
        user = auth.create_user(s, "qa", "质量负责人", PASSWORD, ["qa_manager"])
        token = auth.create_bearer_token(s, user).token
    c = TestClient(create_app(db_engine))
    c.headers.update({"Authorization": f"Bearer {token}"})
    return c


def _wait(client, run_id: int) -> dict:
    for _ in range(200):
        doc = client.get("/api/v1/audit/verify").json()
        if doc["run_id"] == run_id and not doc["running"]:
            return doc
        time.sleep(0.05)
    raise AssertionError("the verification run did not finish")


def test_get_answers_the_cached_run_and_post_starts_one(client, db_factory, monkeypatch):
    calls = []
    real = verify_runs.verify_database
    monkeypatch.setattr(verify_runs, "verify_database", lambda s: calls.append(1) or real(s))
    first = client.get("/api/v1/audit/verify")
    assert first.status_code == 200 and first.json()["status"] == "never" and first.json()["ok"] is None
    assert calls == []  # a GET never verifies
    started = client.post("/api/v1/audit/verify")
    assert started.status_code == 202 and started.json()["running"] is True
    doc = _wait(client, started.json()["run_id"])
    assert doc["status"] == "done" and doc["ok"] is True and doc["finished_at"] and doc["audit_events"] > 0, doc["message"]
    assert calls == [1]
    for _ in range(3):
        assert client.get("/api/v1/audit/verify").json()["run_id"] == doc["run_id"]
    assert calls == [1]  # reading the result again costs no verification


def test_one_run_at_a_time_and_a_failure_is_stored(client, db_factory, monkeypatch):
    with session_scope(db_factory, actor="test") as s:
        run, new = verify_runs.start_run(s, "someone")
    assert new
    again = client.post("/api/v1/audit/verify")
    assert again.status_code == 202 and again.json()["run_id"] == run.id  # the running one, no second run
    with db_factory() as s:
        assert s.execute(select(func.count()).select_from(AuditVerifyRun)).scalar_one() == 1

    def broken(_s):
        raise RuntimeError("disk gone")
    monkeypatch.setattr(verify_runs, "verify_database", broken)
    verify_runs.execute_run(db_factory, run.id)
    doc = client.get("/api/v1/audit/verify").json()
    assert doc["status"] == "failed" and doc["ok"] is None and "disk gone" in doc["message"]


def test_people_asking_at_once_share_one_run(db_factory, monkeypatch):
    """The web page (/audit/verify) waits for a run; several people at once join the same one."""
    import threading

    real = verify_runs.verify_database

    def slow(s):
        time.sleep(0.5)
        return real(s)
    monkeypatch.setattr(verify_runs, "verify_database", slow)
    with session_scope(db_factory, actor="setup") as s:
        s.add(Lab(code="LAB1", name="县检测站"))
    answers: list[dict] = []
    threads = [threading.Thread(target=lambda: answers.append(verify_runs.run_and_wait(db_factory, "qa")))
               for _ in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(30)
    assert len(answers) == 3 and {a["run_id"] for a in answers} == {1} and all(a["ok"] for a in answers)
    with db_factory() as s:
        assert s.execute(select(func.count()).select_from(AuditVerifyRun)).scalar_one() == 1


def test_two_starts_at_the_same_instant_make_one_run(db_factory):
    import threading

    barrier = threading.Barrier(2)
    out: list[object] = []

    def start() -> None:
        try:
            with session_scope(db_factory, actor="qa") as s:
                barrier.wait(5)
                run, new = verify_runs.start_run(s, "qa")
                out.append((run.id, new))
        except Exception as exc:  # noqa: BLE001 - a writer refused by the database is also one run only
            out.append(type(exc).__name__)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with db_factory() as s:
        assert s.execute(select(func.count()).select_from(AuditVerifyRun)).scalar_one() == 1, out
    assert sum(1 for o in out if isinstance(o, tuple) and o[1]) == 1, out
