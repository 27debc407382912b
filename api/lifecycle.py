"""REST for the lab's daily work under /api/v1: monitoring tasks and 双随机 plans, producers, samples
and custody, batches with curves and QC, quantitation and manual entry, review/approval with
e-signatures, amendments, limits, reports and the audit trail. Routes are thin: they validate the
request, call one service inside one unit of work, and shape the answer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import FactoryDep, read_service, run_service
from api.security import Permission, Principal, require
from lims.config import get_settings
from lims.db.models import (
    Analysis,
    AuditEvent,
    Batch,
    CalibrationCurve,
    Limit,
    MonitoringTask,
    Producer,
    QcSample,
    Report,
    Result,
    Sample,
    SamplingAssignment,
)
from lims.db.verify import verify_database
from lims.services import batches, limits, queries, reporting, sampling, signoff
from lims.services.errors import NotFound

router = APIRouter(prefix="/api/v1")
P = Permission
TasksRead = Annotated[Principal, require(P.TASKS_READ)]
TasksManage = Annotated[Principal, require(P.TASKS_MANAGE)]
SamplesRead = Annotated[Principal, require(P.SAMPLES_READ)]
SamplesWrite = Annotated[Principal, require(P.SAMPLES_WRITE)]
ResultsRead = Annotated[Principal, require(P.RESULTS_READ)]
ResultsEnter = Annotated[Principal, require(P.RESULTS_ENTER)]
ResultsReview = Annotated[Principal, require(P.RESULTS_REVIEW)]
ResultsApprove = Annotated[Principal, require(P.RESULTS_APPROVE)]
ReportsRead = Annotated[Principal, require(P.REPORTS_READ)]
ReportsIssue = Annotated[Principal, require(P.REPORTS_ISSUE)]
LimitsRead = Annotated[Principal, require(P.LIMITS_READ)]
LimitsManage = Annotated[Principal, require(P.LIMITS_MANAGE)]
AuditRead = Annotated[Principal, require(P.AUDIT_READ)]
Limit_ = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


# ------------------------------------------------------------------------------------ bodies

class TaskIn(BaseModel):
    code: str = Field(min_length=1, max_length=60)
    name: str = Field(min_length=1, max_length=200)
    programme_type: str = Field(description="routine | special | supervisory | risk")
    issuing_authority: str = Field(min_length=1, max_length=200)
    required_analytes: list[str] = Field(default_factory=list)
    sampling_plan: str = ""


class PlanIn(BaseModel):
    producers: int = Field(ge=1, le=10000)
    inspectors_per_visit: int = Field(default=2, ge=2, le=10)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    region_prefix: str = Field(default="", max_length=6)
    kinds: list[str] = Field(default_factory=list)
    sampling_link: str = "before_harvest"


class ProducerIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(default="", max_length=18)
    kind: str
    region_code: str
    address: str = ""


class SampleIn(BaseModel):
    code: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_-]+$")
    commodity_code: str
    task_code: str = ""
    producer_id: int | None = None
    assignment_id: int | None = None
    sampled_at: dt.datetime
    sampling_place: str = Field(min_length=1, max_length=300)
    region_code: str
    sampling_link: str
    samplers: list[str]
    certificate_no: str = ""
    trace_code: str = ""
    description: str = ""
    quantity: str = ""
    requested: list[tuple[str, str]] = Field(default_factory=list, description="[(analyte_code, method_code)]")


class ReceiveIn(BaseModel):
    condition: str = Field(min_length=1, max_length=200)
    storage: str = Field(default="", max_length=200)


class CustodyIn(BaseModel):
    kind: str
    location: str = ""
    note: str = ""
    sub_sample_code: str = ""


class BatchIn(BaseModel):
    code: str = Field(min_length=1, max_length=60)
    method_code: str
    instrument_code: str | None = None
    analysis_ids: list[int] = Field(min_length=1)


class CurveIn(BaseModel):
    analyte_code: str
    concentrations: list[float] = Field(min_length=2)
    responses: list[float] = Field(min_length=2)
    model: str = "linear"
    weight: str = "none"


class QcIn(BaseModel):
    kind: str
    analyte_code: str | None = None
    nominal_value: float | None = None
    measured_value: float | None = None
    second_value: float | None = None
    reporting_limit: float | None = None


class QuantifyIn(BaseModel):
    curve_id: int
    response: float
    sample_mass_g: float = Field(gt=0)
    extract_volume_ml: float = Field(gt=0)
    dilution_factor: float = Field(default=1.0, gt=0)
    recovery_percent: float | None = Field(default=None, gt=0)


class ManualIn(BaseModel):
    value_text: str = Field(min_length=1, max_length=60)
    value: float | None = Field(default=None, ge=0)
    unit: str = Field(min_length=1, max_length=20)
    reason: str = Field(min_length=5, max_length=2000)


class SignIn(BaseModel):
    result_ids: list[int] = Field(min_length=1, max_length=5000)
    password: str = Field(min_length=1, description="re-entered password: the e-signature (21 CFR 11.200)")


class RejectIn(SignIn):
    reason: str = Field(min_length=5, max_length=2000)
    retest: bool = True


class AmendIn(BaseModel):
    value: float | None = Field(default=None, ge=0)
    value_text: str = Field(min_length=1, max_length=60)
    reason: str = Field(min_length=5, max_length=2000)


class ReportIn(BaseModel):
    sample_code: str
    language: str = Field(default="zh-CN", pattern=r"^(zh-CN|en)$")
    amendment_reason: str | None = Field(default=None, min_length=5, max_length=2000)


class LimitsCsvIn(BaseModel):
    csv_text: str = Field(min_length=1, description="UTF-8 CSV in the starter table's columns")
    source: str = Field(default="upload.csv", max_length=200)


# ------------------------------------------------------------------------------------ helpers

def _page(q: Any, s: Session, limit: int, offset: int, row: Any) -> dict[str, Any]:
    return queries.page(s, q, limit, offset, row).__dict__


def _task_row(t: MonitoringTask) -> dict[str, Any]:
    return {"code": t.code, "name": t.name, "programme_type": t.programme_type,
            "programme_type_zh": sampling.PROGRAMME_TYPES.get(t.programme_type), "issuing_authority":
            t.issuing_authority, "required_analytes": t.required_analytes, "random_seed": t.random_seed}


# ------------------------------------------------------------------------------------ tasks

@router.get("/tasks", tags=["tasks"], summary="监测任务 / monitoring tasks")
def list_tasks(me: TasksRead, factory: FactoryDep, limit: Limit_ = 50, offset: Offset = 0) -> dict[str, Any]:
    return read_service(factory, lambda s: _page(select(MonitoringTask).order_by(MonitoringTask.id.desc()), s,
                                                 limit, offset, _task_row))


@router.post("/tasks", tags=["tasks"], status_code=201, summary="下达监测任务 / create a task")
def create_task(body: TaskIn, me: TasksManage, factory: FactoryDep) -> dict[str, Any]:
    return run_service(factory, me.username, "create monitoring task",
                       lambda s: _task_row(sampling.create_task(s, **body.model_dump())))


@router.post("/tasks/{code}/plan", tags=["tasks"], status_code=201, summary="双随机抽样计划 / draw the plan")
def draw_plan(code: str, body: PlanIn, me: TasksManage, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        plan = sampling.draw_sampling_plan(s, code, producers=body.producers,
                                           inspectors_per_visit=body.inspectors_per_visit, seed=body.seed,
                                           region_prefix=body.region_prefix, kinds=tuple(body.kinds),
                                           sampling_link=body.sampling_link)
        return {"task_code": plan.task_code, "seed": plan.seed, "lines": [ln.__dict__ for ln in plan.lines]}
    return run_service(factory, me.username, "draw sampling plan (双随机)", go)


@router.get("/tasks/{code}/plan", tags=["tasks"], summary="抽样计划 / the task's sampling plan")
def get_plan(code: str, me: TasksRead, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        task = s.execute(select(MonitoringTask).where(MonitoringTask.code == code)).scalar_one_or_none()
        if task is None:
            raise NotFound(f"task {code} does not exist", field="code")
        rows = s.execute(select(SamplingAssignment).where(SamplingAssignment.task_id == task.id)
                         .order_by(SamplingAssignment.draw_order)).scalars()
        return {"task_code": code, "seed": task.random_seed, "lines": [
            {"id": a.id, "draw_order": a.draw_order, "producer_id": a.producer_id, "inspector_ids": a.inspector_ids,
             "sampling_link": a.sampling_link, "status": a.status, "sample_id": a.sample_id} for a in rows]}
    return read_service(factory, go)


# ------------------------------------------------------------------------------------ producers

def _producer_row(p: Producer) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "credit_code": p.credit_code, "kind": p.kind,
            "kind_zh": sampling.PRODUCER_KINDS.get(p.kind), "region_code": p.region_code, "address": p.address}


@router.get("/producers", tags=["producers"], summary="监管名录 / supervision directory")
def list_producers(me: SamplesRead, factory: FactoryDep, region_prefix: str = "", kind: str | None = None,
                   limit: Limit_ = 50, offset: Offset = 0) -> dict[str, Any]:
    q = select(Producer).order_by(Producer.id)
    if region_prefix:
        q = q.where(Producer.region_code.startswith(region_prefix))
    if kind:
        q = q.where(Producer.kind == kind)
    return read_service(factory, lambda s: _page(q, s, limit, offset, _producer_row))


@router.post("/producers", tags=["producers"], status_code=201, summary="登记生产主体 / add a producer")
def create_producer(body: ProducerIn, me: TasksManage, factory: FactoryDep) -> dict[str, Any]:
    return run_service(factory, me.username, "add producer",
                       lambda s: _producer_row(sampling.create_producer(s, **body.model_dump())))


@router.get("/producers/{producer_id}/history", tags=["producers"], summary="检测记录 / history of results")
def producer_history(producer_id: int, me: SamplesRead, factory: FactoryDep) -> dict[str, Any]:
    return read_service(factory, lambda s: {"producer_id": producer_id,
                                            "samples": sampling.producer_history(s, producer_id)})


# ------------------------------------------------------------------------------------ samples

def _sample_detail(s: Session, code: str) -> dict[str, Any]:
    sample = s.execute(select(Sample).where(Sample.code == code)).scalar_one_or_none()
    if sample is None:
        raise NotFound(f"sample {code} does not exist", field="code")
    row = queries.sample_row(sample)
    row.update({"sampling_place": sample.sampling_place, "certificate_no": sample.certificate_no,
                "trace_code": sample.trace_code, "samplers": sample.samplers, "condition": sample.condition,
                "analyses": [{"id": a.id, "analyte": a.analyte.code, "method": a.method.code, "kind": a.kind,
                              "status": a.status, "batch_id": a.batch_id}
                             for a in s.execute(select(Analysis).where(Analysis.sample_id == sample.id)
                                                .order_by(Analysis.id)).scalars()],
                "results": queries.list_results(s, sample_code=code, limit=500).items})
    return row


@router.post("/samples", tags=["samples"], status_code=201, summary="登记样品 / register a sample")
def create_sample(body: SampleIn, me: SamplesWrite, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        sampling.register_sample(s, **{**body.model_dump(), "requested": [tuple(r) for r in body.requested]})
        return _sample_detail(s, body.code)
    return run_service(factory, me.username, "register sample", go)


@router.get("/samples/{code}", tags=["samples"], summary="样品详情 / a sample")
def get_sample(code: str, me: SamplesRead, factory: FactoryDep) -> dict[str, Any]:
    return read_service(factory, lambda s: _sample_detail(s, code))


@router.post("/samples/{code}/receive", tags=["samples"], summary="样品接收 / receive a sample")
def receive(code: str, body: ReceiveIn, me: SamplesWrite, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        sampling.receive_sample(s, code, actor=me.username, condition=body.condition, storage=body.storage)
        return _sample_detail(s, code)
    return run_service(factory, me.username, "sample receipt", go)


@router.post("/samples/{code}/custody", tags=["samples"], status_code=201, summary="样品流转 / custody event")
def custody(code: str, body: CustodyIn, me: SamplesWrite, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        ev = sampling.custody(s, code, actor=me.username, **body.model_dump())
        return {"id": ev.id, "kind": ev.kind, "at": ev.at.isoformat()}
    return run_service(factory, me.username, f"custody: {body.kind}", go)


# ------------------------------------------------------------------------------------ batches

def _batch_detail(s: Session, code: str) -> dict[str, Any]:
    b = s.execute(select(Batch).where(Batch.code == code)).scalar_one_or_none()
    if b is None:
        raise NotFound(f"batch {code} does not exist", field="code")
    curves = s.execute(select(CalibrationCurve).where(CalibrationCurve.batch_id == b.id)
                       .order_by(CalibrationCurve.id)).scalars()
    qcs = s.execute(select(QcSample).where(QcSample.batch_id == b.id).order_by(QcSample.id)).scalars()
    return {"code": b.code, "status": b.status, "qc_summary": b.qc_summary,
            "analyses": [a for a in s.execute(select(Analysis.id).where(Analysis.batch_id == b.id)).scalars()],
            "curves": [{"id": c.id, "version": c.version, "model": c.model, "weight": c.weight, "params": c.params,
                        "r2": c.r2, "passed": c.passed, "acceptance": c.acceptance, "lod": c.lod, "loq": c.loq}
                       for c in curves],
            "qc": [{"id": q.id, "kind": q.kind, "outcome": q.outcome, "metric": q.metric, "detail": q.detail}
                   for q in qcs]}


@router.post("/batches", tags=["batches"], status_code=201, summary="新建批次 / create a batch")
def create_batch(body: BatchIn, me: ResultsEnter, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        batches.create_batch(s, **body.model_dump())
        return _batch_detail(s, body.code)
    return run_service(factory, me.username, "create batch", go)


@router.get("/batches/{code}", tags=["batches"], summary="批次详情 / a batch")
def get_batch(code: str, me: ResultsRead, factory: FactoryDep) -> dict[str, Any]:
    return read_service(factory, lambda s: _batch_detail(s, code))


@router.post("/batches/{code}/curves", tags=["batches"], status_code=201, summary="标准曲线 / store a curve")
def add_curve(code: str, body: CurveIn, me: ResultsEnter, factory: FactoryDep) -> dict[str, Any]:
    if len(body.concentrations) != len(body.responses):
        raise HTTPException(422, detail={"message": "concentrations and responses differ in length",
                                         "field": "responses"})

    def go(s: Session) -> dict[str, Any]:
        batch = s.execute(select(Batch).where(Batch.code == code)).scalar_one_or_none()
        if batch is None:
            raise NotFound(f"batch {code} does not exist", field="code")
        curve = batches.store_curve(s, batch=batch, **body.model_dump())
        return {"id": curve.id, "version": curve.version, "passed": curve.passed, "params": curve.params,
                "acceptance": curve.acceptance}
    return run_service(factory, me.username, "store calibration curve", go)


@router.post("/batches/{code}/qc", tags=["batches"], status_code=201, summary="质控样 / record a QC sample")
def add_qc(code: str, body: QcIn, me: ResultsEnter, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        q = batches.add_qc(s, code, **body.model_dump())
        return {"id": q.id, "kind": q.kind, "outcome": q.outcome, "metric": q.metric, "detail": q.detail}
    return run_service(factory, me.username, f"QC {body.kind}", go)


@router.post("/batches/{code}/evaluate", tags=["batches"], summary="批次质控判定 / judge the batch QC")
def evaluate(code: str, me: ResultsEnter, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        out = batches.evaluate_batch_qc(s, code)
        return {"passed": out.passed, "failures": list(out.failures)}
    return run_service(factory, me.username, "batch QC evaluation", go)


# ------------------------------------------------------------------------------------ results

@router.post("/analyses/{analysis_id}/quantify", tags=["results"], status_code=201,
             summary="按标准曲线定量 / quantify against a curve")
def quantify(analysis_id: int, body: QuantifyIn, me: ResultsEnter, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        r = batches.quantify(s, analysis_id=analysis_id, analyst_id=me.user_id, **body.model_dump())
        return queries.result_row(s, r)
    return run_service(factory, me.username, "quantitation", go)


@router.post("/analyses/{analysis_id}/manual-result", tags=["results"], status_code=201,
             summary="手工录入（须说明理由）/ manual entry with a reason")
def manual_result(analysis_id: int, body: ManualIn, me: ResultsEnter, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        r = batches.enter_manual_result(s, analysis_id=analysis_id, analyst_id=me.user_id, **body.model_dump())
        return queries.result_row(s, r)
    return run_service(factory, me.username, f"manual entry: {body.reason}", go)


@router.get("/results/{result_id}", tags=["results"], summary="检测结果 / a result with its signatures")
def get_result(result_id: int, me: ResultsRead, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        r = s.get(Result, result_id)
        if r is None:
            raise NotFound(f"result {result_id} does not exist", field="result_id")
        row = queries.result_row(s, r)
        row["details"] = r.details
        row["manual_reason"] = r.manual_reason or None
        return row
    return read_service(factory, go)


def _signed(sigs: list[Any]) -> dict[str, Any]:
    return {"signed": len(sigs), "signatures": [signoff.SignatureManifestation.of(x).__dict__ for x in sigs]}


@router.post("/results/author", tags=["review"], summary="检验人签名 / sign authorship")
def author(body: SignIn, me: ResultsEnter, factory: FactoryDep) -> dict[str, Any]:
    return run_service(factory, me.username, "authorship signature", lambda s: _signed(
        signoff.author_results(s, body.result_ids, username=me.username, password=body.password)))


@router.post("/results/review", tags=["review"], summary="审核签名 / review")
def review(body: SignIn, me: ResultsReview, factory: FactoryDep) -> dict[str, Any]:
    return run_service(factory, me.username, "review signature", lambda s: _signed(
        signoff.review_results(s, body.result_ids, username=me.username, password=body.password)))


@router.post("/results/approve", tags=["review"], summary="批准签发 / approve (certify)")
def approve(body: SignIn, me: ResultsApprove, factory: FactoryDep) -> dict[str, Any]:
    lab_code = get_settings().lab_code
    return run_service(factory, me.username, "approval signature", lambda s: _signed(
        signoff.approve_results(s, body.result_ids, username=me.username, password=body.password,
                                lab_code=lab_code)))


@router.post("/results/reject", tags=["review"], summary="退回 / reject (and ask for a re-test)")
def reject(body: RejectIn, me: ResultsReview, factory: FactoryDep) -> dict[str, Any]:
    return run_service(factory, me.username, body.reason, lambda s: _signed(
        signoff.reject_results(s, body.result_ids, username=me.username, password=body.password,
                               reason=body.reason, retest=body.retest)))


@router.post("/results/{result_id}/amend", tags=["review"], status_code=201, summary="更正 / amend a certified result")
def amend(result_id: int, body: AmendIn, me: ResultsEnter, factory: FactoryDep) -> dict[str, Any]:
    def go(s: Session) -> dict[str, Any]:
        r = signoff.amend_result(s, result_id, analyst_id=me.user_id, **body.model_dump())
        return queries.result_row(s, r)
    return run_service(factory, me.username, body.reason, go)


# ------------------------------------------------------------------------------------ limits

def _limit_row(x: Limit) -> dict[str, Any]:
    return {"id": x.id, "commodity_id": x.commodity_id, "analyte_id": x.analyte_id,
            "residue_definition": x.residue_definition, "limit_type": x.limit_type, "value_mg_kg": x.value_mg_kg,
            "unit": x.unit, "source_standard": x.source_standard, "source_clause": x.source_clause}


@router.get("/limits", tags=["limits"], summary="限量标准 / MRL table")
def list_limits(me: LimitsRead, factory: FactoryDep, analyte_id: int | None = None,
                commodity_id: int | None = None, limit_type: str | None = None,
                limit: Limit_ = 50, offset: Offset = 0) -> dict[str, Any]:
    q = select(Limit).order_by(Limit.id)
    if analyte_id is not None:
        q = q.where(Limit.analyte_id == analyte_id)
    if commodity_id is not None:
        q = q.where(Limit.commodity_id == commodity_id)
    if limit_type:
        q = q.where(Limit.limit_type == limit_type)
    return read_service(factory, lambda s: _page(q, s, limit, offset, _limit_row))


@router.post("/limits/import", tags=["limits"], summary="导入限量 CSV / import a limits CSV (all or nothing)")
def import_limits_csv(body: LimitsCsvIn, me: LimitsManage, factory: FactoryDep) -> dict[str, Any]:
    from lims.limits import LimitsCsvError, parse_limits_csv

    try:
        parsed = parse_limits_csv(body.csv_text, source=body.source)
    except LimitsCsvError as e:
        raise HTTPException(422, detail={"message": str(e), "field": "csv_text"}) from None
    if parsed.rejected:
        raise HTTPException(422, detail={"message": f"{len(parsed.rejected)} rows rejected; nothing imported",
                                         "field": "csv_text", "problems": [
                                             {"line": r.line, "field": r.field, "message": r.reason}
                                             for r in parsed.rejected]})

    def go(s: Session) -> dict[str, Any]:
        out = limits.import_limits(s, parsed)
        return {"inserted": out.inserted, "skipped_existing": out.skipped_existing}
    return run_service(factory, me.username, f"limits import {body.source}", go)


# ------------------------------------------------------------------------------------ reports

def _report_row(r: Report) -> dict[str, Any]:
    return {"id": r.id, "report_no": r.report_no, "version": r.version, "status": r.status, "lang": r.lang,
            "content_hash": r.content_hash, "file_sha256": r.file_sha256, "issued_at": r.issued_at.isoformat(),
            "supersedes_id": r.supersedes_id, "amendment_reason": r.amendment_reason or None}


@router.get("/reports", tags=["reports"], summary="检验报告 / reports")
def list_reports(me: ReportsRead, factory: FactoryDep, limit: Limit_ = 50, offset: Offset = 0) -> dict[str, Any]:
    return read_service(factory, lambda s: _page(select(Report).order_by(Report.id.desc()), s, limit, offset,
                                                 _report_row))


@router.post("/reports", tags=["reports"], status_code=201, summary="签发报告 / issue (or amend) a report")
def issue_report(body: ReportIn, me: ReportsIssue, factory: FactoryDep) -> dict[str, Any]:
    out_dir = get_settings().report_dir
    return run_service(factory, me.username, body.amendment_reason or "report issue", lambda s: _report_row(
        reporting.issue_report(s, body.sample_code, out_dir=out_dir, language=body.language,  # type: ignore[arg-type]
                               amendment_reason=body.amendment_reason)))


@router.get("/reports/{report_no}/pdf", tags=["reports"], summary="下载报告 PDF / download the PDF",
            response_class=FileResponse)
def report_pdf(report_no: str, me: ReportsRead, factory: FactoryDep) -> FileResponse:
    def go(s: Session) -> str:
        r = s.execute(select(Report).where(Report.report_no == report_no)).scalars().first()
        if r is None:
            raise NotFound(f"report {report_no} does not exist", field="report_no")
        return r.path
    path = Path(read_service(factory, go))
    if not path.is_file():
        raise HTTPException(410, detail={"message": f"report file {path.name} is missing from the archive",
                                         "field": "report_no"})
    return FileResponse(path, media_type="application/pdf", filename=path.name)


# ------------------------------------------------------------------------------------ audit

@router.get("/audit/events", tags=["audit"], summary="审计追踪 / audit trail")
def audit_events(me: AuditRead, factory: FactoryDep, table_name: str | None = None, record_id: str | None = None,
                 limit: Limit_ = 100, offset: Offset = 0) -> dict[str, Any]:
    q = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if table_name:
        q = q.where(AuditEvent.table_name == table_name)
    if record_id:
        q = q.where(AuditEvent.record_id == record_id)
    return read_service(factory, lambda s: _page(q, s, limit, offset, lambda e: {
        "seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "table": e.table_name,
        "record_id": e.record_id, "old": e.old or None, "new": e.new or None, "reason": e.reason or None,
        "hash": e.hash}))


@router.get("/audit/verify", tags=["audit"], summary="校验审计链 / verify the audit chain")
def audit_verify(me: AuditRead, factory: FactoryDep) -> dict[str, Any]:
    return read_service(factory, lambda s: verify_database(s).__dict__)

