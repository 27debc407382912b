"""REST for the lab's daily work under /api/v1: monitoring tasks and 双随机 plans, producers, samples
and custody, batches with curves and QC, quantitation and manual entry, review/approval with
e-signatures, amendments, limits, reports and the audit trail.

Routes are thin: they validate the request (:mod:`api.schemas`), call one service inside one unit of
work, and answer with the read model's typed record (:mod:`lims.services.views`), which is also the
route's documented response model. Lists answer a :class:`~api.pages.PageJSON`."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.pages import PDF_RESPONSE, PageJSON, page_of
from api.schemas import (
    AmendRequest,
    BatchCreate,
    CurveCreate,
    CustodyCreate,
    DbId,
    LimitJudgementRequest,
    LimitsCsvUpload,
    ManualResultCreate,
    PlanDraw,
    ProducerCreate,
    QcCreate,
    QuantifyRequest,
    RejectRequest,
    ReportCreate,
    SampleCorrection,
    SampleCreate,
    SampleReceive,
    SignRequest,
    TaskCreate,
    quantify_command,
    register_command,
)
from api.security import Permission, Principal, require
from lims.config import get_settings
from lims.db.models import Batch, Signature
from lims.services import batches, limit_judgements, limits, reporting, sampling, signoff, verify_runs
from lims.services.lookup import get_by_code
from lims.services.views import audit as audit_views
from lims.services.views import batches as batch_views
from lims.services.views import limits as limit_views
from lims.services.views import reports as report_views
from lims.services.views import results as result_views
from lims.services.views import samples as sample_views
from lims.services.views import tasks as task_views
from lims.services.views.audit import AuditEventRow
from lims.services.views.batches import BatchDetail, CurveStored, QcOutcomeShown, QcRow
from lims.services.views.limits import LimitFindAnswer, LimitRow, LimitsImported
from lims.services.views.reports import ReportRow
from lims.services.views.results import ResultDetail, ResultRow, SignedResults
from lims.services.views.samples import CustodyRecorded, SampleDetail
from lims.services.views.tasks import DrawnPlan, ProducerHistory, ProducerRow, TaskPlan, TaskRow

router = APIRouter(prefix="/api/v1")
P = Permission


def _as(*permissions: Permission) -> Any:
    """The signed-in principal, refused (401/403) without every one of ``permissions``."""
    return Annotated[Principal, require(*permissions)]


TasksRead, TasksManage = _as(P.TASKS_READ), _as(P.TASKS_MANAGE)
SamplesRead, SamplesWrite = _as(P.SAMPLES_READ), _as(P.SAMPLES_WRITE)
ResultsRead, ResultsEnter = _as(P.RESULTS_READ), _as(P.RESULTS_ENTER)
ResultsReview, ResultsApprove = _as(P.RESULTS_REVIEW), _as(P.RESULTS_APPROVE)
ReportsRead, ReportsIssue = _as(P.REPORTS_READ), _as(P.REPORTS_ISSUE)
LimitsRead, LimitsManage, AuditRead = _as(P.LIMITS_READ), _as(P.LIMITS_MANAGE), _as(P.AUDIT_READ)
Limit_ = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]  # beyond: 422, never a database overflow (500)


# ------------------------------------------------------------------------------------ tasks

@router.get("/tasks", tags=["tasks"], summary="监测任务 / monitoring tasks", responses=page_of(TaskRow))
def list_tasks(me: TasksRead, factory: FactoryDep, limit: Limit_ = 50, offset: Offset = 0) -> PageJSON:
    return PageJSON(read_service(factory, lambda s: task_views.list_tasks(s, limit=limit, offset=offset)))


@router.post("/tasks", tags=["tasks"], status_code=201, summary="下达监测任务 / create a task")
def create_task(body: TaskCreate, me: TasksManage, factory: FactoryDep) -> TaskRow:
    return run_service(factory, me.username, "create monitoring task",
                       lambda s: task_views.task_row(sampling.create_task(s, **body.model_dump())))


@router.post("/tasks/{code}/plan", tags=["tasks"], status_code=201, summary="双随机抽样计划 / draw the plan")
def draw_plan(code: str, body: PlanDraw, me: TasksManage, factory: FactoryDep) -> DrawnPlan:
    return run_service(factory, me.username, "draw sampling plan (双随机)", lambda s: task_views.drawn_plan(
        sampling.draw_sampling_plan(s, code, producers=body.producers, inspectors_per_visit=body.inspectors_per_visit,
                                    seed=body.seed, region_prefix=body.region_prefix, kinds=tuple(body.kinds),
                                    sampling_link=body.sampling_link)))


@router.get("/tasks/{code}/plan", tags=["tasks"], summary="抽样计划 / the task's sampling plan")
def get_plan(code: str, me: TasksRead, factory: FactoryDep) -> TaskPlan:
    return read_service(factory, lambda s: task_views.task_plan(s, code))


# ------------------------------------------------------------------------------------ producers

@router.get("/producers", tags=["producers"], summary="监管名录 / supervision directory",
            responses=page_of(ProducerRow))
def list_producers(me: SamplesRead, factory: FactoryDep, region_prefix: str = "", kind: str | None = None,
                   limit: Limit_ = 50, offset: Offset = 0) -> PageJSON:
    return PageJSON(read_service(factory, lambda s: task_views.list_producers(
        s, region_prefix=region_prefix, kind=kind, limit=limit, offset=offset)))


@router.post("/producers", tags=["producers"], status_code=201, summary="登记生产主体 / add a producer")
def create_producer(body: ProducerCreate, me: TasksManage, factory: FactoryDep) -> ProducerRow:
    return run_service(factory, me.username, "add producer",
                       lambda s: task_views.producer_row(sampling.create_producer(s, **body.model_dump())))


@router.get("/producers/{producer_id}/history", tags=["producers"], summary="检测记录 / history of results")
def producer_history(producer_id: DbId, me: SamplesRead, factory: FactoryDep) -> ProducerHistory:
    return read_service(factory, lambda s: task_views.producer_history(s, producer_id))


# ------------------------------------------------------------------------------------ samples

@router.post("/samples", tags=["samples"], status_code=201, summary="登记样品 / register a sample")
def create_sample(body: SampleCreate, me: SamplesWrite, factory: FactoryDep) -> SampleDetail:
    def go(s: Session) -> SampleDetail:
        sampling.register_sample(s, register_command(body))
        return sample_views.sample_detail(s, body.code)
    return run_service(factory, me.username, "register sample", go)


@router.get("/samples/{code}", tags=["samples"], summary="样品详情 / a sample")
def get_sample(code: str, me: SamplesRead, factory: FactoryDep) -> SampleDetail:
    return read_service(factory, lambda s: sample_views.sample_detail(s, code))


@router.patch("/samples/{code}", tags=["samples"], summary="更正样品信息 / correct a sample (audited)")
def correct_sample(code: str, body: SampleCorrection, me: SamplesWrite, factory: FactoryDep) -> SampleDetail:
    """Fields given are corrected, the reason goes into the audit trail. Once the sample has a report the
    correction is a report amendment: ``amend_report`` (with ``reports:issue``) issues the amended report in the
    same unit of work; without it, 409 ``sample.reported``."""
    if body.amend_report and not me.can(P.REPORTS_ISSUE):
        raise HTTPException(403, detail={"message": "amend_report needs the permission reports:issue",
                                         "field": "amend_report", "code": None})

    def go(s: Session) -> SampleDetail:
        if sampling.correct_sample(s, code, body.changes(), amending=body.amend_report):
            reporting.issue_report(s, code, out_dir=get_settings().report_dir,
                                   amendment_reason=f"样品信息更正 / sample record corrected: {body.reason}")
        return sample_views.sample_detail(s, code)
    return run_service(factory, me.username, f"sample correction: {body.reason}", go)


@router.post("/samples/{code}/receive", tags=["samples"], summary="样品接收 / receive a sample")
def receive(code: str, body: SampleReceive, me: SamplesWrite, factory: FactoryDep) -> SampleDetail:
    def go(s: Session) -> SampleDetail:
        sampling.receive_sample(s, code, actor=me.username, condition=body.condition, storage=body.storage,
                                temperature_c=body.temperature_c)
        return sample_views.sample_detail(s, code)
    return run_service(factory, me.username, "sample receipt", go)


@router.post("/samples/{code}/custody", tags=["samples"], status_code=201, summary="样品流转 / custody event")
def custody(code: str, body: CustodyCreate, me: SamplesWrite, factory: FactoryDep) -> CustodyRecorded:
    def go(s: Session) -> CustodyRecorded:
        ev = sampling.custody(s, code, actor=me.username, **body.model_dump())
        return {"id": ev.id, "kind": ev.kind, "at": ev.at.isoformat()}
    return run_service(factory, me.username, f"custody: {body.kind}", go)


# ------------------------------------------------------------------------------------ batches

@router.post("/batches", tags=["batches"], status_code=201, summary="新建批次 / create a batch")
def create_batch(body: BatchCreate, me: ResultsEnter, factory: FactoryDep) -> BatchDetail:
    def go(s: Session) -> BatchDetail:
        batches.create_batch(s, **body.model_dump())
        return batch_views.batch_detail(s, body.code)
    return run_service(factory, me.username, "create batch", go)


@router.get("/batches/{code}", tags=["batches"], summary="批次详情 / a batch")
def get_batch(code: str, me: ResultsRead, factory: FactoryDep) -> BatchDetail:
    return read_service(factory, lambda s: batch_views.batch_detail(s, code))


@router.post("/batches/{code}/curves", tags=["batches"], status_code=201, summary="标准曲线 / store a curve")
def add_curve(code: str, body: CurveCreate, me: ResultsEnter, factory: FactoryDep) -> CurveStored:
    if len(body.concentrations) != len(body.responses):
        raise HTTPException(422, detail={"message": "concentrations and responses differ in length",
                                         "field": "responses"})
    return run_service(factory, me.username, "store calibration curve", lambda s: batch_views.curve_stored(
        batches.store_curve(s, batch=get_by_code(s, Batch, code), **body.model_dump())))


@router.post("/batches/{code}/qc", tags=["batches"], status_code=201, summary="质控样 / record a QC sample")
def add_qc(code: str, body: QcCreate, me: ResultsEnter, factory: FactoryDep) -> QcRow:
    return run_service(factory, me.username, f"QC {body.kind}",
                       lambda s: batch_views.qc_row(batches.add_qc(s, code, **body.model_dump())))


@router.post("/batches/{code}/evaluate", tags=["batches"], summary="批次质控判定 / judge the batch QC")
def evaluate(code: str, me: ResultsEnter, factory: FactoryDep) -> QcOutcomeShown:
    def go(s: Session) -> QcOutcomeShown:
        out = batches.evaluate_batch_qc(s, code)
        return {"passed": out.passed, "failures": list(out.failures)}
    return run_service(factory, me.username, "batch QC evaluation", go)


# ------------------------------------------------------------------------------------ results

@router.post("/analyses/{analysis_id}/quantify", tags=["results"], status_code=201,
             summary="按标准曲线定量 / quantify against a curve")
def quantify(analysis_id: DbId, body: QuantifyRequest, me: ResultsEnter, factory: FactoryDep) -> ResultRow:
    command = quantify_command(body, analysis_id=analysis_id, analyst_id=me.user_id)
    return run_service(factory, me.username, "quantitation",
                       lambda s: result_views.result_row(s, batches.quantify(s, command)))


@router.post("/analyses/{analysis_id}/manual-result", tags=["results"], status_code=201,
             summary="手工录入（须说明理由）/ manual entry with a reason")
def manual_result(analysis_id: DbId, body: ManualResultCreate, me: ResultsEnter, factory: FactoryDep) -> ResultRow:
    return run_service(factory, me.username, f"manual entry: {body.reason}", lambda s: result_views.result_row(
        s, batches.enter_manual_result(s, analysis_id=analysis_id, analyst_id=me.user_id, **body.model_dump())))


@router.get("/results/{result_id}", tags=["results"], summary="检测结果 / a result with its signatures")
def get_result(result_id: DbId, me: ResultsRead, factory: FactoryDep) -> ResultDetail:
    return read_service(factory, lambda s: result_views.result_detail(s, result_id))


def _sign(factory: sessionmaker[Session], me: Principal, reason: str, body: SignRequest, sign: Callable[..., list[Signature]],
          **extra: Any) -> SignedResults:
    """One signing request in one unit of work: ``sign`` (a :mod:`lims.services.signoff` function) on
    the body's results with the re-entered password; the signatures made, as shown."""
    return run_service(factory, me.username, reason, lambda s: result_views.signed_results(
        sign(s, body.result_ids, username=me.username, password=body.password, **extra)))


