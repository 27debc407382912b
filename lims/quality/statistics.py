"""The annual statistical survey of the testing institution (2020 work points: 统计调查) and the management
review pack (ISO/IEC 17025:2017 8.9.2 inputs), computed from the records. Rendering (PDF, CSV) is in
:mod:`lims.quality.survey_report`.

Definitions (stated so a number can be checked by hand):
- the *year* runs 1 January – 31 December in China Standard Time (UTC+8); a sample counts in the year it
  was received (received_at, else created_at);
- *samples by commodity / programme*: samples of the year by commodity (name_zh) and by the programme type
  of their monitoring task (sample.task_code → monitoring_task; none → ``unassigned``);
- *tests by method*: current results (certified or reported) of the year's samples by method code;
- *positive rate*: screening results called positive / screening results with a call (positive + negative);
- *non-compliant rate*: samples with a non-compliant or banned-substance-detected result / samples with a
  conformity verdict (compliant, within uncertainty, non-compliant, banned detected);
- *turnaround*: days from receipt to the last approval signature of the sample's current results (samples
  whose every analysis has a current result); median and mean;
- *PT performance*: the year's external PT scores (round date in the year) by classification;
- *instruments*: acquisition instruments, of which in the register, and fit for use on 31 December (or
  today, if earlier); *staff*: active person accounts, of which holding a valid authorisation.
"""

from __future__ import annotations

import datetime as dt
import statistics as pystats
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.clock import as_utc, utcnow
from lims.db.models import (
    Analysis,
    Commodity,
    Instrument,
    Method,
    MonitoringTask,
    Result,
    Sample,
    Signature,
    User,
)
from lims.db.models_pt import Nonconformity, PtExternalScore, PtParticipation
from lims.db.models_quality import AuditFinding, CapaAction, Complaint, DocumentVersion, QcRun, QualityAudit
from lims.db.models_registers import EnvReading, InstrumentRegister, StaffAuthorisation
from lims.quality import instruments, materials
from lims.services.errors import InvalidInput
from lims.vocabulary import ResultStatus, SignatureMeaning, Verdict

CST = dt.timezone(dt.timedelta(hours=8), "CST")
CURRENT = (ResultStatus.CERTIFIED, ResultStatus.REPORTED)
CONFORMITY = (Verdict.COMPLIANT, Verdict.COMPLIANT_WITHIN_UNCERTAINTY, Verdict.NON_COMPLIANT,
              Verdict.BANNED_SUBSTANCE_DETECTED)
FAILING = (Verdict.NON_COMPLIANT, Verdict.BANNED_SUBSTANCE_DETECTED)


def year_window(year: int) -> tuple[dt.datetime, dt.datetime]:
    if not 2000 <= year <= 2100:
        raise InvalidInput(f"year {year} is outside 2000–2100", field="year", code="quality.bad_value")
    return (dt.datetime(year, 1, 1, tzinfo=CST).astimezone(dt.UTC),
            dt.datetime(year + 1, 1, 1, tzinfo=CST).astimezone(dt.UTC))


def _rate(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 2) if den else None


@dataclass
class Survey:
    year: int
    samples: int = 0
    samples_by_commodity: dict[str, int] = field(default_factory=dict)
    samples_by_programme: dict[str, int] = field(default_factory=dict)
    tests_by_method: dict[str, int] = field(default_factory=dict)
    screening_results: int = 0
    screening_positive: int = 0
    positive_rate_pct: float | None = None
    judged_samples: int = 0
    non_compliant_samples: int = 0
    non_compliant_rate_pct: float | None = None
    turnaround_samples: int = 0
    turnaround_median_days: float | None = None
    turnaround_mean_days: float | None = None
    pt_scores: dict[str, int] = field(default_factory=dict)
    instruments: int = 0
    instruments_registered: int = 0
    instruments_fit: int = 0
    staff: int = 0
    staff_authorised: int = 0


def _samples(s: Session, year: int) -> list[Sample]:
    start, end = year_window(year)
    when = func.coalesce(Sample.received_at, Sample.created_at)
    return list(s.execute(select(Sample).where(when >= start, when < end).order_by(Sample.id)).scalars())


def _current_results(s: Session, sample_ids: list[int]) -> list[tuple[Result, str]]:
    if not sample_ids:
        return []
    rows = s.execute(select(Result, Method.code).join(Analysis, Analysis.id == Result.analysis_id)
                     .join(Method, Method.id == Analysis.method_id)
                     .where(Analysis.sample_id.in_(sample_ids), Result.status.in_(CURRENT))).all()
    return [(r, code) for r, code in rows]


