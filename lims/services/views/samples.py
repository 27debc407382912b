"""Samples as shown: the record with its analyses and results (REST and the sample page), and what
the sample page adds (custody, producer, task, reports)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from lims.db.models import (
    Analysis,
    Analyte,
    Batch,
    Commodity,
    CustodyEvent,
    Inspector,
    Lab,
    Method,
    MethodScope,
    MonitoringTask,
    Producer,
    Report,
    Sample,
    SamplingAssignment,
    User,
)
from lims.services import queries
from lims.services.lookup import find_by_code, get_by_code
from lims.services.sampling import LAB_TZ, SAMPLING_LINKS
from lims.services.views.common import iso
from lims.services.views.results import ResultRow


class AnalysisRow(TypedDict):
    """An analysis of a sample: analyte and method codes, kind, status, batch."""

    id: int
    analyte: str
    method: str
    kind: str
    status: str
    batch_id: int | None


class SampleRow(TypedDict):
    """A sample as listed."""

    code: str
    commodity: str
    commodity_code: str
    producer: str | None
    task_code: str
    status: str
    region_code: str
    sampling_link: str
    sampled_at: str | None
    received_at: str | None


class SampleDetail(SampleRow):
    """A sample with its sampling record, analyses and results (with their signatures)."""

    sampling_place: str
    certificate_no: str
    trace_code: str
    samplers: str
    condition: str
    analyses: list[AnalysisRow]
    results: list[ResultRow]


class CustodyRecorded(TypedDict):
    """A custody event just recorded."""

    id: int
    kind: str
    at: str | None


def sample_detail(s: Session, code: str) -> SampleDetail:
    """The sample ``code``: sampling record, analyses (with analyte names and batch codes for pages),
    results with signatures. NotFound when there is no such sample."""
    return _detail(s, get_by_code(s, Sample, code))


def _detail(s: Session, sample: Sample) -> SampleDetail:
    row: dict[str, Any] = queries.sample_row(sample)
    row.update({"sampling_place": sample.sampling_place, "certificate_no": sample.certificate_no,
                "trace_code": sample.trace_code, "samplers": sample.samplers, "condition": sample.condition,
                "analyses": _analyses(s, sample.id),
                "results": queries.list_results(s, sample_code=sample.code, limit=500).items})
    return cast(SampleDetail, row)


def _analyses(s: Session, sample_id: int) -> list[dict[str, Any]]:
    rows = s.execute(select(Analysis, Analyte, Method, Batch.code).join(Analyte, Analyte.id == Analysis.analyte_id)
                     .join(Method, Method.id == Analysis.method_id).outerjoin(Batch, Batch.id == Analysis.batch_id)
                     .where(Analysis.sample_id == sample_id).order_by(Analysis.id)).all()
    return [{"id": a.id, "analyte": an.code, "analyte_zh": an.name_zh, "analyte_en": an.name_en, "method": m.code,
             "standard": m.standard, "kind": a.kind, "status": a.status, "batch_id": a.batch_id, "batch": batch}
            for a, an, m, batch in rows]


def sample_record(s: Session, code: str) -> dict[str, Any]:
    """Everything the sample page shows: :func:`sample_detail` plus the commodity's names, producer,
    task, chain of custody and reports."""
    sample = get_by_code(s, Sample, code)
    row: dict[str, Any] = dict(_detail(s, sample))
    producer = sample.producer
    task = find_by_code(s, MonitoringTask, sample.task_code) if sample.task_code else None
    row.update({
        "sampling_link": SAMPLING_LINKS.get(sample.sampling_link, sample.sampling_link),
        "description": sample.description, "quantity": sample.quantity,
        "commodity_en": sample.commodity.name_en, "commodity_category": sample.commodity.category,
        "producer": None if producer is None else {
            "name": producer.name, "credit_code": producer.credit_code, "kind": producer.kind,
            "region_code": producer.region_code, "address": producer.address},
        "task": None if task is None else {"code": task.code, "name": task.name,
                                           "programme_type": task.programme_type,
                                           "issuing_authority": task.issuing_authority}})
    row["custody"] = [{"kind": e.kind, "at": iso(e.at), "actor": e.actor, "location": e.location,
                       "condition": e.condition, "sub_sample_code": e.sub_sample_code, "note": e.note,
                       "keep_until": e.keep_until.isoformat() if e.keep_until else None,
                       "temperature_c": e.temperature_c}
                      for e in s.execute(select(CustodyEvent).where(CustodyEvent.sample_id == sample.id)
                                         .order_by(CustodyEvent.at, CustodyEvent.id)).scalars()]
    row.update(custody_state(sample.code, row["custody"]))
    names = dict(s.execute(select(User.username, User.full_name).where(
        User.username.in_({e["actor"] for e in row["custody"]}))).all())
    for e in row["custody"]:
        e["actor_name"] = names.get(e["actor"], e["actor"])
    row["reports"] = [{"report_no": r.report_no, "version": r.version, "status": r.status, "lang": r.lang,
                       "issued_at": iso(r.issued_at), "content_hash": r.content_hash}
                      for r in s.execute(select(Report).where(Report.sample_id == sample.id)
                                         .order_by(Report.version)).scalars()]
    return row


def task_choices(s: Session, n: int = 200) -> list[dict[str, str]]:
    """The newest ``n`` monitoring tasks as (code, name): the sample list's task filter."""
    rows = s.execute(select(MonitoringTask.code, MonitoringTask.name).order_by(MonitoringTask.id.desc())
                     .limit(n)).all()
    return [{"code": c, "name": nm} for c, nm in rows]


