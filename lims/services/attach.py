"""Instrument readings become results of the sample they name, automatically.

- A colloidal-gold strip reader reports T, C and T/C per strip: the call is made again here from the kit's
  cut-off (competitive format) and a disagreeing device call is reported.
- A photometric residue analyzer (Modbus) reports the inhibition % it measured against its own
  control: the screening call follows GB/T 5009.199-2003 (≥ 50 % positive → confirmation requested).
- A GC/LC data system (ASTM E1394) reports final values per analyte: R.3 test code → analyte, R.4 value
  (``ND`` = not detected), R.5 unit; the value is judged against its limit at once.
A reading naming no open analysis stays unattached and is reported, never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration.rapid import POSITIVE_THRESHOLD_PERCENT, ScreenCall, colloidal_gold_call
from lims import units
from lims.db.models import Analysis, Analyte, Reading, Result, Sample, SampleStatus
from lims.quality.staff import require_attribution
from lims.services.batches import latest_result_versions
from lims.services.limits import decide_result
from lims.services.results_guard import without_current_result
from lims.services.screening import ENZYME_DECISION_RULE, ReadingsOutcome, ScreenBatch, screen_text
from lims.vocabulary import AnalysisStatus
from lims.workflow import transition


def _open_analyses(s: Session, codes: set[str], kind: str) -> dict[tuple[str, str], Analysis]:
    found: dict[tuple[str, str], Analysis] = {}
    for a in s.execute(select(Analysis).join(Sample).where(
            Sample.code.in_(codes), Analysis.kind == kind, Analysis.status.in_(("pending", "in_analysis")),
            without_current_result())  # issue 11: a reading never makes a second result of an analysis
            .order_by(Analysis.id)).scalars():
        found.setdefault((a.sample.code, a.analyte.code), a)
    return found


def _drop_held(readings: Sequence[Reading], out: ReadingsOutcome) -> list[Reading]:
    """Readings held for review (an unfit instrument, issue 15; an incomplete run) give no result; named."""
    out.problems.extend(f"reading {r.id} held for review: {r.review_hold}" for r in readings if r.review_hold)
    return [r for r in readings if not r.review_hold]


def _screening_run(s: Session, reading_ids: list[int]) -> tuple[list[Reading], dict[str, Analysis], ScreenBatch]:
    """A rapid tester's readings, the open screening analysis of each sample they name, and the batch
    their screening results go into."""
    readings = list(s.execute(select(Reading).where(Reading.id.in_(reading_ids)).order_by(Reading.id)).scalars())
    analyses = _open_analyses(s, {r.sample_code for r in readings if r.sample_code}, "screening")
    by_sample = {code: a for (code, _analyte), a in analyses.items()}
    return readings, by_sample, ScreenBatch(s, list(by_sample.values()))


def results_from_photometer(s: Session, reading_ids: list[int], *, analyst_id: int | None = None) -> ReadingsOutcome:
    out = ReadingsOutcome()
    readings, by_sample, batch = _screening_run(s, reading_ids)
    for r in _drop_held(readings, out):
        analysis = by_sample.pop(r.sample_code or "", None)
        if analysis is None or photometer_result(batch, analysis, r, analyst_id=analyst_id) is None:
            out.unmatched_readings.append(r.id)
    batch.settle(out)
    return out


def photometer_result(batch: ScreenBatch, analysis: Analysis, r: Reading, *, analyst_id: int | None,
                      details: dict[str, object] | None = None) -> Result | None:
    """The screening result of one photometer reading in ``analysis`` (None: the reading has no finite
    inhibition %)."""
    pct = r.fields.get("inhibition_percent")
    if not isinstance(pct, (int, float)) or not math.isfinite(pct):
        return None
    call = ScreenCall.POSITIVE if pct >= POSITIVE_THRESHOLD_PERCENT else ScreenCall.NEGATIVE
    return batch.add(analysis, call, unit="%", inhibition_percent=float(pct), value=float(pct),
                     value_text=screen_text(call, float(pct)), reading_id=r.id, analyst_id=analyst_id,
                     decision_rule=ENZYME_DECISION_RULE,
                     details={"device_estimate_mg_kg": r.fields.get("concentration_mg_kg"), **(details or {})})


#: PROTOCOLS.md (c): the reader calls a strip invalid when its control line is below 300 counts.
GOLD_MIN_C_INTENSITY = 300.0
_DEVICE_CALL = {"POS": ScreenCall.POSITIVE, "NEG": ScreenCall.NEGATIVE, "INV": ScreenCall.INVALID}


def results_from_gold(s: Session, reading_ids: list[int], *, analyst_id: int | None = None,
                      min_c_intensity: float = GOLD_MIN_C_INTENSITY) -> ReadingsOutcome:
    """Colloidal-gold strip readings → screening results. The call is made again from T, C and the kit's
    cut-off (competitive strip: no C line → invalid; T/C < cut-off → positive); a device call that
    disagrees is kept in the result's details and reported as a problem, never silently overridden."""
    out = ReadingsOutcome()
    readings, by_sample, batch = _screening_run(s, reading_ids)
    for r in _drop_held(readings, out):
        analysis = by_sample.pop(r.sample_code or "", None)
        if analysis is None or gold_result(batch, analysis, r, out, analyst_id=analyst_id,
                                           min_c_intensity=min_c_intensity) is None:
            out.unmatched_readings.append(r.id)
    batch.settle(out)
    return out


