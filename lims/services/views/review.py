"""What the reviewer and the approver look at (issue 16): one batch with its results, its QC outcome and
why it is held (which analyses, which rule — in words), its calibration curves with their residuals and
the chromatograms with their integration; one result with its limit, its decision and the rule in words,
the old value and the reason of an amendment. SVG plots are drawn here in the reader's language
(:mod:`lims.plots`), so the page and, later, the PDF show the same picture."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from calibration.errors import CalibrationError
from calibration.quantify import sample_concentration_mg_kg
from lims.db.models import (
    Analysis,
    Analyte,
    AuditEvent,
    Batch,
    CalibrationCurve,
    Producer,
    QcSample,
    Report,
    Result,
    Sample,
)
from lims.db.models_quality import QcRun
from lims.plots import calibration_curve_svg, residual_svg, residuals
from lims.reports.conclusion import BANNED_RULE_WORDS, DECISION_RULE_WORDS, SCREENING_RULE_EN
from lims.services import limit_judgements, queries
from lims.services.lookup import find_by_code
from lims.services.reported import value_text
from lims.services.signoff import TZ_CHINA
from lims.services.views import batches as batch_views
from lims.services.views import results as result_views
from lims.services.views.common import iso
from lims.services.views.qc_words import Reason, qc_words, westgard_reason
from lims.services.views.traces import chromatogram_plot
from lims.vocabulary import AnalysisKind, BatchStatus, LimitFlag, ResultStatus

EN = "en"
#: Chromatograms drawn on a batch's page (each is read again and integrated); the others on their results' pages.
BATCH_CHROMATOGRAMS = 12


def _t(lang: str, zh: str, en: str) -> str:
    return en if lang == EN else zh


# ------------------------------------------------------------------------------------------ limit and decision


def _limit_and_rule(row: dict[str, Any], check: dict[str, Any] | None) -> tuple[tuple[str, str], tuple[str, str]]:
    """(limit in words, decision rule in words), each (zh-CN, English)."""
    rule = str(row.get("decision_rule") or "")
    if row.get("kind") == AnalysisKind.SCREENING:
        return (("快速筛查，不作符合性判定", "screening: no conformity decision"),
                (rule, SCREENING_RULE_EN.get(rule, rule)) if rule else ("—", "—"))
    rule_words = DECISION_RULE_WORDS.get(rule, ("—", "—"))
    if check is None or check.get("flag") == LimitFlag.NO_LIMIT:
        return (LimitFlag.NO_LIMIT.zh, LimitFlag.NO_LIMIT.en), rule_words
    source = " ".join(x for x in (check.get("source_standard"), check.get("source_clause")) if x)
    if check.get("banned"):
        return ((f"{LimitFlag.BANNED.zh}（{check.get('source_standard') or ''}）",
                 f"{LimitFlag.BANNED.en} ({check.get('source_standard') or ''})"), BANNED_RULE_WORDS)
    limit = check.get("limit_value")
    value = f"{limit:g} {check.get('unit') or 'mg/kg'}" if isinstance(limit, int | float) else "—"
    return ((f"{value}（{source}）", f"{value} ({source})") if source else (value, value)), rule_words


def decision_words(row: dict[str, Any], details: dict[str, Any] | None) -> dict[str, Any]:
    """Beside a result: the limit it is judged against (or 无限量标准, or a screening call), the decision
    statement and the decision rule in words (zh-CN, English) — never the rule's stored code."""
    check: dict[str, Any] = row.get("limit_check") or {}
    decision = (details or {}).get("decision") or {}
    limit, rule_words = _limit_and_rule(row, row.get("limit_check"))
    return {"limit_zh": limit[0], "limit_en": limit[1], "no_limit": check.get("flag") == LimitFlag.NO_LIMIT,
            "flag_zh": check.get("flag_label") or "", "flag_en": check.get("flag_label_en") or "",
            "warning_zh": check.get("warning_zh") or "", "warning_en": check.get("warning_en") or "",
            "rule_zh": rule_words[0], "rule_en": rule_words[1],
            "statement_zh": decision.get("statement_zh") or "", "statement_en": decision.get("statement_en") or "",
            "judgement": check.get("judgement")}


