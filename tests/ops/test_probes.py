"""/health, /ready and /metrics (issue 17, operations): public JSON probes with 200/503, and the Prometheus
text format behind a token or the loopback address."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.app import create_app
from lims import demo
from lims.clock import utcnow
from lims.config import get_settings
from lims.db.engine import session_scope
from lims.db.models import OutboxMessage
from lims.ops import status


@pytest.fixture
def settings_env(monkeypatch, tmp_path):
    """Settings read afresh from the environment, with a report folder and a verify status file in tmp."""
    monkeypatch.setenv("LIMS_REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("LIMS_AUDIT_STATUS_FILE", str(tmp_path / "verify.json"))
    monkeypatch.delenv("LIMS_METRICS_TOKEN", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _client(engine, host: str = "127.0.0.1") -> TestClient:
    return TestClient(create_app(engine), raise_server_exceptions=False, client=(host, 40000))


def test_health_needs_no_database_and_no_login(settings_env):
    client = _client(create_engine("sqlite:///nonexistent-dir/x/y.db"))
    r = client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert len(r.headers["x-request-id"]) == 32  # generated
    r = client.get("/health", headers={"X-Request-ID": "lb-7f3a.01"})
    assert r.headers["x-request-id"] == "lb-7f3a.01"  # a proxy's ID is kept
    r = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["x-request-id"] != "bad id\twith spaces" and len(r.headers["x-request-id"]) == 32


def test_ready_on_a_migrated_database(settings_env, db_engine):
    r = _client(db_engine).get("/ready")
    assert r.status_code == 200, r.text
    assert {c["name"]: c["ok"] for c in r.json()["checks"]} == {
        "database": True, "migrations": True, "report_dir": True, "upstream_backlog": True}


def test_ready_fails_on_an_unmigrated_database(settings_env, tmp_path):
    r = _client(create_engine(f"sqlite:///{tmp_path / 'empty.db'}")).get("/ready")
    assert r.status_code == 503
    failed = [c for c in r.json()["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["migrations"] and "lims db upgrade" in failed[0]["detail"]


def test_ready_fails_when_the_report_folder_cannot_be_written(settings_env, db_engine, tmp_path):
    (tmp_path / "a-file").write_text("x")
    settings_env.setenv("LIMS_REPORT_DIR", str(tmp_path / "a-file" / "reports"))
    get_settings.cache_clear()
    r = _client(db_engine).get("/ready")
    assert r.status_code == 503
    assert [c["name"] for c in r.json()["checks"] if not c["ok"]] == ["report_dir"]


def _queue(factory, age_s: float) -> None:
    with session_scope(factory, actor="test") as s:
        s.add(OutboxMessage(kind="result", idempotency_key=f"LAB:result:{age_s}", payload="{}",
                            created_at=utcnow() - dt.timedelta(seconds=age_s)))


def test_ready_fails_on_an_old_upstream_backlog(settings_env, db_engine, db_factory):
    _queue(db_factory, 120)
    assert _client(db_engine).get("/ready").status_code == 200  # two minutes: within the hour
    _queue(db_factory, 7200)
    r = _client(db_engine).get("/ready")
    assert r.status_code == 503
    backlog = next(c for c in r.json()["checks"] if c["name"] == "upstream_backlog")
    assert not backlog["ok"] and "7200 s old" in backlog["detail"].replace("7199", "7200")
    settings_env.setenv("LIMS_READY_OUTBOX_MAX_AGE_S", "0")  # switched off
    get_settings.cache_clear()
    assert _client(db_engine).get("/ready").status_code == 200


def test_metrics_are_refused_to_a_remote_client_without_the_token(settings_env, db_engine):
    assert _client(db_engine, host="10.1.2.3").get("/metrics").status_code == 403
    settings_env.setenv("LIMS_METRICS_TOKEN", "s3cret-metrics-token")
    get_settings.cache_clear()
    remote = _client(db_engine, host="10.1.2.3")
    assert remote.get("/metrics").status_code == 403
    assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    r = remote.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    # with a token set, loopback needs it too (a reverse proxy makes every client look local)
    assert _client(db_engine).get("/metrics").status_code == 403


def _samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_metrics_count_requests_by_route_template_and_read_the_database(settings_env, db_engine, db_factory,
                                                                         login):
    demo.seed_reference(db_factory)
    _queue(db_factory, 30)
    status.record_verify(get_settings().audit_status_file, ok=True, audit_events=12, message="intact")
    client = _client(db_engine)
    headers = login(client, "zhangwei")
    for code in ("NO-SUCH-1", "NO-SUCH-2"):
        assert client.get(f"/api/v1/samples/{code}", headers=headers).status_code == 404
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    got = _samples(r.text)
    key = 'lims_http_requests_total{method="GET",route="/api/v1/samples/{code}",status="404"}'
    assert got[key] >= 2  # one series for both codes: codes never become labels
    assert not any("NO-SUCH" in k for k in got)
    assert any(k.startswith("lims_http_request_duration_seconds_bucket{") for k in got)
    assert got['lims_outbox_messages{status="pending"}'] == 1
    assert 25 <= got["lims_outbox_oldest_pending_age_seconds"] < 600
    assert got["lims_audit_verify_ok"] == 1 and got["lims_audit_verify_events"] == 12
    assert got["lims_metrics_database_up"] == 1
    instruments = [k for k in got if k.startswith("lims_instrument_messages_total{")]
    assert instruments, "every registered instrument has a series"
    assert all(got[k] == 0 for k in instruments)


def test_metrics_say_when_the_database_is_away(settings_env, tmp_path):
    r = _client(create_engine(f"sqlite:///{tmp_path / 'empty.db'}")).get("/metrics")
    assert r.status_code == 200
    got = _samples(r.text)
    assert got["lims_metrics_database_up"] == 0 and "lims_http_requests_total" in r.text
