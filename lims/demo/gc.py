"""The confirmatory GC batch of the day: AIA/ANDI netCDF exports from the simulated GC-FPD are
integrated, a 6-level standard curve is fitted and stored, batch QC (blank, spike, CCV) is evaluated —
the first batch's CCV fails and holds it, the re-run passes — and the sample is quantified in mg/kg."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from hardware_sim.chromatogram import ChromatogramSpec, write_all
from hardware_sim.chromatogram import Peak as ChromPeak
from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration.chromatogram import RetentionWindow
from lims.db.models import Analysis, Instrument, Lab, Reading, User
from lims.demo.reference import PASSWORDS, TZ
from lims.services import batches, chromatography, signoff

if TYPE_CHECKING:
    from lims.demo.day import DemoDay

#: Chlorpyrifos in the celery sample (mg/kg), found by the confirmatory GC after a positive screen.
CHLORPYRIFOS_IN_CELERY_MG_KG = 0.12
GC_LEVELS_MG_L = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
GC_AREA_PER_MG_L = 52000.0  # detector response of the simulated GC-FPD, mAU·s per mg/L
GC_RT_MIN = 8.20
SAMPLE_MASS_G, EXTRACT_ML = 5.0, 10.0


def _chromatogram(day: DemoDay, stem: str, conc_mg_l: float, seed: int) -> Path:
    peaks = [ChromPeak("internal check", 5.10, 30000.0, sigma_s=2.2)]
    if conc_mg_l > 0:
        peaks.append(ChromPeak("CHLORPYRIFOS", GC_RT_MIN, conc_mg_l * GC_AREA_PER_MG_L, sigma_s=2.0, tau_s=0.6))
    spec = ChromatogramSpec(peaks=tuple(peaks), run_time_min=12.0, sampling_interval_s=0.1, seed=seed,
                            noise_sd=0.02, baseline_drift_per_min=0.08, sample_name=stem)
    return write_all(spec, day.out / "gc", stem=stem).netcdf


def _peak_area(s: Session, path: Path, sample_code: str) -> tuple[float, int | None]:
    run = chromatography.import_run(s, path, instrument_code="GC-01", sample_code=sample_code,
                                    windows=[RetentionWindow("CHLORPYRIFOS", GC_RT_MIN, 0.1)])
    rid = run.peaks.get("CHLORPYRIFOS")
    if rid is None:
        return 0.0, None
    reading = s.get(Reading, rid)
    assert reading is not None
    return float(reading.fields["area"]), rid


def confirm_gc(day: DemoDay) -> None:
    with day.uow("zhangwei", "GC instrument") as s:
        lab = s.execute(select(Lab)).scalar_one()
        s.add(Instrument(lab_id=lab.id, code="GC-01", name="气相色谱仪 GC-FPD（AIA/ANDI 导出）",
                         profile="file:andi-netcdf"))
    with day.factory() as s:
        pending = s.execute(select(Analysis.id).where(Analysis.kind == "confirmatory", Analysis.status ==
                                                      "pending", Analysis.method.has(code="GC-OP"))).scalars().all()
    if not pending:
        day.log.step("no screening positives: no confirmatory GC batch today")
        return
    for attempt, ccv_found in ((1, 0.127), (2, 0.101)):
        code = f"B-GC-{dt.datetime.now(TZ):%Y%m%d}-{attempt}"  # the day's date
        with day.uow("zhangwei", f"GC batch {code}") as s:
            batch = batches.create_batch(s, code=code, method_code="GC-OP", instrument_code="GC-01",
                                         analysis_ids=list(pending))
            areas = []
            for i, level in enumerate(GC_LEVELS_MG_L):
                area, _ = _peak_area(s, _chromatogram(day, f"{code}-STD{i + 1}", level, 100 * attempt + i),
                                          f"{code}-STD{i + 1}")
                areas.append(area)
            curve = batches.store_curve(s, batch=batch, analyte_code="CHLORPYRIFOS",
                                        concentrations=list(GC_LEVELS_MG_L), responses=areas)
            fit_k = curve.params["slope"]
            blank, _ = _peak_area(s, _chromatogram(day, f"{code}-BLK", 0.0, 900 + attempt), f"{code}-BLK")
            batches.add_qc(s, code, kind="reagent_blank", analyte_code="CHLORPYRIFOS",
                           measured_value=blank / fit_k * EXTRACT_ML / SAMPLE_MASS_G, reporting_limit=0.01)
            spike, _ = _peak_area(s, _chromatogram(day, f"{code}-SPK", 0.047, 910 + attempt), f"{code}-SPK")
            batches.add_qc(s, code, kind="spike", analyte_code="CHLORPYRIFOS", nominal_value=0.10,
                           measured_value=(spike - curve.params["intercept"]) / fit_k * EXTRACT_ML / SAMPLE_MASS_G)
            batches.add_qc(s, code, kind="ccv", analyte_code="CHLORPYRIFOS", nominal_value=0.10,
                           measured_value=ccv_found)
            qc = batches.evaluate_batch_qc(s, code)
            tech = s.execute(select(User.id).where(User.username == "zhangwei")).scalar_one()
            new_results = []
            for aid in pending:
                analysis = s.get(Analysis, aid)
                assert analysis is not None
                truth = CHLORPYRIFOS_IN_CELERY_MG_KG if analysis.sample.commodity.code == "QINCAI" else 0.0
                area, reading_id = _peak_area(
                    s, _chromatogram(day, f"{code}-{analysis.sample.code}", truth * SAMPLE_MASS_G / EXTRACT_ML,
                                          1000 * attempt + aid), analysis.sample.code)
                r = batches.quantify(s, batches.QuantifyAnalysis(
                    analysis_id=aid, curve_id=curve.id, response=area, sample_mass_g=SAMPLE_MASS_G,
                    extract_volume_ml=EXTRACT_ML, analyst_id=tech, reading_id=reading_id))
                new_results.append(r.id)
            curve_ok = curve.passed
        with day.uow("zhangwei", "authorship") as s:
            signoff.author_results(s, new_results, username="zhangwei", password=PASSWORDS["zhangwei"])
        day.log.step(f"GC batch {code}: 6-level curve from integrated AIA/ANDI exports "
                      f"(r² {curve.r2:.5f}, {'accepted' if curve_ok else 'REJECTED'}); QC "
                      f"{'passed' if qc.passed else 'FAILED: ' + '; '.join(qc.failures)}")
        if qc.passed:
            day.results += new_results
            break
        day.qc_failures += 1
        with day.uow("liqiang", "QC failure") as s:
            signoff.reject_results(s, new_results, username="liqiang", password=PASSWORDS["liqiang"],
                                   reason="批次连续校准核查(CCV)偏差超过 20%，结果暂停，重新进样", retest=True)
        day.log.step(f"batch {code} held by its failed CCV; results rejected for re-test, batch re-run")