def _shown(s: Session, r: Result) -> dict[str, Any]:
    row = queries.result_row(s, r)
    row.update(decision_words(row, r.details), batch_id=r.analysis.batch_id,
               amendment_reason=(r.details or {}).get("amendment_reason"))
    return row


# ------------------------------------------------------------------------------------------ curves


def curve_predict(fit_record: dict[str, Any] | None) -> Any:
    """f(concentration) → response of a stored fit (None when the record cannot be read)."""
    if not fit_record:
        return None
    import numpy as np  # the fitting modules load with the first curve shown, not with the web app

    from calibration.stored import from_stored

    try:
        fit = from_stored(fit_record)
    except (CalibrationError, KeyError, TypeError, ValueError):
        return None
    theta = np.asarray([fit.params[k] for k in fit.curve_model.param_names], dtype=float)
    return lambda x: float(fit.curve_model.value(np.asarray([x], dtype=float), theta)[0])


def curve_plots(c: CalibrationCurve, analyte: str, lang: str) -> dict[str, Any]:
    """The curve's SVG and its residual plot's, with the residuals as computed."""
    points = [(float(x), float(y)) for x, y in (c.points or [])]
    predict = curve_predict(c.fit)
    x_label = _t(lang, "浓度 mg/L", "concentration mg/L")
    return {"curve_svg": calibration_curve_svg(
                points, predict, title=_t(lang, f"标准曲线 {analyte} v{c.version}", f"Calibration curve {analyte} v{c.version}"),
                x_label=x_label, y_label=_t(lang, "响应（峰面积）", "response (peak area)")),
            "residual_svg": residual_svg(
                points, predict, title=_t(lang, "残差（响应 − 拟合值）", "Residuals (response − fitted)"),
                x_label=x_label, y_label=_t(lang, "残差", "residual")),
            "residuals": residuals(points, predict) if predict is not None else []}


def _curves(s: Session, batch_id: int, lang: str) -> list[dict[str, Any]]:
    rows = s.execute(select(CalibrationCurve).where(CalibrationCurve.batch_id == batch_id)
                     .order_by(CalibrationCurve.id)).scalars().all()
    names = {a.id: (a.name_en if lang == EN else a.name_zh) for a in s.execute(
        select(Analyte).where(Analyte.id.in_([c.analyte_id for c in rows]))).scalars()} if rows else {}
    return [{"id": c.id, **curve_plots(c, names.get(c.analyte_id, ""), lang)} for c in rows]


# ------------------------------------------------------------------------------------------ a batch


def held_reasons(s: Session, batch: Batch) -> list[Reason]:
    """Why the batch holds its results: each failed QC sample by its rule, each rejected Westgard run."""
    out = [qc_words(q.kind, q.outcome, q.detail) for q in s.execute(
        select(QcSample).where(QcSample.batch_id == batch.id).order_by(QcSample.id)).scalars()]
    failed = [r for r in out if r.failed]
    runs = s.execute(select(QcRun).where(QcRun.batch_id == batch.id, QcRun.accepted.is_(False))
                     .order_by(QcRun.id)).scalars().all()
    return failed + [westgard_reason(run.code, list(run.rejections or [])) for run in runs]


def batch_results(s: Session, batch: Batch) -> list[Result]:
    """Every result made in the batch: quantified by its curves, or (no curve: rapid tests, manual entries) of
    its analyses. A held batch's results were sent back for a re-test and their analyses moved on to the
    re-run batch; each result stays with the batch of its curve."""
    curves = select(CalibrationCurve.id).where(CalibrationCurve.batch_id == batch.id)
    return list(s.execute(select(Result).join(Analysis, Analysis.id == Result.analysis_id).where(
        or_(Result.curve_id.in_(curves), and_(Result.curve_id.is_(None), Analysis.batch_id == batch.id)))
        .order_by(Result.id)).scalars())


