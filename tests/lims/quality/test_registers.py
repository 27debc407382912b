"""Quality registers (issue 15): an overdue instrument's readings are held by acquisition (and a QA
manager's time-limited exception lets them through until it expires), an overdue calibration opens a
nonconformity, an expired material lot blocks the batch or curve that would use it, lab-prepared solutions
carry their derivation, the authorisation matrix refuses an unauthorised signer, bad input is named."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from hardware_sim.enzyme import ChannelReading, run_lines
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import Analysis, Batch, Instrument, Reading, Result, User
from lims.db.models_pt import Nonconformity
from lims.db.models_registers import MaterialUse
from lims.demo import PASSWORDS, register_samples, seed_reference
from lims.quality import instruments as ins
from lims.quality import materials as mat
from lims.quality import staff
from lims.services import attach, batches, signoff
from lims.services.errors import Conflict, Forbidden, InvalidInput
from lims.services.screening import results_from_readings
from lims.services.views.results import review_queues
from tests.lims.acquisition.conftest import make_runner, recording_link  # noqa: F401  (fixtures)
from tests.lims.conftest import reviewed_result

pytestmark = pytest.mark.db
WHEN = dt.datetime(2026, 12, 6, 9, 30, 0)  # the runs' own timestamps (read_at)
DAY = WHEN.date()


def _run(run_no: int, when: dt.datetime) -> bytes:
    readings = [ChannelReading(0, "CONTROL", 0.35, 0.80, 0.0)] + [
        ChannelReading(i, f"S-{run_no}-{i}", 0.40, 0.75, 22.0 + i) for i in range(1, 4)]
    return b"".join(run_lines(run_no, when, readings))


def _holds(db_factory, code: str) -> dict[str, list[str]]:
    with db_factory() as s:
        inst = s.execute(select(Instrument).where(Instrument.code == code)).scalar_one()
        rows = s.execute(select(Reading).where(Reading.instrument_id == inst.id, Reading.record_type == "CH")
                         .order_by(Reading.id)).scalars().all()
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r.run_no, []).append(r.review_hold)
        return out


def _overdue(db_factory, code: str) -> None:
    with session_scope(db_factory, actor="zhaomin") as s:
        ins.register(s, code, asset_no="A-001", manufacturer="demo", calibration_interval_days=365)
        ins.record_check(s, code, kind="calibration", performed_on=DAY - dt.timedelta(days=400),
                         due_on=DAY - dt.timedelta(days=35), outcome="pass", recorded_by="zhaomin",
                         provider="县计量所", certificate_no="JZ-2025-0117", certificate=b"%PDF-1.4 cert")


def test_overdue_instrument_readings_are_held_and_an_exception_releases_them_until_it_expires(
        db_factory, make_runner, recording_link):  # noqa: F811
    runner = make_runner("EI-CAL", "enzyme_ascii_16ch", recording_link())
    runner.on_bytes(_run(1, WHEN), 0.0)
    assert _holds(db_factory, "EI-CAL")["1"] == ["", "", "", ""]  # not in the register yet: fit
    _overdue(db_factory, "EI-CAL")
    runner.on_bytes(_run(2, WHEN), 0.0)
    held = _holds(db_factory, "EI-CAL")["2"]
    assert len(held) == 4 and all(h.startswith("instrument unfit: calibration due") for h in held)
    with db_factory() as s:  # acquisition opened the overdue calibration's nonconformity, once
        (nc,) = s.execute(select(Nonconformity).where(Nonconformity.source == "calibration")).scalars()
        assert nc.source_ref == "EI-CAL" and nc.risk == "high"
    with db_factory() as s:  # visible in review: the review page's read model lists the held readings
        (row,) = review_queues(s, 10)["held_readings"]
        assert (row["instrument"], row["held"], row["fitness"], row["fitness_label"]) == ("EI-CAL", 6, "overdue", "检定/校准过期")
    now = dt.datetime.now(dt.UTC)
    with session_scope(db_factory, actor="zhaomin") as s:
        inst = s.execute(select(Instrument).where(Instrument.code == "EI-CAL")).scalar_one()
        assert ins.fitness(s, inst.id).fitness == "overdue"
        # readings are stamped when received; the exception covers the last minute and the next 2 s
        ins.grant_exception(s, "EI-CAL", justification="校准机构排期至下周；每批加测质控样", granted_by="zhaomin",
                            valid_from=now - dt.timedelta(minutes=1), valid_until=now + dt.timedelta(seconds=2))
        assert ins.fitness(s, inst.id).fitness == "exception"
        assert ins.release_excepted(s, "EI-CAL") == 6  # run 2 (RUN, 4 CH, END) was inside the window
    runner.on_bytes(_run(3, WHEN), 0.0)  # inside the exception
    time.sleep(max(0.0, (now + dt.timedelta(seconds=2.1) - dt.datetime.now(dt.UTC)).total_seconds()))
    runner.on_bytes(_run(4, WHEN), 0.0)  # after it expired
    holds = _holds(db_factory, "EI-CAL")
    assert holds["2"] == holds["3"] == ["", "", "", ""]
    assert all(h.startswith("instrument unfit") for h in holds["4"]) and len(holds["4"]) == 4


def test_astm_data_system_of_an_overdue_instrument_is_held_too(db_factory, make_runner, recording_link):  # noqa: F811
    """The ASTM runner writes readings outside the ORM (CaptureStore.settle_unit): its cached fitness holds them."""
    from hardware_sim.astm import AstmMessage, AstmResult, message_frames, message_records

    runner = make_runner("LC-CAL", "astm_gc_datasystem", recording_link())
    _overdue(db_factory, "LC-CAL")
    msg = AstmMessage("S-0001", (AstmResult("CHLORPYRIFOS", "0.012"), AstmResult("DIMETHOATE", "ND")))
    try:
        for k, data in enumerate([b"\x05", *message_frames(message_records(msg)), b"\x04"]):
            runner.on_bytes(data, 0.1 * k)
            runner.after_bytes(data)
        runner.on_disconnect()
    finally:
        runner.close()
    with db_factory() as s:
        holds = list(s.execute(select(Reading.review_hold).join(Instrument, Instrument.id == Reading.instrument_id)
                               .where(Instrument.code == "LC-CAL")).scalars())
    assert len(holds) == 2 and all(h.startswith("instrument unfit: calibration due") for h in holds)
    with session_scope(db_factory, actor="zhangwei") as s:  # a held reading makes no result
        ids = list(s.execute(select(Reading.id).join(Instrument, Instrument.id == Reading.instrument_id)
                             .where(Instrument.code == "LC-CAL")).scalars())
        out = attach.results_from_astm(s, ids)
        assert out.results == [] and len([p for p in out.problems if "held for review: instrument unfit" in p]) == 2


def test_failed_intermediate_check_makes_the_instrument_unfit_and_a_new_calibration_fixes_it(db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="zhaomin") as s:
        inst_id = s.execute(select(Instrument.id).where(Instrument.code == "EI-01")).scalar_one()
        ins.register(s, "EI-01")
        assert ins.fitness(s, inst_id).fitness == "never_calibrated"
        ins.record_check(s, "EI-01", kind="verification", performed_on=DAY - dt.timedelta(days=30),
                         outcome="pass", recorded_by="zhaomin", certificate_no="JD-1")
        assert ins.fitness(s, inst_id).fitness == "fit"
        assert ins.fitness(s, inst_id).calibration_due == DAY - dt.timedelta(days=30) + dt.timedelta(days=365)
        ins.record_check(s, "EI-01", kind="intermediate_check", performed_on=DAY - dt.timedelta(days=2),
                         outcome="fail", recorded_by="zhaomin", acceptance="吸光度偏差 8 % > 5 %")
        assert ins.fitness(s, inst_id).fitness == "failed"
        ins.record_check(s, "EI-01", kind="calibration", performed_on=DAY - dt.timedelta(days=1),
                         outcome="pass", recorded_by="zhaomin", certificate_no="JZ-2")
        assert ins.fitness(s, inst_id).fitness == "fit"


def test_overdue_calibration_opens_one_nonconformity(db_factory, make_runner, recording_link):  # noqa: F811
    make_runner("EI-NC", "enzyme_ascii_16ch", recording_link())
    _overdue(db_factory, "EI-NC")
    with session_scope(db_factory, actor="zhaomin") as s:
        (nc_id,) = ins.raise_overdue(s, raised_by="zhaomin")
        assert ins.raise_overdue(s, raised_by="zhaomin") == []  # one while it is open
        nc = s.get(Nonconformity, nc_id)
        assert nc.source == "calibration" and nc.risk == "high" and "EI-NC" in nc.description


def test_instrument_bad_input_is_named(db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="zhaomin") as s:
        with pytest.raises(InvalidInput) as e:
            ins.record_check(s, "EI-01", kind="calibration", performed_on=DAY - dt.timedelta(days=3),
                             due_on=DAY - dt.timedelta(days=4), outcome="pass", recorded_by="z", certificate_no="C")
        assert e.value.code == "quality.dates_out_of_order" and e.value.field == "due_on"
        with pytest.raises(InvalidInput) as e:
            ins.record_check(s, "EI-01", kind="calibration", performed_on=DAY - dt.timedelta(days=3), outcome="pass",
                             recorded_by="z", certificate_no="C", certificate=b"\0" * (10 * 1024 * 1024 + 1))
        assert e.value.code == "quality.file_too_large" and e.value.field == "certificate"
        with pytest.raises(InvalidInput) as e:
            ins.record_check(s, "EI-01", kind="calibrate", performed_on=DAY, outcome="pass", recorded_by="z")
        assert e.value.code == "quality.unknown_value" and e.value.field == "kind"
        now = dt.datetime.now(dt.UTC)
        with pytest.raises(InvalidInput) as e:
            ins.grant_exception(s, "EI-01", justification="x", granted_by="z", valid_until=now + dt.timedelta(days=31))
        assert e.value.code == "quality.exception_too_long"
        with pytest.raises(InvalidInput) as e:
            ins.grant_exception(s, "EI-01", justification="x", granted_by="z", valid_from=now,
                                valid_until=now - dt.timedelta(hours=1))
        assert e.value.code == "quality.dates_out_of_order"


def _lots(s) -> None:
    mat.add_lot(s, mat.NewLot(code="RM-OLD", kind="reference_material", name="毒死蜱标准物质", analyte_code="chlorpyrifos",
                              supplier="农业农村部环境保护科研监测所", lot_no="GBW(E)081234", certificate_no="C-1",
                              concentration=100.0, concentration_unit="mg/L", uncertainty=2.0,
                              manufactured_on=DAY - dt.timedelta(days=800), expires_on=DAY - dt.timedelta(days=1)))
    mat.add_lot(s, mat.NewLot(code="RM-OK", kind="reference_material", name="毒死蜱标准物质", analyte_code="chlorpyrifos",
                              concentration=100.0, concentration_unit="mg/L", uncertainty=2.0,
                              expires_on=DAY + dt.timedelta(days=300), opened_on=DAY - dt.timedelta(days=10),
                              in_use_days=30))


def test_expired_lot_blocks_the_batch_and_a_valid_one_is_linked(db_factory):
    seed_reference(db_factory)
    register_samples(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        _lots(s)
        a = s.execute(select(Analysis).order_by(Analysis.id)).scalars().first()
        aid, method_code = a.id, a.method.code
    with session_scope(db_factory, actor="zhangwei") as s:
        with pytest.raises(Conflict) as e:
            batches.create_batch(s, code="B-EXP", method_code=method_code, instrument_code=None, analysis_ids=[aid],
                                 material_lots=["RM-OK", "RM-OLD"])
        assert e.value.code == "material.expired" and "RM-OLD" in str(e.value)
        assert s.execute(select(Batch).where(Batch.code == "B-EXP")).first() is None  # nothing made
        b = batches.create_batch(s, code="B-OK", method_code=method_code, instrument_code=None, analysis_ids=[aid],
                                 material_lots=["RM-OK"])
        assert [u.batch_id for u in s.execute(select(MaterialUse)).scalars()] == [b.id]
        assert mat.uses_of(s, "RM-OK") == [("B-OK", None, dt.datetime.now(dt.UTC).date())]
        with pytest.raises(Conflict) as e:  # a curve refuses it too
            batches.store_curve(s, batch=b, analyte_code="OP-CARB", concentrations=[0.1, 0.2, 0.5, 1.0, 2.0],
                                responses=[10, 20, 50, 100, 200], material_lots=["RM-OLD"])
        assert e.value.code == "material.expired"


def test_in_use_life_after_opening_expires_a_lot_before_its_expiry_date(db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        _lots(s)
        lot = mat.usable_lots(s, ["RM-OK"])[0]
        assert mat.usable_until(lot) == DAY + dt.timedelta(days=20)
        with pytest.raises(Conflict) as e:
            mat.usable_lots(s, ["RM-OK"], on=DAY + dt.timedelta(days=21))
        assert "in-use life" in str(e.value)


def test_prepared_solution_records_its_derivation(db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="zhangwei") as s:
        _lots(s)
        sol = mat.prepare_solution(s, code="WS-1", parent_code="RM-OK", dilution_factor=100, prepared_by="zhangwei",
                                   prepared_on=DAY, expires_on=DAY + dt.timedelta(days=400))
        assert (sol.concentration, sol.uncertainty, sol.kind) == (1.0, 0.02, "solution")
        assert sol.expires_on == DAY + dt.timedelta(days=300)  # never outlives its parent
        assert [x.code for x in mat.derivation(s, "WS-1")] == ["WS-1", "RM-OK"]
        with pytest.raises(Conflict):  # an expired parent makes no solution
            mat.prepare_solution(s, code="WS-2", parent_code="RM-OLD", dilution_factor=10, prepared_by="z",
                                 prepared_on=DAY, expires_on=DAY + dt.timedelta(days=5))
        with pytest.raises(InvalidInput) as e:
            mat.add_lot(s, mat.NewLot(code="RM-BAD", kind="standard", name="x", expires_on=DAY,
                                      manufactured_on=DAY + dt.timedelta(days=1)))
        assert e.value.code == "quality.dates_out_of_order" and e.value.field == "expires_on"
        with pytest.raises(InvalidInput) as e:
            mat.prepare_solution(s, code="WS-3", parent_code="RM-OK", dilution_factor=0.5, prepared_by="z",
                                 prepared_on=DAY, expires_on=DAY + dt.timedelta(days=5))
        assert e.value.field == "dilution_factor"


def test_authorisation_matrix_refuses_an_unauthorised_signer(db_factory):
    seed_reference(db_factory)
    register_samples(db_factory)
    with session_scope(db_factory, actor="zhaomin") as s:
        code = s.execute(select(Analysis).order_by(Analysis.id)).scalars().first().method.code
        g = {"method_code": code, "granted_by": "zhaomin"}
        staff.grant(s, staff.Grant(username="zhangwei", may_test=True, valid_from=DAY - dt.timedelta(days=365), **g))
        staff.grant(s, staff.Grant(username="liqiang", may_review=True, valid_from=DAY - dt.timedelta(days=365), **g))
        staff.grant(s, staff.Grant(username="wangfang", may_sign=True, valid_from=DAY - dt.timedelta(days=365),
                                   valid_until=DAY - dt.timedelta(days=1), **g))  # lapsed yesterday
    rid = reviewed_result(db_factory)
    with session_scope(db_factory, actor="wangfang") as s:
        with pytest.raises(Forbidden) as e:
            signoff.approve_results(s, [rid], username="wangfang", password=PASSWORDS["wangfang"], lab_code="LAB")
        assert e.value.code == "staff.not_authorised" and "wangfang" in str(e.value)
    with session_scope(db_factory, actor="zhaomin") as s:
        staff.grant(s, staff.Grant(username="wangfang", may_sign=True, valid_from=DAY, **g))
        assert [(r["username"], r["valid_today"]) for r in staff.matrix(s) if r["may_sign"]] == [
            ("wangfang", False), ("wangfang", True)]
    with session_scope(db_factory, actor="wangfang") as s:
        signoff.approve_results(s, [rid], username="wangfang", password=PASSWORDS["wangfang"], lab_code="LAB")
        assert s.get(Result, rid).status == "certified"


def test_matrix_refuses_a_reviewer_without_review_authority(db_factory):
    seed_reference(db_factory)
    register_samples(db_factory)
    with session_scope(db_factory, actor="zhaomin") as s:
        code = s.execute(select(Analysis).order_by(Analysis.id)).scalars().first().method.code
        staff.grant(s, staff.Grant(username="zhangwei", method_code=code, may_test=True, valid_from=DAY,
                                   granted_by="zhaomin"))
        staff.grant(s, staff.Grant(username="liqiang", method_code=code, may_test=True, valid_from=DAY,
                                   granted_by="zhaomin"))  # may test, not review
    with pytest.raises(Forbidden) as e:
        reviewed_result(db_factory)
    assert e.value.code == "staff.not_authorised" and "review" in str(e.value)
    with session_scope(db_factory, actor="zhaomin") as s:
        with pytest.raises(InvalidInput) as e2:
            staff.grant(s, staff.Grant(username="liqiang", method_code=code, may_review=True, valid_from=DAY,
                                       valid_until=DAY - dt.timedelta(days=1), granted_by="zhaomin"))
        assert e2.value.code == "quality.dates_out_of_order"




def test_matrix_refuses_attributing_instrument_results_to_an_unauthorised_analyst(  # noqa: F811
        db_factory, make_runner, recording_link):  # noqa: F811
    seed_reference(db_factory)
    register_samples(db_factory)
    with session_scope(db_factory, actor="zhaomin") as s:
        a = s.execute(select(Analysis).where(Analysis.kind == "screening").order_by(Analysis.id)).scalars().first()
        sample_code, method_code = a.sample.code, a.method.code
        staff.grant(s, staff.Grant(username="liqiang", method_code=method_code, may_test=True, valid_from=DAY,
                                   granted_by="zhaomin"))  # the matrix is in force; zhangwei is not in it
    runner = make_runner("EI-ATT", "enzyme_ascii_16ch", recording_link())
    readings = [ChannelReading(0, "CONTROL", 0.35, 0.80, 0.0), ChannelReading(1, sample_code, 0.40, 0.75, 22.0)]
    runner.on_bytes(b"".join(run_lines(7, WHEN, readings)), 0.0)
    with session_scope(db_factory, actor="zhangwei") as s:
        ids = list(s.execute(select(Reading.id).where(Reading.record_type == "CH")).scalars())
        zhangwei = s.execute(select(User).where(User.username == "zhangwei")).scalar_one()
        with pytest.raises(Forbidden) as e:
            results_from_readings(s, ids, analyst_id=zhangwei.id)
        assert e.value.code == "staff.not_authorised" and "zhangwei" in str(e.value)
    with session_scope(db_factory, actor="zhaomin") as s:
        staff.grant(s, staff.Grant(username="zhangwei", method_code=method_code, may_test=True, valid_from=DAY,
                                   instrument_code="EI-ATT", granted_by="zhaomin"))
    with session_scope(db_factory, actor="zhangwei") as s:
        out = results_from_readings(s, ids, analyst_id=zhangwei.id)
        assert len(out.results) == 1
