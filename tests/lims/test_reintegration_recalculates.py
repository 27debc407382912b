"""A manual re-integration recalculates the result it was made for (lims.services.chromatography.
reintegrate_result): the new area goes through batches.quantify with the curve's stored fit and the result's
own preparation; an unsigned draft is updated in place, an authored one gets a new version naming it, a
certified one is refused (amendment only); the limit decision is made again for the new value.
The expected numbers are worked out here from the curve's stored parameters (linear fit: x = (A − b) / m)."""

from __future__ import annotations

import pytest
from hardware_sim.chromatogram import ChromatogramSpec, Peak, write_all
from sqlalchemy import select

from calibration.chromatogram import RetentionWindow
from lims.db.engine import session_scope
from lims.db.models import AuditEvent, CalibrationCurve, Instrument, Lab, Reading, Result, User
from lims.db.verify import verify_database
from lims.demo import LAB_CODE, PASSWORDS
from lims.services import batches, chromatography, signoff
from lims.services.errors import Conflict
from tests.lims.test_quantitation import INTERCEPT, LEVELS, PATTERN, _samples, lab  # noqa: F401  (lab: a fixture)

MASS_G, VOLUME_ML, DILUTION = 10.0, 10.0, 2.0  # mg/kg = x · 10 mL / 10 g · 2 = 2·x
MRL = 0.05  # chlorpyrifos in celery (GB 2763-2021, the demo's starter table)
REASON = "肩峰未积分，手动合并积分"


@pytest.fixture
def gc_lab(lab):  # noqa: F811
    """test_quantitation's lab (reference data, monitoring task T-Q) with the GC the exports come from."""
    with session_scope(lab, actor="setup") as s:
        s.add(Instrument(lab_id=s.execute(select(Lab.id)).scalar_one(), code="GC-01", name="GC",
                         profile="file:andi-netcdf"))
    return lab


def _quantified(factory, tmp_path, code: str) -> tuple[int, float, float, float]:
    """A result from an imported peak, its curve made so that the automatic area gives 0.040 mg/kg (below the
    MRL): (result id, automatic area, stored slope m, stored intercept b). The chlorpyrifos peak has a shoulder
    at 8.32 min that the automatic integration drops at the valley; a manual integration over both is larger."""
    (aid,) = _samples(factory, [code])
    spec = ChromatogramSpec(peaks=(Peak("CHLORPYRIFOS", 8.2, 3000.0, sigma_s=2.0), Peak("SHOULDER", 8.32, 1500.0,
                                                                                      sigma_s=2.0)),
                            run_time_min=12.0, sampling_interval_s=0.1, seed=7, noise_sd=0.02)
    files = write_all(spec, tmp_path, stem=code)
    with session_scope(factory, actor="zhangwei") as s:
        run = chromatography.import_run(s, files.netcdf, instrument_code="GC-01", sample_code=code,
                                        windows=[RetentionWindow("CHLORPYRIFOS", 8.2, 0.1)])
        reading = s.get(Reading, run.peaks["CHLORPYRIFOS"])
        area = float(reading.fields["area"])
        slope = (area - INTERCEPT) / 0.020  # the automatic area ↔ 0.020 mg/L ↔ 0.040 mg/kg
        batch = batches.create_batch(s, code=f"B-{code}", method_code="GC-OP", instrument_code="GC-01",
                                     analysis_ids=[aid])
        curve = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS", concentrations=LEVELS,
                                    responses=[INTERCEPT + slope * x * p for x, p in zip(LEVELS, PATTERN, strict=True)])
        batches.add_qc(s, f"B-{code}", kind="reagent_blank", analyte_code="CHLORPYRIFOS", measured_value=0.0,
                       reporting_limit=0.01)
        assert batches.evaluate_batch_qc(s, f"B-{code}").passed
        tech = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
        result = batches.quantify(s, batches.QuantifyAnalysis(
            analysis_id=aid, curve_id=curve.id, response=area, sample_mass_g=MASS_G, extract_volume_ml=VOLUME_ML,
            dilution_factor=DILUTION, analyst_id=tech, reading_id=reading.id))
        m, b = curve.params["slope"], curve.params["intercept"]
        return result.id, area, m, b


