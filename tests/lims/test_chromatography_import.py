"""Chromatograph exports into the record: the file is kept once by content hash, peaks in their
retention-time windows become readings with areas matching the generator's ground truth, and a
manual re-integration is an audited event that keeps the automatic integration."""

from __future__ import annotations

import json

import pytest
from hardware_sim.chromatogram import ChromatogramSpec, Peak, write_all
from sqlalchemy import select

from calibration.chromatogram import RetentionWindow
from lims.db.engine import session_scope
from lims.db.models import AuditEvent, Instrument, Lab, RawCapture, Reading
from lims.db.verify import verify_database
from lims.services import chromatography
from lims.services.errors import Conflict, InvalidInput


@pytest.fixture
def gc(db_factory, tmp_path):
    with session_scope(db_factory, actor="setup") as s:
        lab = Lab(code="L", name="站", address="地址")
        s.add(lab)
        s.flush()
        s.add(Instrument(lab_id=lab.id, code="GC-01", name="GC", profile="file:andi-netcdf"))
    spec = ChromatogramSpec(peaks=(Peak("A", 4.0, 12000.0, sigma_s=2.0), Peak("CHLORPYRIFOS", 8.2, 3120.0,
                                                                         sigma_s=2.0, tau_s=0.6)),
                            run_time_min=12.0, sampling_interval_s=0.1, seed=5, noise_sd=0.02)
    files = write_all(spec, tmp_path, stem="S1")
    return db_factory, files


def test_import_once_by_hash_with_true_areas(gc):
    factory, files = gc
    windows = [RetentionWindow("CHLORPYRIFOS", 8.2, 0.1), RetentionWindow("DIMETHOATE", 6.0, 0.1)]
    with session_scope(factory, actor="zhangwei") as s:
        run = chromatography.import_run(s, files.netcdf, instrument_code="GC-01", sample_code="S1",
                                        windows=windows)
        assert not run.duplicate and run.peaks["DIMETHOATE"] is None
        area = s.get(Reading, run.peaks["CHLORPYRIFOS"]).fields["area"]
    truth = next(p.area for p in files.truth if p.name == "CHLORPYRIFOS")
    assert area == pytest.approx(truth, rel=0.01)
    with session_scope(factory, actor="zhangwei") as s:
        again = chromatography.import_run(s, files.netcdf, instrument_code="GC-01", sample_code="S1",
                                          windows=windows)
        assert again.duplicate and again.capture_id == run.capture_id
    with factory() as s:
        assert len(s.execute(select(RawCapture)).scalars().all()) == 1
        assert s.execute(select(RawCapture)).scalar_one().data == files.netcdf.read_bytes()


def test_manual_reintegration_is_audited_and_keeps_the_automatic_one(gc):
    factory, files = gc
    with session_scope(factory, actor="zhangwei") as s:
        run = chromatography.import_run(s, files.netcdf, instrument_code="GC-01", sample_code="S1",
                                        windows=[RetentionWindow("CHLORPYRIFOS", 8.2, 0.1)])
        auto_id = run.peaks["CHLORPYRIFOS"]
    with pytest.raises(InvalidInput):
        with session_scope(factory, actor="zhangwei") as s:
            chromatography.reintegrate(s, auto_id, start_min=8.0, end_min=8.6, reason="")
    with session_scope(factory, actor="zhangwei", reason="tail cut by the automatic end") as s:
        manual = chromatography.reintegrate(s, auto_id, start_min=8.0, end_min=8.6,
                                            reason="tail cut by the automatic end")
        manual_id = manual.id
        assert manual.fields["automatic_area"] == s.get(Reading, auto_id).fields["area"]
    with pytest.raises(Conflict):
        with session_scope(factory, actor="zhangwei") as s:
            chromatography.reintegrate(s, auto_id, start_min=8.0, end_min=8.7, reason="second try here")
    with factory() as s:
        assert s.get(Reading, auto_id).record_type == "PEAK"  # kept
        ev = s.execute(select(AuditEvent).where(AuditEvent.action == "reintegrate")).scalar_one()
        assert ev.actor == "zhangwei" and ev.record_id == str(manual_id)
        assert json.loads(ev.old)["reading_id"] == auto_id and json.loads(ev.new)["reason"]
        assert verify_database(s).ok


def test_malformed_export_is_kept_with_its_error(gc, tmp_path):
    factory, _files = gc
    bad = tmp_path / "bad.cdf"
    bad.write_bytes(b"CDF\x01" + b"\x00garbage")
    with session_scope(factory, actor="zhangwei") as s:
        run = chromatography.import_run(s, bad, instrument_code="GC-01", sample_code="S9", windows=[])
    assert run.error and "bad.cdf" in run.error and not run.peaks
    with factory() as s:
        cap = s.get(RawCapture, run.capture_id)
        assert cap.parse_status == "error" and cap.data == bad.read_bytes() and "bad.cdf" in cap.error


def test_qualifier_trace_gives_the_ion_ratio_identification_uses(db_factory, tmp_path):
    """An MS export with quantifier and qualifier traces: each peak reading carries the ion ratio (issue 12)."""

    with session_scope(db_factory, actor="setup") as s:
        lab = Lab(code="L", name="站", address="地址")
        s.add(lab)
        s.flush()
        s.add(Instrument(lab_id=lab.id, code="MS-01", name="LC-MS/MS", profile="file:labsolutions"))
    files = {}
    for name, area in (("quant", 3120.0), ("qual", 1560.0)):
        spec = ChromatogramSpec(peaks=(Peak("CHLORPYRIFOS", 8.2, area, sigma_s=2.0),), run_time_min=12.0,
                                sampling_interval_s=0.1, seed=5, noise_sd=0.02, sample_name="S1")
        files[name] = write_all(spec, tmp_path / name, stem="S1").labsolutions
    quant = files["quant"].read_text(encoding="ascii")
    qual = files["qual"].read_text(encoding="ascii")
    section = qual[qual.index("[LC Chromatogram(Detector A-Ch1)]"):].replace("Detector A-Ch1", "Detector B-Ch1")
    both = tmp_path / "S1-mrm.txt"
    both.write_text(quant + "\r\n" + section, encoding="ascii")
    with session_scope(db_factory, actor="zhangwei") as s:
        run = chromatography.import_run(s, both, instrument_code="MS-01", sample_code="S1",
                                        windows=[RetentionWindow("CHLORPYRIFOS", 8.2, 0.1)],
                                        channel="LC Detector A-Ch1", qualifier_channel="LC Detector B-Ch1")
        fields = s.get(Reading, run.peaks["CHLORPYRIFOS"]).fields
    assert fields["ion_ratio"] == pytest.approx(0.5, rel=0.02)
    assert fields["qualifier_area"] == pytest.approx(1560.0, rel=0.02)
