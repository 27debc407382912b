"""Rapid screening results from enzyme-inhibition readings (GB/T 5009.199-2003).

A run's control channel (channel 0) gives ΔA_control; every sample channel becomes a result of the
sample's screening analysis, attached by sample ID. A positive screen (≥ 50 % inhibition) requests
a confirmatory analysis automatically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration.rapid import ScreenCall, delta_absorbance, enzyme_inhibition
from lims.db.models import (
    Analysis,
    Analyte,
    Method,
    MethodScope,
    MonitoringTask,
    Reading,
    Result,
    Sample,
    SampleStatus,
)
from lims.quality.staff import require_attribution  # authorisation matrix (issue 15)
from lims.services.batches import latest_result_versions
from lims.services.lookup import find_by_code
from lims.services.results_guard import refuse_second_result, without_current_result
from lims.vocabulary import AnalysisStatus, Verdict
from lims.workflow import transition


@dataclass
class ReadingsOutcome:
    """What turning instrument readings into results did (rapid screens here, the other instruments in
    :mod:`lims.services.attach`): the new result ids, the samples screened positive, readings naming no open
    analysis (kept, reported), runs without a valid control, and other problems."""

    results: list[int] = field(default_factory=list)
    positives: list[str] = field(default_factory=list)
    unmatched_readings: list[int] = field(default_factory=list)
    invalid_runs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


ENZYME_DECISION_RULE = "GB/T 5009.199-2003 抑制率≥50%为阳性"


def _not_held(readings: Sequence[Reading], out: ReadingsOutcome) -> list[Reading]:
    """The readings not held for review; the held ones (a run that came incomplete, a value the device
    sent as NaN/NA/out of range) are named in ``out.problems`` and give no result."""
    held = [r for r in readings if r.review_hold or r.value_state != "ok"]
    out.problems.extend(f"reading {r.id} held for review: {r.review_hold or 'value ' + r.value_state}" for r in held)
    return [r for r in readings if r not in held]


def results_from_readings(s: Session, reading_ids: list[int], *, item_record: str = "CH",
                          analyst_id: int | None = None) -> ReadingsOutcome:
    """Turn a run's readings into screening results (control first; one result per sample channel)."""
    out = ReadingsOutcome()
    readings = s.execute(select(Reading).where(Reading.id.in_(reading_ids), Reading.record_type == item_record)
                         .order_by(Reading.id)).scalars().all()
    readings = _not_held(readings, out)
    runs: dict[tuple[int, str], list[Reading]] = {}
    for r in readings:
        runs.setdefault((r.instrument_id, r.run_no), []).append(r)
    # one query for every sample's open screening analysis, one for the result versions so far
    codes = {r.sample_code for r in readings if r.channel != 0 and r.sample_code}
    open_analyses: dict[str, Analysis] = {}
    for a in s.execute(select(Analysis).join(Sample).where(
            Sample.code.in_(codes), Analysis.kind == "screening", Analysis.status.in_(("pending", "in_analysis")),
            without_current_result())  # issue 11: a reading never makes a second result of an analysis
            .order_by(Analysis.id)).scalars():
        open_analyses.setdefault(a.sample.code, a)
    batch = ScreenBatch(s, list(open_analyses.values()))
    for (_inst, run_no), items in runs.items():
        control = next((r for r in items if r.channel == 0), None)
        if control is None:
            out.invalid_runs.append(f"run {run_no}: no control channel")
            continue
        dA_control = delta_absorbance(float(control.fields["a0"]), float(control.fields["a3"]))
        for r in items:
            if r.channel == 0:
                continue
            analysis = open_analyses.pop(r.sample_code or "", None)
            if analysis is None:
                out.unmatched_readings.append(r.id)
                continue
            call = enzyme_inhibition(dA_control, delta_absorbance(float(r.fields["a0"]), float(r.fields["a3"])))
            batch.add(analysis, call.call, unit="%", inhibition_percent=call.inhibition_percent,
                      value=call.inhibition_percent if call.call != ScreenCall.INVALID else None,
                      value_text=screen_text(call.call, call.inhibition_percent), reading_id=r.id,
                      analyst_id=analyst_id, decision_rule=ENZYME_DECISION_RULE)
    batch.settle(out)
    return out


class _Outcome(Protocol):
    results: list[int]
    positives: list[str]


class ScreenBatch:
    """Screening results being made from one batch of readings: each gets the analysis's next version and
    moves its analysis and sample to review; ``settle`` flushes once and requests confirmation of positives."""

    def __init__(self, s: Session, analyses: list[Analysis]) -> None:
        self.s = s
        self.versions = latest_result_versions(s, [a.id for a in analyses])
        refuse_second_result(s, [a.id for a in analyses])  # callers select without_current_result()
        self.made: list[tuple[Result, Analysis, ScreenCall]] = []

    def add(self, analysis: Analysis, call: ScreenCall, *, source: str = "instrument", **fields: Any) -> Result:
        """``source``: "instrument" (a reading), or "manual" for a reading typed at the bench (lims.services.bench)."""
        reading = self.s.get(Reading, fields["reading_id"]) if fields.get("reading_id") else None
        require_attribution(self.s, fields.get("analyst_id"), analysis, reading.instrument_id if reading else None)
        self.versions[analysis.id] = self.versions.get(analysis.id, 0) + 1
        result = Result(analysis_id=analysis.id, version=self.versions[analysis.id], source=source,
                        qualitative=str(call), verdict=Verdict.screening(str(call)), **fields)
        self.s.add(result)
        transition(analysis, AnalysisStatus.TO_BE_REVIEWED)
        transition(analysis.sample, SampleStatus.TO_BE_REVIEWED)
        self.made.append((result, analysis, call))
        return result

    def settle(self, out: _Outcome) -> None:
        self.s.flush()
        for result, analysis, call in self.made:
            out.results.append(result.id)
            if call == ScreenCall.POSITIVE:
                out.positives.append(analysis.sample.code)
                request_confirmation(self.s, analysis)


def request_confirmation(s: Session, screening: Analysis) -> list[Analysis]:
    """A positive screen requests confirmatory analyses automatically: one per specific analyte the
    sample's monitoring task requires (or the screened analyte itself), by the confirmatory method whose
    scope covers that analyte."""
    task = find_by_code(s, MonitoringTask, screening.sample.task_code)
    codes = list(task.required_analytes) if task else []
    analytes = [a for a in s.execute(select(Analyte).where(Analyte.code.in_(codes))).scalars() if a.kind != "group"]
    fallback = s.execute(select(Method.id).where(Method.kind == "confirmatory").order_by(Method.id)
                         ).scalars().first() or screening.method_id
    created = []
    for analyte_id in [a.id for a in analytes] or [screening.analyte_id]:
        # the confirmatory method whose scope holds the analyte (method_scope), else the first one on file
        method_id = s.execute(select(Method.id).join(MethodScope, MethodScope.method_id == Method.id).where(
            Method.kind == "confirmatory", MethodScope.analyte_id == analyte_id).order_by(Method.id)
        ).scalars().first() or fallback
        a = Analysis(sample_id=screening.sample_id, method_id=method_id, analyte_id=analyte_id,
                     kind="confirmatory", status="pending", requested_by_analysis_id=screening.id)
        s.add(a)
        created.append(a)
    s.flush()
    return created


def screen_text(call: ScreenCall, pct: float) -> str:
    if call == ScreenCall.INVALID:
        return "无效 / invalid"
    label = "阳性 / positive" if call == ScreenCall.POSITIVE else "阴性 / negative"
    return f"{pct:.1f}% {label}"
