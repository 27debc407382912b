"""Test reports: build the report data from the database, render the PDF, record it.

An issued report is immutable; an amendment issues a new version with a new report ID naming the
one it replaces (ISO/IEC 17025:2017 7.8.8), and the earlier one stays retrievable.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.db.models import (
    Analysis,
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
from lims.reports.pdf import render_report_pdf
from lims.services.errors import Conflict, NotFound
from lims.services.signoff import TZ_CHINA

SAMPLING_METHOD_DEFAULT = "NY/T 789-2004 农药残留分析样本的采样方法"
_ROLE_OF_MEANING = {"authorship": rm.SignatureRole.TESTER, "review": rm.SignatureRole.CHECKER,
                    "approval": rm.SignatureRole.APPROVER}
_MEANING_TEXT = {"authorship": "检验 / Tested", "review": "审核 / Reviewed", "approval": "批准 / Approved"}
PROGRAMME_ZH = {"routine": "例行监测", "special": "专项监测", "supervisory": "监督抽查", "risk": "风险监测"}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _verdict(r: Result) -> rm.Verdict:
    try:
        return rm.Verdict(r.verdict)
    except ValueError:
        return rm.Verdict.NOT_EVALUATED


def _result_line(s: Session, r: Result) -> rm.ResultLine:
    a = r.analysis
    limit = s.get(Limit, r.limit_id) if r.limit_id else None
    u_text = None
    if r.expanded_uncertainty is not None:
        u_text = f"{r.expanded_uncertainty:.2g}"
    return rm.ResultLine(
        analyte=f"{a.analyte.name_zh} ({a.analyte.name_en})" if a.kind != "screening"
        else f"{a.analyte.name_zh}（酶抑制率法快速检测）",
        result_text=r.value_text or "—", unit=r.unit, method_code=a.method.standard, verdict=_verdict(r),
        lod_text=f"{r.lod:g}" if r.lod is not None else None,
        loq_text=f"{r.loq:g}" if r.loq is not None else None,
        mrl_text=(f"{limit.value_mg_kg:g}" if limit and limit.value_mg_kg is not None
                  else ("不得检出" if limit and limit.limit_type == "banned" else None)),
        mrl_source=f"{limit.source_standard} {limit.source_clause}".strip() if limit else None,
        expanded_uncertainty_text=u_text, coverage_factor=r.coverage_factor if u_text else None)


def conformity_for(results: list[Result]) -> rm.Conformity:
    verdicts = {r.verdict for r in results}
    rules = sorted({r.decision_rule for r in results if r.decision_rule})
    if "non_compliant" in verdicts or "banned_substance_detected" in verdicts:
        statement = "所检项目中有项目不符合限量要求，判定为不合格。/ Non-compliant: at least one result exceeds its limit."
    elif verdicts & {"compliant", "compliant_within_uncertainty"}:
        statement = "所检项目均符合限量要求，判定为合格。/ Compliant with the limits for the items tested."
    else:
        statement = ("快速检测结果仅作筛查，不作合格判定；阳性样品须经确证检测。/ Screening results only; "
                     "positives are confirmed by chromatography.")
    rule_text = "；".join(rules) if rules else "简单接受规则 / simple acceptance"
    return rm.Conformity(statement=statement, decision_rule=rules[0] if rules else "simple_acceptance",
                         decision_rule_text=rule_text)


def build_report(s: Session, sample: Sample, results: list[Result], *, report_id: str,
                 version: int = 1, amendment: rm.Amendment | None = None, language: rm.Language = "zh-CN",
                 issued_on: dt.date | None = None) -> rm.TestReport:
    lab = s.get(Lab, sample.lab_id)
    assert lab is not None
    task = s.execute(select(MonitoringTask).where(MonitoringTask.code == sample.task_code)).scalar_one_or_none()
    sigs_by_role: dict[rm.SignatureRole, rm.SignatureManifestation] = {}
    for r in results:
        for sig in s.execute(select(Signature).where(Signature.record_type == "result",
                                                     Signature.record_id == r.id)).scalars():
            role = _ROLE_OF_MEANING.get(sig.meaning)
            if role and role not in sigs_by_role:
                sigs_by_role[role] = rm.SignatureManifestation(
                    role=role, printed_name=sig.printed_name,
                    signed_at=_aware(sig.signed_at).astimezone(TZ_CHINA), meaning=_MEANING_TEXT[sig.meaning])
    tested = [_aware(r.created_at).astimezone(TZ_CHINA).date() for r in results]
    producer = sample.producer
    sampling = rm.SamplingRecord(
        sampled_at=_aware(sample.sampled_at or sample.created_at).astimezone(TZ_CHINA),
        place=sample.sampling_place or "—", region_code=sample.region_code or "000000",
        sampling_link=sample.sampling_link or "—",
        producer=rm.Producer(name=producer.name if producer else "—",
                             unified_social_credit_code=(producer.credit_code or None) if producer else None,
                             address=(producer.address or None) if producer else None),
        samplers=tuple(x for x in sample.samplers.split("、") if x) or ("—",),
        sampling_plan=(task.sampling_plan if task and task.sampling_plan else f"任务 {sample.task_code or '—'}"),
        sampling_method=SAMPLING_METHOD_DEFAULT,
        certificate_code=sample.certificate_no or None, traceability_code=sample.trace_code or None)
    methods = {r.analysis.method.standard: r.analysis.method.name for r in results}
    today = issued_on or dt.datetime.now(TZ_CHINA).date()
    return rm.TestReport(
        report_id=report_id,
        laboratory=rm.Laboratory(name=lab.name, address=lab.address or "—",
                                 cma_certificate_number=lab.cma_number or None),
        testing_location=f"{lab.name}（固定场所）",
        customer=rm.Customer(name=task.issuing_authority if task else "委托单位"),
        monitoring_task=(rm.MonitoringTask(code=task.code, name=task.name,
                                           programme_type=PROGRAMME_ZH.get(task.programme_type, task.programme_type),
                                           issuing_authority=task.issuing_authority) if task else None),
        sample=rm.SampleItem(sample_id=sample.code, commodity=sample.commodity.name_zh,
                             description=sample.description or sample.commodity.name_zh,
                             condition_on_receipt=sample.condition or "完好 / intact",
                             quantity=sample.quantity or "—",
                             received_on=_aware(sample.received_at or sample.created_at).astimezone(TZ_CHINA).date(),
                             sampling=sampling),
        methods=tuple(rm.MethodRef(code=k, title=v) for k, v in methods.items()),
        testing_started_on=min(tested), testing_completed_on=max(tested),
        issued_on=max(today, max(tested)),
        results=tuple(_result_line(s, r) for r in results),
        conformity=conformity_for(results),
        signatures=tuple(sigs_by_role[k] for k in rm.SignatureRole if k in sigs_by_role),
        version=version, amendment=amendment, language=language,
        verify_base_url="http://127.0.0.1:8000/verify/")


def current_results(s: Session, sample: Sample) -> list[Result]:
    rows = s.execute(select(Result).join(Analysis).where(
        Analysis.sample_id == sample.id,
        Result.status.in_((ResultStatus.CERTIFIED, ResultStatus.REPORTED))).order_by(Result.id)).scalars().all()
    return list(rows)


def issue_report(s: Session, sample_code: str, *, out_dir: Path, language: rm.Language = "zh-CN",
                 amendment_reason: str | None = None) -> Report:
    """Issue (or, with ``amendment_reason``, amend) the report of a sample whose results are certified."""
    sample = s.execute(select(Sample).where(Sample.code == sample_code)).scalar_one_or_none()
    if sample is None:
        raise NotFound(f"sample {sample_code} does not exist", field="sample_code")
    results = current_results(s, sample)
    if not results:
        raise Conflict(f"sample {sample_code} has no certified results to report", field="sample_code",
                       code="report.no_certified_results")
    previous = s.execute(select(Report).where(Report.sample_id == sample.id, Report.status == "issued")
                         .order_by(Report.version.desc())).scalars().first()
    if previous is not None and not amendment_reason:
        raise Conflict(f"sample {sample_code} already has report {previous.report_no}; amend it with a reason",
                       field="amendment_reason", code="report.needs_amendment_reason")
    base_no = f"JC{sample.code}"
    version = previous.version + 1 if previous else 1
    report_no = base_no if version == 1 else f"{base_no}-A{version - 1}"
    amendment = (rm.Amendment(supersedes_report_id=previous.report_no, reason=amendment_reason or "")
                 if previous else None)
    data = build_report(s, sample, results, report_id=report_no, version=version, amendment=amendment,
                        language=language)
    rendered = render_report_pdf(data, out_dir / f"{report_no}.pdf")
    report = Report(report_no=report_no, version=version, supersedes_id=previous.id if previous else None,
                    sample_id=sample.id, lang=language, path=str(rendered.path), file_sha256=rendered.sha256,
                    content_hash=rm.content_hash(data), amendment_reason=amendment_reason or "")
    s.add(report)
    if previous is not None:
        previous.status = "superseded"
    for r in results:
        if r.status == ResultStatus.CERTIFIED:
            r.status = ResultStatus.REPORTED
    sample.status = SampleStatus.REPORTED
    s.flush()
    return report
