"""Instrument status and raw captures through the API after a real acquisition (device (a) on a pty with
one malformed line), and the re-parse route with its permission."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from hardware_sim.enzyme import EnzymeTesterSim, SimSample
from hardware_sim.faults import Faults

from api.app import create_app
from lims.acquisition import AcquisitionService, parse_config
from lims.demo import register_samples, seed_reference


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
