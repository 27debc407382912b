"""The enzyme-inhibition tester simulator on a real pty pair → driver → raw captures → readings →
screening results. A malformed line is kept as a raw capture with its error; the rest complete."""

from __future__ import annotations

from hardware_sim.enzyme import SimSample
from hardware_sim.faults import Faults
from sqlalchemy import select

from drivers.profiles import load_profile
from lims.acquisition.reparse import reparse_captures
from lims.db.engine import session_scope
from lims.db.models import RawCapture, Reading, Result
from lims.demo import DEMO_SAMPLES, register_samples, run_enzyme_tester, seed_reference
from lims.services.screening import results_from_readings


def _run(factory, faults):
    seed_reference(factory)
    register_samples(factory)
    samples = [SimSample(i + 1, code, pct) for i, (code, _c, _p, pct) in enumerate(DEMO_SAMPLES)]
    sim, acq, _path = run_enzyme_tester(factory, samples, run_no=1, seed=7, faults=faults)
    return sim, acq


def test_every_byte_is_kept_and_a_malformed_line_does_not_stop_the_run(db_factory):
    sim, acq = _run(db_factory, Faults(malformed_lines=(3,)))
    sent = b"".join(sim.log)
    with db_factory() as s:
        captures = s.execute(select(RawCapture).order_by(RawCapture.id)).scalars().all()
        assert b"".join(c.data for c in captures) == sent  # nothing lost, nothing added
        errors = [c for c in captures if c.parse_status == "error"]
        assert len(errors) == 1
        assert "byte offset" in errors[0].error
        assert errors[0].data == sim.log[3]
        readings = s.execute(select(Reading).where(Reading.record_type == "CH")).scalars().all()
        assert len(readings) == len(DEMO_SAMPLES)  # control + 6 channels − 1 malformed
    with session_scope(db_factory, actor="zhangwei") as s:
        outcome = results_from_readings(s, acq.stats.reading_ids)
    assert len(outcome.results) == len(DEMO_SAMPLES) - 1
    assert outcome.positives == ["S20261128-003"]  # 67 % inhibition ≥ 50 %
    with db_factory() as s:
        for r in s.execute(select(Result)).scalars():
            truth = {code: pct for code, _c, _p, pct in DEMO_SAMPLES}[r.analysis.sample.code]
            assert abs(r.inhibition_percent - truth) < 0.6  # absorbances printed to 4 decimals


def test_capture_in_error_can_be_reparsed_after_a_profile_fix(db_factory):
    _run(db_factory, Faults(malformed_lines=(2,)))
    with db_factory() as s:
        bad = s.execute(select(RawCapture).where(RawCapture.parse_status == "error")).scalar_one()
        bad_id = bad.id
    # Same profile: still an error, still kept.
    stats = reparse_captures(db_factory, load_profile("enzyme_ascii_16ch"), actor="qa")
    assert stats.errors == 1 and stats.readings == 0
    with db_factory() as s:
        assert s.get(RawCapture, bad_id).parse_status == "error"