def rejection_reasons(s: Session, result_ids: list[int]) -> dict[int, str]:
    """The reason recorded with each result's rejection (the audit trail's reason of that change)."""
    if not result_ids:
        return {}
    rows = s.execute(select(AuditEvent.record_id, AuditEvent.reason, AuditEvent.new).where(
        AuditEvent.table_name == "result", AuditEvent.record_id.in_([str(i) for i in result_ids]))
        .order_by(AuditEvent.seq)).all()
    return {int(rid): reason for rid, reason, new in rows if '"rejected"' in str(new)}


def batch_review(s: Session, code: str, lang: str = "zh-CN", *, plots: bool = True) -> dict[str, Any] | None:
    """The batch page: :func:`lims.services.views.batches.batch_record`, the QC samples in words, why it is
    held, its results with limit and decision, its curves and the results' chromatograms as SVG."""
    record = batch_views.batch_record(s, code)
    batch = find_by_code(s, Batch, code)
    if record is None or batch is None:
        return None
    for q in record["qc"]:
        words = qc_words(q["kind"], q["outcome"], q["detail"] or "")
        q.update(words_zh=words.zh, words_en=words.en)
    results = batch_results(s, batch)
    rejected = rejection_reasons(s, [r.id for r in results if r.status == ResultStatus.REJECTED])
    rows = []
    for r in results:
        row = _shown(s, r)
        row["rejection_reason"] = rejected.get(r.id)
        row["held"] = batch.status == BatchStatus.QC_FAILED
        drawn = sum(1 for x in rows if x.get("chromatogram"))
        if plots and r.reading_id is not None and drawn < BATCH_CHROMATOGRAMS:
            row["chromatogram"] = chromatogram_plot(s, r.reading_id, lang, title_of=row["sample_code"])
        rows.append(row)
    reasons = held_reasons(s, batch) if batch.status == BatchStatus.QC_FAILED else []
    return {**record, "held": bool(reasons) or batch.status == BatchStatus.QC_FAILED,
            "more_chromatograms": sum(1 for r in results if r.reading_id is not None) > BATCH_CHROMATOGRAMS,
            "reasons": [vars(x) for x in reasons], "results": rows,
            "plots": _curves(s, batch.id, lang) if plots else []}


# ------------------------------------------------------------------------------------------ a result


def _version_brief(s: Session, r: Result | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"id": r.id, "version": r.version, "value_text": value_text(s, r), "unit": r.unit, "status": r.status,
            "reason": (r.details or {}).get("amendment_reason") or None}


def result_review(s: Session, result_id: int, lang: str = "zh-CN") -> dict[str, Any] | None:
    """The result page: the result (signatures, trail, upstream), its limit and decision in words, its batch
    and whether that holds it, the version it amends (old value, reason) or the one amending it, its
    curve and its chromatogram with the peaks and any manual re-integration."""
    r = s.get(Result, result_id)
    if r is None:
        return None
    row: dict[str, Any] = dict(result_views.result_detail(s, result_id))
    row.update(decision_words(row, r.details))
    curve = s.get(CalibrationCurve, r.curve_id) if r.curve_id else None
    # the batch the result was made in: its curve's (a re-tested analysis has moved on to the re-run batch)
    batch_id = curve.batch_id if curve is not None else r.analysis.batch_id
    batch = s.get(Batch, batch_id) if batch_id else None
    row["batch"] = {"code": batch.code, "status": batch.status, "reasons": [vars(x) for x in held_reasons(s, batch)]
                    if batch.status == BatchStatus.QC_FAILED else []} if batch else None
    row["amends"] = _version_brief(s, s.get(Result, r.supersedes_id) if r.supersedes_id else None)
    row["amendment_reason"] = (r.details or {}).get("amendment_reason")
    row["amended_by"] = _version_brief(s, s.execute(select(Result).where(Result.supersedes_id == r.id)
                                                    .order_by(Result.id.desc())).scalars().first())
    row["rejection_reason"] = rejection_reasons(s, [r.id]).get(r.id) if r.status == ResultStatus.REJECTED else None
    row["curve"] = {"id": curve.id, "version": curve.version, "batch_code": batch.code if batch else "",
                    **curve_plots(curve, r.analysis.analyte.name_zh if lang != EN else r.analysis.analyte.name_en, lang)
                    } if curve else None
    row["needs_judgement"] = r.status in (ResultStatus.TO_BE_REVIEWED, ResultStatus.REVIEWED) \
        and limit_judgements.needs_judgement(r)  # 无限量标准: the approver judges before approving
    row["chromatogram"] = chromatogram_plot(s, r.reading_id, lang, title_of=row["sample_code"]) \
        if r.reading_id is not None else None
    if row["chromatogram"] and curve is not None:
        for m in row["chromatogram"]["manual"]:
            m["mg_kg"] = manual_area_mg_kg(curve.fit, r.details or {}, m.get("area"))
    return row


