"""The limits editor (限量标准): the MRL table with its commodities and analytes by name, searched by a word of
either or of the source standard, and the CSV import with its validation report on the page.

The import is all or nothing, as ``POST /api/v1/limits/import``: the file is parsed and checked
(:func:`lims.limits.parse_limits_csv` — columns, numbers, CAS check digits, dates, the standard cited) and
every rejected row is listed with its line, field and reason; only a file without a rejected row is stored
(:func:`lims.services.limits.import_limits`, idempotent). Viewing needs ``limits:read``, importing
``limits:manage``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import UploadFile

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require_ui
from api.ui.base import PAGE_SIZE, Offset, P, area_router, pager, render, ui_error
from lims.config import get_settings
from lims.limits import REQUIRED_COLUMNS, LimitsCsvError, parse_limits_csv
from lims.services import limits
from lims.services.views import limits as limit_views

router = area_router()
LimitsPage = Annotated[Principal, require_ui(P.LIMITS_READ)]
LimitsManager = Annotated[Principal, require_ui(P.LIMITS_MANAGE)]
PAGE = "/limits"
#: Rejected rows listed on the page at most (the count says how many there were).
MAX_REPORT_ROWS = 200


def _page(request: Request, me: Principal, factory: sessionmaker[Session], *, text: str = "", offset: int = 0,
          status: int = 200, report: dict[str, Any] | None = None, error: dict[str, Any] | None = None,
          imported: dict[str, Any] | None = None) -> HTMLResponse:
    page = read_service(factory, lambda s: limit_views.search_limits(s, text=text, limit=PAGE_SIZE, offset=offset))
    return render(request, me, "ui_limits.html", "/quality", status=status, q=text, rows=page.items,
                  pager=pager(PAGE, {"q": text}, offset, PAGE_SIZE, page.total, page.total_exact), report=report,
                  error=error, imported=imported, can_import=me.can(P.LIMITS_MANAGE), columns=REQUIRED_COLUMNS)


@router.get(PAGE, response_class=HTMLResponse)
def limits_page(request: Request, me: LimitsPage, factory: FactoryDep, offset: Offset = 0,
                q: Annotated[str, Query(max_length=120)] = "", inserted: Annotated[int, Query(ge=0)] = -1,
                skipped: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    imported = {"inserted": inserted, "skipped": skipped} if inserted >= 0 else None
    return _page(request, me, factory, text=q.strip(), offset=offset, imported=imported)


async def _upload(request: Request) -> tuple[str, str]:
    """(CSV text, source name) from the form: the file chosen, else the pasted text."""
    form = await request.form()
    file = form.get("file")
    if isinstance(file, UploadFile) and file.filename:
        data = await file.read(get_settings().max_upload_bytes + 1)
        try:
            return data.decode("utf-8-sig"), file.filename[:200]
        except UnicodeDecodeError:
            return "\ufffd", file.filename[:200]  # refused below as not UTF-8
    text = form.get("csv_text")
    return (text if isinstance(text, str) else ""), "粘贴的文本 / pasted text"


@router.post(f"{PAGE}/import", response_class=HTMLResponse)
async def limits_import(request: Request, me: LimitsManager, factory: FactoryDep) -> Response:
    text, source = await _upload(request)
    if not text.strip() or text == "\ufffd":
        why = "the file is empty" if not text.strip() else "the file is not UTF-8 text"
        return _page(request, me, factory, status=422, error=ui_error(422, {
            "message": f"{source}: {why}", "field": "csv_text", "code": "limits.csv_unreadable"}))
    try:
        parsed = parse_limits_csv(text, source=source)
    except LimitsCsvError as e:
        return _page(request, me, factory, status=422, error=ui_error(422, {
            "message": str(e), "field": "csv_text", "code": "limits.csv_unreadable"}))
    if parsed.rejected:
        report = {"source": source, "accepted": len(parsed.accepted), "rejected": len(parsed.rejected),
                  "rows": [{"line": r.line, "field": r.field, "reason": r.reason, "raw": r.raw[:300]}
                           for r in parsed.rejected[:MAX_REPORT_ROWS]]}
        return _page(request, me, factory, status=422, report=report)
    try:
        out = run_service(factory, me.username, f"limits import {source}", lambda s: limits.import_limits(s, parsed))
    except HTTPException as e:
        return _page(request, me, factory, status=e.status_code, error=ui_error(e.status_code, e.detail))
    return RedirectResponse(f"{PAGE}?inserted={out.inserted}&skipped={out.skipped_existing}", status_code=303)
