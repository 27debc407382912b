"""The technician's bench as shown: the queue of open analyses to batch, the choices of the new-batch form,
a batch with its analyses and their current results (entry), its worklist, the results awaiting their
analyst's authorship (检验) signature, and the batch list searched, filtered and sorted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from lims.acquisition.orders import build_worklist
from lims.db.models import (
    Analysis,
    Analyte,
    Batch,
    CalibrationCurve,
    Commodity,
    Instrument,
    Method,
    Result,
    Sample,
    Signature,
)
from lims.services import queries
from lims.services.lookup import find_by_code
from lims.services.results_guard import STANDING, without_current_result
from lims.services.views.common import iso
from lims.vocabulary import AnalysisStatus, ResultStatus, SignatureMeaning

#: Open analyses: waiting for a batch (pending, or received into analysis without one) and with no standing result.
OPEN = (AnalysisStatus.PENDING, AnalysisStatus.IN_ANALYSIS)
#: The batch list's sort keys (query value → column, newest/largest first unless ``asc``).
BATCH_SORTS = {"created": Batch.created_at, "code": Batch.code, "status": Batch.status}


def form_choices(s: Session) -> dict[str, list[dict[str, Any]]]:
    """What the new-batch form offers: methods, commodities and instruments, by code with their names."""
    return {
        "methods": [{"code": m.code, "name": m.name, "standard": m.standard, "kind": m.kind, "unit": m.unit}
                    for m in s.execute(select(Method).order_by(Method.code)).scalars()],
        "commodities": [{"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en}
                        for c in s.execute(select(Commodity).order_by(Commodity.code)).scalars()],
        "instruments": [{"code": i.code, "name": i.name, "profile": i.profile}
                        for i in s.execute(select(Instrument).order_by(Instrument.code)).scalars()]}


def open_analyses(s: Session, *, method_code: str = "", commodity_code: str = "", q: str = "",
                  limit: int = 200) -> dict[str, Any]:
    """The queue a batch is made from: analyses not in a batch, pending or in analysis, with no standing
    result (lims.services.results_guard), oldest sample first; filtered by method, commodity and a sample
    code fragment."""
    where: list[ColumnElement[bool]] = [Analysis.batch_id.is_(None), Analysis.status.in_([str(x) for x in OPEN]),
                                        without_current_result()]
    if method_code:
        where.append(Method.code == method_code)
    if commodity_code:
        where.append(Commodity.code == commodity_code)
    if q:
        where.append(Sample.code.icontains(q, autoescape=True))
    stmt = (select(Analysis, Sample.code, Sample.received_at, Commodity.name_zh, Commodity.name_en, Analyte.name_zh,
                   Method.code).join(Sample, Sample.id == Analysis.sample_id)
            .join(Commodity, Commodity.id == Sample.commodity_id).join(Analyte, Analyte.id == Analysis.analyte_id)
            .join(Method, Method.id == Analysis.method_id).where(*where))
    total, exact = queries.count_capped(s, stmt.with_only_columns(Analysis.id))
    rows = s.execute(stmt.order_by(Sample.received_at, Analysis.id).limit(limit)).all()
    return {"total": total, "exact": exact, "items": [
        {"id": a.id, "sample_code": code, "received_at": iso(received), "commodity_zh": c_zh, "commodity_en": c_en,
         "analyte": analyte, "method": method, "kind": a.kind, "status": a.status,
         "requested_by": a.requested_by_analysis_id}
        for a, code, received, c_zh, c_en, analyte, method in rows]}


def suggested_batch_code(s: Session, today: dt.date) -> str:
    """The next free code of the day's batches, ``B20261128-01`` …"""
    prefix = f"B{today:%Y%m%d}-"
    taken = set(s.execute(select(Batch.code).where(Batch.code.startswith(prefix))).scalars())
    n = len(taken) + 1
    while f"{prefix}{n:02d}" in taken:
        n += 1
    return f"{prefix}{n:02d}"