@router.post("/results/author", tags=["review"], summary="检验人签名 / sign authorship")
def author(body: SignRequest, me: ResultsEnter, factory: FactoryDep) -> SignedResults:
    return _sign(factory, me, "authorship signature", body, signoff.author_results)


@router.post("/results/review", tags=["review"], summary="审核签名 / review")
def review(body: SignRequest, me: ResultsReview, factory: FactoryDep) -> SignedResults:
    return _sign(factory, me, "review signature", body, signoff.review_results)


@router.post("/results/approve", tags=["review"], summary="批准签发 / approve (certify)")
def approve(body: SignRequest, me: ResultsApprove, factory: FactoryDep) -> SignedResults:
    return _sign(factory, me, "approval signature", body, signoff.approve_results, lab_code=get_settings().lab_code)


@router.post("/results/reject", tags=["review"], summary="退回 / reject (and ask for a re-test)")
def reject(body: RejectRequest, me: ResultsReview, factory: FactoryDep) -> SignedResults:
    return _sign(factory, me, body.reason, body, signoff.reject_results, reason=body.reason, retest=body.retest)


@router.post("/results/{result_id}/limit-judgement", tags=["review"],
             summary="无限量标准的判定 / the approver's judgement of a result without an applicable limit")
def judge_without_limit(result_id: DbId, body: LimitJudgementRequest, me: ResultsApprove,
                        factory: FactoryDep) -> ResultDetail:
    fields = body.model_dump(exclude={"password"})
    return run_service(factory, me.username, f"limit judgement: {body.kind}", lambda s: result_views.result_detail(
        s, limit_judgements.judge_result(s, result_id, limit_judgements.judgement_from(fields),
                                         username=me.username, password=body.password).id))


