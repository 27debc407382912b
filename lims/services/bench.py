"""Rapid-test readings typed at the bench, as screening results of a batch's analyses.

Where a tester has no interface (or it is down), the technician types what it shows:
- enzyme inhibition (GB/T 5009.199-2003): the control's absorbance at the start and after 3 min, and each
  sample channel's; ΔA = A(3 min) − A(0), inhibition % = (ΔA_control − ΔA_sample) / ΔA_control × 100. A run
  whose control ΔA is below 0.3 is invalid and is refused (repeat the run), nothing is recorded;
- colloidal-gold strips (competitive format): T and C line intensities with the kit's T/C cut-off, or the
  strip read by eye (negative / positive / invalid) when no reader is used.

The calls are made by :mod:`calibration.rapid`, never typed. Results are recorded as typed by hand
(``source = "manual"``, with the reason) through the same :class:`~lims.services.screening.ScreenBatch` as
readings from an instrument: one result per analysis (issue 11), analysis and sample to review, a positive
screen requests its confirmation at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration.rapid import (
    MIN_CONTROL_DELTA_A,
    ScreenCall,
    colloidal_gold_call,
    delta_absorbance,
    enzyme_inhibition,
)
from lims.db.models import Analysis, Batch
from lims.services.errors import Conflict, InvalidInput
from lims.services.lookup import get_by_code
from lims.services.screening import ENZYME_DECISION_RULE, ReadingsOutcome, ScreenBatch, screen_text
from lims.vocabulary import AnalysisKind, AnalysisStatus

#: Recorded as the reason of every rapid result typed at the bench (the technician's note follows).
TYPED_REASON = "快检读数人工录入 / rapid-test reading typed at the bench"
#: PROTOCOLS.md (c): a strip reader calls a strip invalid when its control line is below 300 counts; a typed
#: C intensity is judged the same way.
GOLD_MIN_C_INTENSITY = 300.0
#: A strip read by eye (competitive format), recorded in the result's details.
VISUAL_RULE = "胶体金竞争法目视判读：T 线不显色或显色浅于 C 线为阳性，C 线不显色为无效 / competitive strip read by eye: " \
    "no T line or T fainter than C is positive, no C line is invalid"
CALL_TEXT = {ScreenCall.POSITIVE: "阳性 / positive", ScreenCall.NEGATIVE: "阴性 / negative",
             ScreenCall.INVALID: "无效 / invalid"}


@dataclass(frozen=True)
class EnzymeChannel:
    """One sample channel: its analysis and absorbances at 412 nm at the start and after 3 min."""

    analysis_id: int
    a0: float
    a3: float


@dataclass(frozen=True)
class StripReading:
    """One strip: T and C intensities (a reader), or ``visual`` — the call read by eye (a ScreenCall value)."""

    analysis_id: int
    t_intensity: float | None = None
    c_intensity: float | None = None
    visual: str = ""


def _finite(value: float, field: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{field}: a finite number ≥ 0 is required", field=field, code="bench.bad_number")
    return value


def _batch_analyses(s: Session, batch_code: str, analysis_ids: Sequence[int]) -> list[Analysis]:
    """The named analyses, each an open screening analysis of the batch; refused otherwise (nothing recorded)."""
    if not analysis_ids:
        raise InvalidInput("enter at least one reading", field="analysis_ids", code="bench.nothing_entered")
    batch = get_by_code(s, Batch, batch_code, field="batch_code")
    found = {a.id: a for a in s.execute(select(Analysis).where(Analysis.id.in_(list(analysis_ids)))).scalars()}
    out = []
    for aid in analysis_ids:
        a = found.get(aid)
        if a is None or a.batch_id != batch.id:
            raise InvalidInput(f"analysis {aid} is not in batch {batch_code}", field="analysis_ids",
                               code="bench.not_in_batch")
        if a.kind != AnalysisKind.SCREENING:
            raise InvalidInput(f"analysis {aid} is confirmatory: enter its result by quantitation or manual entry",
                               field="analysis_ids", code="bench.not_screening")
        if a.status not in (AnalysisStatus.PENDING, AnalysisStatus.IN_ANALYSIS):
            raise Conflict(f"analysis {aid} is {a.status}: it takes no new reading", field="analysis_ids",
                           code="result.already_current")
        out.append(a)
    return out


def _reason(note: str) -> str:
    return f"{TYPED_REASON}: {note.strip()}" if note.strip() else TYPED_REASON


def enter_enzyme_run(s: Session, batch_code: str, *, control_a0: float, control_a3: float,
                     channels: Sequence[EnzymeChannel], analyst_id: int, note: str = "") -> ReadingsOutcome:
    """One enzyme-inhibition run typed at the bench: the control, then a result per sample channel. A control
    ΔA below 0.3 refuses the whole run (GB/T 5009.199-2003 §4: invalid, repeat) — nothing is recorded."""
    d_control = delta_absorbance(_finite(control_a0, "control_a0"), _finite(control_a3, "control_a3"))
    if d_control < MIN_CONTROL_DELTA_A:
        raise InvalidInput(f"control ΔA {d_control:.4f} < {MIN_CONTROL_DELTA_A}: the run is invalid, repeat it",
                           field="control_a3", code="bench.control_invalid")
    analyses = _batch_analyses(s, batch_code, [c.analysis_id for c in channels])
    batch = ScreenBatch(s, analyses)
    for analysis, ch in zip(analyses, channels, strict=True):
        d_sample = delta_absorbance(_finite(ch.a0, f"a0_{ch.analysis_id}"), _finite(ch.a3, f"a3_{ch.analysis_id}"))
        call = enzyme_inhibition(d_control, d_sample)
        batch.add(analysis, call.call, source="manual", manual_reason=_reason(note), unit="%",
                  inhibition_percent=call.inhibition_percent, value=call.inhibition_percent,
                  value_text=screen_text(call.call, call.inhibition_percent), analyst_id=analyst_id,
                  decision_rule=ENZYME_DECISION_RULE,
                  details={"control_a0": control_a0, "control_a3": control_a3, "delta_a_control": d_control,
                           "a0": ch.a0, "a3": ch.a3, "delta_a_sample": d_sample, "reason": call.reason})
    out = ReadingsOutcome()
    batch.settle(out)
    return out


def enter_strips(s: Session, batch_code: str, *, strips: Sequence[StripReading], cutoff_t_over_c: float | None,
                 analyst_id: int, note: str = "") -> ReadingsOutcome:
    """Colloidal-gold strips typed at the bench: T/C against the kit's cut-off (competitive strip: no C line
    → invalid, T/C < cut-off → positive), or the call read by eye."""
    analyses = _batch_analyses(s, batch_code, [x.analysis_id for x in strips])
    batch = ScreenBatch(s, analyses)
    for analysis, strip in zip(analyses, strips, strict=True):
        if strip.t_intensity is not None or strip.c_intensity is not None:
            call, ratio, details = _strip_call(strip, cutoff_t_over_c)
        else:
            try:
                call, ratio, details = ScreenCall(strip.visual), None, {"read_by_eye": True, "rule": VISUAL_RULE}
            except ValueError:
                raise InvalidInput(f"analysis {strip.analysis_id}: give T and C, or the strip read by eye",
                                   field=f"visual_{strip.analysis_id}", code="bench.strip_unread") from None
        text = f"T/C {ratio:.3f} {CALL_TEXT[call]}" if ratio is not None else CALL_TEXT[call]
        rule = (f"胶体金竞争法 T/C < {cutoff_t_over_c:g} 为阳性" if ratio is not None and cutoff_t_over_c is not None
                else "胶体金竞争法目视判读")  # result.decision_rule holds 30 characters; the rule is in the details
        batch.add(analysis, call, source="manual", manual_reason=_reason(note), unit="T/C" if ratio is not None else "",
                  value=ratio, value_text=text, analyst_id=analyst_id, decision_rule=rule, details=details)
    out = ReadingsOutcome()
    batch.settle(out)
    return out


def _strip_call(strip: StripReading, cutoff: float | None) -> tuple[ScreenCall, float | None, dict[str, object]]:
    aid = strip.analysis_id
    if strip.t_intensity is None or strip.c_intensity is None:
        missing = "t" if strip.t_intensity is None else "c"
        raise InvalidInput(f"analysis {aid}: give both T and C intensities", field=f"{missing}_{aid}",
                           code="bench.strip_incomplete")
    if cutoff is None or not math.isfinite(cutoff) or cutoff <= 0:
        raise InvalidInput("the kit's T/C cut-off (> 0) is needed to judge T and C", field="cutoff",
                           code="bench.cutoff_missing")
    t, c = _finite(strip.t_intensity, f"t_{aid}"), _finite(strip.c_intensity, f"c_{aid}")
    result = colloidal_gold_call(t, c, cutoff, min_c_intensity=GOLD_MIN_C_INTENSITY)
    ratio = result.t_over_c if math.isfinite(result.t_over_c) else None
    return result.call, ratio, {"t_intensity": t, "c_intensity": c, "cutoff": cutoff, "reason": result.reason}