def manual_area_mg_kg(fit_record: dict[str, Any] | None, details: dict[str, Any], area: Any) -> float | None:
    """What a manually integrated area would give in the sample (mg/kg) by the result's own curve and
    preparation, annotating the chromatogram's manual peaks (the re-integration itself recalculates the result
    through lims.services.batches.quantify: lims.services.chromatography.reintegrate_result).
    None for a calibration other than the external standard, or an area outside the calibrated range."""
    if not fit_record or not isinstance(area, int | float) or details.get("strategy") not in (None, "external_standard"):
        return None
    from calibration.stored import invert_stored

    try:
        x = invert_stored(fit_record, float(area)).concentration
        if x is None:
            return None
        return sample_concentration_mg_kg(x, float(details["extract_volume_ml"]), float(details["sample_mass_g"]),
                                          float(details.get("dilution_factor") or 1.0), details.get("recovery_percent"))
    except (CalibrationError, KeyError, TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------ reports


def search_reports(s: Session, *, q: str = "", date_from: dt.date | None = None, date_to: dt.date | None = None,
                   limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A page of reports, newest first, whose report number, sample code or producer contains ``q``, issued
    within [date_from, date_to] (Beijing days, both inclusive), with their sample and producer."""
    where: list[Any] = []
    if q:
        where.append(or_(Report.report_no.contains(q, autoescape=True), Sample.code.contains(q, autoescape=True),
                         Producer.name.contains(q, autoescape=True)))
    if date_from is not None:
        where.append(Report.issued_at >= dt.datetime.combine(date_from, dt.time(), TZ_CHINA))
    if date_to is not None:
        where.append(Report.issued_at < dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), TZ_CHINA))
    stmt = (select(Report, Sample.code, Producer.name).join(Sample, Sample.id == Report.sample_id)
            .outerjoin(Producer, Producer.id == Sample.producer_id).where(*where))
    total, exact = queries.count_capped(s, stmt.with_only_columns(Report.id), offset + queries.COUNT_CAP)
    rows = s.execute(stmt.order_by(Report.id.desc()).limit(limit).offset(offset)).all()
    return {"total": total, "exact": exact, "items": [
        {"report_no": r.report_no, "version": r.version, "status": r.status, "lang": r.lang, "sample_code": code,
         "producer": producer, "issued_at": iso(r.issued_at), "content_hash": r.content_hash,
         "amendment_reason": r.amendment_reason or None} for r, code, producer in rows]}


def held_batches(s: Session, codes: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Of these batch codes, the held ones (QC failed) with why each is held, in words (the review queue)."""
    if not codes:
        return {}
    held = s.execute(select(Batch).where(Batch.code.in_(sorted(codes)), Batch.status == BatchStatus.QC_FAILED)
                     ).scalars().all()
    return {b.code: [vars(x) for x in held_reasons(s, b)] for b in held}
