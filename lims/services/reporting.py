"""Test reports: build the report data from the database, render the PDF, record it.

An issued report is immutable; an amendment issues a new version with a new report ID naming the
one it replaces (ISO/IEC 17025:2017 7.8.8), and the earlier one stays retrievable.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import as_utc
from lims.config import get_settings
from lims.db.anchors import request_checkpoint
from lims.db.models import (
    Analysis,
    Batch,
    Lab,
    Limit,
    MonitoringTask,
    Report,
    Result,
    ResultStatus,
    Sample,
    SampleStatus,
    Signature,
)
from lims.reports import model as rm
from lims.reports.conclusion import LineBasis, conclusion
from lims.reports.statements import VALIDITY_STATEMENTS, objection_statement
from lims.reports.wording import bi
from lims.services import reported
from lims.services.errors import Conflict
from lims.services.lookup import find_by_code, get_by_code
from lims.services.signoff import TZ_CHINA
from lims.vocabulary import AnalysisKind, ProgrammeType, ReportStatus, SignatureMeaning
from lims.workflow import transition

#: Sampling method printed on the report, by the commodity's top-level category (GB 2763 Appendix A /
#: GB 31650 groups as stored on ``commodity.category``). NY/T 789-2004 is the sampling method for
#: pesticide residue analysis (plant products); animal products are sampled for veterinary drug residues
#: under NY/T 1897-2010; aquatic products under GB/T 30891-2014. The two latter codes and titles are
#: from the lab's standards list, not confirmed against the standards' text from this project's sources.
SAMPLING_METHODS: dict[str, str] = {
    "动物性食品": "NY/T 1897-2010 动物及动物产品兽药残留监控抽样规范",
    "畜禽": "NY/T 1897-2010 动物及动物产品兽药残留监控抽样规范",
    "水产品": "GB/T 30891-2014 水产品抽样规范",
}
SAMPLING_METHOD_DEFAULT = "NY/T 789-2004 农药残留分析样本的采样方法"
#: The report's three signatures (RB/T 214) by the meaning of the e-signature behind each.
_ROLE_OF_MEANING = {SignatureMeaning.AUTHORSHIP: rm.SignatureRole.TESTER,
                    SignatureMeaning.REVIEW: rm.SignatureRole.CHECKER,
                    SignatureMeaning.APPROVAL: rm.SignatureRole.APPROVER}


def _china(value: dt.datetime) -> dt.datetime:
    return as_utc(value).astimezone(TZ_CHINA)


def sampling_method_for(category: str) -> str:
    """The sampling method of a commodity category ("动物性食品/肉类" → NY/T 1897-2010)."""
    top = category.split("/", 1)[0].strip()
    return SAMPLING_METHODS.get(top, SAMPLING_METHOD_DEFAULT)


def _verdict(r: Result) -> rm.Verdict:
    """The verdict printed for a result: a screening call is no conformity decision (not evaluated)."""
    try:
        verdict = rm.Verdict(r.verdict)
    except ValueError:
        return rm.Verdict.NOT_EVALUATED
    return verdict if verdict.is_conformity else rm.Verdict.NOT_EVALUATED


def _mrl_text(limit: Limit | None) -> str | None:
    if limit is None:
        return None
    if limit.limit_type == "banned":
        return "不得检出 / not permitted"
    if limit.value_mg_kg is not None:
        return f"{limit.value_mg_kg:g} mg/kg"
    return None


def _judgement(r: Result) -> dict[str, Any] | None:
    """The approver's explicit judgement of a result with no limit in the table (lims.services.limit_judgements)."""
    found = ((r.details or {}).get("limit_check") or {}).get("judgement")
    return found if isinstance(found, dict) else None


def _judged_limit(j: dict[str, Any]) -> tuple[str | None, str | None]:
    """(limit text, source) of a judgement: the value and its standard or source, or 无限量标准."""
    if j.get("kind") == "no_limit_applies":
        return "无限量标准 / no limit", None
    source = f"{j.get('standard') or ''} {j.get('clause') or ''}".strip() or str(j.get("source") or "")
    value = j.get("value_mg_kg")
    return (f"{value:g} mg/kg" if isinstance(value, int | float) else None), f"{source}（批准人判定 / approver's judgement）"


