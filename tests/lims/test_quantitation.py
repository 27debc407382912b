"""Batch quantitation (issue 12): results from the curve record they cite, per-method QC limits, calibration
strategies through quantify, identification by RT and ion ratio, uncertainty from the lab's own data.
SQLite and PostgreSQL (the ``db_factory`` fixture)."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from sqlalchemy import select

from calibration.curves import fit_curve, inverse_predict
from calibration.strategies import standard_addition
from calibration.uncertainty import top_down, u_bias_from_validation
from lims.db.engine import session_scope
from lims.db.models import Analysis, AuditEvent, CalibrationCurve, Result, User
from lims.demo import LAB_CODE, PASSWORDS, seed_reference
from lims.demo.method_data import GC_VALIDATION
from lims.services import batches, sampling, signoff
from lims.services.errors import Conflict, InvalidInput
from lims.services.method_data import MethodQcSettings, set_method_qc
from lims.services.uncertainty import result_uncertainty

TZ = dt.timezone(dt.timedelta(hours=8))
LEVELS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
SLOPE, INTERCEPT = 10500.0, 35.0
PATTERN = [1.006, 0.994, 1.004, 0.997, 1.002, 0.999]
RESPONSES = [INTERCEPT + SLOPE * x * p for x, p in zip(LEVELS, PATTERN, strict=True)]


@pytest.fixture
def lab(db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="qa", reason="test task") as s:
        sampling.create_task(s, code="T-Q", name="芹菜专项监测", programme_type="special",
                             issuing_authority="某县农业农村局", required_analytes=["CHLORPYRIFOS"])
    return db_factory


def _samples(factory, codes, commodity="QINCAI"):
    """Registered and received samples, one GC chlorpyrifos analysis each; analysis ids in order."""
    for code in codes:
        with session_scope(factory, actor="qa") as s:
            sampling.register_sample(s, sampling.RegisterSample(
                code=code, commodity_code=commodity, task_code="T-Q",
                sampled_at=dt.datetime.now(TZ) - dt.timedelta(hours=3), sampling_place="城关镇基地",
                region_code="511521", sampling_link="before_harvest", samplers=["赵磊", "孙敏"],
                certificate_no="HGZ-1", trace_code="TR-1", requested=[("CHLORPYRIFOS", "GC-OP")]))
        with session_scope(factory, actor="zhangwei") as s:
            sampling.receive_sample(s, code, actor="zhangwei", condition="完好", storage="冷藏柜 A2")
    with factory() as s:
        return list(s.execute(select(Analysis.id).order_by(Analysis.id)).scalars())[-len(codes):]


def _strategy(factory, strategy, **kw):
    with session_scope(factory, actor="qa") as s:
        set_method_qc(s, "GC-OP", MethodQcSettings(calibration_strategy=strategy, **kw))


def _quantify(s, analysis_id, curve_id, response, **kw):
    return batches.quantify(s, batches.QuantifyAnalysis(analysis_id=analysis_id, curve_id=curve_id, response=response,
                                                        sample_mass_g=5.0, extract_volume_ml=10.0, **kw))


def test_result_comes_from_the_stored_fit_not_from_the_points(lab):
    a1, a2, a3 = _samples(lab, ["Q-1", "Q-2", "Q-3"])
    y = INTERCEPT + SLOPE * 0.06
    expected = inverse_predict(fit_curve(LEVELS, RESPONSES), y)
    with session_scope(lab, actor="zhangwei") as s:
        batch = batches.create_batch(s, code="B-Q-1", method_code="GC-OP", instrument_code=None,
                                     analysis_ids=[a1, a2, a3])
        curve_id = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                       responses=RESPONSES).id
        first = _quantify(s, a1, curve_id, y)
        assert first.details["extract_mg_l"] == expected.concentration
        assert first.details["extract_ci"] == [expected.ci_low, expected.ci_high]
        digest = first.details["curve_fit_sha256"]
    with session_scope(lab, actor="someone", reason="points edited underneath") as s:
        curve = s.get(CalibrationCurve, curve_id)
        curve.points = [[x, r * 1.3] for x, r in curve.points]
    with session_scope(lab, actor="zhangwei") as s:
        second = _quantify(s, a2, curve_id, y)
        assert second.details["extract_mg_l"] == expected.concentration  # the record, not the edited points
        assert second.details["curve_fit_sha256"] == digest
        assert second.value == first.value
        # the fit is part of the curve record the audit chain covers
        inserted = s.execute(select(AuditEvent).where(AuditEvent.table_name == "calibration_curve",
                                                      AuditEvent.action == "create")).scalars().one()
        assert json.loads(inserted.new)["fit"]["params"] == list(fit_curve(LEVELS, RESPONSES).theta)
        edits = s.execute(select(AuditEvent).where(AuditEvent.table_name == "calibration_curve",
                                                   AuditEvent.action == "update")).scalars().all()
        assert [sorted(json.loads(e.new)) for e in edits] == [["points"]]  # the edit is in the trail too
    with session_scope(lab, actor="someone", reason="a curve stored before fits were kept") as s:
        s.get(CalibrationCurve, curve_id).fit = None
    with pytest.raises(Conflict) as err:
        with session_scope(lab, actor="zhangwei") as s:
            _quantify(s, a3, curve_id, y)
    assert err.value.code == "batches.curve_fit_missing"


@pytest.mark.parametrize(("low", "high", "passes"), [(60.0, 140.0, True), (70.0, 120.0, False)])
def test_spike_recovery_is_judged_by_the_methods_limits(lab, low, high, passes):
    with session_scope(lab, actor="qa") as s:
        set_method_qc(s, "GC-OP", MethodQcSettings(recovery_min_percent=low, recovery_max_percent=high))
    with session_scope(lab, actor="zhangwei") as s:
        batches.create_batch(s, code="B-SPK", method_code="GC-OP", instrument_code=None, analysis_ids=[])
        q = batches.add_qc(s, "B-SPK", kind="spike", analyte_code="CHLORPYRIFOS", nominal_value=0.1,
                           measured_value=0.065)
        assert q.metric == pytest.approx(65.0)
        assert (q.outcome == "pass") is passes
        assert f"{low:g}–{high:g} %" in q.detail
        assert batches.evaluate_batch_qc(s, "B-SPK").passed is passes


def test_method_qc_limits_are_checked(lab):
    with pytest.raises(InvalidInput) as err:
        with session_scope(lab, actor="qa") as s:
            set_method_qc(s, "GC-OP", MethodQcSettings(recovery_min_percent=150.0))
    assert err.value.field == "recovery_min_percent"
    with pytest.raises(InvalidInput) as err:
        with session_scope(lab, actor="qa") as s:
            set_method_qc(s, "GC-OP", MethodQcSettings(calibration_strategy="guesswork"))
    assert err.value.field == "calibration_strategy"


def test_internal_standard_through_quantify(lab):
    (a1,) = _samples(lab, ["Q-IS"])
    _strategy(lab, "internal_standard")
    is_resp = [20000.0, 20400.0, 19800.0, 20100.0, 19900.0, 20200.0]
    with session_scope(lab, actor="zhangwei") as s:
        batch = batches.create_batch(s, code="B-IS", method_code="GC-OP", instrument_code=None, analysis_ids=[a1])
        curve = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                    responses=RESPONSES, is_responses=is_resp)
        assert curve.strategy == "internal_standard"
        with pytest.raises(InvalidInput) as err:
            _quantify(s, a1, curve.id, 700.0)
        assert err.value.code == "batches.is_response_missing"
        r = _quantify(s, a1, curve.id, 700.0, is_response=10000.0)
        ratios = [y / i for y, i in zip(RESPONSES, is_resp, strict=True)]
        expected = inverse_predict(fit_curve(LEVELS, ratios), 0.07).concentration
        assert r.details["response_ratio"] == 0.07 and r.details["extract_mg_l"] == expected


def test_matrix_matched_records_the_matrix_effect(lab):
    (a1,) = _samples(lab, ["Q-MM"])
    _strategy(lab, "matrix_matched")
    solvent = [INTERCEPT + 0.75 * SLOPE * x * p for x, p in zip(LEVELS, PATTERN, strict=True)]  # +33 % in matrix
    with session_scope(lab, actor="zhangwei") as s:
        batch = batches.create_batch(s, code="B-MM", method_code="GC-OP", instrument_code=None, analysis_ids=[a1])
        with pytest.raises(InvalidInput) as err:
            batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                responses=RESPONSES)
        assert err.value.code == "batches.solvent_curve_missing"
        curve = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                    responses=RESPONSES, solvent_concentrations=LEVELS, solvent_responses=solvent)
        me = curve.strategy_detail["matrix_effect_percent"]
        assert me == pytest.approx(100.0 / 0.75 - 100.0, abs=0.5) and curve.strategy_detail["matrix_matched_required"]
        r = _quantify(s, a1, curve.id, INTERCEPT + SLOPE * 0.06)
        assert r.details["matrix_effect_percent"] == me and r.details["strategy"] == "matrix_matched"


def test_bracketing_needs_two_passing_ccvs(lab):
    a1, a2 = _samples(lab, ["Q-BR1", "Q-BR2"])
    _strategy(lab, "bracketing")
    with session_scope(lab, actor="zhangwei") as s:
        batch = batches.create_batch(s, code="B-BR", method_code="GC-OP", instrument_code=None,
                                     analysis_ids=[a1, a2])
        curve_id = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                       responses=RESPONSES).id
        opening = batches.add_qc(s, "B-BR", kind="ccv", analyte_code="CHLORPYRIFOS", nominal_value=0.1,
                                 measured_value=0.104).id
        closing = batches.add_qc(s, "B-BR", kind="ccv", analyte_code="CHLORPYRIFOS", nominal_value=0.1,
                                 measured_value=0.097).id
        drifted = batches.add_qc(s, "B-BR", kind="ccv", analyte_code="CHLORPYRIFOS", nominal_value=0.1,
                                 measured_value=0.125).id
    y = INTERCEPT + SLOPE * 0.06
    for ids, code in ((None, "batches.bracketing_ccv_missing"), ((opening,), "batches.bracketing_ccv_missing"),
                      ((opening, drifted), "batches.bracketing_ccv_failed")):
        with pytest.raises((InvalidInput, Conflict)) as err:
            with session_scope(lab, actor="zhangwei") as s:
                _quantify(s, a1, curve_id, y, bracketing_ccv_ids=ids)
        assert err.value.code == code
    with session_scope(lab, actor="zhangwei") as s:
        r = _quantify(s, a1, curve_id, y, bracketing_ccv_ids=(opening, closing))
        assert [c["qc_sample_id"] for c in r.details["bracketing_ccvs"]] == [opening, closing]
        assert r.details["bracketing_ccvs"][0]["drift_percent"] == pytest.approx(4.0)


def test_standard_addition_through_quantify(lab):
    a1, a2 = _samples(lab, ["Q-SA1", "Q-SA2"])
    _strategy(lab, "standard_addition")
    added = [0.0, 0.02, 0.04, 0.06, 0.08, 0.10]
    native = 0.03  # mg/L in the extract
    resp = [SLOPE * (native + x) * p for x, p in zip(added, PATTERN, strict=True)]
    with session_scope(lab, actor="zhangwei") as s:
        batch = batches.create_batch(s, code="B-SA", method_code="GC-OP", instrument_code=None,
                                     analysis_ids=[a1, a2])
        with pytest.raises(InvalidInput):
            batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=added, responses=resp)
        curve = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=added,
                                    responses=resp, analysis_id=a1)
        with pytest.raises(InvalidInput) as err:
            _quantify(s, a2, curve.id, resp[0])
        assert err.value.code == "batches.standard_addition_sample"
        r = _quantify(s, a1, curve.id, resp[0])
        direct = standard_addition(added, resp)
        assert r.details["extract_mg_l"] == direct.concentration
        assert r.details["mg_kg_unrounded"] == pytest.approx(direct.concentration * 10.0 / 5.0, rel=1e-12)


def _identified_run(factory, code, rt):
    (aid,) = _samples(factory, [code])
    with session_scope(factory, actor="zhangwei") as s:
        batch = batches.create_batch(s, code=f"B-{code}", method_code="GC-OP", instrument_code=None,
                                     analysis_ids=[aid])
        curve = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                    responses=RESPONSES, reference_retention_time_min=8.20, reference_ion_ratio=0.50)
        batches.add_qc(s, f"B-{code}", kind="ccv", analyte_code="CHLORPYRIFOS", nominal_value=0.1,
                       measured_value=0.102)
        batches.evaluate_batch_qc(s, f"B-{code}")
        tech = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
        r = _quantify(s, aid, curve.id, INTERCEPT + SLOPE * 0.06, retention_time_min=rt, ion_ratio=0.52,
                      analyst_id=tech)
        return r.id


def test_unidentified_peak_cannot_be_reported_as_detected(lab):
    _strategy(lab, "external_standard", identification="sante")
    good = _identified_run(lab, "Q-ID1", 8.26)
    bad = _identified_run(lab, "Q-ID2", 8.45)  # 0.25 min off: SANTE allows ±0.1 min
    with lab() as s:
        g, b = s.get(Result, good), s.get(Result, bad)
        assert g.details["identification"]["identified"] and g.verdict == "non_compliant"
        assert b.details["identification"]["identified"] is False and b.verdict == "not_evaluated"
        assert "retention time" in b.details["identification"]["reasons"][0]
        assert "不能报告为检出" in b.details["decision"]["statement_zh"]
    with session_scope(lab, actor="zhangwei") as s:
        signoff.author_results(s, [good, bad], username="zhangwei", password=PASSWORDS["zhangwei"])
    with session_scope(lab, actor="liqiang") as s:
        signoff.review_results(s, [good, bad], username="liqiang", password=PASSWORDS["liqiang"])
    with pytest.raises(Conflict) as err:
        with session_scope(lab, actor="wangfang") as s:
            signoff.approve_results(s, [bad], username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB_CODE)
    assert err.value.code == "result.not_identified"
    with session_scope(lab, actor="wangfang") as s:
        signoff.approve_results(s, [good], username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB_CODE)


def test_uncertainty_from_the_demo_methods_validation_data(lab):
    """The demo seeds a validation study for GC-OP × chlorpyrifos × 芹菜 (lims/demo/method_data.py): a result
    of that method in celery takes its U from it, with the source named; another matrix gets the flagged
    SANTE default."""
    celery, cucumber = _samples(lab, ["Q-U1"]) + _samples(lab, ["Q-U2"], commodity="HUANGGUA")
    v = GC_VALIDATION
    est = top_down(v.rsd_rw_percent, u_bias_from_validation(v.recovery_mean_percent, v.recovery_sd_percent,
                                                            v.recovery_n, v.u_cref_percent))
    with session_scope(lab, actor="zhangwei") as s:
        batch = batches.create_batch(s, code="B-U", method_code="GC-OP", instrument_code=None,
                                     analysis_ids=[celery, cucumber])
        curve_id = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                       responses=RESPONSES).id
        r = _quantify(s, celery, curve_id, INTERCEPT + SLOPE * 0.06)
        unc = result_uncertainty(s, r, 0.12)
        assert unc.source == "validation"
        assert unc.expanded_relative * 100.0 == pytest.approx(est.expanded_percent, rel=1e-12)
        assert est.expanded_percent == pytest.approx(2.0 * math.sqrt(9.6**2 + 5.5**2 + 5.8**2 / 6 + 1.5**2))
        trail = r.details["uncertainty"]
        assert trail["source"] == "validation" and trail["is_default"] is False and "MV-GC-OP" in trail["reference"]
        assert trail["source_zh"].startswith("方法确认数据")
        other = _quantify(s, cucumber, curve_id, INTERCEPT + SLOPE * 0.06)
        unc2 = result_uncertainty(s, other, 0.12)
        assert unc2.source == "default_sante_50" and unc2.expanded_relative == 0.5
        assert other.details["uncertainty"]["is_default"] is True


def test_quantify_records_the_lab_uncertainty_on_the_result(lab):
    """End to end: the decision's U (limits.decide_result) is the validation-based one, not the 50 % default."""
    (celery,) = _samples(lab, ["Q-U3"])
    with session_scope(lab, actor="zhangwei") as s:
        batch = batches.create_batch(s, code="B-U3", method_code="GC-OP", instrument_code=None, analysis_ids=[celery])
        curve_id = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                       responses=RESPONSES).id
        r = _quantify(s, celery, curve_id, INTERCEPT + SLOPE * 0.06)
        assert r.details["uncertainty"]["source"] == "validation"
        assert r.expanded_uncertainty == pytest.approx(r.value * r.details["uncertainty"]["expanded_percent"] / 100)