@router.post("/results/{result_id}/amend", tags=["review"], status_code=201, summary="更正 / amend a certified result")
def amend(result_id: DbId, body: AmendRequest, me: ResultsEnter, factory: FactoryDep) -> ResultRow:
    return run_service(factory, me.username, body.reason, lambda s: result_views.result_row(
        s, signoff.amend_result(s, result_id, analyst_id=me.user_id, **body.model_dump())))


# ------------------------------------------------------------------------------------ limits

@router.get("/limits", tags=["limits"], summary="限量标准 / MRL table", responses=page_of(LimitRow))
def list_limits(me: LimitsRead, factory: FactoryDep, analyte_id: DbId | None = None,
                commodity_id: DbId | None = None, limit_type: str | None = None,
                limit: Limit_ = 50, offset: Offset = 0) -> PageJSON:
    return PageJSON(read_service(factory, lambda s: limit_views.list_limits(
        s, analyte_id=analyte_id, commodity_id=commodity_id, limit_type=limit_type, limit=limit, offset=offset)))


@router.get("/limits/find", tags=["limits"],
            summary="查询适用限量 / the limit a result of an analyte in a commodity is judged against")
def find_limit(me: LimitsRead, factory: FactoryDep, commodity: Annotated[str, Query(min_length=1, max_length=120)],
               analyte: Annotated[str, Query(min_length=1, max_length=120)],
               date: dt.date | None = None) -> LimitFindAnswer:
    return read_service(factory, lambda s: limit_views.find_limit(s, commodity, analyte, date))


