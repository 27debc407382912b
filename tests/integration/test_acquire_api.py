"""Instrument status and raw captures through the API after a real acquisition (device (a) on a pty with
one malformed line), and the re-parse route with its permission."""

from __future__ import annotations

import re
import time
from datetime import datetime

from fastapi.testclient import TestClient
from hardware_sim.enzyme import EnzymeTesterSim, SimSample
from hardware_sim.faults import Faults

from api.app import create_app
from lims.acquisition import AcquisitionService, parse_config
from lims.demo import PASSWORDS, register_samples, seed_reference


def test_status_captures_in_error_and_reparse(db_engine, db_factory, login):
    seed_reference(db_factory)
    register_samples(db_factory)
    sim = EnzymeTesterSim([SimSample(1, "S-1", 20.0), SimSample(2, "S-2", 60.0)], seed=8,
                          faults=Faults(malformed_lines=(2,)))
    cfg = parse_config(f'[acquire]\nstatus_interval_s = 0.05\n[[instrument]]\ncode = "EI-API"\n'
                       f'profile = "enzyme_ascii_16ch"\ntransport = "{sim.start_pty()}"\n')
    service = AcquisitionService(cfg, db_factory)
    service.start()
    try:
        assert sim.wait(5)
        time.sleep(0.5)
    finally:
        service.stop()
        sim.stop()
    client = TestClient(create_app(db_engine))
    assert client.get("/api/v1/instruments").status_code == 401
    tech = login(client, "zhangwei")
    doc = client.get("/api/v1/instruments", headers=tech).json()
    inst = next(i for i in doc["instruments"] if i["code"] == "EI-API")
    assert inst["message_count"] == len(sim.lines) and inst["error_count"] == 1
    assert inst["duplicate_resends"] == 0  # the tester sends no ACKed records (PROTOCOLS.md (a))
    assert inst["connected"] is False and inst["last_message_at"] is not None  # stopped: link closed
    caps = client.get("/api/v1/instruments/EI-API/captures?status=error", headers=tech).json()["captures"]
    assert [c["data_latin1"].encode("latin-1") for c in caps] == [sim.log[2]]
    assert "byte offset" in caps[0]["error"]
    assert client.post("/api/v1/instruments/EI-API/reparse", headers=tech).status_code == 403
    qa = login(client, "wangfang")
    r = client.post("/api/v1/instruments/EI-API/reparse", headers=qa)
    assert r.status_code == 200 and r.json()["errors"] == 1 and r.json()["readings"] == 0
    assert client.post("/api/v1/instruments/NOPE/reparse", headers=qa).status_code == 404


def test_instrument_events_route_lists_incomplete_runs(db_engine, db_factory, login):
    from hardware_sim.enzyme import ChannelReading, run_lines

    from lims.acquisition.feed import LineAcquisition
    from lims.acquisition.service import ensure_instruments

    seed_reference(db_factory)
    register_samples(db_factory)
    ensure_instruments(db_factory, parse_config('[[instrument]]\ncode = "EI-EV"\nprofile = "enzyme_ascii_16ch"\n'
                                                'transport = "/dev/null"\n'))
    lines = run_lines(4, datetime(2026, 12, 6, 9, 0),
                      [ChannelReading(0, "CONTROL", 0.35, 0.8, 0.0), ChannelReading(1, "S-1", 0.4, 0.7, 30.0)])
    acq = LineAcquisition(db_factory, "EI-EV", "enzyme_ascii_16ch")
    acq.feed(b"".join(lines[:2] + lines[3:]))  # channel 1 never arrived
    acq.close()
    client = TestClient(create_app(db_engine))
    tech = login(client, "zhangwei")
    r = client.get("/api/v1/instruments/EI-EV/events", headers=tech)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["total"] == 1 and doc["events"][0]["kind"] == "run_incomplete" and doc["events"][0]["run_no"] == "4"
    assert "declares 2 item lines, 1 received" in doc["events"][0]["detail"]
    assert client.get("/api/v1/instruments/EI-EV/events?kind=nope", headers=tech).status_code == 422
    assert client.get("/api/v1/instruments/NOPE/events", headers=tech).status_code == 404
    assert client.get("/api/v1/instruments/EI-EV/events").status_code == 401
    held = client.get("/api/v1/instruments/EI-EV/readings/held", headers=tech).json()
    assert held["total"] == 1 and held["readings"][0]["channel"] == 0  # the control of the incomplete run
    rid = held["readings"][0]["id"]
    url = f"/api/v1/instruments/EI-EV/readings/{rid}/release"
    assert client.post(url, json={"reason": "checked"}, headers=tech).status_code == 403  # instruments:write
    qa = login(client, "wangfang")
    assert client.post(url, json={"reason": ""}, headers=qa).status_code == 422
    r = client.post(url, json={"reason": "channel 1 re-tested on run 5; control valid"}, headers=qa)
    assert r.status_code == 200 and r.json()["was_held_for"].startswith("run incomplete")
    assert client.post(url, json={"reason": "again"}, headers=qa).status_code == 409
    assert client.post("/api/v1/instruments/EI-EV/readings/999999/release", json={"reason": "x"},
                       headers=qa).status_code == 404
    assert client.get("/api/v1/instruments/EI-EV/readings/held", headers=tech).json()["total"] == 0
    from sqlalchemy import select

    from lims.db.models import AuditEvent

    with db_factory() as s:  # the release is in the audit trail, with who and why
        ev = s.execute(select(AuditEvent).where(AuditEvent.table_name == "reading",
                                                AuditEvent.record_id == str(rid))).scalar_one()
    assert ev.actor == "wangfang" and "channel 1 re-tested on run 5" in ev.new and "run incomplete" in ev.old
    web = TestClient(create_app(db_engine))  # the instruments page shows the gap too
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text).group(1)
    web.post("/login", data={"username": "zhangwei", "password": PASSWORDS["zhangwei"], "csrf_token": token})
    page = web.get("/instruments").text
    assert "仪器事件" in page and "批次不完整" in page and "run_incomplete" not in page and "declares 2 item lines, 1 received" in page
