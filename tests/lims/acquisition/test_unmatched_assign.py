"""Unmatched readings of every kind (issue 13): a colloidal-gold strip (``GR``), a data system's ASTM result
(``R``) and a Modbus photometer result whose sample is unknown are queued like enzyme channels, and a person
assigns each to an analysis (GR and R were refused with 422 ``reading.assign_unsupported``): the result is
made as the automatic path makes it, the disposition is audited; a photometer reading with no sample ID at all
is in the queue too. Readings come through the real runners (line, ASTM, Modbus over loopback TCP)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from hardware_sim.astm import AstmMessage, AstmResult, message_frames, message_records
from hardware_sim.gold import GoldStrip, record_line
from hardware_sim.modbus_analyzer import CMD_START, ModbusAnalyzerSim, PlannedResult
from sqlalchemy import select

from lims.acquisition import AcquisitionService, parse_config
from lims.acquisition.unmatched import assign_reading, unmatched_readings
from lims.db.engine import session_scope
from lims.db.models import Analysis, AuditEvent, Reading, ReadingDisposition, Result, Sample
from lims.services.attach import results_from_astm, results_from_gold
from lims.services.errors import Conflict

from .conftest import GC_BATCH

pytestmark = pytest.mark.db
WHEN = datetime(2026, 12, 6, 9, 30, 0)


def _analysis(factory, sample_code: str, kind: str) -> int:
    with factory() as s:
        return int(s.execute(select(Analysis.id).join(Sample).where(Sample.code == sample_code,
                                                                     Analysis.kind == kind)).scalar_one())


def _queued(factory, code: str) -> list[dict]:
    with factory() as s:
        return unmatched_readings(s, code)["readings"]


def test_gold_strip_of_an_unknown_sample_is_assigned_to_a_screening_analysis(gc_lab, make_runner, recording_link):
    runner = make_runner("CG-UM", "colloidal_gold_8lane", recording_link())
    runner.on_bytes(record_line(1, WHEN, GoldStrip(1, "X-STRIP-1", "CLEN", 900, 3200)), 0.0)  # T/C 0.28
    with session_scope(gc_lab, actor="zhangwei") as s:
        ids = list(s.execute(select(Reading.id)).scalars())
        assert results_from_gold(s, ids).unmatched_readings == ids
    [queued] = _queued(gc_lab, "CG-UM")
    target = _analysis(gc_lab, "S20261128-006", "screening")
    with session_scope(gc_lab, actor="zhangwei") as s:
        done = assign_reading(s, queued["id"], target, "strip label misread: 006")
    with gc_lab() as s:
        result = s.get(Result, done["result_id"])
        assert (result.analysis_id, result.unit) == (target, "T/C")
        assert result.value_text == "T/C 0.281 阳性 / positive"  # T/C below the kit's cut-off 0.800
        assert result.value == pytest.approx(900 / 3200, abs=1e-3) and result.reading_id == queued["id"]
        assert result.details["assigned"] == {"reading_sample_code": "X-STRIP-1", "reason": "strip label misread: 006"}
        assert s.execute(select(AuditEvent).where(AuditEvent.table_name == "reading_disposition")).scalars().first()
    assert _queued(gc_lab, "CG-UM") == []


def test_astm_result_of_an_unknown_sample_is_assigned_to_a_confirmatory_analysis(gc_lab, make_runner,
                                                                                recording_link):
    runner = make_runner("GC-01", "astm_gc_datasystem", recording_link())
    frames = message_frames(message_records(AstmMessage("X-GC-9", (
        AstmResult("CHLORPYRIFOS", "0.034", units="mg/kg"), AstmResult("CHLORPYRIFOS", "abc", units="mg/kg")))))
    for chunk in (b"\x05", *frames, b"\x04"):
        runner.on_bytes(chunk, time.monotonic())
        runner.after_bytes(b"")
    with session_scope(gc_lab, actor="zhangwei") as s:
        ids = list(s.execute(select(Reading.id).order_by(Reading.id)).scalars())
        assert len(ids) == 2 and results_from_astm(s, ids).unmatched_readings == ids
    good, bad = sorted(r["id"] for r in _queued(gc_lab, "GC-01"))
    screening = _analysis(gc_lab, GC_BATCH[0], "screening")
    target = _analysis(gc_lab, GC_BATCH[0], "confirmatory")
    with session_scope(gc_lab, actor="zhangwei") as s, pytest.raises(Conflict) as refused:
        assign_reading(s, good, screening, "wrong kind")  # an R record is a confirmatory result
    assert refused.value.code == "reading.analysis_not_open"
    with session_scope(gc_lab, actor="zhangwei") as s, pytest.raises(Conflict) as refused:
        assign_reading(s, bad, target, "a value that is not a number")
    assert refused.value.code == "reading.no_value" and "'abc' is not a number" in str(refused.value)
    with session_scope(gc_lab, actor="zhangwei") as s:
        done = assign_reading(s, good, target, "vial 3 was S20261128-003 (sequence typo)")
    with gc_lab() as s:
        result = s.get(Result, done["result_id"])
        assert (result.analysis_id, result.value, result.unit, result.source) == (target, 0.034, "mg/kg", "instrument")
        assert result.details["assigned"]["reading_test_code"] == "CHLORPYRIFOS" and result.verdict
        assert s.get(Analysis, target).status == "to_be_reviewed"
        assert s.execute(select(ReadingDisposition.action).where(ReadingDisposition.reading_id == good)).scalar() == "assigned"
    assert [r["id"] for r in _queued(gc_lab, "GC-01")] == [bad]  # the refused one stays queued


def test_photometer_result_without_sample_id_is_queued_and_assigned(gc_lab):
    sim = ModbusAnalyzerSim([PlannedResult(61.0, 0.4)], measure_time_s=0.05)
    port = sim.start_tcp()
    cfg = parse_config(f'[[instrument]]\ncode = "PH-01"\nprofile = "modbus_photometric"\n'
                       f'transport = "modbus-tcp://127.0.0.1:{port}?device_id=1"\npoll_interval_s = 0.05\n')
    svc = AcquisitionService(cfg, gc_lab)
    svc.start()
    try:
        time.sleep(0.2)
        with sim.model.lock:  # started at the device with no sample ID typed and no worklist loaded
            sim.model.command(CMD_START, [0] * 8, time.monotonic())
        deadline = time.monotonic() + 10
        while not _queued(gc_lab, "PH-01") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        svc.stop()
        sim.stop()
    [queued] = _queued(gc_lab, "PH-01")
    assert queued["record_type"] == "result" and not queued["sample_code"]
    target = _analysis(gc_lab, "S20261128-002", "screening")
    with session_scope(gc_lab, actor="zhangwei") as s:
        done = assign_reading(s, queued["id"], target, "bench sheet: tube 2")
    with gc_lab() as s:
        result = s.get(Result, done["result_id"])
        assert (result.inhibition_percent, result.unit) == (pytest.approx(61.0, abs=1e-4), "%")
        # a positive screening requests its confirmation, as on the automatic path
        assert s.execute(select(Analysis).where(Analysis.requested_by_analysis_id == target)).scalars().first()