@router.post("/limits/import", tags=["limits"], summary="导入限量 CSV / import a limits CSV (all or nothing)")
def import_limits_csv(body: LimitsCsvUpload, me: LimitsManage, factory: FactoryDep) -> LimitsImported:
    from lims.limits import LimitsCsvError, parse_limits_csv

    try:
        parsed = parse_limits_csv(body.csv_text, source=body.source)
    except LimitsCsvError as e:
        raise HTTPException(422, detail={"message": str(e), "field": "csv_text"}) from None
    if parsed.rejected:
        raise HTTPException(422, detail={"message": f"{len(parsed.rejected)} rows rejected; nothing imported",
                                         "field": "csv_text", "problems_total": len(parsed.rejected), "problems": [
                                             {"line": r.line, "field": r.field, "message": r.reason[:300]}
                                             for r in parsed.rejected[:get_settings().max_problems]]})

    def go(s: Session) -> LimitsImported:
        out = limits.import_limits(s, parsed)
        return {"inserted": out.inserted, "skipped_existing": out.skipped_existing}
    return run_service(factory, me.username, f"limits import {body.source}", go)


# ------------------------------------------------------------------------------------ reports

@router.get("/reports", tags=["reports"], summary="检验报告 / reports", responses=page_of(ReportRow))
def list_reports(me: ReportsRead, factory: FactoryDep, limit: Limit_ = 50, offset: Offset = 0) -> PageJSON:
    return PageJSON(read_service(factory, lambda s: report_views.list_reports(s, limit=limit, offset=offset)))


