"""The home page: where the day's work stands.

Today's samples and batches (the lab's local day, Beijing time), work overdue by its turnaround time,
non-compliant results, QC alerts (batches held by QC, Westgard rejections), instrument links, calibrations
due and materials expiring (the quality registers, lims.quality), overdue nonconformities and CAPA actions,
and the upstream outbox's backlog. Every list is short (``SHOWN``); the counts are exact.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.acquisition.unmatched import unmatched_counts
from lims.clock import as_utc, utcnow
from lims.db.models import Analysis, Batch, Instrument, Method, Result, Sample
from lims.db.models_quality import QcRun
from lims.quality import instruments as inst_register
from lims.quality import materials, nonconformity
from lims.quality.registers_vocab import Fitness
from lims.services.signoff import TZ_CHINA
from lims.services.views.common import iso
from lims.services.views.reports import latest_reports
from lims.upstream import queue
from lims.vocabulary import AnalysisKind, BatchStatus, ResultStatus, SampleStatus, Verdict

#: Rows shown per list on the dashboard.
SHOWN = 10
#: Turnaround targets from receipt to approval: a rapid screening test within a working day, a laboratory
#: (confirmatory) analysis within 7 days — the lab's own service targets (ISO/IEC 17025:2017 7.1.1 agrees
#: them with the customer; monitoring task notices usually ask for results within 5–7 working days).
TURNAROUND = {AnalysisKind.SCREENING.value: dt.timedelta(days=1),
              AnalysisKind.CONFIRMATORY.value: dt.timedelta(days=7)}
DEFAULT_TURNAROUND = dt.timedelta(days=7)
#: Calibrations shown as due within this many days, materials as expiring within this many.
DUE_WITHIN_DAYS = 30
#: Samples whose work is finished (no longer counted as open or overdue).
FINISHED = (SampleStatus.APPROVED.value, SampleStatus.REPORTED.value)
#: Verdicts that make a result non-compliant on the dashboard.
NON_COMPLIANT = (Verdict.NON_COMPLIANT.value, Verdict.BANNED_SUBSTANCE_DETECTED.value)
#: Result versions that count (not superseded by a correction, not a re-test request).
CURRENT = (ResultStatus.TO_BE_REVIEWED.value, ResultStatus.REVIEWED.value, ResultStatus.CERTIFIED.value,
           ResultStatus.REPORTED.value)


def local_day(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (UTC, naive as stored) of the lab's local day (Beijing time) holding ``now``."""
    local = as_utc(now).astimezone(TZ_CHINA)
    start = dt.datetime.combine(local.date(), dt.time(0), tzinfo=TZ_CHINA).astimezone(dt.UTC)
    return start.replace(tzinfo=None), (start + dt.timedelta(days=1)).replace(tzinfo=None)


def _naive(value: dt.datetime) -> dt.datetime:
    return as_utc(value).replace(tzinfo=None)


def _sample_row(smp: Sample) -> dict[str, Any]:
    return {"code": smp.code, "commodity": smp.commodity.name_zh if smp.commodity else "",
            "commodity_en": smp.commodity.name_en if smp.commodity else "",
            "producer": smp.producer.name if smp.producer else "", "status": smp.status,
            "received_at": iso(smp.received_at), "created_at": iso(smp.created_at)}


