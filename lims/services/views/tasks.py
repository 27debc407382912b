"""Monitoring tasks, their 双随机 sampling plans, and the supervision directory of producers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from lims.db.models import MonitoringTask, Producer, SamplingAssignment
from lims.services import queries, sampling
from lims.services.lookup import get_by_code
from lims.services.queries import Page


class TaskRow(TypedDict):
    """A monitoring task (监测任务) with its programme type in Chinese."""

    code: str
    name: str
    programme_type: str
    programme_type_zh: str | None
    issuing_authority: str
    required_analytes: list[str]
    random_seed: int | None


class PlanLine(TypedDict):
    """A drawn line of a plan: which producer, which inspectors, and where it stands."""

    id: int
    draw_order: int
    producer_id: int
    inspector_ids: list[int]
    sampling_link: str
    status: str
    sample_id: int | None


class TaskPlan(TypedDict):
    task_code: str
    seed: int | None
    lines: list[PlanLine]


class DrawnLine(TypedDict):
    """A line as drawn: producer and inspectors by id and name."""

    draw_order: int
    producer_id: int
    producer_name: str
    inspector_ids: list[int]
    inspector_names: list[str]


class DrawnPlan(TypedDict):
    task_code: str
    seed: int
    lines: list[DrawnLine]


class ProducerRow(TypedDict):
    """A producer of the supervision directory (监管名录)."""

    id: int
    name: str
    credit_code: str
    kind: str
    kind_zh: str | None
    region_code: str
    address: str


class HistoryResult(TypedDict):
    analyte: str
    value_text: str
    verdict: str
    status: str


class HistorySample(TypedDict):
    sample: str
    commodity: str
    task: str
    sampled_at: str | None
    results: list[HistoryResult]


class ProducerHistory(TypedDict):
    """Every sample of a producer with its current results and verdicts (for credit records)."""

    producer_id: int
    samples: list[HistorySample]


def task_row(t: MonitoringTask) -> TaskRow:
    return {"code": t.code, "name": t.name, "programme_type": t.programme_type,
            "programme_type_zh": sampling.PROGRAMME_TYPES.get(t.programme_type),
            "issuing_authority": t.issuing_authority, "required_analytes": t.required_analytes,
            "random_seed": t.random_seed}


def list_tasks(s: Session, *, limit: int, offset: int) -> Page:
    return queries.page(s, select(MonitoringTask).order_by(MonitoringTask.id.desc()), limit, offset, task_row)


def drawn_plan(plan: sampling.SamplingPlan) -> DrawnPlan:
    """A plan just drawn, as answered."""
    return {"task_code": plan.task_code, "seed": plan.seed, "lines": [
        {"draw_order": ln.draw_order, "producer_id": ln.producer_id, "producer_name": ln.producer_name,
         "inspector_ids": list(ln.inspector_ids), "inspector_names": list(ln.inspector_names)}
        for ln in plan.lines]}


def task_plan(s: Session, code: str) -> TaskPlan:
    """The task's sampling plan as it stands (each line's status and sample)."""
    task = get_by_code(s, MonitoringTask, code, what="task")
    rows = s.execute(select(SamplingAssignment).where(SamplingAssignment.task_id == task.id)
                     .order_by(SamplingAssignment.draw_order)).scalars()
    return {"task_code": code, "seed": task.random_seed, "lines": [
        {"id": a.id, "draw_order": a.draw_order, "producer_id": a.producer_id, "inspector_ids": a.inspector_ids,
         "sampling_link": a.sampling_link, "status": a.status, "sample_id": a.sample_id} for a in rows]}


def producer_row(p: Producer) -> ProducerRow:
    return {"id": p.id, "name": p.name, "credit_code": p.credit_code, "kind": p.kind,
            "kind_zh": sampling.PRODUCER_KINDS.get(p.kind), "region_code": p.region_code, "address": p.address}


def list_producers(s: Session, *, region_prefix: str = "", kind: str | None = None, limit: int,
                   offset: int) -> Page:
    q = select(Producer).order_by(Producer.id)
    if region_prefix:
        q = q.where(Producer.region_code.startswith(region_prefix))
    if kind:
        q = q.where(Producer.kind == kind)
    return queries.page(s, q, limit, offset, producer_row)


def producer_history(s: Session, producer_id: int) -> ProducerHistory:
    samples: Any = sampling.producer_history(s, producer_id)
    return {"producer_id": producer_id, "samples": samples}


def task_detail(s: Session, code: str) -> dict[str, Any]:
    """A task with its plan as people read it: each line's producer, inspectors and sample by name and code
    (the web page; :func:`task_plan` keeps the ids)."""
    from lims.db.models import Sample, User

    task = get_by_code(s, MonitoringTask, code, what="task")
    plan = task_plan(s, code)
    producer_ids = {ln["producer_id"] for ln in plan["lines"]}
    user_ids = {i for ln in plan["lines"] for i in ln["inspector_ids"]}
    sample_ids = {ln["sample_id"] for ln in plan["lines"] if ln["sample_id"] is not None}
    producers = {p.id: p.name for p in s.execute(select(Producer).where(Producer.id.in_(producer_ids))).scalars()}
    users = {u.id: u.full_name for u in s.execute(select(User).where(User.id.in_(user_ids))).scalars()}
    samples = {x.id: x.code for x in s.execute(select(Sample).where(Sample.id.in_(sample_ids))).scalars()}
    lines = [{**ln, "producer_name": producers.get(ln["producer_id"], ""),
              "inspector_names": [users.get(i, "") for i in ln["inspector_ids"]],
              "sample_code": samples.get(ln["sample_id"]) if ln["sample_id"] is not None else None}
             for ln in plan["lines"]]
    return {"task": task_row(task), "sampling_plan": task.sampling_plan, "created_at": task.created_at,
            "lines": lines}


def analyte_names(s: Session, codes: list[str]) -> dict[str, tuple[str, str]]:
    """Analyte code → (中文名, English name), for showing a task's required analytes by name."""
    from lims.db.models import Analyte

    if not codes:
        return {}
    return {a.code: (a.name_zh, a.name_en) for a in s.execute(select(Analyte).where(Analyte.code.in_(codes))).scalars()}