# ------------------------------------------------------------------------------------ reception


def custody_state(code: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """What the chain of custody says now: sub-sample codes, the retained portion (place, keep-until date),
    whether the sample was disposed of, and the next free sub-sample code (``S…-A``, ``S…-B``, …)."""
    subs = [e["sub_sample_code"] for e in events if e["sub_sample_code"]]
    retained = [e for e in events if e["kind"] == "retained"]
    letters = (chr(c) for c in range(ord("A"), ord("Z") + 1))
    next_sub = next((f"{code}-{x}" for x in letters if f"{code}-{x}" not in subs), "")
    return {"sub_samples": subs, "retained": retained[-1] if retained else None,
            "disposed": any(e["kind"] == "disposed" for e in events), "next_sub_sample_code": next_sub}


#: Orders of the sample list: key → (Chinese, English).
SAMPLE_SORTS = {"new": ("最新登记在前", "newest first"), "sampled_desc": ("抽样时间：新→旧", "sampled: newest first"),
                "sampled_asc": ("抽样时间：旧→新", "sampled: oldest first"), "code": ("样品编号", "sample code")}
_LIST_COLUMNS = (Sample.id, Sample.code, Commodity.name_zh.label("commodity"), Commodity.name_en.label("commodity_en"),
                 Commodity.code.label("commodity_code"), Producer.name.label("producer"), Sample.task_code,
                 Sample.status, Sample.region_code, Sample.sampling_link, Sample.sampled_at, Sample.received_at,
                 Sample.trace_code, Sample.certificate_no)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _day_start(day: dt.date) -> dt.datetime:
    """00:00 Beijing time of ``day`` as an aware instant (dates in filters are the lab's calendar days)."""
    return dt.datetime.combine(day, dt.time(), LAB_TZ)


def sample_list(s: Session, *, q: str = "", status: str = "", task_code: str = "", date_from: dt.date | None = None,
                date_to: dt.date | None = None, sort: str = "new", limit: int = 50, offset: int = 0) -> queries.Page:
    """The sample list: search ``q`` in the code, 追溯码, 合格证 number and producer name (contains, any case);
    status, task and sampling dates (the lab's calendar days, inclusive); ordered by :data:`SAMPLE_SORTS`."""
    where: list[Any] = []
    if q.strip():
        like = _like(q.strip())
        where.append(or_(*(col.ilike(like, escape="\\") for col in (
            Sample.code, Sample.trace_code, Sample.certificate_no, Producer.name))))
    if status:
        where.append(Sample.status == status)
    if task_code:
        where.append(Sample.task_code == task_code)
    if date_from is not None:
        where.append(Sample.sampled_at >= _day_start(date_from))
    if date_to is not None:
        where.append(Sample.sampled_at < _day_start(date_to + dt.timedelta(days=1)))
    order = {"sampled_desc": (Sample.sampled_at.desc(), Sample.id.desc()),
             "sampled_asc": (Sample.sampled_at.asc(), Sample.id.asc()),
             "code": (Sample.code.asc(),)}.get(sort, (Sample.id.desc(),))
    rows = s.execute(select(*_LIST_COLUMNS).join(Commodity, Sample.commodity_id == Commodity.id)
                     .outerjoin(Producer, Sample.producer_id == Producer.id).where(*where).order_by(*order)
                     .limit(limit).offset(offset)).mappings().all()
    total, exact = queries.count_capped(s, select(Sample.id).outerjoin(Producer, Sample.producer_id == Producer.id)
                                        .where(*where), offset + queries.COUNT_CAP)
    return queries.Page([queries.sample_row(dict(r)) for r in rows], total, limit, offset, exact)


def next_sample_code(s: Session, day: dt.date) -> str:
    """The next free code of the day, ``S20261128-007`` after ``S20261128-006`` (the lab's numbering)."""
    prefix = f"S{day:%Y%m%d}-"
    codes = s.execute(select(Sample.code).where(Sample.code.startswith(prefix))).scalars().all()
    numbers = [int(c[len(prefix):]) for c in codes if c[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def analysis_choices(s: Session) -> list[dict[str, str]]:
    """Analyses a sample can ask for: each method's scope (检测能力范围) and, for screening methods, the
    analyte groups they screen for; value ``ANALYTE|METHOD``."""
    scoped = s.execute(select(Analyte, Method).join(MethodScope, MethodScope.analyte_id == Analyte.id)
                       .join(Method, Method.id == MethodScope.method_id)).all()
    screening = s.execute(select(Analyte, Method).join(Method, Method.kind == "screening")
                          .where(Analyte.kind == "group")).all()
    seen: dict[str, dict[str, str]] = {}
    for analyte, method in [*screening, *scoped]:
        value = f"{analyte.code}|{method.code}"
        seen.setdefault(value, {"value": value, "analyte": analyte.code, "analyte_zh": analyte.name_zh,
                                "analyte_en": analyte.name_en, "method": method.code, "standard": method.standard,
                                "kind": method.kind})
    return sorted(seen.values(), key=lambda c: (c["kind"] != "screening", c["method"], c["analyte"]))


def registration_choices(s: Session, n: int = 1000) -> dict[str, Any]:
    """What the registration form offers: tasks (with their required analytes), commodities, the supervision
    directory, inspectors, analyses, the lab's region code and today's next sample code."""
    lab = s.execute(select(Lab).order_by(Lab.id)).scalars().first()
    tasks = s.execute(select(MonitoringTask).order_by(MonitoringTask.id.desc()).limit(200)).scalars().all()
    commodities = s.execute(select(Commodity.code, Commodity.name_zh, Commodity.name_en, Commodity.category)
                            .where(Commodity.level == "commodity").order_by(Commodity.category, Commodity.code)
                            .limit(n)).mappings().all()
    producers = s.execute(select(Producer.id, Producer.name, Producer.credit_code, Producer.kind,
                                 Producer.region_code, Producer.address)
                          .order_by(Producer.region_code, Producer.name).limit(n)).mappings().all()
    inspectors = s.execute(select(Inspector.name).where(Inspector.active.is_(True)).order_by(Inspector.id)).scalars()
    planned = s.execute(select(SamplingAssignment.id, SamplingAssignment.draw_order, MonitoringTask.code.label("task"),
                               Producer.name.label("producer"))
                        .join(MonitoringTask, MonitoringTask.id == SamplingAssignment.task_id)
                        .join(Producer, Producer.id == SamplingAssignment.producer_id)
                        .where(SamplingAssignment.status == "planned")
                        .order_by(MonitoringTask.code, SamplingAssignment.draw_order).limit(n)).mappings().all()
    today = dt.datetime.now(LAB_TZ).date()
    return {"tasks": [{"code": t.code, "name": t.name, "required_analytes": list(t.required_analytes or [])}
                      for t in tasks],
            "commodities": [dict(c) for c in commodities], "producers": [dict(p) for p in producers],
            "inspectors": list(inspectors), "analyses": analysis_choices(s), "planned": [dict(a) for a in planned],
            "lab_region_code": lab.region_code if lab else "", "next_code": next_sample_code(s, today)}
