"""Global search (the header's search box): samples by their code, 追溯码 (trace code), 合格证 (certificate)
number or producer (name or 统一社会信用代码), and reports by number. Case-insensitive substring match; an
exact sample code or report number comes first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from lims.db.models import Producer, Report, Sample
from lims.services.views.common import iso

#: Shortest query searched by substring (a single character would match most of the records).
MIN_LENGTH = 2
MAX_LENGTH = 100
LIMIT = 50


def _like(q: str) -> str:
    """A LIKE pattern matching ``q`` anywhere, its wildcards taken literally (escape character ``\\``)."""
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _matched_on(smp: Sample, q: str) -> str:
    """Which field of the sample the query matched (``code``, ``trace_code``, ``certificate_no``, ``producer``)."""
    low = q.lower()
    for name in ("code", "trace_code", "certificate_no"):
        if low in (getattr(smp, name) or "").lower():
            return name
    return "producer"


def search(s: Session, q: str, *, limit: int = LIMIT) -> dict[str, Any]:
    """Samples and reports matching ``q``; ``exact`` names the one sample whose code (or the report whose
    number) is exactly ``q``, so the page may open it at once."""
    q = q.strip()[:MAX_LENGTH]
    if len(q) < MIN_LENGTH:
        return {"q": q, "too_short": bool(q), "samples": [], "reports": [], "total": 0, "exact": None}
    pat = _like(q.lower())
    hit = or_(*(func.lower(col).like(pat, escape="\\") for col in (
        Sample.code, Sample.trace_code, Sample.certificate_no, Producer.name, Producer.credit_code)))
    base = select(Sample).outerjoin(Producer, Producer.id == Sample.producer_id).where(hit)
    total = s.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    exact_first = case((func.lower(Sample.code) == q.lower(), 0), else_=1)
    samples = s.execute(base.order_by(exact_first, Sample.id.desc()).limit(limit)).scalars().all()
    reports = s.execute(select(Report, Sample.code).join(Sample, Sample.id == Report.sample_id)
                        .where(func.lower(Report.report_no).like(pat, escape="\\"))
                        .order_by(Report.id.desc()).limit(limit)).all()
    exact = next((x.code for x in samples if x.code.lower() == q.lower()), None)
    return {"q": q, "too_short": False, "total": int(total), "exact": exact, "samples": [
        {"code": x.code, "commodity": x.commodity.name_zh if x.commodity else "",
         "commodity_en": x.commodity.name_en if x.commodity else "",
         "producer": x.producer.name if x.producer else "", "trace_code": x.trace_code,
         "certificate_no": x.certificate_no, "status": x.status, "received_at": iso(x.received_at),
         "matched_on": _matched_on(x, q)} for x in samples],
        "reports": [{"report_no": r.report_no, "version": r.version, "status": r.status, "sample_code": code,
                     "issued_at": iso(r.issued_at)} for r, code in reports]}