def _limit_warning(limit: Limit | None, judgement: dict[str, Any] | None) -> str | None:
    """What the working copy says about the limit: a row not verified against its standard's text, or the
    approver's judgement of a result with no limit in the table."""
    if judgement is not None:
        basis = judgement.get("reason") or judgement.get("source") or judgement.get("standard") or ""
        return (f"限量表无该项限量，由批准人{judgement.get('by', '')}判定（{basis}） / no limit in the table; judged "
                f"by the approver {judgement.get('by', '')} ({basis})")
    if limit is None or getattr(limit, "verified", True):
        return None
    return "限量值未经标准原文核对 / limit not yet verified against the standard's text"


def _line_signatures(s: Session, r: Result) -> tuple[rm.SignatureManifestation, ...]:
    """Who tested, checked and approved THIS result version: the latest signature of each meaning on it."""
    found: dict[rm.SignatureRole, rm.SignatureManifestation] = {}
    for sig in s.execute(select(Signature).where(Signature.record_type == "result", Signature.record_id == r.id)
                         .order_by(Signature.signed_at, Signature.id)).scalars():
        role = _ROLE_OF_MEANING.get(SignatureMeaning(sig.meaning))
        if role is not None:
            found[role] = rm.SignatureManifestation(role=role, printed_name=sig.printed_name,
                                                    signed_at=_china(sig.signed_at),
                                                    meaning=SignatureMeaning(sig.meaning).printed)
    return tuple(found[k] for k in rm.SignatureRole if k in found)


def _result_line(s: Session, r: Result) -> rm.ResultLine:
    a = r.analysis
    limit = s.get(Limit, r.limit_id) if r.limit_id else None
    screening = a.kind == AnalysisKind.SCREENING
    u_text = None
    if r.expanded_uncertainty is not None:
        u_text = f"{r.expanded_uncertainty:.2g} {r.unit}"
    lod_text, loq_text = reported.lod_loq_text(r)
    judgement = _judgement(r) if limit is None else None
    mrl_text, mrl_source = _judged_limit(judgement) if judgement else (
        _mrl_text(limit), f"{limit.source_standard} {limit.source_clause}".strip() if limit else None)
    return rm.ResultLine(
        analyte=f"{a.analyte.name_zh} ({a.analyte.name_en})" if not screening
        else f"{a.analyte.name_zh}（酶抑制率法快速检测）",
        result_text=reported.value_text(s, r), unit=r.unit, method_code=a.method.standard, verdict=_verdict(r),
        lod_text=lod_text, loq_text=loq_text, mrl_text=mrl_text, mrl_source=mrl_source,
        expanded_uncertainty_text=u_text, coverage_factor=r.coverage_factor if u_text else None,
        screening=screening, result_version=r.version, signatures=_line_signatures(s, r),
        warning=_limit_warning(limit, judgement))


def _basis(s: Session, r: Result) -> LineBasis:
    limit = s.get(Limit, r.limit_id) if r.limit_id else None
    a = r.analysis
    judgement = _judgement(r) if limit is None else None
    judged_by = (judgement.get("standard") or judgement.get("source")) if judgement else None
    return LineBasis(analyte_zh=a.analyte.name_zh, analyte_en=a.analyte.name_en,
                     screening=a.kind == AnalysisKind.SCREENING, verdict=_verdict(r),
                     limit_standard=limit.source_standard if limit else judged_by,
                     banned=limit is not None and limit.limit_type == "banned", decision_rule=r.decision_rule)


def conformity_for(s: Session, results: list[Result]) -> rm.Conformity:
    """The conclusion by method type and verdicts, and the decision rule in words (lims.reports.conclusion)."""
    return conclusion([_basis(s, r) for r in results])


