"""The lab's day through the services, on SQLite and PostgreSQL: task and 双随机 plan → sampling
record → receipt and custody → confirmatory batch with curve and QC → quantitation → decision →
review and approval → report → amendment → new report version; and the guard rails."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import Analysis, CalibrationCurve, CustodyEvent, Report, Result, Sample, User
from lims.db.verify import verify_database
from lims.demo import LAB_CODE, PASSWORDS, qc_passed_batch, seed_reference
from lims.services import batches, reporting, sampling, signoff
from lims.services.errors import Conflict, Forbidden, InvalidInput
from lims.services.views import reports as report_views

TZ = dt.timezone(dt.timedelta(hours=8))
LEVELS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]  # mg/L chlorpyrifos standards
SLOPE, INTERCEPT = 10500.0, 35.0


def _responses(levels):
    # deterministic ±1 % pattern around a straight line
    pattern = [1.006, 0.994, 1.004, 0.997, 1.002, 0.999]
    return [INTERCEPT + SLOPE * x * p for x, p in zip(levels, pattern, strict=True)]


@pytest.fixture
def lab(db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="qa", reason="test task") as s:
        sampling.create_task(s, code="T-ZX-1", name="芹菜专项监测", programme_type="special",
                             issuing_authority="某县农业农村局", required_analytes=["CHLORPYRIFOS"])
    return db_factory


def test_sampling_plan_is_random_but_reproducible(lab):
    with session_scope(lab, actor="qa") as s:
        plan = sampling.draw_sampling_plan(s, "T-ZX-1", producers=4, seed=20261128)
    with session_scope(lab, actor="qa") as s:
        sampling.create_task(s, code="T-ZX-2", name="复核", programme_type="special",
                             issuing_authority="某县农业农村局", required_analytes=[])
        again = sampling.draw_sampling_plan(s, "T-ZX-2", producers=4, seed=20261128)
    assert [ln.producer_id for ln in plan.lines] == [ln.producer_id for ln in again.lines]
    assert [ln.inspector_ids for ln in plan.lines] == [ln.inspector_ids for ln in again.lines]
    assert len({ln.producer_id for ln in plan.lines}) == 4
    assert all(len(set(ln.inspector_ids)) == 2 for ln in plan.lines)
    with pytest.raises(Conflict):
        with session_scope(lab, actor="qa") as s:
            sampling.draw_sampling_plan(s, "T-ZX-1", producers=2, seed=1)


def test_sampling_record_is_validated(lab):
    base = dict(code="S-X", commodity_code="QINCAI", task_code="T-ZX-1", sampled_at=dt.datetime.now(TZ),
                sampling_place="某镇", region_code="511521", sampling_link="before_harvest",
                samplers=["赵磊", "孙敏"])
    for field, bad in (("region_code", "12345"), ("sampling_link", "somewhere"), ("samplers", ["赵磊"]),
                       ("commodity_code", "NOPE"), ("sampled_at", dt.datetime(2026, 1, 1))):
        with pytest.raises(InvalidInput) as err:
            with session_scope(lab, actor="t") as s:
                sampling.register_sample(s, sampling.RegisterSample(**{**base, field: bad}))
        assert err.value.field == field
    with lab() as s:
        assert s.execute(select(Sample)).first() is None  # nothing written


def _register_and_receive(factory, code, commodity="QINCAI"):
    with session_scope(factory, actor="qa") as s:
        plan_task = "T-ZX-1"
        sampling.register_sample(s, sampling.RegisterSample(
            code=code, commodity_code=commodity, task_code=plan_task,
            sampled_at=dt.datetime.now(TZ) - dt.timedelta(hours=3), sampling_place="城关镇基地",
            region_code="511521", sampling_link="before_harvest", samplers=["赵磊", "孙敏"],
            certificate_no="HGZ-1", trace_code="TR-1", requested=[("CHLORPYRIFOS", "GC-OP")]))
    with session_scope(factory, actor="zhangwei") as s:
        sampling.receive_sample(s, code, actor="zhangwei", condition="完好", storage="冷藏柜 A2")
        sampling.custody(s, code, kind="subsampled", actor="zhangwei", sub_sample_code=f"{code}-1")
        sampling.custody(s, code, kind="retained", actor="zhangwei", location="留样室")


def _batch_with_curve(factory, code, analysis_ids, *, spike_found=0.095):
    with session_scope(factory, actor="zhangwei") as s:
        batch = batches.create_batch(s, code=code, method_code="GC-OP", instrument_code=None,
                                     analysis_ids=analysis_ids)
        curve = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                    responses=_responses(LEVELS))
        batches.add_qc(s, code, kind="reagent_blank", measured_value=0.0, reporting_limit=0.01)
        batches.add_qc(s, code, kind="spike", analyte_code="CHLORPYRIFOS", nominal_value=0.1,
                       measured_value=spike_found)
        batches.add_qc(s, code, kind="duplicate", measured_value=0.121, second_value=0.118)
        batches.add_qc(s, code, kind="ccv", nominal_value=0.1, measured_value=0.104)
        return curve.id


def test_confirmatory_batch_to_signed_amended_report(lab, tmp_path):
    _register_and_receive(lab, "S-001")
    with lab() as s:
        analysis_id = s.execute(select(Analysis.id)).scalar_one()
        tech = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
    curve_id = _batch_with_curve(lab, "B-GC-1", [analysis_id])
    with session_scope(lab, actor="zhangwei") as s:
        assert batches.evaluate_batch_qc(s, "B-GC-1").passed
        # 0.12 mg/kg in celery: extract 0.06 mg/L × 10 mL / 5 g
        result = batches.quantify(s, batches.QuantifyAnalysis(
            analysis_id=analysis_id, curve_id=curve_id, response=INTERCEPT + SLOPE * 0.06, sample_mass_g=5.0,
            extract_volume_ml=10.0, analyst_id=tech))
        rid = result.id
        assert result.value == pytest.approx(0.12, abs=0.005)
        assert result.verdict == "non_compliant"  # GB 2763-2021: chlorpyrifos in celery 0.05 mg/kg
        # U from the demo method's validation data for chlorpyrifos in celery (lims/demo/method_data.py), not the
        # SANTE 50 % default (issue 12)
        assert result.details["uncertainty"]["source"] == "validation"
        assert result.limit_id is not None and result.expanded_uncertainty == pytest.approx(
            result.value * result.details["uncertainty"]["expanded_percent"] / 100.0)
        assert result.details["curve_id"] == curve_id
    with session_scope(lab, actor="zhangwei") as s:
        signoff.author_results(s, [rid], username="zhangwei", password=PASSWORDS["zhangwei"])
    with pytest.raises(Forbidden):  # the approver cannot approve before review, nor review own work
        with session_scope(lab, actor="zhangwei") as s:
            signoff.review_results(s, [rid], username="zhangwei", password=PASSWORDS["zhangwei"])
    with session_scope(lab, actor="liqiang") as s:
        signoff.review_results(s, [rid], username="liqiang", password=PASSWORDS["liqiang"])
    with session_scope(lab, actor="wangfang") as s:
        signoff.approve_results(s, [rid], username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB_CODE)
    with session_scope(lab, actor="wangfang") as s:
        first = reporting.issue_report(s, "S-001", out_dir=tmp_path)
        assert first.version == 1
    with pytest.raises(Conflict):
        with session_scope(lab, actor="wangfang") as s:
            reporting.issue_report(s, "S-001", out_dir=tmp_path)
    # amendment: a transcription error in the extract volume is corrected → new version, new report
    with session_scope(lab, actor="zhangwei") as s:
        new = signoff.amend_result(s, rid, value=0.11, value_text="0.11", reason="提取体积录入错误，更正为 9.2 mL",
                                   analyst_id=tech)
        new_id = new.id
        assert new.verdict == "non_compliant" and new.supersedes_id == rid
    with session_scope(lab, actor="zhangwei") as s:
        signoff.author_results(s, [new_id], username="zhangwei", password=PASSWORDS["zhangwei"])
    with session_scope(lab, actor="liqiang") as s:
        signoff.review_results(s, [new_id], username="liqiang", password=PASSWORDS["liqiang"])
    with session_scope(lab, actor="wangfang") as s:
        signoff.approve_results(s, [new_id], username="wangfang", password=PASSWORDS["wangfang"],
                                lab_code=LAB_CODE)
    with session_scope(lab, actor="wangfang") as s:
        second = reporting.issue_report(s, "S-001", out_dir=tmp_path, amendment_reason="结果更正")
        assert second.version == 2 and second.supersedes_id == first.id
    with lab() as s:
        assert s.get(Result, rid).status == "superseded"
        assert s.get(Report, first.id).status == "superseded"
        assert s.get(Result, new_id).status == "reported"
        assert (tmp_path / f"{first.report_no}.pdf").exists()  # the old report stays retrievable
        kinds = [e.kind for e in s.execute(select(CustodyEvent).order_by(CustodyEvent.id)).scalars()]
        assert kinds == ["received", "subsampled", "retained"]
        assert s.execute(select(CalibrationCurve)).scalar_one().passed
        check = verify_database(s)
        assert check.ok, check.message
        old_view = report_views.report_verification(s, first.report_no)
        assert old_view["current"] is False and old_view["superseded_by"]["report_no"] == second.report_no
        new_view = report_views.report_verification(s, second.report_no)
        assert new_view["current"] is True and new_view["supersedes"]["content_hash"] == first.content_hash
        sample = s.execute(select(Sample).where(Sample.code == "S-001")).scalar_one()
        assert sample.sampled_at.tzinfo is not None and sample.sampled_at < sample.received_at


def test_failed_qc_holds_the_batch(lab):
    _register_and_receive(lab, "S-002")
    with lab() as s:
        analysis_id = s.execute(select(Analysis.id)).scalar_one()
    curve_id = _batch_with_curve(lab, "B-GC-2", [analysis_id], spike_found=0.045)  # 45 % recovery
    with session_scope(lab, actor="zhangwei") as s:
        outcome = batches.evaluate_batch_qc(s, "B-GC-2")
        assert not outcome.passed and "recovery" in outcome.failures[0]
        r = batches.quantify(s, batches.QuantifyAnalysis(
            analysis_id=analysis_id, curve_id=curve_id, response=INTERCEPT + SLOPE * 0.01, sample_mass_g=5.0,
            extract_volume_ml=10.0))
        rid = r.id
    with session_scope(lab, actor="zhangwei") as s:
        signoff.author_results(s, [rid], username="zhangwei", password=PASSWORDS["zhangwei"])
    with pytest.raises(Conflict, match="held"):
        with session_scope(lab, actor="liqiang") as s:
            signoff.review_results(s, [rid], username="liqiang", password=PASSWORDS["liqiang"])


def test_out_of_range_response_is_never_extrapolated(lab):
    _register_and_receive(lab, "S-003")
    with lab() as s:
        analysis_id = s.execute(select(Analysis.id)).scalar_one()
    curve_id = _batch_with_curve(lab, "B-GC-3", [analysis_id])
    with pytest.raises(Conflict, match="dilute"):
        with session_scope(lab, actor="zhangwei") as s:
            batches.quantify(s, batches.QuantifyAnalysis(
                analysis_id=analysis_id, curve_id=curve_id, response=SLOPE * 2.0, sample_mass_g=5.0,
                extract_volume_ml=10.0))


def test_manual_entry_needs_a_reason_and_rejection_asks_for_retest(lab):
    _register_and_receive(lab, "S-004")
    with lab() as s:
        analysis_id = s.execute(select(Analysis.id)).scalar_one()
        tech = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
    with pytest.raises(InvalidInput) as err:
        with session_scope(lab, actor="zhangwei") as s:
            batches.enter_manual_result(s, analysis_id=analysis_id, value_text="0.02", value=0.02, unit="mg/kg",
                                        reason="", analyst_id=tech)
    assert err.value.field == "reason"
    # a confirmatory result needs its batch QC (issue 11): refused without a batch, accepted in a passed one
    with pytest.raises(Conflict) as no_batch:
        with session_scope(lab, actor="zhangwei") as s:
            batches.enter_manual_result(s, analysis_id=analysis_id, value_text="0.02", value=0.02, unit="mg/kg",
                                        reason="仪器通讯故障，手工录入", analyst_id=tech)
    assert no_batch.value.code == "result.needs_batch_qc"
    with session_scope(lab, actor="zhangwei") as s:
        qc_passed_batch(s, "B-004", "GC-OP", [analysis_id])
    with session_scope(lab, actor="zhangwei", reason="仪器通讯故障，手工录入") as s:
        r = batches.enter_manual_result(s, analysis_id=analysis_id, value_text="0.02", value=0.02,
                                        unit="mg/kg", reason="仪器通讯故障，手工录入", analyst_id=tech)
        rid = r.id
        assert r.source == "manual" and r.verdict == "compliant"
    with session_scope(lab, actor="liqiang") as s:
        signoff.reject_results(s, [rid], username="liqiang", password=PASSWORDS["liqiang"],
                               reason="手工录入值与原始记录不符")
    with lab() as s:
        assert s.get(Result, rid).status == "rejected"
        assert s.execute(select(Sample.status)).scalar_one() == "retest"
