"""The quality system under /api/v1/quality: nonconformities and CAPA, overdue escalation, clause library, audit
programmes, audits, findings and evidence, complaints, controlled documents, QC charts with Westgard rules.

Thin routes over :mod:`lims.quality` (one unit of work per request, the service never commits). Reading needs
``quality:read`` (every lab role); raising a nonconformity or a complaint and recording a QC run
``quality:raise``; everything else (containment, CAPA, closing, audits, documents, targets, rules)
``quality:manage``, the QA manager's. Models: :mod:`api.quality_models`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Response, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import quality_models as m
from api.deps import FactoryDep, read_service, run_service
from api.pt_models import CHART_RESPONSE
from api.schemas import DbId  # ids beyond 2^31: 422, never a database overflow (issue 11)
from api.security import Permission, Principal, require
from lims.config import get_settings
from lims.db.models_quality import AuditProgramme, QualityAudit
from lims.quality import audits, complaints, documents, qcruns
from lims.quality import nonconformity as ncs
from lims.quality.views import audit_view, complaint_view, nc_detail, nc_summary

router = APIRouter(tags=["quality"])
T = TypeVar("T")
Reader = Annotated[Principal, require(Permission.QUALITY_READ)]
Raiser = Annotated[Principal, require(Permission.QUALITY_RAISE)]
Manager = Annotated[Principal, require(Permission.QUALITY_MANAGE)]
P = "/api/v1/quality"


def _w(factory: Any, me: Principal, reason: str, fn: Callable[[Session], T]) -> T:
    return run_service(factory, me.username, reason, fn)


# ------------------------------------------------------------------------------------------ nonconformities

@router.get(f"{P}/nonconformities", summary="不符合工作列表 / nonconformities")
def list_ncs(me: Reader, factory: FactoryDep, status: str | None = None, source: str | None = None) -> m.NcList:
    return read_service(factory, lambda s: m.NcList(items=[
        m.NcSummary(**nc_summary(n)) for n in ncs.list_ncs(s, status=status, source=source)]))


@router.post(f"{P}/nonconformities", status_code=201, summary="登记不符合工作 / raise a nonconformity")
def raise_nc(body: m.NcIn, me: Raiser, factory: FactoryDep) -> m.NcDetail:
    return _w(factory, me, "raise nonconformity", lambda s: m.NcDetail(**nc_detail(s, ncs.raise_nc(
        s, source="manual", description=body.description, raised_by=me.username, risk=body.risk, owner=body.owner,
        due_date=body.due_date, links=body.links))))


@router.get(f"{P}/nonconformities/{{nc_id}}", summary="不符合工作详情 / a nonconformity")
def get_nc(nc_id: DbId, me: Reader, factory: FactoryDep) -> m.NcDetail:
    return read_service(factory, lambda s: m.NcDetail(**nc_detail(s, ncs.get_nc(s, nc_id))))


def _step(factory: Any, me: Principal, nc_id: int, reason: str, fn: Callable[[Session], Any]) -> m.NcDetail:
    def go(s: Session) -> m.NcDetail:
        fn(s)
        return m.NcDetail(**nc_detail(s, ncs.get_nc(s, nc_id)))
    return _w(factory, me, f"NC-{nc_id}: {reason}", go)


@router.post(f"{P}/nonconformities/{{nc_id}}/containment", summary="控制措施 / contain (stop work, withhold, recall)")
def contain(nc_id: DbId, body: m.ContainmentIn, me: Manager, factory: FactoryDep) -> m.NcDetail:
    report_dir = get_settings().report_dir
    return _step(factory, me, nc_id, f"containment {body.containment}", lambda s: ncs.contain(
        s, nc_id, containment=body.containment, kind=body.kind, ref=body.ref, note=body.note, report_dir=report_dir))


@router.post(f"{P}/nonconformities/{{nc_id}}/root-cause", summary="根本原因 / record the root cause")
def root_cause(nc_id: DbId, body: m.RootCauseIn, me: Manager, factory: FactoryDep) -> m.NcDetail:
    return _step(factory, me, nc_id, "root cause", lambda s: ncs.record_root_cause(s, nc_id, body.root_cause))


@router.post(f"{P}/nonconformities/{{nc_id}}/actions", summary="纠正措施 / add a corrective action")
def add_action(nc_id: DbId, body: m.ActionIn, me: Manager, factory: FactoryDep) -> m.NcDetail:
    return _step(factory, me, nc_id, "action", lambda s: ncs.add_action(
        s, nc_id, description=body.description, owner=body.owner, due_date=body.due_date))


@router.post(f"{P}/nonconformities/{{nc_id}}/actions/{{action_id}}/done", summary="措施完成 / an action is done")
def action_done(nc_id: DbId, action_id: DbId, body: m.NoteIn, me: Manager, factory: FactoryDep) -> m.NcDetail:
    return _step(factory, me, nc_id, f"action {action_id} done",
                 lambda s: ncs.complete_action(s, action_id, note=body.note))


@router.post(f"{P}/nonconformities/{{nc_id}}/implemented", summary="措施已实施 / actions implemented")
def implemented(nc_id: DbId, me: Manager, factory: FactoryDep) -> m.NcDetail:
    return _step(factory, me, nc_id, "implemented", lambda s: ncs.implement(s, nc_id))


@router.post(f"{P}/nonconformities/{{nc_id}}/verification", summary="有效性验证 / verify effectiveness")
def verify(nc_id: DbId, body: m.VerificationIn, me: Manager, factory: FactoryDep) -> m.NcDetail:
    return _step(factory, me, nc_id, "effectiveness", lambda s: ncs.verify_effectiveness(
        s, nc_id, verification=body.verification, effective=body.effective))


@router.post(f"{P}/nonconformities/{{nc_id}}/close", summary="关闭 / close")
def close(nc_id: DbId, body: m.NoteIn, me: Manager, factory: FactoryDep) -> m.NcDetail:
    return _step(factory, me, nc_id, "close", lambda s: ncs.close(s, nc_id, note=body.note))


@router.get(f"{P}/overdue", summary="逾期未完成 / overdue nonconformities and actions")
def overdue(me: Reader, factory: FactoryDep) -> m.OverdueList:
    return read_service(factory, lambda s: m.OverdueList(items=[m.OverdueOut(**asdict(o)) for o in ncs.overdue(s)]))


# ------------------------------------------------------------------------------------------ audits

@router.get(f"{P}/clauses", summary="条款库 / clause library")
def clauses(me: Reader) -> m.ClauseList:
    return m.ClauseList(items=[m.ClauseOut(**asdict(c)) for c in audits.clause_library()])


def _programme(s: Session, year: int) -> m.ProgrammeOut:
    programme = s.execute(select(AuditProgramme).where(AuditProgramme.year == year)).scalar_one_or_none()
    rows = [] if programme is None else s.execute(select(QualityAudit).where(
        QualityAudit.programme_id == programme.id).order_by(QualityAudit.start_date)).scalars().all()
    return m.ProgrammeOut(year=year, title=programme.title if programme else None,
                          audits=[m.AuditOut(**audit_view(a)) for a in rows],
                          coverage=m.Coverage(**audits.programme_coverage(s, year)))


@router.post(f"{P}/programmes", status_code=201, summary="年度审核方案 / create the year's audit programme")
def create_programme(body: m.ProgrammeIn, me: Manager, factory: FactoryDep) -> m.ProgrammeOut:
    def go(s: Session) -> m.ProgrammeOut:
        audits.create_programme(s, year=body.year, title=body.title, audits=body.audits, lead_auditor=me.username)
        return _programme(s, body.year)
    return _w(factory, me, f"audit programme {body.year}", go)


@router.get(f"{P}/programmes/{{year}}", summary="审核方案及条款覆盖 / programme and clause coverage")
def get_programme(year: DbId, me: Reader, factory: FactoryDep) -> m.ProgrammeOut:
    return read_service(factory, lambda s: _programme(s, year))


def _audit(s: Session, code: str) -> m.AuditOut:
    return m.AuditOut(**audit_view(audits.get_audit(s, code), audits.findings_of(s, code)))


@router.post(f"{P}/audits", status_code=201, summary="计划审核或检查 / plan an audit or inspection")
def plan_audit(body: m.AuditIn, me: Manager, factory: FactoryDep) -> m.AuditOut:
    def go(s: Session) -> m.AuditOut:
        audits.plan_audit(s, **body.model_dump())
        return _audit(s, body.code)
    return _w(factory, me, f"plan audit {body.code}", go)


@router.get(f"{P}/audits/{{code}}", summary="审核详情 / an audit with its findings")
def get_audit(code: str, me: Reader, factory: FactoryDep) -> m.AuditOut:
    return read_service(factory, lambda s: _audit(s, code))


@router.get(f"{P}/audits/{{code}}/checklist", summary="审核检查表 / the audit's checklist")
def checklist(code: str, me: Reader, factory: FactoryDep) -> m.Checklist:
    return read_service(factory, lambda s: m.Checklist(audit=code, items=[
        m.ChecklistItem(**i) for i in audits.checklist(s, code)]))


@router.post(f"{P}/audits/{{code}}/findings", status_code=201, summary="审核发现 / record a finding")
def add_finding(code: str, body: m.FindingIn, me: Manager, factory: FactoryDep) -> m.AuditOut:
    def go(s: Session) -> m.AuditOut:
        audits.add_finding(s, code, clause_id=body.clause_id, grade=body.grade, description=body.description,
                           raised_by=me.username, owner=body.owner)
        return _audit(s, code)
    return _w(factory, me, f"finding in audit {code}", go)


# declared after /findings, which the {action} pattern would otherwise shadow
@router.post(f"{P}/audits/{{code}}/{{action}}", summary="开始/完成审核 / start or complete an audit")
def audit_step(code: str, action: Literal["start", "complete"], me: Manager, factory: FactoryDep) -> m.AuditOut:
    def go(s: Session) -> m.AuditOut:
        (audits.start_audit if action == "start" else audits.complete_audit)(s, code)
        return _audit(s, code)
    return _w(factory, me, f"{action} audit {code}", go)


@router.post(f"{P}/evidence/{{owner_kind}}/{{owner_id}}", status_code=201, summary="上传证据 / attach evidence")
async def attach(owner_kind: str, owner_id: DbId, me: Manager, factory: FactoryDep,
                 file: Annotated[UploadFile, File(description="evidence file (size-limited)")]) -> m.EvidenceOut:
    data = await file.read(audits.MAX_EVIDENCE_BYTES + 1)  # one byte more than allowed: refused, never truncated
    return _w(factory, me, f"evidence for {owner_kind} {owner_id}", lambda s: m.EvidenceOut.model_validate(
        audits.attach_evidence(s, owner_kind=owner_kind, owner_id=owner_id, filename=file.filename or "",
                               data=data, uploaded_by=me.username), from_attributes=True))  # LIMS_EVIDENCE_DIR


# ------------------------------------------------------------------------------------------ complaints

@router.get(f"{P}/complaints", summary="投诉列表 / complaints")
def list_complaints(me: Reader, factory: FactoryDep, status: str | None = None) -> m.ComplaintList:
    return read_service(factory, lambda s: m.ComplaintList(items=[
        m.ComplaintOut(**complaint_view(c)) for c in complaints.list_complaints(s, status=status)]))


@router.post(f"{P}/complaints", status_code=201, summary="受理投诉 / receive a complaint")
def receive(body: m.ComplaintIn, me: Raiser, factory: FactoryDep) -> m.ComplaintOut:
    return _w(factory, me, f"complaint {body.code}",
              lambda s: m.ComplaintOut(**complaint_view(complaints.receive(s, **body.model_dump()))))


@router.post(f"{P}/complaints/{{code}}/investigate", summary="调查投诉 / investigate")
def investigate(code: str, body: m.InvestigateIn, me: Manager, factory: FactoryDep) -> m.ComplaintOut:
    return _w(factory, me, f"investigate complaint {code}", lambda s: m.ComplaintOut(**complaint_view(
        complaints.investigate(s, code, raised_by=me.username, **body.model_dump()))))


@router.post(f"{P}/complaints/{{code}}/resolve", summary="处理投诉 / resolve")
def resolve(code: str, body: m.ResolutionIn, me: Manager, factory: FactoryDep) -> m.ComplaintOut:
    return _w(factory, me, f"resolve complaint {code}", lambda s: m.ComplaintOut(**complaint_view(
        complaints.resolve(s, code, resolution=body.resolution))))


@router.post(f"{P}/complaints/{{code}}/close", summary="关闭投诉 / close")
def close_complaint(code: str, me: Manager, factory: FactoryDep) -> m.ComplaintOut:
    return _w(factory, me, f"close complaint {code}",
              lambda s: m.ComplaintOut(**complaint_view(complaints.close(s, code))))


# ------------------------------------------------------------------------------------------ documents

def _document(s: Session, code: str) -> m.DocumentOut:
    doc = documents.get_document(s, code)
    return m.DocumentOut(code=doc.code, title=doc.title, kind=doc.kind, review_interval_months=doc.review_interval_months,
                         versions=[m.VersionOut.model_validate(v, from_attributes=True)
                                   for v in documents.versions(s, code)])


@router.post(f"{P}/documents", status_code=201, summary="登记受控文件 / register a controlled document")
def register_document(body: m.DocumentIn, me: Manager, factory: FactoryDep) -> m.DocumentOut:
    def go(s: Session) -> m.DocumentOut:
        documents.register(s, **body.model_dump())
        return _document(s, body.code)
    return _w(factory, me, f"document {body.code}", go)


@router.get(f"{P}/documents/{{code}}", summary="受控文件及版本 / a document and its versions")
def get_document(code: str, me: Reader, factory: FactoryDep) -> m.DocumentOut:
    return read_service(factory, lambda s: _document(s, code))


@router.post(f"{P}/documents/{{code}}/versions", status_code=201, summary="新版本草稿 / draft a version")
def draft_version(code: str, body: m.VersionIn, me: Manager, factory: FactoryDep) -> m.DocumentOut:
    def go(s: Session) -> m.DocumentOut:
        documents.draft(s, code, version=body.version)
        return _document(s, code)
    return _w(factory, me, f"draft {code} {body.version}", go)


DOCUMENT_FILE: dict[int | str, dict[str, Any]] = {200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                       "description": "the version's file, checked against its SHA-256 (also in X-Content-SHA256)"}}


@router.get(f"{P}/documents/{{code}}/versions/{{version}}/file", summary="下载版本文件 / download a version's file",
            response_class=Response, responses=DOCUMENT_FILE)
def version_file(code: str, version: str, me: Reader, factory: FactoryDep) -> Response:
    """The file as drafted: its SHA-256 is checked on every read — a changed file is refused (409
    ``document.file_altered``), a missing one answers 410 ``document.file_missing``."""
    def go(s: Session) -> tuple[str, bytes]:
        row, data = documents.version_file(s, code, version)
        return row.sha256, data
    sha256, data = read_service(factory, go)
    name, media = documents.download_name(code, version, data)
    return Response(data, media_type=media, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}", "X-Content-SHA256": sha256})


@router.post(f"{P}/documents/{{code}}/versions/{{version}}/approve", summary="批准版本（旧版作废）/ approve")
def approve_version(code: str, version: str, me: Manager, factory: FactoryDep) -> m.DocumentOut:
    def go(s: Session) -> m.DocumentOut:
        documents.approve(s, code, version=version, approver=me.username)
        return _document(s, code)
    return _w(factory, me, f"approve {code} {version}", go)


@router.post(f"{P}/documents/{{code}}/versions/{{version}}/distribution", summary="分发 / distribute")
def distribute(code: str, version: str, body: m.DistributeIn, me: Manager, factory: FactoryDep) -> m.DocumentOut:
    def go(s: Session) -> m.DocumentOut:
        documents.distribute(s, code, version=version, holders=body.holders)
        return _document(s, code)
    return _w(factory, me, f"distribute {code} {version}", go)


# ------------------------------------------------------------------------------------------ QC charts

@router.post(f"{P}/qc/targets", summary="质控靶值 / set or compute a level's target mean and SD")
def set_target(body: m.TargetIn, me: Manager, factory: FactoryDep) -> m.TargetOut:
    key = {"material": body.material, "analyte": body.analyte, "instrument": body.instrument, "level": body.level}

    def go(s: Session) -> m.TargetOut:
        if body.mean is None or body.sd is None:
            row = qcruns.target_from_data(s, **key)
        else:
            row = qcruns.set_target(s, **key, mean=body.mean, sd=body.sd)
        return m.TargetOut.model_validate(row, from_attributes=True)
    return _w(factory, me, f"QC target {body.material}/{body.analyte}/{body.level}", go)


@router.put(f"{P}/qc/methods/{{method_code}}/rules", summary="方法的 Westgard 规则 / a method's Westgard rules")
def set_rules(method_code: str, body: m.RulesIn, me: Manager, factory: FactoryDep) -> m.RulesOut:
    return _w(factory, me, f"Westgard rules of {method_code}", lambda s: m.RulesOut.model_validate(
        qcruns.set_method_rules(s, method_code, body.rules), from_attributes=True))


@router.post(f"{P}/qc/runs", status_code=201, summary="质控运行（Westgard 判定）/ record and judge a QC run")
def record_run(body: m.QcRunIn, me: Raiser, factory: FactoryDep) -> m.QcRunOut:
    def go(s: Session) -> m.QcRunOut:
        run = qcruns.record_run(s, code=body.code, material=body.material, analyte=body.analyte,
                                instrument=body.instrument, method=body.method, batch_code=body.batch_code,
                                values=[(v.level, v.value) for v in body.values], raised_by=me.username)
        return m.QcRunOut(code=run.code, accepted=run.accepted, warnings=run.warnings, rejections=run.rejections,
                          rules=run.rules, nonconformity_id=run.nonconformity_id,
                          batch_held=run.batch_id is not None and not run.accepted)
    return _w(factory, me, f"QC run {body.code}", go)


@router.get(f"{P}/qc/chart", summary="Levey-Jennings 图数据 / chart points")
def chart(me: Reader, factory: FactoryDep, material: str, analyte: str, instrument: str = "",
          level: str | None = None) -> m.ChartOut:
    return read_service(factory, lambda s: m.ChartOut(
        material=material, analyte=analyte, instrument=instrument,
        points=[m.ChartPointOut(**asdict(p)) for p in qcruns.chart_points(
            s, material=material, analyte=analyte, instrument=instrument, level=level)]))


@router.get(f"{P}/qc/chart.svg", summary="Levey-Jennings 图 / chart as SVG", response_class=Response,
            responses=CHART_RESPONSE)
def chart_svg(me: Reader, factory: FactoryDep, material: str, analyte: str, level: str,
              instrument: Annotated[str, Query()] = "") -> Response:
    points = read_service(factory, lambda s: qcruns.chart_points(s, material=material, analyte=analyte,
                                                                 instrument=instrument, level=level))
    title = f"{material} / {analyte} / {level}{' / ' + instrument if instrument else ''} Levey-Jennings"
    from lims.quality.charts import levey_jennings_svg  # reportlab: with the first chart, not the web app

    return Response(levey_jennings_svg(points, title=title), media_type="image/svg+xml")
