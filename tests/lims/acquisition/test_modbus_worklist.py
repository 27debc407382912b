"""Modbus sample-ID download (issue 13: "Modbus sample-ID download from the same worklist"): the worklist of
a batch on the photometer PH-01 is written into the device's holding registers as its profile declares
(``[modbus.worklist]``), against the pymodbus server of hardware_sim.modbus_analyzer on loopback TCP; each
start without a typed sample ID measures the next position, and the readings carry those sample codes."""

from __future__ import annotations

import time

import pytest
from hardware_sim.modbus_analyzer import CMD_START, ModbusAnalyzerSim, PlannedResult
from sqlalchemy import select

from drivers.codecs.modbus_map import worklist_writes
from drivers.errors import FieldError
from drivers.profiles import load_profile
from lims.acquisition import AcquisitionService, parse_config
from lims.acquisition.orders import send_worklist
from lims.db.engine import session_scope
from lims.db.models import Analysis, InstrumentWorklist, Reading, Sample
from lims.services.batches import create_batch

pytestmark = pytest.mark.db
SAMPLES = ("S20261128-001", "S20261128-002", "S20261128-005")


def _wait(cond, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_worklist_writes_follow_the_profile_map():
    spec = load_profile("modbus_photometric").modbus.worklist
    writes = worklist_writes(spec, ["S-1", "AB"])
    assert writes == [(10, [0]), (12, [0x532D, 0x3100, 0, 0, 0, 0, 0, 0]), (20, [0x4142, 0, 0, 0, 0, 0, 0, 0]),
                      (10, [2])]
    with pytest.raises(FieldError, match="longer than 16"):
        worklist_writes(spec, ["X" * 17])
    with pytest.raises(FieldError, match="17 sample IDs"):
        worklist_writes(spec, [f"S{i}" for i in range(17)])
    with pytest.raises(FieldError, match="printable ASCII"):
        worklist_writes(spec, ["样品1"])


@pytest.fixture
def ph_batch(gc_lab):
    with session_scope(gc_lab, actor="zhangwei") as s:
        ids = list(s.execute(select(Analysis.id).join(Sample).where(Sample.code.in_(SAMPLES))
                             .order_by(Sample.code)).scalars())
        create_batch(s, code="B-PH-1", method_code="RAPID-EI", instrument_code="PH-01", analysis_ids=ids)
    return gc_lab


def test_batch_sample_ids_reach_the_photometer_and_come_back_on_its_readings(ph_batch):
    sim = ModbusAnalyzerSim([PlannedResult(35.8, 0.12), PlannedResult(61.0, 0.4), PlannedResult(12.0, 0.0)],
                            measure_time_s=0.05)
    port = sim.start_tcp()
    cfg = parse_config(f'[[instrument]]\ncode = "PH-01"\nprofile = "modbus_photometric"\n'
                       f'transport = "modbus-tcp://127.0.0.1:{port}?device_id=1"\npoll_interval_s = 0.05\n')
    svc = AcquisitionService(cfg, ph_batch)
    with session_scope(ph_batch, actor="zhangwei") as s:
        sent = send_worklist(s, "PH-01", batch_code="B-PH-1")
    svc.start()
    try:
        assert _wait(lambda: sim.model.worklist() == list(SAMPLES))
        for n in range(1, len(SAMPLES) + 1):  # the technician presses start, no sample ID typed
            with sim.model.lock:
                sim.model.command(CMD_START, [0] * 8, time.monotonic())
            assert _wait(lambda n=n: len(_readings(ph_batch)) == n)
    finally:
        svc.stop()
        sim.stop()
    assert [r.sample_code for r in _readings(ph_batch)] == list(SAMPLES)
    with ph_batch() as s:
        row = s.get(InstrumentWorklist, sent["id"])
        assert row.status == "sent" and row.detail.startswith("3 sample ID(s) written")


def test_a_worklist_the_device_cannot_hold_fails_with_the_reason(ph_batch):
    sim = ModbusAnalyzerSim([PlannedResult(35.8, 0.12)], measure_time_s=0.05)
    port = sim.start_tcp()
    cfg = parse_config(f'[[instrument]]\ncode = "PH-01"\nprofile = "modbus_photometric"\n'
                       f'transport = "modbus-tcp://127.0.0.1:{port}?device_id=1"\npoll_interval_s = 0.05\n')
    with session_scope(ph_batch, actor="zhangwei") as s:
        sent = send_worklist(s, "PH-01", batch_code="B-PH-1")
        row = s.get(InstrumentWorklist, sent["id"])
        row.entries = [{**e, "sample_code": e["sample_code"] + "-LONGER-THAN-16"} for e in row.entries]
    svc = AcquisitionService(cfg, ph_batch)
    svc.start()
    try:
        assert _wait(lambda: _status(ph_batch, sent["id"]) != "pending")
    finally:
        svc.stop()
        sim.stop()
    with ph_batch() as s:
        row = s.get(InstrumentWorklist, sent["id"])
        assert row.status == "failed" and "longer than 16 characters" in row.detail
    assert sim.model.worklist() == []


def _status(factory, worklist_id: int) -> str:
    with factory() as s:
        return s.get(InstrumentWorklist, worklist_id).status


def _readings(factory) -> list[Reading]:
    with factory() as s:
        return list(s.execute(select(Reading).order_by(Reading.id)).scalars())
