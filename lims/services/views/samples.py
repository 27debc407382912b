"""Samples as shown: the record with its analyses and results (REST and the sample page), and what
the sample page adds (custody, producer, task, reports)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from lims.db.models import Analysis, Analyte, Batch, CustodyEvent, Method, MonitoringTask, Report, Sample
from lims.services import queries
from lims.services.lookup import find_by_code, get_by_code
from lims.services.sampling import SAMPLING_LINKS
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
                       "condition": e.condition, "sub_sample_code": e.sub_sample_code, "note": e.note}
                      for e in s.execute(select(CustodyEvent).where(CustodyEvent.sample_id == sample.id)
                                         .order_by(CustodyEvent.at, CustodyEvent.id)).scalars()]
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
