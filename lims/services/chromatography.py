"""Chromatograph export files into the record: the file's bytes are kept as a raw capture (by
content hash, once), the trace is baseline-corrected and integrated (calibration/), and each peak
found in an analyte's retention-time window becomes a reading. A manual re-integration is a new
reading that names the automatic one it replaces; the automatic one is kept (ISO/IEC 17025 7.5,
7.11.3; 21 CFR 11.10(e))."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.db.audit import append_events
from lims.db.models import Instrument, RawCapture, Reading, Result, Signature
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.lookup import get_by_code
from lims.vocabulary import FROZEN_RESULT_STATUSES, ParseStatus, ResultStatus
from lims.workflow import transition

if TYPE_CHECKING:  # numpy, the readers and the integration load with the first run imported, not the web app
    from calibration.chromatogram import RetentionWindow


@dataclass(frozen=True)
class ImportedRun:
    capture_id: int
    sample_code: str
    peaks: dict[str, int | None]  # analyte → reading id (None: no peak in its window)
    duplicate: bool
    error: str = ""  # why the file could not be read (its capture is kept with this error)


def import_run(s: Session, path: Path, *, instrument_code: str, sample_code: str,
               windows: list[RetentionWindow], channel: str | None = None,
               qualifier_channel: str | None = None) -> ImportedRun:
    """Store the export file (once per content hash), integrate it, record one reading per analyte peak.
    With ``qualifier_channel`` (MS: the qualifier transition's trace) each peak's reading also carries the
    ion ratio qualifier/quantifier area, which identification checks (lims.services.quantitation)."""
    import numpy as np

    from calibration.chromatogram import assign_peaks, integrate_chromatogram
    from drivers.files import ChromatogramFileError, read_chromatogram_bytes

    inst = get_by_code(s, Instrument, instrument_code, field="instrument_code")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    existing = s.execute(select(RawCapture).where(RawCapture.sha256 == digest,
                                                  RawCapture.instrument_id == inst.id)).scalars().first()
    if existing is not None:
        readings = s.execute(select(Reading).where(Reading.raw_capture_id == existing.id)).scalars().all()
        return ImportedRun(existing.id, sample_code, {r.fields["analyte"]: r.id for r in readings}, True)
    cap = RawCapture(instrument_id=inst.id, data=data, sha256=digest, profile=f"file:{path.suffix.lstrip('.')}",
                     stream_offset=0)
    s.add(cap)
    s.flush()
    try:
        parsed = read_chromatogram_bytes(data, str(path))
    except ChromatogramFileError as exc:  # kept with the capture, never lost
        transition(cap, ParseStatus.ERROR)
        cap.error = f"{type(exc).__name__}: {exc}"
        return ImportedRun(cap.id, sample_code, {}, False, cap.error)
    traces = [t for t in parsed.traces if channel is None or t.channel == channel]
    if not traces:
        transition(cap, ParseStatus.ERROR)
        cap.error = f"{path.name}: no chromatogram trace{f' named {channel}' if channel else ''} in the file"
        return ImportedRun(cap.id, sample_code, {}, False, cap.error)
    trace = traces[0]
    integ = integrate_chromatogram(np.asarray(trace.times_min), np.asarray(trace.signal))
    assigned = assign_peaks(integ.peaks, windows)
    qualifier = _qualifier_areas(parsed.traces, qualifier_channel, windows)
    transition(cap, ParseStatus.PARSED)
    out: dict[str, int | None] = {}
    for analyte, peak in assigned.items():
        if peak is None:
            out[analyte] = None
            continue
        rd = Reading(raw_capture_id=cap.id, instrument_id=inst.id, record_type="PEAK", channel=None,
                     sample_code=sample_code, run_no=path.name,
                     fields={"analyte": analyte, "retention_time_min": peak.retention_time_min, "area": peak.area,
                             "height": peak.height, "start_min": peak.start_min, "end_min": peak.end_min,
                             "baseline_code": peak.baseline_code, "integration": "automatic",
                             "noise_sd": integ.noise_sd, "format": parsed.source_format})
        if qualifier.get(analyte) and peak.area > 0:
            rd.fields = {**rd.fields, "qualifier_area": qualifier[analyte], "ion_ratio": qualifier[analyte] / peak.area}
        s.add(rd)
        s.flush()
        out[analyte] = rd.id
    inst.message_count += 1
    return ImportedRun(cap.id, sample_code, out, False)


def _qualifier_areas(traces: Sequence[Any], channel: str | None,
                     windows: list[RetentionWindow]) -> dict[str, float]:
    """Analyte → qualifier peak area in its window on the qualifier trace (absent: no such trace or peak)."""
    import numpy as np

    from calibration.chromatogram import assign_peaks, integrate_chromatogram

    if channel is None:
        return {}
    trace = next((t for t in traces if t.channel == channel), None)
    if trace is None:
        return {}
    integ = integrate_chromatogram(np.asarray(trace.times_min), np.asarray(trace.signal))
    return {a: float(p.area) for a, p in assign_peaks(integ.peaks, windows).items() if p is not None}


def reintegrate(s: Session, reading_id: int, *, start_min: float, end_min: float, reason: str) -> Reading:
    """Manual re-integration between two times (straight baseline): a new reading; the automatic kept."""
    import numpy as np

    from drivers.files import read_chromatogram_bytes

    if len(reason.strip()) < 5:
        raise InvalidInput("a manual re-integration needs a reason", field="reason")
    auto = s.get(Reading, reading_id)
    if auto is None or auto.record_type != "PEAK":
        raise NotFound(f"peak reading {reading_id} does not exist", field="reading_id")
    if end_min <= start_min:
        raise InvalidInput("end must be after start", field="end_min")
    already = s.execute(select(Reading.id).where(Reading.record_type == "PEAK_MANUAL",
                                                 Reading.run_no == f"replaces:{reading_id}")).first()
    if already:
        raise Conflict(f"peak {reading_id} was already re-integrated", field="reading_id")
    cap = s.get(RawCapture, auto.raw_capture_id)
    assert cap is not None
    trace = read_chromatogram_bytes(cap.data, auto.run_no).traces[0]
    t = np.asarray(trace.times_min)
    y = np.asarray(trace.signal)
    sel = (t >= start_min) & (t <= end_min)
    if sel.sum() < 3:
        raise InvalidInput("the interval holds fewer than 3 points", field="start_min")
    ts, ys = t[sel], y[sel]
    base = ys[0] + (ys[-1] - ys[0]) * (ts - ts[0]) / (ts[-1] - ts[0])
    above = ys - base
    area = float(np.trapezoid(above, ts * 60.0))
    apex = int(np.argmax(above))
    manual = Reading(raw_capture_id=auto.raw_capture_id, instrument_id=auto.instrument_id,
                     record_type="PEAK_MANUAL", sample_code=auto.sample_code, run_no=f"replaces:{reading_id}",
                     fields={**auto.fields, "area": area, "height": float(above[apex]),
                             "retention_time_min": float(ts[apex]), "start_min": start_min, "end_min": end_min,
                             "integration": "manual", "reason": reason, "automatic_area": auto.fields["area"]})
    s.add(manual)
    s.flush()
    # readings are not echoed into the trail row by row (lims.acquisition); a person's re-integration is
    append_events(s, [("reintegrate", "reading", str(manual.id),
                       {"reading_id": auto.id, "area": auto.fields["area"], "start_min": auto.fields["start_min"],
                        "end_min": auto.fields["end_min"], "integration": "automatic"},
                       {"reading_id": manual.id, "area": area, "start_min": start_min, "end_min": end_min,
                        "integration": "manual", "reason": reason})])
    return manual


def reintegrate_result(s: Session, result_id: int, *, start_min: float, end_min: float,
                       reason: str) -> Reintegrated:
    """Manual re-integration of the peak a result was quantified from (:func:`reintegrate` of its automatic
    reading; the web UI's form names the result, never a reading, so no other run's peak can be touched),
    and the result recalculated from the new area by :func:`lims.services.batches.quantify` — the function
    that made it, with the curve's stored fit and the result's own preparation (IS response, dilution,
    recovery, LOD/LOQ), the limit decision made again:

    - nothing signed yet (to be reviewed, no authorship): the draft is updated in place;
    - authored or reviewed: a new version naming the one it replaces (``supersedes_id``), to be signed,
      reviewed and approved again; the replaced one, whose signatures bound the old number, is withdrawn
      (rejected: the only way out of review the workflow allows);
    - certified or reported, or an amendment of a certified result: refused — corrected by amendment only;
    - rejected (withdrawn, re-tested): the re-integration is recorded, the result is not recalculated.

    The trail (old area → new area, old value → new value, the reason) is in ``details["reintegration"]``."""
    result = s.get(Result, result_id)
    if result is None:
        raise NotFound(f"result {result_id} does not exist", field="result_id")
    if result.status in FROZEN_RESULT_STATUSES:
        raise Conflict(f"result {result_id} is {result.status}: a certified result is corrected by amendment "
                       "(a new version with its reason), not by re-integration", field="result_id",
                       code="result.already_current")
    amended = s.get(Result, result.supersedes_id) if result.supersedes_id is not None else None
    if amended is not None and amended.status in FROZEN_RESULT_STATUSES:
        raise Conflict(f"result {result_id} amends certified result {amended.id} with the value its amendment gave: "
                       "re-integrate by a new amendment of the certified result", field="result_id",
                       code="result.already_current")
    reading = s.get(Reading, result.reading_id) if result.reading_id is not None else None
    if reading is not None and reading.record_type == "PEAK_MANUAL":
        reading = s.get(Reading, int(str(reading.run_no).removeprefix("replaces:")))
    if reading is None or reading.record_type != "PEAK":
        raise Conflict(f"result {result_id} was not quantified from an integrated peak", field="result_id")
    manual = reintegrate(s, reading.id, start_min=start_min, end_min=end_min, reason=reason)
    if result.status == ResultStatus.REJECTED or result.curve_id is None:
        return Reintegrated(manual, result)
    return Reintegrated(manual, _requantified(s, result, reading, manual, reason))


@dataclass(frozen=True)
class Reintegrated:
    reading: Reading  # the manual peak reading
    result: Result  # the result as it now stands: the same draft, a new version, or the rejected one as it was


def _requantified(s: Session, old: Result, auto: Reading, manual: Reading, reason: str) -> Result:
    from lims.services import batches

    d = old.details or {}
    ccvs = tuple(int(c["qc_sample_id"]) for c in d.get("bracketing_ccvs") or ()) or None
    cmd = batches.QuantifyAnalysis(
        analysis_id=old.analysis_id, curve_id=int(old.curve_id or 0), response=float(manual.fields["area"]),
        sample_mass_g=float(d["sample_mass_g"]), extract_volume_ml=float(d["extract_volume_ml"]),
        dilution_factor=float(d.get("dilution_factor") or 1.0), recovery_percent=d.get("recovery_percent"),
        analyst_id=old.analyst_id, lod_mg_kg=old.lod, loq_mg_kg=old.loq, reading_id=manual.id,
        is_response=d.get("is_response"), bracketing_ccv_ids=ccvs)
    before = {"result_id": old.id, "version": old.version, "area": float(auto.fields["area"]),
              "response": d.get("response"), "value": old.value, "value_text": old.value_text,
              "verdict": old.verdict}
    signed = old.status != ResultStatus.TO_BE_REVIEWED or s.execute(select(Signature.id).where(
        Signature.record_type == "result", Signature.record_id == old.id)).first() is not None
    if signed:
        transition(old, ResultStatus.REJECTED)  # its signatures bound the old number; it no longer stands
        new = batches.quantify(s, cmd)
        new.supersedes_id = old.id
        trail_reason = f"手动重新积分 / manual re-integration: {reason}"
        new.details = {**(new.details or {}), "amendment_reason": trail_reason, "amends_result": old.id}
    else:
        batches.requantify_draft(s, old, cmd)
        new = old
    new.details = {**(new.details or {}), "reintegration": {
        "reason": reason, "reading_id": manual.id, "automatic_reading_id": auto.id, "in_place": not signed,
        "before": before, "after": {"area": float(manual.fields["area"]), "value": new.value,
                                    "value_text": new.value_text, "verdict": new.verdict}}}
    s.flush()
    return new