@router.post("/reports", tags=["reports"], status_code=201, summary="签发报告 / issue (or amend) a report")
def issue_report(body: ReportCreate, me: ReportsIssue, factory: FactoryDep) -> ReportRow:
    out_dir = get_settings().report_dir
    return run_service(factory, me.username, body.amendment_reason or "report issue", lambda s: report_views.report_row(
        reporting.issue_report(s, body.sample_code, out_dir=out_dir, language=body.language,  # type: ignore[arg-type]
                               amendment_reason=body.amendment_reason)))


@router.get("/reports/{report_no}/pdf", tags=["reports"], summary="下载报告 PDF / download the PDF",
            response_class=FileResponse, responses=PDF_RESPONSE)
def report_pdf(report_no: str, me: ReportsRead, factory: FactoryDep) -> FileResponse:
    path = Path(read_service(factory, lambda s: report_views.report_file(s, report_no)))
    if not path.is_file():
        raise HTTPException(410, detail={"message": f"report file {path.name} is missing from the archive",
                                         "field": "report_no", "code": "report.file_missing"})
    return FileResponse(path, media_type="application/pdf", filename=path.name)


# ------------------------------------------------------------------------------------ audit

@router.get("/audit/events", tags=["audit"], summary="审计追踪 / audit trail", responses=page_of(AuditEventRow))
def audit_events(me: AuditRead, factory: FactoryDep, table_name: str | None = None, record_id: str | None = None,
                 limit: Limit_ = 100, offset: Offset = 0) -> PageJSON:
    return PageJSON(read_service(factory, lambda s: audit_views.list_events(
        s, table_name=table_name, record_id=record_id, limit=limit, offset=offset)))


@router.get("/audit/verify", tags=["audit"], summary="最近一次审计链校验 / the newest audit verification")
def audit_verify(me: AuditRead, factory: FactoryDep) -> verify_runs.VerifyRunView:
    """The newest finished verification with its time (a full run reads every event: POST starts one)."""
    return read_service(factory, verify_runs.latest)


@router.post("/audit/verify", tags=["audit"], status_code=202, summary="开始校验审计链 / start a verification")
def audit_verify_start(me: AuditRead, factory: FactoryDep) -> verify_runs.VerifyRunView:
    """Starts a verification in the background (or answers the one already running); GET reads the outcome."""
    run, new = run_service(factory, me.username, "start audit verification",
                           lambda s: verify_runs.start_run(s, me.username))
    if new:
        threading.Thread(target=verify_runs.execute_run, args=(factory, run.id), daemon=True,
                         name=f"audit-verify-{run.id}").start()
    return verify_runs.view(run, running=True)