def _mg_kg(area: float, m: float, b: float) -> float:
    return (area - b) / m * VOLUME_ML / MASS_G * DILUTION  # x mg/L · 10 mL / 10 g · dilution 2


def test_unsigned_draft_is_recalculated_in_place_and_its_verdict_flips(gc_lab, tmp_path):
    rid, auto_area, m, b = _quantified(gc_lab, tmp_path, "R-1")
    with gc_lab() as s:
        before = s.get(Result, rid)
        assert before.verdict == "compliant"
        assert before.details["mg_kg_unrounded"] == pytest.approx(_mg_kg(auto_area, m, b), rel=1e-12)
        assert before.value == pytest.approx(0.040, abs=0.0011)  # 2 significant figures (SANTE)
    with session_scope(gc_lab, actor="zhangwei", reason=REASON) as s:
        done = chromatography.reintegrate_result(s, rid, start_min=7.95, end_min=8.65, reason=REASON)
        assert done.result.id == rid  # nothing was signed: the same record
        new_area = float(done.reading.fields["area"])
    assert new_area > 1.3 * auto_area  # the shoulder is in
    expected = _mg_kg(new_area, m, b)  # e.g. (1.45·A − b)/m · 2 ≈ 0.058 mg/kg
    assert expected > MRL
    with gc_lab() as s:
        r = s.get(Result, rid)
        assert r.version == 1 and r.supersedes_id is None and r.status == "to_be_reviewed"
        assert r.details["response"] == new_area
        assert r.details["mg_kg_unrounded"] == pytest.approx(expected, rel=1e-12)
        assert r.details["extract_mg_l"] == pytest.approx((new_area - b) / m, rel=1e-12)
        assert r.value == float(f"{expected:.2g}") and r.value_text == f"{expected:.2g}"
        assert r.verdict == "non_compliant" and r.reading_id == done.reading.id
        trail = r.details["reintegration"]
        assert trail["before"]["area"] == auto_area and trail["after"]["area"] == new_area
        assert trail["before"]["value"] == before.value and trail["after"]["value"] == r.value
        assert trail["before"]["verdict"] == "compliant" and trail["after"]["verdict"] == "non_compliant"
        assert trail["reason"] == REASON and trail["in_place"] is True
        assert len(s.execute(select(Result.id)).all()) == 1  # the computation left no second row
        updates = s.execute(select(AuditEvent).where(AuditEvent.table_name == "result",
                                                     AuditEvent.action == "update")).scalars().all()
        assert updates and all(e.actor == "zhangwei" for e in updates)
        assert verify_database(s).ok


def test_authored_result_gets_a_new_version_and_a_certified_one_is_refused(gc_lab, tmp_path):
    rid, auto_area, m, b = _quantified(gc_lab, tmp_path, "R-2")
    with session_scope(gc_lab, actor="zhangwei") as s:
        signoff.author_results(s, [rid], username="zhangwei", password=PASSWORDS["zhangwei"])
    with session_scope(gc_lab, actor="zhangwei", reason=REASON) as s:
        done = chromatography.reintegrate_result(s, rid, start_min=7.95, end_min=8.65, reason=REASON)
        new_id, new_area = done.result.id, float(done.reading.fields["area"])
    assert new_id != rid
    with gc_lab() as s:
        old, new = s.get(Result, rid), s.get(Result, new_id)
        assert old.status == "rejected" and old.value == pytest.approx(0.040, abs=0.0011)  # as signed, kept
        assert old.verdict == "compliant"
        assert new.supersedes_id == rid and new.version == 2 and new.status == "to_be_reviewed"
        assert new.details["mg_kg_unrounded"] == pytest.approx(_mg_kg(new_area, m, b), rel=1e-12)
        assert new.verdict == "non_compliant" and new.details["reintegration"]["in_place"] is False
        assert new.details["dilution_factor"] == DILUTION and new.curve_id == old.curve_id
        assert new.details["reintegration"]["before"]["result_id"] == rid
    # the new version goes through signing, review and approval like any result
    for who, sign in (("zhangwei", signoff.author_results), ("liqiang", signoff.review_results)):
        with session_scope(gc_lab, actor=who) as s:
            sign(s, [new_id], username=who, password=PASSWORDS[who])
    with session_scope(gc_lab, actor="wangfang") as s:
        signoff.approve_results(s, [new_id], username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB_CODE)
    with pytest.raises(Conflict) as err, session_scope(gc_lab, actor="zhangwei", reason=REASON) as s:
        chromatography.reintegrate_result(s, new_id, start_min=8.0, end_min=8.6, reason=REASON)
    assert err.value.code == "result.already_current"  # certified: amendment only
    with session_scope(gc_lab, actor="zhangwei", reason="dilution not entered") as s:
        amendment = signoff.amend_result(s, new_id, value=0.12, value_text="0.12", reason="dilution not entered",
                                         analyst_id=s.get(Result, new_id).analyst_id).id
    with pytest.raises(Conflict) as err, session_scope(gc_lab, actor="zhangwei", reason=REASON) as s:
        chromatography.reintegrate_result(s, amendment, start_min=8.0, end_min=8.6, reason=REASON)
    assert err.value.code == "result.already_current"  # nor its amendment, whose value was entered by hand


