"""QC charts as data: control material × analyte × instrument, target mean and SD per level (set, or from
the lab's own data over ≥ 20 runs), QC runs judged by the Westgard multirule exactly as ``lims qc
westgard`` (:mod:`calibration.westgard`, rules configurable per method), Levey-Jennings points.

A rejected run holds the results of the batch it is linked to (the batch goes to ``qc_failed``, which
:func:`lims.services.batches.batch_held` reports) and opens a nonconformity (source ``qc``).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration.errors import CalibrationError
from calibration.westgard import ControlResult, Rule, default_rules, evaluate, parse_rules
from lims.clock import utcnow
from lims.db.models import Batch
from lims.db.models_quality import MethodWestgard, QcRun, QcRunValue, QcTarget
from lims.quality import nonconformity as ncs
from lims.quality.vocabulary import NcLinkKind, NcRisk, NcSource
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.lookup import get_by_code
from lims.vocabulary import BatchStatus
from lims.workflow import transition

#: Westgard (westgard.com, "Westgard Rules"; Clin Chem 1981;27:493): mean and SD from at least 20 runs.
MIN_RUNS_FOR_TARGET = 20


def _key(material: str, analyte: str, instrument: str) -> tuple[str, str, str]:
    m, a = material.strip(), analyte.strip()
    if not m or not a:
        raise InvalidInput("control material and analyte are required", field="material" if not m else "analyte",
                           code="quality.missing_text")
    return m, a, instrument.strip()


def set_target(s: Session, *, material: str, analyte: str, instrument: str = "", level: str, mean: float,
               sd: float, source: str = "set", n_runs: int = 0) -> QcTarget:
    m, a, i = _key(material, analyte, instrument)
    if not sd > 0:
        raise InvalidInput(f"sd must be > 0 (got {sd})", field="sd", code="quality.bad_target")
    row = s.execute(select(QcTarget).where(QcTarget.material == m, QcTarget.analyte == a, QcTarget.instrument == i,
                                           QcTarget.level == level)).scalar_one_or_none()
    if row is None:
        row = QcTarget(material=m, analyte=a, instrument=i, level=level, mean=mean, sd=sd, source=source,
                       n_runs=n_runs)
        s.add(row)
    else:
        row.mean, row.sd, row.source, row.n_runs, row.updated_at = mean, sd, source, n_runs, utcnow()
    s.flush()
    return row


def target_from_data(s: Session, *, material: str, analyte: str, instrument: str = "", level: str) -> QcTarget:
    """Mean and SD of the level's values in the lab's accepted runs (≥ :data:`MIN_RUNS_FOR_TARGET`)."""
    m, a, i = _key(material, analyte, instrument)
    values = [v for (v,) in s.execute(
        select(QcRunValue.value).join(QcRun, QcRun.id == QcRunValue.qc_run_id)
        .where(QcRun.material == m, QcRun.analyte == a, QcRun.instrument == i, QcRun.accepted.is_(True),
               QcRunValue.level == level).order_by(QcRun.run_at, QcRun.id))]
    if len(values) < MIN_RUNS_FOR_TARGET:
        raise Conflict(f"{len(values)} accepted runs of level {level}: at least {MIN_RUNS_FOR_TARGET} are needed",
                       field="level", code="quality.too_few_runs")
    return set_target(s, material=m, analyte=a, instrument=i, level=level, mean=statistics.fmean(values),
                      sd=statistics.stdev(values), source="lab_data", n_runs=len(values))


def set_method_rules(s: Session, method_code: str, rules: str) -> MethodWestgard:
    parsed = _parse(rules)
    text = ",".join(r.name for r in parsed)
    row = s.execute(select(MethodWestgard).where(MethodWestgard.method_code == method_code)).scalar_one_or_none()
    if row is None:
        row = MethodWestgard(method_code=method_code, rules=text)
        s.add(row)
    else:
        row.rules = text
    s.flush()
    return row


def _parse(rules: str) -> tuple[Rule, ...]:
    try:
        return parse_rules(rules)
    except CalibrationError as exc:
        raise InvalidInput(str(exc), field="rules", code="quality.unknown_rule") from None


def _rules_for(s: Session, method: str, levels: int) -> tuple[Rule, ...]:
    row = s.execute(select(MethodWestgard).where(MethodWestgard.method_code == method)).scalar_one_or_none()
    return _parse(row.rules) if row is not None else default_rules(levels)


def _targets(s: Session, key: tuple[str, str, str]) -> dict[str, QcTarget]:
    m, a, i = key
    rows = s.execute(select(QcTarget).where(QcTarget.material == m, QcTarget.analyte == a,
                                            QcTarget.instrument == i)).scalars()
    return {t.level: t for t in rows}


def _history(s: Session, key: tuple[str, str, str]) -> list[ControlResult]:
    m, a, i = key
    rows = s.execute(select(QcRun, QcRunValue).join(QcRunValue, QcRunValue.qc_run_id == QcRun.id)
                     .where(QcRun.material == m, QcRun.analyte == a, QcRun.instrument == i)
                     .order_by(QcRun.run_at, QcRun.id, QcRunValue.id)).all()
    return [ControlResult(run.code, v.level, v.value, v.mean, v.sd) for run, v in rows]


def record_run(s: Session, *, code: str, material: str, analyte: str, instrument: str = "", method: str = "",
               values: Sequence[tuple[str, float]], batch_code: str | None = None, raised_by: str = "system",
               run_at: dt.datetime | None = None) -> QcRun:
    """Judge a run of control results ``(level, value)`` against the chart's targets and history; a
    rejection holds the linked batch and opens a nonconformity."""
    key = _key(material, analyte, instrument)
    if not values:
        raise InvalidInput("a QC run needs at least one control value", field="values", code="quality.missing_text")
    targets = _targets(s, key)
    missing = sorted({lv for lv, _ in values} - set(targets))
    if missing:
        raise NotFound(f"no target mean/SD for level {', '.join(missing)} of {'/'.join(k for k in key if k)}",
                       field="level", code="quality.no_target")
    batch = get_by_code(s, Batch, batch_code, field="batch_code") if batch_code else None
    current = [ControlResult(code, lv, v, targets[lv].mean, targets[lv].sd) for lv, v in values]
    history = _history(s, key)
    rules = _rules_for(s, method, len({r.level for r in history + current}))
    try:
        verdict = evaluate(history + current, rules)[-1]
    except CalibrationError as exc:
        raise InvalidInput(str(exc), field=exc.field or "values", code="quality.bad_qc_values") from None
    run = QcRun(code=code, material=key[0], analyte=key[1], instrument=key[2], method=method,
                batch_id=batch.id if batch else None, rules=",".join(r.name for r in rules),
                accepted=verdict.accepted, warnings=list(verdict.warnings), rejections=list(verdict.rejections),
                run_at=run_at or utcnow())
    s.add(run)
    s.flush()
    for c in current:
        s.add(QcRunValue(qc_run_id=run.id, level=c.level, value=c.value, mean=c.mean, sd=c.sd))
    if not verdict.accepted:
        _reject(s, run, batch, raised_by)
    s.flush()
    return run


def _reject(s: Session, run: QcRun, batch: Batch | None, raised_by: str) -> None:
    rules = ", ".join(run.rejections)
    links = [(NcLinkKind.QC_RUN.value, run.code)]
    if batch is not None:
        earlier = batch.qc_summary if batch.status == BatchStatus.QC_FAILED else ""
        transition(batch, BatchStatus.QC_FAILED)
        batch.qc_summary = "; ".join(x for x in (earlier, f"Westgard {rules} ({run.code})") if x)
    nc = ncs.raise_nc(s, source=NcSource.QC, risk=NcRisk.HIGH, raised_by=raised_by, source_ref=run.code,
                      description=(f"质控失控：{run.material} / {run.analyte}"
                                   f"{' / ' + run.instrument if run.instrument else ''} 运行 {run.code} 违反 Westgard "
                                   f"规则 {rules}；{'批次 ' + batch.code + ' 结果暂停发放。' if batch else ''}"
                                   "需分析原因并采取纠正措施（ISO/IEC 17025:2017 7.7.1, 7.10）。"),
                      links=links)
    if batch is not None:
        ncs.link(s, nc, NcLinkKind.BATCH, batch.code, containment="withhold", note="Westgard 拒绝：批次结果暂停")
    run.nonconformity_id = nc.id


@dataclass(frozen=True)
class ChartPoint:
    run: str
    run_at: dt.datetime
    level: str
    value: float
    mean: float
    sd: float
    z: float
    accepted: bool
    rejections: tuple[str, ...]


def chart_points(s: Session, *, material: str, analyte: str, instrument: str = "",
                 level: str | None = None) -> list[ChartPoint]:
    """Levey-Jennings points of a chart, oldest first (one per control value)."""
    m, a, i = _key(material, analyte, instrument)
    q = (select(QcRun, QcRunValue).join(QcRunValue, QcRunValue.qc_run_id == QcRun.id)
         .where(QcRun.material == m, QcRun.analyte == a, QcRun.instrument == i)
         .order_by(QcRun.run_at, QcRun.id, QcRunValue.id))
    if level is not None:
        q = q.where(QcRunValue.level == level)
    return [ChartPoint(r.code, r.run_at, v.level, v.value, v.mean, v.sd, (v.value - v.mean) / v.sd, r.accepted,
                       tuple(r.rejections)) for r, v in s.execute(q).all()]


def chart_keys(s: Session) -> list[tuple[str, str, str, str]]:
    """Every Levey-Jennings chart there is data for: (material, analyte, instrument, level), sorted."""
    q = (select(QcRun.material, QcRun.analyte, QcRun.instrument, QcRunValue.level).distinct()
         .join(QcRunValue, QcRunValue.qc_run_id == QcRun.id))
    return sorted((m, a, i, lv) for m, a, i, lv in s.execute(q).all())