def test_uncertainty_from_long_run_spike_recoveries(lab):
    """No validation study for the matrix (黄瓜) but eight spike recoveries of the method and analyte: U from
    them (Nordtest TR 537: u(Rw) = SD of the recoveries, u(bias) = √(RMS_bias² + u(Cref)²))."""
    (cucumber,) = _samples(lab, ["Q-H1"], commodity="HUANGGUA")
    found = [0.092, 0.101, 0.088, 0.097, 0.105, 0.094, 0.090, 0.099]  # mg/kg for 0.1 mg/kg spikes
    with session_scope(lab, actor="zhangwei") as s:
        batch = batches.create_batch(s, code="B-H", method_code="GC-OP", instrument_code=None, analysis_ids=[cucumber])
        for f in found:
            batches.add_qc(s, "B-H", kind="spike", analyte_code="CHLORPYRIFOS", nominal_value=0.1, measured_value=f)
        curve_id = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                       responses=RESPONSES).id
        r = _quantify(s, cucumber, curve_id, INTERCEPT + SLOPE * 0.06)
        trail = r.details["uncertainty"]
    recoveries = [f / 0.1 * 100.0 for f in found]
    mean = sum(recoveries) / len(recoveries)
    sd = math.sqrt(sum((x - mean) ** 2 for x in recoveries) / (len(recoveries) - 1))
    rms = math.sqrt(sum((x - 100.0) ** 2 for x in recoveries) / len(recoveries))
    u_bias = math.sqrt(rms**2 + 1.5**2)  # the demo's GC-OP spike u(Cref) 1.5 %
    assert trail["source"] == "qc_history" and trail["is_default"] is False and len(trail["qc_sample_ids"]) == 8
    assert trail["u_rw_percent"] == pytest.approx(sd, rel=1e-12)
    assert trail["u_bias_percent"] == pytest.approx(u_bias, rel=1e-12)
    assert trail["expanded_percent"] == pytest.approx(2.0 * math.hypot(sd, u_bias), rel=1e-12)