def _authored(s: Session, result_ids: list[int]) -> set[int]:
    if not result_ids:
        return set()
    return set(s.execute(select(Signature.record_id).where(
        Signature.record_type == "result", Signature.record_id.in_(result_ids),
        Signature.meaning == SignatureMeaning.AUTHORSHIP)).scalars())


def batch_bench(s: Session, code: str) -> dict[str, Any] | None:
    """One batch at the bench: its method and instrument, and each analysis (in worklist order) with its
    sample, analyte and standing result (value, status, authored or not); None when there is no such batch."""
    b = find_by_code(s, Batch, code)
    if b is None:
        return None
    method = s.get(Method, b.method_id)
    instrument = s.get(Instrument, b.instrument_id) if b.instrument_id else None
    rows = s.execute(select(Analysis, Sample.code, Commodity.name_zh, Commodity.name_en, Analyte.name_zh, Analyte.code)
                     .join(Sample, Sample.id == Analysis.sample_id).join(Commodity, Commodity.id == Sample.commodity_id)
                     .join(Analyte, Analyte.id == Analysis.analyte_id).where(Analysis.batch_id == b.id)
                     .order_by(Analysis.id)).all()
    ids = [a.id for a, *_ in rows]
    standing = {r.analysis_id: r for r in s.execute(select(Result).where(
        Result.analysis_id.in_(ids), Result.status.in_([str(x) for x in STANDING]))).scalars()} if ids else {}
    authored = _authored(s, [r.id for r in standing.values()])
    analyses = []
    for position, (a, sample_code, c_zh, c_en, analyte, analyte_code) in enumerate(rows, start=1):
        r = standing.get(a.id)
        analyses.append({
            "id": a.id, "position": position, "sample_code": sample_code, "commodity_zh": c_zh, "commodity_en": c_en,
            "analyte": analyte, "analyte_code": analyte_code, "kind": a.kind, "status": a.status, "open": r is None and a.status in OPEN,
            "result": None if r is None else {
                "id": r.id, "value_text": r.value_text, "unit": r.unit, "qualitative": r.qualitative,
                "status": r.status, "source": r.source, "authored": r.id in authored}})
    return {"code": b.code, "status": b.status, "qc_summary": b.qc_summary, "created_at": iso(b.created_at),
            "method": {"code": method.code, "name": method.name, "standard": method.standard, "kind": method.kind,
                       "unit": method.unit} if method else None,
            "instrument": {"code": instrument.code, "name": instrument.name} if instrument else None,
            "analyses": analyses, "curves": _curves(s, b.id),
            "analytes": [{"code": c, "name": n} for c, n in dict.fromkeys((x["analyte_code"], x["analyte"])
                                                                       for x in analyses)]}


def _curves(s: Session, batch_id: int) -> list[dict[str, Any]]:
    """The batch's stored curves, newest version first, with their analyte's name and code."""
    return [{"id": c.id, "version": c.version, "analyte": name, "analyte_code": code, "passed": c.passed, "r2": c.r2,
             "points": len(c.points or [])}
            for c, name, code in s.execute(select(CalibrationCurve, Analyte.name_zh, Analyte.code)
                                           .join(Analyte, Analyte.id == CalibrationCurve.analyte_id)
                                           .where(CalibrationCurve.batch_id == batch_id)
                                           .order_by(CalibrationCurve.id.desc())).all()]