def todays_work(s: Session, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Samples received or registered today, and batches made today."""
    day = func.coalesce(Sample.received_at, Sample.created_at)
    samples = s.execute(select(Sample).where(day >= start, day < end).order_by(Sample.id.desc())).scalars().all()
    by_status: dict[str, int] = {}
    for smp in samples:
        by_status[smp.status] = by_status.get(smp.status, 0) + 1
    batches = s.execute(select(Batch, Method.code).join(Method, Method.id == Batch.method_id)
                        .where(Batch.created_at >= start, Batch.created_at < end)
                        .order_by(Batch.id.desc())).all()
    return {"samples": [_sample_row(x) for x in samples[:SHOWN]], "samples_total": len(samples),
            "samples_by_status": by_status,
            "batches": [{"code": b.code, "method": m, "status": b.status, "created_at": iso(b.created_at)}
                        for b, m in batches[:SHOWN]], "batches_total": len(batches)}


def overdue_samples(s: Session, now: dt.datetime) -> dict[str, Any]:
    """Open samples past their turnaround target (:data:`TURNAROUND`, the slowest of their analyses'
    kinds), the longest overdue first."""
    now = _naive(now)
    open_samples = s.execute(select(Sample).where(Sample.status.not_in(FINISHED), Sample.received_at.is_not(None))
                             ).scalars().all()
    kinds: dict[int, set[str]] = {}
    ids = [x.id for x in open_samples]
    for sid, kind in s.execute(select(Analysis.sample_id, Analysis.kind).where(Analysis.sample_id.in_(ids))
                               .distinct()).all() if ids else ():
        kinds.setdefault(sid, set()).add(kind)
    late = []
    for smp in open_samples:
        target = max((TURNAROUND.get(k, DEFAULT_TURNAROUND) for k in kinds.get(smp.id, ())),
                     default=DEFAULT_TURNAROUND)
        due = _naive(smp.received_at) + target  # type: ignore[arg-type]
        if due < now:
            hours = (now - due).total_seconds() / 3600
            late.append({**_sample_row(smp), "due_at": iso(due), "hours_overdue": round(hours, 1),
                         "target_days": target.days})
    late.sort(key=lambda r: -r["hours_overdue"])
    return {"rows": late[:SHOWN], "total": len(late)}


def non_compliant_results(s: Session, start: dt.datetime) -> dict[str, Any]:
    """Current non-compliant results (not superseded), the newest first; how many came today."""
    q = (select(Result, Sample.code, Analysis).join(Analysis, Analysis.id == Result.analysis_id)
         .join(Sample, Sample.id == Analysis.sample_id)
         .where(Result.verdict.in_(NON_COMPLIANT), Result.status.in_(CURRENT)))
    total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    today = s.execute(select(func.count()).select_from(q.where(Result.created_at >= start).subquery())).scalar_one()
    rows = s.execute(q.order_by(Result.id.desc()).limit(SHOWN)).all()
    return {"total": int(total), "today": int(today), "rows": [
        {"id": r.id, "sample_code": code, "analyte": a.analyte.name_zh if a.analyte else "",
         "analyte_en": a.analyte.name_en if a.analyte else "",
         "value_text": r.value_text, "unit": r.unit, "verdict": r.verdict, "status": r.status,
         "created_at": iso(r.created_at)} for r, code, a in rows]}


def qc_alerts(s: Session, since: dt.datetime) -> dict[str, Any]:
    """Batches held by failed or pending QC, and Westgard rejections since ``since``."""
    held = s.execute(select(Batch, Method.code).join(Method, Method.id == Batch.method_id)
                     .where(Batch.status == BatchStatus.QC_FAILED.value).order_by(Batch.id.desc())).all()
    runs = s.execute(select(QcRun).where(QcRun.accepted.is_(False), QcRun.run_at >= since)
                     .order_by(QcRun.id.desc()).limit(SHOWN)).scalars().all()
    return {"held": [{"code": b.code, "method": m, "qc_summary": b.qc_summary, "created_at": iso(b.created_at)}
                     for b, m in held[:SHOWN]], "held_total": len(held),
            "rejections": [{"code": r.code, "material": r.material, "analyte": r.analyte,
                            "instrument": r.instrument, "rules": ", ".join(map(str, r.rejections)),
                            "run_at": iso(r.run_at), "nonconformity_id": r.nonconformity_id} for r in runs]}


def instrument_status(s: Session, today: dt.date) -> dict[str, Any]:
    """Each instrument's link (connected, last message, silent since), its fitness for use and unmatched
    readings; calibrations due within :data:`DUE_WITHIN_DAYS` or already unfit."""
    fitness = {f.instrument: f for f in inst_register.schedule(s, today=today, within_days=DUE_WITHIN_DAYS)}
    unmatched = unmatched_counts(s)
    rows = []
    for inst in s.execute(select(Instrument).order_by(Instrument.code)).scalars():
        fit = fitness.get(inst.code)
        rows.append({"code": inst.code, "name": inst.name, "connected": inst.connected,
                     "last_message_at": iso(inst.last_message_at),
                     "silent_since": iso(inst.silent_since),
                     "fitness": fit.fitness if fit else Fitness.FIT.value,
                     "calibration_due": fit.calibration_due.isoformat() if fit and fit.calibration_due else None,
                     "unmatched": unmatched.get(inst.id, 0)})
    horizon = today + dt.timedelta(days=DUE_WITHIN_DAYS)
    due = [{"instrument": f.instrument, "fitness": f.fitness, "reason": f.reason,
            "calibration_due": f.calibration_due.isoformat() if f.calibration_due else None,
            "days_left": (f.calibration_due - today).days if f.calibration_due else None}
           for f in fitness.values()
           if not f.may_feed or (f.calibration_due is not None and f.calibration_due <= horizon)]
    return {"instruments": rows, "connected": sum(r["connected"] for r in rows), "calibrations_due": due}


def expiring_materials(s: Session, today: dt.date) -> list[dict[str, Any]]:
    """Reagent and reference-material lots whose usable life ends within :data:`DUE_WITHIN_DAYS` (or has
    ended), the soonest first."""
    lots = materials.list_lots(s, expiring_within_days=DUE_WITHIN_DAYS, today=today)
    rows = [{"code": lot.code, "name": lot.name, "kind": lot.kind, "usable_until": materials.usable_until(lot),
             } for lot in lots]
    return [{**r, "days_left": (r["usable_until"] - today).days, "usable_until": r["usable_until"].isoformat()}
            for r in rows][:SHOWN]


def overdue_capa(s: Session, today: dt.date) -> list[dict[str, Any]]:
    """Open nonconformities past their due date and CAPA actions not done by theirs (lims.quality)."""
    return [{"nonconformity_id": o.nonconformity_id, "action_id": o.action_id, "what": o.what, "owner": o.owner,
             "due_date": o.due_date.isoformat(), "days_overdue": o.days_overdue}
            for o in nonconformity.overdue(s, today=today)][:SHOWN]


def upstream_backlog(s: Session) -> dict[str, Any]:
    """The outbox: messages waiting, failing, dead-lettered, and the oldest waiting one."""
    st = queue.status(s)
    return {"pending": st.pending, "failed": st.failed, "dead_letter": st.dead_letter, "delivered": st.delivered,
            "oldest_pending_at": iso(st.oldest_pending_at)}


def dashboard(s: Session, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything the home page shows, as of ``now`` (default: the clock)."""
    now = now or utcnow()
    start, end = local_day(now)
    today = as_utc(now).astimezone(TZ_CHINA).date()
    counts = dict(s.execute(select(Result.status, func.count()).group_by(Result.status)).all())
    return {"today": today.isoformat(), "work": todays_work(s, start, end), "overdue": overdue_samples(s, now),
            "non_compliant": non_compliant_results(s, start),
            "qc": qc_alerts(s, start - dt.timedelta(days=DUE_WITHIN_DAYS)),
            "instruments": instrument_status(s, today), "materials": expiring_materials(s, today),
            "capa": overdue_capa(s, today), "upstream": upstream_backlog(s),
            "to_review": int(counts.get(ResultStatus.TO_BE_REVIEWED.value, 0)),
            "to_approve": int(counts.get(ResultStatus.REVIEWED.value, 0)),
            "reports": latest_reports(s)}