def gold_result(batch: ScreenBatch, analysis: Analysis, r: Reading, out: ReadingsOutcome, *,
                analyst_id: int | None, min_c_intensity: float = GOLD_MIN_C_INTENSITY,
                details: dict[str, object] | None = None) -> Result | None:
    """The screening result of one strip reading in ``analysis`` (None: T, C or the cut-off is missing);
    a device call that disagrees is named in ``out.problems``."""
    f = r.fields
    if not all(isinstance(f.get(k), (int, float)) for k in ("t_intensity", "c_intensity", "cutoff")):
        return None
    strip = colloidal_gold_call(float(f["t_intensity"]), float(f["c_intensity"]), float(f["cutoff"]),
                                min_c_intensity=min_c_intensity)
    device = _DEVICE_CALL.get(str(f.get("result", "")))
    if device is not None and device != strip.call:
        out.problems.append(f"reading {r.id} ({r.sample_code}): the reader called {device}, T/C gives "
                            f"{strip.call} — the recomputed call is recorded, the device's is kept")
    ratio = strip.t_over_c if math.isfinite(strip.t_over_c) else None
    text = {ScreenCall.POSITIVE: "阳性 / positive", ScreenCall.NEGATIVE: "阴性 / negative",
            ScreenCall.INVALID: "无效 / invalid"}[strip.call]
    return batch.add(analysis, strip.call, unit="T/C", value=ratio,
                     value_text=f"T/C {ratio:.3f} {text}" if ratio is not None else text, reading_id=r.id,
                     analyst_id=analyst_id, decision_rule=f"胶体金竞争法 T/C < {float(f['cutoff']):g} 为阳性",
                     details={"t_intensity": f["t_intensity"], "c_intensity": f["c_intensity"],
                              "cutoff": f["cutoff"], "device_call": f.get("result"), "reason": strip.reason,
                              **(details or {})})


def results_from_astm(s: Session, reading_ids: list[int], *, analyst_id: int | None = None) -> ReadingsOutcome:
    out = ReadingsOutcome()
    readings = _drop_held(s.execute(select(Reading).where(Reading.id.in_(reading_ids), Reading.record_type == "R")
                                    .order_by(Reading.id)).scalars().all(), out)
    analyses = _open_analyses(s, {r.sample_code for r in readings if r.sample_code}, "confirmatory")
    known = {a.code for a in s.execute(select(Analyte)).scalars()}
    versions = latest_result_versions(s, [a.id for a in analyses.values()])
    for r in readings:
        code = str(r.fields.get("test_code", "")).upper()
        analysis = analyses.pop((r.sample_code or "", code), None)
        if analysis is None:
            out.unmatched_readings.append(r.id)
            if code not in known:
                out.problems.append(f"reading {r.id}: unknown test code {code!r}")
            continue
        result = astm_result(s, analysis, r, out, versions=versions, analyst_id=analyst_id)
        if result is None:
            out.unmatched_readings.append(r.id)
        else:
            out.results.append(result.id)
    s.flush()
    return out


def astm_result(s: Session, analysis: Analysis, r: Reading, out: ReadingsOutcome, *, versions: dict[int, int],
                analyst_id: int | None, details: dict[str, object] | None = None) -> Result | None:
    """The confirmatory result of one ASTM R reading in ``analysis``, judged against its limit (None: the
    unit is not a mass fraction or the value is not a number; named in ``out.problems``). ``versions``:
    the latest result version per analysis (updated)."""
    raw = str(r.fields.get("value", "")).strip()
    unit = str(r.fields.get("units") or analysis.method.unit)
    if not units.is_mass_fraction(unit):
        out.problems.append(f"reading {r.id}: unit {unit!r} is not a mass fraction")
        return None
    if raw.upper() in ("ND", "N.D.", "<LOD"):
        value, text, detected = None, "未检出", False
        lod = analysis.method.lod_mg_kg
        if lod is not None:
            text = f"未检出（<{units.from_mg_per_kg(lod, unit):g}）"
    else:
        try:
            value = float(raw)
            if not math.isfinite(value):  # NaN/Infinity spelled out by the device (reading.value_state)
                raise ValueError(raw)
        except ValueError:
            out.problems.append(f"reading {r.id}: value {raw!r} is not a number")
            return None
        text, detected = raw, True
    require_attribution(s, analyst_id, analysis, r.instrument_id)  # authorisation matrix (issue 15)
    versions[analysis.id] = versions.get(analysis.id, 0) + 1
    result = Result(analysis_id=analysis.id, version=versions[analysis.id], value=value, value_text=text,
                    unit=unit, source="instrument", reading_id=r.id, analyst_id=analyst_id,
                    lod=None if analysis.method.lod_mg_kg is None else units.from_mg_per_kg(analysis.method.lod_mg_kg, unit),
                    loq=None if analysis.method.loq_mg_kg is None else units.from_mg_per_kg(analysis.method.loq_mg_kg, unit),
                    details={"astm": {k: r.fields.get(k) for k in ("test_code", "value", "units", "flags",
                                                                     "status", "completed_at", "instrument")},
                             **(details or {})})
    s.add(result)
    s.flush()
    decide_result(s, result, value_mg_kg=None if value is None else units.to_mg_per_kg(value, unit), detected=detected,
                  decision_limit_mg_kg=analysis.method.lod_mg_kg)
    transition(analysis, AnalysisStatus.TO_BE_REVIEWED)
    transition(analysis.sample, SampleStatus.TO_BE_REVIEWED)
    return result
