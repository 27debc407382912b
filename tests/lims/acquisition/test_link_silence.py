"""Link state (issue 13: "the instrument's online state and its error counters agree and reflect the real
link (a device silent past its expected interval raises an alert)"): a Modbus photometer simulator (pymodbus
server, loopback TCP) that stops answering while its connection stays open raises a ``link_silent`` alert —
stored as an event, ``silent_since`` set, ``link_state`` ``silent`` in the instruments view and
``GET /api/v1/instruments/alerts`` — with its failed polls counted as errors; answering again closes it
(``link_resumed``); stopping acquisition leaves it ``offline``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hardware_sim.modbus_analyzer import ModbusAnalyzerSim, PlannedResult
from sqlalchemy import select

from api.app import create_app
from lims.acquisition import AcquisitionService, ConfigError, parse_config
from lims.acquisition.linkwatch import silence_of
from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.db.models import Instrument, InstrumentEvent
from lims.services import auth
from lims.services.views.instruments import link_alerts, link_state, list_instruments

pytestmark = pytest.mark.db
PASSWORD = "Link-Test-Passw0rd!"


def _wait(cond, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def _row(factory, code: str) -> dict:
    with factory() as s:
        return next(r for r in list_instruments(s)["instruments"] if r["code"] == code)


def _events(factory) -> list[str]:
    with factory() as s:
        return list(s.execute(select(InstrumentEvent.kind).where(InstrumentEvent.kind.like("link_%"))
                              .order_by(InstrumentEvent.id)).scalars())


def test_pure_rules():
    assert silence_of(10.0, 12.0, 1.5) == pytest.approx(2.0) and silence_of(10.0, 11.0, 1.5) is None
    assert [link_state(False, None), link_state(True, None), link_state(True, "2026-12-06")] == [
        "offline", "online", "silent"]
    now = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    # acquisition stopped without closing the link (killed): connected stays set, heard_at ages
    assert link_state(True, None, heard_at=now - timedelta(seconds=14), expected_interval_s=10, now=now) == "online"
    assert link_state(True, None, heard_at=now - timedelta(seconds=16), expected_interval_s=10, now=now) == "silent"
    assert link_state(True, None, heard_at=now - timedelta(hours=1), expected_interval_s=None, now=now) == "online"
    with pytest.raises(ConfigError, match="expected_interval_s"):
        parse_config('[[instrument]]\ncode = "X"\nprofile = "modbus_photometric"\n'
                     'transport = "modbus-tcp://127.0.0.1:5020"\nexpected_interval_s = 0\n')


def test_a_photometer_that_goes_silent_raises_an_alert_and_clears_it(db_engine, db_factory):
    sim = ModbusAnalyzerSim([PlannedResult(35.8, 0.12)], measure_time_s=0.05)
    port = sim.start_tcp()
    cfg = parse_config(f'[[instrument]]\ncode = "PH-S"\nprofile = "modbus_photometric"\n'
                       f'transport = "modbus-tcp://127.0.0.1:{port}?device_id=1&timeout_s=0.2"\n'
                       'poll_interval_s = 0.1\nexpected_interval_s = 0.8\n')
    svc = AcquisitionService(cfg, db_factory)
    svc.start()
    try:
        assert _wait(lambda: _row(db_factory, "PH-S")["link_state"] == "online")
        assert _wait(lambda: _row(db_factory, "PH-S")["heard_at"] is not None)  # poll replies are heard
        errors_before = _row(db_factory, "PH-S")["error_count"]
        sim.response_delay_s = 1.0  # the device stops answering; its TCP connection stays open
        assert _wait(lambda: _row(db_factory, "PH-S")["link_state"] == "silent")
        row = _row(db_factory, "PH-S")
        assert row["connected"] and row["silent_since"] and row["expected_interval_s"] == 0.8
        assert row["error_count"] > errors_before  # every unanswered poll counted
        with db_factory() as s:
            assert [a["code"] for a in link_alerts(s)["silent"]] == ["PH-S"]
        sim.response_delay_s = 0.0  # answering again
        assert _wait(lambda: _row(db_factory, "PH-S")["link_state"] == "online")
    finally:
        svc.stop()
        sim.stop()
    assert _events(db_factory) == ["link_silent", "link_resumed"]
    row = _row(db_factory, "PH-S")
    assert (row["link_state"], row["silent_since"]) == ("offline", None)  # acquisition stopped: link closed


def test_alerts_route(db_engine, db_factory):
    with session_scope(db_factory, actor="admin") as s:
        from lims.db.models import Lab

        lab = Lab(code="LAB-L", name="某县检测站")
        s.add(lab)
        s.flush()
        s.add(Instrument(lab_id=lab.id, code="EI-S", name="酶抑制速测仪", profile="enzyme_ascii_16ch",
                         connected=True, expected_interval_s=60.0, silent_since=None, heard_at=utcnow()))
        # left "connected" by an acquisition process that was killed an hour ago
        s.add(Instrument(lab_id=lab.id, code="EI-T", name="酶抑制速测仪 2", profile="enzyme_ascii_16ch",
                         connected=True, expected_interval_s=60.0, heard_at=utcnow() - timedelta(hours=1)))
        user = auth.create_user(s, "tech", "技术员", PASSWORD, ["technician"])
        token = auth.create_bearer_token(s, user).token
    c = TestClient(create_app(db_engine))
    assert c.get("/api/v1/instruments/alerts").status_code == 401
    alerts = c.get("/api/v1/instruments/alerts", headers={"Authorization": f"Bearer {token}"}).json()
    assert [a["code"] for a in alerts["silent"]] == ["EI-T"] and alerts["events"] == []
    listed = c.get("/api/v1/instruments", headers={"Authorization": f"Bearer {token}"}).json()["instruments"]
    assert [(r["code"], r["link_state"]) for r in listed] == [("EI-S", "online"), ("EI-T", "silent")]