def statements_for(results: list[Result], language: rm.Language) -> tuple[str, ...]:
    """The statements block: validity statements and the objection period of the applicable rule."""
    settings = get_settings()
    rapid_only = all(r.analysis.kind == AnalysisKind.SCREENING for r in results)
    pairs = [*VALIDITY_STATEMENTS, objection_statement(rapid_only=rapid_only,
                                                       working_days=settings.objection_working_days,
                                                       rapid_hours=settings.objection_rapid_hours)]
    return tuple(bi(pair, language, " ") for pair in pairs)


def _signatures(results: list[rm.ResultLine]) -> tuple[rm.SignatureManifestation, ...]:
    """The report's signature block: per role, the most recent signature over the reported result versions
    (an amended report carries the signatures of the corrected values)."""
    by_role: dict[rm.SignatureRole, rm.SignatureManifestation] = {}
    for line in results:
        for sig in line.signatures:
            if sig.role not in by_role or sig.signed_at > by_role[sig.role].signed_at:
                by_role[sig.role] = sig
    return tuple(by_role[k] for k in rm.SignatureRole if k in by_role)


def _producer(sample: Sample) -> rm.Producer:
    producer = sample.producer
    if producer is None:
        return rm.Producer(name="—", unified_social_credit_code=None, address=None)
    return rm.Producer(name=producer.name, unified_social_credit_code=producer.credit_code or None,
                       address=producer.address or None)


def _sampling(sample: Sample, task: MonitoringTask | None) -> rm.SamplingRecord:
    """The sampling record (ISO/IEC 17025:2017 7.8.2.1 k; 7.8.2.2)."""
    return rm.SamplingRecord(
        sampled_at=_china(sample.sampled_at or sample.created_at),
        place=sample.sampling_place or "—", region_code=sample.region_code or "000000",
        sampling_link=sample.sampling_link or "—",
        producer=_producer(sample),
        samplers=tuple(x for x in sample.samplers.split("、") if x) or ("—",),
        sampling_plan=(task.sampling_plan if task and task.sampling_plan else f"任务 {sample.task_code or '—'}"),
        sampling_method=sampling_method_for(sample.commodity.category),
        certificate_code=sample.certificate_no or None, traceability_code=sample.trace_code or None)


def _sample_item(sample: Sample, task: MonitoringTask | None) -> rm.SampleItem:
    """The item tested, its condition and dates (7.8.2.1 g, h)."""
    return rm.SampleItem(sample_id=sample.code, commodity=sample.commodity.name_zh,
                         description=sample.description or sample.commodity.name_zh,
                         condition_on_receipt=sample.condition or "完好 / intact",
                         quantity=sample.quantity or "—",
                         received_on=_china(sample.received_at or sample.created_at).date(),
                         sampling=_sampling(sample, task))


def _monitoring_task(task: MonitoringTask | None) -> rm.MonitoringTask | None:
    if task is None:
        return None
    return rm.MonitoringTask(code=task.code, name=task.name,
                             programme_type=ProgrammeType.label_of(task.programme_type),
                             issuing_authority=task.issuing_authority)


def build_report(s: Session, sample: Sample, results: list[Result], *, report_id: str,
                 version: int = 1, amendment: rm.Amendment | None = None, language: rm.Language = "zh-CN",
                 issued_on: dt.date | None = None) -> rm.TestReport:
    """The report data of a sample's results, read from the database (nothing is written)."""
    lab = s.get(Lab, sample.lab_id)
    assert lab is not None
    task = find_by_code(s, MonitoringTask, sample.task_code)
    tested = [_china(r.created_at).date() for r in results]
    methods = {r.analysis.method.standard: r.analysis.method.name for r in results}
    today = issued_on or dt.datetime.now(TZ_CHINA).date()
    lines = tuple(_result_line(s, r) for r in results)
    public_url = get_settings().public_url
    return rm.TestReport(
        report_id=report_id,
        laboratory=rm.Laboratory(name=lab.name, address=lab.address or "—",
                                 cma_certificate_number=lab.cma_number or None),
        testing_location=f"{lab.name}（固定场所）",
        customer=rm.Customer(name=task.issuing_authority if task else "委托单位"),
        monitoring_task=_monitoring_task(task),
        sample=_sample_item(sample, task),
        methods=tuple(rm.MethodRef(code=k, title=v) for k, v in methods.items()),
        testing_started_on=min(tested), testing_completed_on=max(tested),
        issued_on=max(today, max(tested)),
        results=lines,
        conformity=conformity_for(s, results),
        signatures=_signatures(list(lines)),
        version=version, amendment=amendment, language=language,
        statements=statements_for(results, language),
        verify_base_url=f"{public_url.rstrip('/')}/verify/" if public_url else None)