def test_curve_record_not_refitted(gc_lab, tmp_path):
    """The recalculation inverts the curve's stored fit: points edited underneath change nothing."""
    rid, _auto, m, b = _quantified(gc_lab, tmp_path, "R-3")
    with session_scope(gc_lab, actor="someone", reason="points edited underneath") as s:
        curve = s.get(CalibrationCurve, s.get(Result, rid).curve_id)
        curve.points = [[x, y * 1.3] for x, y in curve.points]
    with session_scope(gc_lab, actor="zhangwei", reason=REASON) as s:
        done = chromatography.reintegrate_result(s, rid, start_min=7.95, end_min=8.65, reason=REASON)
        assert done.result.details["mg_kg_unrounded"] == pytest.approx(
            _mg_kg(float(done.reading.fields["area"]), m, b), rel=1e-12)


def test_result_page_reintegration_shows_the_trail_and_the_new_version(gc_lab, db_engine, tmp_path):
    """The result page's form: the signed result's recalculation opens as the new version, its calculation
    shows old area → new area, old value → new value, the decision flipped, and the reason."""
    import re

    from api.app import create_app
    from tests.api.ui_session import signed_in

    rid, auto_area, m, b = _quantified(gc_lab, tmp_path, "R-4")
    with session_scope(gc_lab, actor="zhangwei") as s:
        signoff.author_results(s, [rid], username="zhangwei", password=PASSWORDS["zhangwei"])
    tech = signed_in(create_app(db_engine), "zhangwei")
    page = tech.get(f"/results/{rid}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    ok = tech.post(f"/results/{rid}/reintegrate", data={"csrf_token": token, "start_min": "7.95", "end_min": "8.65",
                                                        "reason": REASON}, follow_redirects=False)
    assert ok.status_code == 303
    with gc_lab() as s:
        new = s.execute(select(Result).where(Result.supersedes_id == rid)).scalar_one()
        new_area = new.details["response"]
    assert ok.headers["location"] == f"/results/{new.id}?done=reintegrated"
    shown = tech.get(ok.headers["location"]).text
    trail = re.sub(r"<[^>]+>", " ", shown.split('id="reintegration"')[1].split("</dd>")[0])
    words = " ".join(trail.split())
    new_text = new.value_text  # the hand value to 2 significant figures (SANTE), e.g. 0.059
    assert float(new_text) == pytest.approx(_mg_kg(new_area, m, b), abs=0.0005) and float(new_text) > MRL
    assert f"{auto_area:.6g} → {new_area:.6g}" in words and f"0.040 → {new_text} mg/kg" in words
    assert "合格 → 不合格" in words and REASON in words and "结果已按新峰面积重新计算" in shown
    assert f'href="/results/{rid}"' in shown