def _turnaround(s: Session, samples: list[Sample], results: list[tuple[Result, str]]) -> list[float]:
    by_sample: dict[int, list[Result]] = {}
    for r, _ in results:
        by_sample.setdefault(r.analysis.sample_id, []).append(r)
    days = []
    for smp in samples:
        rs = by_sample.get(smp.id)
        analyses = s.execute(select(func.count(Analysis.id)).where(Analysis.sample_id == smp.id)).scalar_one()
        if not rs or len({r.analysis_id for r in rs}) < analyses or smp.received_at is None:
            continue
        last = s.execute(select(func.max(Signature.signed_at)).where(
            Signature.record_type == "result", Signature.record_id.in_([r.id for r in rs]),
            Signature.meaning == SignatureMeaning.APPROVAL)).scalar_one()
        if last is not None:
            days.append((as_utc(last) - as_utc(smp.received_at)).total_seconds() / 86400)
    return days


def survey(s: Session, year: int, *, today: dt.date | None = None) -> Survey:
    out = Survey(year)
    samples = _samples(s, year)
    out.samples = len(samples)
    commodities = dict(s.execute(select(Commodity.id, Commodity.name_zh)).all())
    programmes = dict(s.execute(select(MonitoringTask.code, MonitoringTask.programme_type)).all())
    out.samples_by_commodity = dict(sorted(Counter(commodities.get(x.commodity_id, "?") for x in samples).items()))
    out.samples_by_programme = dict(sorted(Counter(programmes.get(x.task_code, "unassigned") for x in samples).items()))
    results = _current_results(s, [x.id for x in samples])
    out.tests_by_method = dict(sorted(Counter(code for _, code in results).items()))
    screening = [r for r, _ in results if r.verdict in (Verdict.SCREEN_POSITIVE, Verdict.SCREEN_NEGATIVE)]
    out.screening_results = len(screening)
    out.screening_positive = sum(1 for r in screening if r.verdict == Verdict.SCREEN_POSITIVE)
    out.positive_rate_pct = _rate(out.screening_positive, out.screening_results)
    judged: dict[int, bool] = {}
    for r, _ in results:
        if r.verdict in CONFORMITY:
            sid = r.analysis.sample_id
            judged[sid] = judged.get(sid, False) or r.verdict in FAILING
    out.judged_samples, out.non_compliant_samples = len(judged), sum(judged.values())
    out.non_compliant_rate_pct = _rate(out.non_compliant_samples, out.judged_samples)
    days = _turnaround(s, samples, results)
    out.turnaround_samples = len(days)
    if days:
        out.turnaround_median_days = round(pystats.median(days), 2)
        out.turnaround_mean_days = round(pystats.fmean(days), 2)
    _resources(s, out, year, today)
    return out


def _resources(s: Session, out: Survey, year: int, today: dt.date | None) -> None:
    on = min(dt.date(year, 12, 31), today or utcnow().date())
    scores = s.execute(select(PtExternalScore.classification).join(
        PtParticipation, PtParticipation.id == PtExternalScore.participation_id).where(
        PtParticipation.round_date >= dt.date(year, 1, 1), PtParticipation.round_date <= dt.date(year, 12, 31))).scalars()
    out.pt_scores = dict(sorted(Counter(scores).items()))
    out.instruments = s.execute(select(func.count(Instrument.id))).scalar_one()
    regs = list(s.execute(select(InstrumentRegister.instrument_id)).scalars())
    out.instruments_registered = len(regs)
    at = dt.datetime.combine(on, dt.time(12), tzinfo=dt.UTC)
    out.instruments_fit = sum(1 for i in regs if instruments.fitness(s, i, at).may_feed)
    out.staff = s.execute(select(func.count(User.id)).where(User.active.is_(True), User.kind == "person")).scalar_one()
    out.staff_authorised = s.execute(select(func.count(func.distinct(StaffAuthorisation.user_id))).where(
        StaffAuthorisation.valid_from <= on,
        (StaffAuthorisation.valid_until.is_(None)) | (StaffAuthorisation.valid_until >= on))).scalar_one()


def survey_rows(sv: Survey) -> list[dict[str, object]]:
    """The survey as (section, item, value) rows — the CSV and the PDF table."""
    rows: list[dict[str, object]] = [{"section": "样品 samples", "item": "合计 total", "value": sv.samples}]
    rows += [{"section": "样品（按产品）samples by commodity", "item": k, "value": v}
             for k, v in sv.samples_by_commodity.items()]
    rows += [{"section": "样品（按监测类型）samples by programme", "item": k, "value": v}
             for k, v in sv.samples_by_programme.items()]
    rows += [{"section": "检测项次（按方法）tests by method", "item": k, "value": v} for k, v in sv.tests_by_method.items()]
    rows += [{"section": "结果 results", "item": item, "value": value} for item, value in (
        ("筛查结果数 screening results", sv.screening_results), ("筛查阳性数 screening positive", sv.screening_positive),
        ("阳性率 % positive rate", sv.positive_rate_pct), ("判定样品数 judged samples", sv.judged_samples),
        ("不合格样品数 non-compliant samples", sv.non_compliant_samples),
        ("不合格率 % non-compliant rate", sv.non_compliant_rate_pct),
        ("检测周期样品数 turnaround samples", sv.turnaround_samples),
        ("检测周期中位数（天）turnaround median days", sv.turnaround_median_days),
        ("检测周期平均（天）turnaround mean days", sv.turnaround_mean_days))]
    rows += [{"section": "能力验证 PT scores", "item": k, "value": v} for k, v in sv.pt_scores.items()]
    rows += [{"section": "资源 resources", "item": item, "value": value} for item, value in (
        ("仪器 instruments", sv.instruments), ("已登记仪器 registered", sv.instruments_registered),
        ("可用仪器 fit for use", sv.instruments_fit), ("在岗人员 staff", sv.staff),
        ("有效授权人员 authorised staff", sv.staff_authorised))]
    return rows