def test_uncertainty_bias_from_proficiency_testing(lab):
    """With three PT results of the lab for chlorpyrifos by GC-OP, u(bias) comes from them (Nordtest TR 537 §5.2:
    RMS of (x − x_pt)/x_pt, u(Cref) the mean relative u(x_pt)); u(Rw) still from the spike recoveries."""
    from lims.db.models_pt import PtExternalScore, PtParticipation

    pt_samples = _samples(lab, ["PT-1", "PT-2", "PT-3"], commodity="HUANGGUA")
    (cucumber,) = _samples(lab, ["Q-H2"], commodity="HUANGGUA")
    pts = [(0.105, 0.100, 0.004), (0.188, 0.200, 0.006), (0.052, 0.050, 0.002)]  # result, x_pt, u(x_pt)
    with session_scope(lab, actor="qa") as s:
        analyses = [s.get(Analysis, a) for a in pt_samples]
        for i, (a, (x, xpt, u)) in enumerate(zip(analyses, pts, strict=True)):
            p = PtParticipation(provider_name="某省农产品质量安全检测中心", round_code=f"PT-2026-{i}",
                                sample_id=a.sample_id, round_date=dt.date(2026, 5, 1 + i))
            s.add(p)
            s.flush()
            s.add(PtExternalScore(participation_id=p.id, analyte="毒死蜱", result=x, assigned_value=xpt, sigma_pt=0.25 * xpt,
                                  u_assigned=u, z=(x - xpt) / (0.25 * xpt), classification="satisfactory"))
    with session_scope(lab, actor="zhangwei") as s:
        batch = batches.create_batch(s, code="B-PT", method_code="GC-OP", instrument_code=None, analysis_ids=[cucumber])
        for f in [0.092, 0.101, 0.088, 0.097, 0.105, 0.094, 0.090, 0.099]:
            batches.add_qc(s, "B-PT", kind="spike", analyte_code="CHLORPYRIFOS", nominal_value=0.1, measured_value=f)
        curve_id = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                       responses=RESPONSES).id
        trail = _quantify(s, cucumber, curve_id, INTERCEPT + SLOPE * 0.06).details["uncertainty"]
    biases = [(x - xpt) / xpt * 100.0 for x, xpt, _ in pts]  # +5, −6, +4 %
    u_cref = sum(u / xpt * 100.0 for _, xpt, u in pts) / 3  # (4 + 3 + 4)/3 %
    expected = math.sqrt(sum(b * b for b in biases) / 3 + u_cref**2)
    assert trail["source"] == "qc_history" and trail["bias_basis"] == "proficiency_testing"
    assert len(trail["pt_score_ids"]) == 3
    assert trail["u_bias_percent"] == pytest.approx(expected, rel=1e-12)