def worklist_rows(s: Session, bench: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch's worklist as it is sent to the instrument (lims.acquisition.orders.build_worklist: its open
    analyses, one position per sample), the analytes in words; a screening batch starts with its control
    (channel 0 of a multi-channel tester, GB/T 5009.199-2003)."""
    names = {x["code"]: x["name"] for x in bench["analytes"]}
    entries = build_worklist(s, batch_code=bench["code"])["entries"]
    rows: list[dict[str, Any]] = []
    if entries and bench["method"] and bench["method"]["kind"] == "screening":
        rows.append({"position": 0, "sample_code": "", "analyses": [], "control": True})
    rows.extend({"position": e["position"], "sample_code": e["sample_code"], "control": False,
                 "analyses": [f"#{a['analysis_id']} {names.get(a['test_code'], a['test_code'])}" for a in e["analyses"]]}
                for e in entries)
    return rows


def to_author(s: Session, user_id: int, *, batch_code: str = "", limit: int = 200) -> dict[str, Any]:
    """Results to be reviewed that still want their analyst's authorship (检验) signature and that this
    user may sign (entered by them, or by nobody named, e.g. from an instrument); of one batch if given."""
    signed = exists(select(Signature.id).where(
        Signature.record_type == "result", Signature.record_id == Result.id,
        Signature.meaning == SignatureMeaning.AUTHORSHIP))
    stmt = (select(Result).join(Analysis, Analysis.id == Result.analysis_id).where(
        Result.status == ResultStatus.TO_BE_REVIEWED, ~signed,
        (Result.analyst_id == user_id) | Result.analyst_id.is_(None)))
    if batch_code:
        stmt = stmt.join(Batch, Batch.id == Analysis.batch_id).where(Batch.code == batch_code)
    total, exact = queries.count_capped(s, stmt.with_only_columns(Result.id))
    results = s.execute(stmt.order_by(Result.id).limit(limit)).scalars().all()
    sigs = queries.signatures_by_result(s, [r.id for r in results])
    batch_of = dict(s.execute(select(Analysis.id, Batch.code).join(Batch, Batch.id == Analysis.batch_id).where(
        Analysis.id.in_([r.analysis_id for r in results]))).all()) if results else {}
    items = []
    for r in results:
        row = queries.result_row(s, r, signatures=sigs)
        row["batch_code"] = batch_of.get(r.analysis_id)
        row["manual_reason"] = r.manual_reason or ""
        items.append(row)
    return {"total": total, "exact": exact, "items": items}


def search_batches(s: Session, *, q: str = "", method_code: str = "", status: str = "",
                   date_from: dt.date | None = None, date_to: dt.date | None = None, sort: str = "created",
                   ascending: bool = False, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """A page of batches matching a code fragment, a method, a status and a creation-date range (UTC+8
    days, ``date_to`` inclusive), sorted by creation time, code or status."""
    where: list[ColumnElement[bool]] = []
    if q:
        where.append(Batch.code.icontains(q, autoescape=True))
    if method_code:
        where.append(Method.code == method_code)
    if status:
        where.append(Batch.status == status)
    china = dt.timezone(dt.timedelta(hours=8))
    if date_from is not None:
        where.append(Batch.created_at >= dt.datetime.combine(date_from, dt.time(), china))
    if date_to is not None:
        where.append(Batch.created_at < dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), china))
    stmt = (select(Batch, Method.code, Instrument.code).join(Method, Method.id == Batch.method_id)
            .outerjoin(Instrument, Instrument.id == Batch.instrument_id).where(*where))
    total, exact = queries.count_capped(s, stmt.with_only_columns(Batch.id), offset + queries.COUNT_CAP)
    column = BATCH_SORTS.get(sort, Batch.created_at)
    order = (column.asc(), Batch.id.asc()) if ascending else (column.desc(), Batch.id.desc())
    rows = s.execute(stmt.order_by(*order).limit(limit).offset(offset)).all()
    sizes = dict(s.execute(select(Analysis.batch_id, func.count()).where(
        Analysis.batch_id.in_([b.id for b, _m, _i in rows])).group_by(Analysis.batch_id)).all()) if rows else {}
    return {"total": total, "exact": exact, "items": [
        {"code": b.code, "method": m, "instrument": i, "status": b.status, "qc_summary": b.qc_summary,
         "created_at": iso(b.created_at), "analyses": sizes.get(b.id, 0)} for b, m, i in rows]}



def method_of_analyses(s: Session, analysis_ids: list[int]) -> str:
    """The method code the analyses share, else the first of them (create_batch then names the odd one)."""
    codes = list(dict.fromkeys(s.execute(select(Method.code).join(Analysis, Analysis.method_id == Method.id)
                                         .where(Analysis.id.in_(analysis_ids)).order_by(Analysis.id)).scalars()))
    return codes[0] if codes else ""