def _count(s: Session, model: type, *where: object) -> int:
    return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())  # type: ignore[arg-type]


def review_pack(s: Session, year: int, *, today: dt.date | None = None) -> list[dict[str, object]]:
    """Management review inputs (ISO/IEC 17025:2017 8.9.2 a–o) as (clause, item, value) rows."""
    today = today or utcnow().date()
    start, end = year_window(year)
    sv = survey(s, year, today=today)
    prev = len(_samples(s, year - 1)) if year > 2000 else 0
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    audits = [QualityAudit.start_date >= first, QualityAudit.start_date <= last]
    findings = Counter(s.execute(select(AuditFinding.grade).join(QualityAudit, QualityAudit.id == AuditFinding.audit_id)
                                 .where(*audits)).scalars())
    ncs = Counter(s.execute(select(Nonconformity.status).where(Nonconformity.opened_at >= start,
                                                               Nonconformity.opened_at < end)).scalars())
    rows: list[tuple[str, str, object]] = [
        ("8.9.2 c", "现行受控文件版本 approved document versions", _count(s, DocumentVersion, DocumentVersion.status == "approved")),
        ("8.9.2 c", "到期待评审文件 documents due for review", _count(
            s, DocumentVersion, DocumentVersion.status == "approved", DocumentVersion.next_review_on <= today)),
        ("8.9.2 e", "内部审核次数 internal audits", _count(s, QualityAudit, QualityAudit.kind == "internal", *audits)),
        ("8.9.2 e", "审核发现（严重/一般/观察）findings major/minor/observation",
         f"{findings.get('major', 0)}/{findings.get('minor', 0)}/{findings.get('observation', 0)}"),
        ("8.9.2 f", "不符合工作（按状态）nonconformities by status", ", ".join(f"{k} {v}" for k, v in sorted(ncs.items())) or "0"),
        ("8.9.2 f", "逾期纠正措施 overdue corrective actions", _count(
            s, CapaAction, CapaAction.due_date < today, CapaAction.done_at.is_(None))),
        ("8.9.2 g", "外部评审与检查 external assessments and inspections", _count(
            s, QualityAudit, QualityAudit.kind.in_(("external", "flight", "supervisory")), *audits)),
        ("8.9.2 h", "样品量（本年/上年）samples this year / last year", f"{sv.samples}/{prev}"),
        ("8.9.2 j", "投诉 complaints", _count(s, Complaint, Complaint.received_on >= first, Complaint.received_on <= last)),
        ("8.9.2 k", "已验证有效并关闭的不符合 closed with effectiveness verified", ncs.get("closed", 0)),
        ("8.9.2 l", "仪器（可用/登记/全部）instruments fit/registered/all",
         f"{sv.instruments_fit}/{sv.instruments_registered}/{sv.instruments}"),
        ("8.9.2 l", "人员（有效授权/在岗）staff authorised/active", f"{sv.staff_authorised}/{sv.staff}"),
        ("8.9.2 l", "30 天内到期或已过期的试剂/标准物质 lots expiring within 30 days",
         len(materials.list_lots(s, expiring_within_days=30, today=today))),
        ("8.9.2 m", "高风险不符合 high-risk nonconformities", _count(
            s, Nonconformity, Nonconformity.risk == "high", Nonconformity.opened_at >= start, Nonconformity.opened_at < end)),
        ("8.9.2 n", "能力验证结果 PT scores", ", ".join(f"{k} {v}" for k, v in sv.pt_scores.items()) or "0"),
        ("8.9.2 n", "质控运行（失控/全部）QC runs rejected/all",
         f"{_count(s, QcRun, QcRun.accepted.is_(False))}/{_count(s, QcRun)}"),
        ("8.9.2 o", "环境超限记录 environment alarms", _count(
            s, EnvReading, EnvReading.alarm != "", EnvReading.at >= start, EnvReading.at < end)),
        ("8.9.2 o", "未能投入使用（检定/校准过期或不合格）的仪器 instruments unfit now",
         sum(1 for f in instruments.schedule(s, today=today) if not f.may_feed)),
    ]
    return [{"clause": c, "item": i, "value": v} for c, i, v in rows]