def test_bracketing_by_opening_and_closing_calibration_sets(lab):
    a1, a2 = _samples(lab, ["Q-BS1", "Q-BS2"])
    _strategy(lab, "bracketing")
    closing_ok = [r * 0.97 for r in RESPONSES]
    closing_bad = [r * 1.30 for r in RESPONSES]
    y = INTERCEPT + SLOPE * 0.06
    with session_scope(lab, actor="zhangwei") as s:
        batch = batches.create_batch(s, code="B-BS", method_code="GC-OP", instrument_code=None, analysis_ids=[a1, a2])
        good = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                   responses=RESPONSES, closing_concentrations=LEVELS, closing_responses=closing_ok)
        assert good.strategy_detail["bracket_passed"] and good.fit["n"] == 12  # the combined fit of both sets
        r = _quantify(s, a1, good.id, y)  # the calibration sets are the bracket: no CCVs needed
        expected = inverse_predict(fit_curve(LEVELS + LEVELS, RESPONSES + closing_ok), y).concentration
        assert r.details["extract_mg_l"] == expected
        bad_id = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                     responses=RESPONSES, closing_concentrations=LEVELS,
                                     closing_responses=closing_bad).id
    with pytest.raises(Conflict) as err:
        with session_scope(lab, actor="zhangwei") as s:
            _quantify(s, a2, bad_id, y)
    assert err.value.code == "batches.bracketing_ccv_failed"


