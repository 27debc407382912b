"""The binary rapid tester sends no sample ID (hardware-sim/PROTOCOLS.md (b): "the host maps channel →
sample"): a worklist in the acquisition configuration maps each run's channels to samples, and the
readings then become results of those samples like any instrument that sends the ID."""

from __future__ import annotations

import struct
import time

from hardware_sim.binary_tester import BinaryTesterSim
from hardware_sim.enzyme import SimSample
from sqlalchemy import select

from lims.acquisition import AcquisitionService, parse_config
from lims.db.engine import session_scope
from lims.db.models import AuditEvent, Reading, Result
from lims.demo import register_samples, seed_reference
from lims.services.attach import results_from_photometer


def _f32(x: float) -> float:
    return struct.unpack(">f", struct.pack(">f", x))[0]


def test_worklist_maps_channels_to_samples_and_results_attach_by_sample(db_factory, tmp_path, wait_until):
    seed_reference(db_factory)
    codes = register_samples(db_factory)[:3]  # samples with an open screening analysis
    sim_samples = [SimSample(ch, f"unsent-{ch}", pct) for ch, pct in ((2, 12.0), (5, 67.0), (9, 33.0))]
    sim = BinaryTesterSim(sim_samples, run_no=41, runs=2, seed=5)
    worklist = tmp_path / "rt01.csv"
    # run 41 is on the worklist (channel 9 left out: it stays unassigned); run 42 is not
    worklist.write_text(
        f"# bench worklist\nrun_no,channel,sample_code\n0041,2,{codes[0]}\n41,5,{codes[1]}\n",
        encoding="utf-8",
    )
    cfg = parse_config(
        f'[acquire]\nstatus_interval_s = 0.1\n[[instrument]]\ncode = "RT-W"\n'
        f'profile = "rapid_binary_16ch"\ntransport = "{sim.start_pty()}"\npoll_interval_s = 0.05\n'
        f'worklist = "{worklist.name}"\n',
        base=tmp_path,
    )
    service = AcquisitionService(cfg, db_factory)
    service.start()
    try:
        assert wait_until(lambda: len(sim.acked_runs) == 2, 10)
        time.sleep(0.2)
    finally:
        service.stop()
        sim.stop()
    with db_factory() as s:
        readings = s.execute(select(Reading).order_by(Reading.id)).scalars().all()
        got = {(r.run_no, r.channel): r.sample_code for r in readings}
        sources = {r.fields.get("sample_source") for r in readings if r.sample_code}
        audit = s.execute(select(AuditEvent).where(AuditEvent.table_name == "reading")).scalars().all()
    assert got == {
        ("41", 2): codes[0],
        ("41", 5): codes[1],
        ("41", 9): None,
        ("42", 2): None,
        ("42", 5): None,
        ("42", 9): None,
    }
    assert sources == {"worklist:rt01.csv"}
    assert [a.record_id for a in audit] == ["instrument:RT-W/run:41"]
    stats = {r.code: r.stats for r in service.report()}
    assert stats["RT-W"]["extra"] == {"worklist_assigned": 2, "worklist_missing": 1}

    ids = [r.id for r in readings]
    with session_scope(db_factory, actor="zhangwei") as s:
        outcome = results_from_photometer(s, ids)
        results = s.execute(select(Result).where(Result.id.in_(outcome.results))).scalars().all()
        by_sample = {r.analysis.sample.code: r.inhibition_percent for r in results}
    truth = {
        rd.channel: rd.inhibition_percent for rd in sim.readings[0][1:]
    }  # run 41 as the device packed it
    assert by_sample == {codes[0]: _f32(truth[2]), codes[1]: _f32(truth[5])}
    assert len(outcome.unmatched_readings) == len(ids) - 2