def current_results(s: Session, sample: Sample) -> list[Result]:
    rows = s.execute(select(Result).join(Analysis).where(
        Analysis.sample_id == sample.id,
        Result.status.in_((ResultStatus.CERTIFIED, ResultStatus.REPORTED))).order_by(Result.id)).scalars().all()
    return list(rows)


def _refuse_withheld(s: Session, previous: Report | None, results: list[Result]) -> None:
    from lims.quality.nonconformity import withheld

    batches = [b for (b,) in s.execute(select(Batch.code).join(Analysis, Analysis.batch_id == Batch.id)
                                       .where(Analysis.id.in_([r.analysis_id for r in results])))]
    reasons = withheld(s, report_nos=[previous.report_no] if previous else [], batch_codes=batches,
                       result_ids=[r.id for r in results])
    if reasons:
        raise Conflict("report withheld: " + "; ".join(reasons), field="sample_code", code="quality.report_withheld")


def issue_report(s: Session, sample_code: str, *, out_dir: Path, language: rm.Language = "zh-CN",
                 amendment_reason: str | None = None) -> Report:
    """Issue (or, with ``amendment_reason``, amend) the report of a sample whose results are certified."""
    sample = get_by_code(s, Sample, sample_code, field="sample_code")
    results = current_results(s, sample)
    if not results:
        raise Conflict(f"sample {sample_code} has no certified results to report", field="sample_code",
                       code="report.no_certified_results")
    previous = s.execute(select(Report).where(Report.sample_id == sample.id, Report.status == ReportStatus.ISSUED)
                         .order_by(Report.version.desc())).scalars().first()
    if previous is not None and not amendment_reason:
        raise Conflict(f"sample {sample_code} already has report {previous.report_no}; amend it with a reason",
                       field="amendment_reason", code="report.needs_amendment_reason")
    _refuse_withheld(s, previous, results)  # issue 15: an open nonconformity may withhold reports
    base_no = f"JC{sample.code}"
    version = previous.version + 1 if previous else 1
    report_no = base_no if version == 1 else f"{base_no}-A{version - 1}"
    amendment = (rm.Amendment(supersedes_report_id=previous.report_no, reason=amendment_reason or "")
                 if previous else None)
    data = build_report(s, sample, results, report_id=report_no, version=version, amendment=amendment,
                        language=language)
    from lims.reports.pdf import render_report_pdf  # reportlab: loaded with the first PDF, not the web app

    rendered = render_report_pdf(data, out_dir / f"{report_no}.pdf")
    report = Report(report_no=report_no, version=version, supersedes_id=previous.id if previous else None,
                    sample_id=sample.id, lang=language, path=str(rendered.path), file_sha256=rendered.sha256,
                    content_hash=rm.content_hash(data), amendment_reason=amendment_reason or "",
                    conclusion=data.conformity.statement)
    s.add(report)
    if previous is not None:
        transition(previous, ReportStatus.SUPERSEDED)
    for r in results:
        if r.status == ResultStatus.CERTIFIED:
            transition(r, ResultStatus.REPORTED)
    transition(sample, SampleStatus.REPORTED)
    s.flush()
    request_checkpoint(s)  # signed audit checkpoint when this unit of work commits
    return report
