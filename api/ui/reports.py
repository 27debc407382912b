"""Reports: the list with search (report no., sample code, producer) and an issue-date filter, the samples
ready for a report, and the issue (or amend) form."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal
from api.ui.base import PAGE_SIZE, Offset, ReportIssuer, ReportsPage, area_router, pager, render, ui_error
from api.ui.labels import P
from lims.config import get_settings
from lims.services import reporting
from lims.services.views import reports as report_views
from lims.services.views import review as review_views

router = area_router()


Short = Annotated[str, Query(max_length=80)]


def _day(raw: str) -> tuple[dt.date | None, bool]:
    """A date typed in the filter (YYYY-MM-DD): (date or None, well formed)."""
    try:
        return (dt.date.fromisoformat(raw.strip()) if raw.strip() else None), True
    except ValueError:
        return None, False


def _reports_page(request: Request, me: Principal, factory: sessionmaker[Session], *, offset: int = 0,
                  status: int = 200, error: dict[str, Any] | None = None, issued: str = "",
                  form: dict[str, str] | None = None, filters: dict[str, str] | None = None) -> HTMLResponse:
    filters = filters or {}
    start, ok_start = _day(filters.get("date_from", ""))
    end, ok_end = _day(filters.get("date_to", ""))
    if error is None and not (ok_start and ok_end):
        error = ui_error(422, {"message": "dates are written YYYY-MM-DD", "field": "date_from" if not ok_start
                               else "date_to", "code": "ui.bad_date"})
        status = 422
    data = read_service(factory, lambda s: {
        "overview": report_views.reports_overview(s, limit=0, offset=0, issued=issued),
        "page": review_views.search_reports(s, q=filters.get("q", "").strip(), date_from=start, date_to=end,
                                            limit=PAGE_SIZE, offset=offset)})
    page = data["page"]
    return render(request, me, "ui_reports.html", "/reports", status=status, error=error,
                  issued=data["overview"]["issued"], reports=page["items"], ready=data["overview"]["ready"],
                  form=form or {}, filters=filters, can_issue=me.can(P.REPORTS_ISSUE),
                  pager=pager("/reports", filters, offset, PAGE_SIZE, page["total"], page["exact"]))


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, me: ReportsPage, factory: FactoryDep, offset: Offset = 0, issued: Short = "",
                 q: Short = "", date_from: Short = "", date_to: Short = "", amend: Short = "") -> HTMLResponse:
    """检验报告: search by report no., sample code or producer, filter by issue date; issue or amend a report."""
    form = {"sample_code": amend} if amend else None
    return _reports_page(request, me, factory, offset=offset, issued=issued, form=form,
                         filters={"q": q, "date_from": date_from, "date_to": date_to})


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

