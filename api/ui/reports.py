"""Reports: the list, the samples ready for a report, and the issue form."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal
from api.ui.base import PAGE_SIZE, Offset, ReportIssuer, ReportsPage, area_router, pager, render, ui_error
from api.ui.labels import P
from lims.config import get_settings
from lims.db.models import Analysis, Report, Result, ResultStatus, Sample
from lims.services import queries, reporting

router = area_router()


def _reports(s: Session, offset: int) -> dict[str, Any]:
    total, exact = queries.count_capped(s, select(Report.id))
    rows = s.execute(select(Report, Sample.code).join(Sample, Sample.id == Report.sample_id)
                     .order_by(Report.id.desc()).limit(PAGE_SIZE).offset(offset)).all()
    ready = s.execute(select(Sample.code, Sample.commodity_id).join(Analysis, Analysis.sample_id == Sample.id)
                      .join(Result, Result.analysis_id == Analysis.id)
                      .where(Result.status == ResultStatus.CERTIFIED).distinct().order_by(Sample.code)
                      .limit(200)).all()
    codes = [c for c, _ in ready]
    reported = set(s.execute(select(Sample.code).join(Report, Report.sample_id == Sample.id)
                             .where(Sample.code.in_(codes), Report.status == "issued")).scalars()) if codes else set()
    return {"total": total, "exact": exact,
            "items": [{"report_no": r.report_no, "version": r.version, "status": r.status, "lang": r.lang,
                       "sample_code": code, "issued_at": r.issued_at, "content_hash": r.content_hash,
                       "amendment_reason": r.amendment_reason} for r, code in rows],
            "ready": [{"code": c, "amend": c in reported} for c in codes]}


def _reports_page(request: Request, me: Principal, factory: sessionmaker[Session], *, offset: int = 0,
                  status: int = 200, error: dict[str, Any] | None = None, issued: str = "",
                  form: dict[str, str] | None = None) -> HTMLResponse:
    data = read_service(factory, lambda s: _reports(s, offset) | {"issued": issued and s.execute(
        select(Report.report_no).where(Report.report_no == issued)).scalars().first()})
    return render(request, me, "ui_reports.html", "/reports", status=status, error=error, issued=data["issued"],
                  reports=data["items"], ready=data["ready"], form=form or {},
                  can_issue=me.can(P.REPORTS_ISSUE),
                  pager=pager("/reports", {}, offset, PAGE_SIZE, data["total"], data["exact"]))


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, me: ReportsPage, factory: FactoryDep, offset: Offset = 0,
                 issued: Annotated[str, Query(max_length=80)] = "") -> HTMLResponse:
    return _reports_page(request, me, factory, offset=offset, issued=issued)


@router.post("/reports/issue", response_class=HTMLResponse)
def issue_report(request: Request, me: ReportIssuer, factory: FactoryDep,
                 sample_code: Annotated[str, Form(max_length=60)] = "",
                 language: Annotated[str, Form(max_length=10)] = "zh-CN",
                 amendment_reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """签发报告: issue (or, with a reason, amend) the report of a sample whose results are certified."""
    form = {"sample_code": sample_code, "language": language, "amendment_reason": amendment_reason}
    if language not in ("zh-CN", "en"):
        error = ui_error(422, {"message": "language must be zh-CN or en", "field": "language",
                               "code": "report.language_invalid"})
        return _reports_page(request, me, factory, status=422, error=error, form=form)
    if not sample_code:
        error = ui_error(422, {"message": "choose a sample", "field": "sample_code",
                               "code": "report.no_sample_chosen"})
        return _reports_page(request, me, factory, status=422, error=error, form=form)
    out_dir = get_settings().report_dir
    reason = amendment_reason.strip() or None
    try:
        no = run_service(factory, me.username, reason or "report issue (web UI)", lambda s: reporting.issue_report(
            s, sample_code, out_dir=out_dir, language=language, amendment_reason=reason).report_no)  # type: ignore[arg-type]
    except HTTPException as e:
        return _reports_page(request, me, factory, status=e.status_code, error=ui_error(e.status_code, e.detail),
                             form=form)
    return RedirectResponse(f"/reports?{urlencode({'issued': no})}", status_code=303)