def test_identification_reads_rt_and_ion_ratio_from_the_peak_reading(lab):
    """Without RT/ion ratio in the command, the peak reading's (chromatography.import_run) are checked."""
    from lims.db.models import Instrument, Lab, RawCapture, Reading

    _strategy(lab, "external_standard", identification="gb23200")
    (aid,) = _samples(lab, ["Q-RD"])
    with session_scope(lab, actor="zhangwei") as s:
        lab_id = s.execute(select(Lab.id)).scalar_one()
        inst = Instrument(lab_id=lab_id, code="MS-T", name="LC-MS/MS", profile="file:labsolutions")
        s.add(inst)
        s.flush()
        cap = RawCapture(instrument_id=inst.id, data=b"x", sha256="0" * 64, profile="file:txt")
        s.add(cap)
        s.flush()
        rd = Reading(raw_capture_id=cap.id, instrument_id=inst.id, record_type="PEAK", sample_code="Q-RD",
                     fields={"analyte": "CHLORPYRIFOS", "retention_time_min": 8.31, "area": 700.0, "ion_ratio": 0.27})
        s.add(rd)
        s.flush()
        batch = batches.create_batch(s, code="B-RD", method_code="GC-OP", instrument_code=None, analysis_ids=[aid])
        curve = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                    responses=RESPONSES, reference_retention_time_min=8.20, reference_ion_ratio=0.30)
        r = _quantify(s, aid, curve.id, INTERCEPT + SLOPE * 0.06, reading_id=rd.id)
        ident = r.details["identification"]
        # GB 23200: RT ±2.5 % of 8.20 = ±0.205 min; ion ratio 30 % abundance → ±25 % (0.27 is −10 %)
        assert ident["identified"] and ident["rt_tolerance_min"] == pytest.approx(0.205)
        assert ident["ion_ratio_tolerance_percent"] == 25.0
        assert ident["ion_ratio_deviation_percent"] == pytest.approx(-10.0)


def test_a_methods_own_rt_window_replaces_the_rules(lab):
    """SANTE allows ±0.1 min; a method that sets its RT window to ±0.05 min refuses a peak 0.08 min off."""
    _strategy(lab, "external_standard", identification="sante")
    loose = _identified_run(lab, "Q-W1", 8.28)
    _strategy(lab, "external_standard", identification="sante", rt_tolerance_min=0.05)
    tight = _identified_run(lab, "Q-W2", 8.28)
    with lab() as s:
        assert s.get(Result, loose).details["identification"]["identified"]
        ident = s.get(Result, tight).details["identification"]
        assert not ident["identified"] and ident["rt_tolerance_min"] == 0.05
    with pytest.raises(InvalidInput) as err:
        with session_scope(lab, actor="qa") as s:
            set_method_qc(s, "GC-OP", MethodQcSettings(rt_tolerance_percent=2.5))  # minutes already set
    assert err.value.field == "rt_tolerance_percent"
