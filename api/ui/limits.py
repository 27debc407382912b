"""The limits editor (限量标准): the MRL table with its commodities and analytes by name, searched by a word of
either or of the source standard, and the CSV import with its validation report on the page.

The import is all or nothing, as ``POST /api/v1/limits/import``: the file is parsed and checked
(:func:`lims.limits.parse_limits_csv` — columns, numbers, CAS check digits, dates, the standard cited) and
every rejected row is listed with its line, field and reason; only a file without a rejected row is stored
(:func:`lims.services.limits.import_limits`, idempotent). One row is added or changed by its form
(:func:`lims.services.limits.save_limit`: the import's row rules, a reason that goes into the audit trail).
Viewing needs ``limits:read``, importing and editing ``limits:manage`` (the QA manager's).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import UploadFile

from api.deps import FactoryDep, read_service, run_service
from api.schemas import MAX_DB_INT
from api.security import Principal, require_ui
from api.ui.base import PAGE_SIZE, Offset, P, area_router, not_found, pager, render, ui_error
from api.ui.page_helpers import named, read_record
from lims.config import get_settings
from lims.limits import REQUIRED_COLUMNS, LimitsCsvError, LimitType, parse_limits_csv
from lims.services import limits
from lims.services.views import limits as limit_views

router = area_router()
LimitsPage = Annotated[Principal, require_ui(P.LIMITS_READ)]
LimitsManager = Annotated[Principal, require_ui(P.LIMITS_MANAGE)]
PAGE = "/limits"
#: Rejected rows listed on the page at most (the count says how many there were).
MAX_REPORT_ROWS = 200
#: The row form's fields in words (zh, en), for the refusal that names one.
FIELDS = {"commodity_zh": ("产品（中文名）", "commodity (Chinese)"), "commodity_en": ("产品（英文名）", "commodity (English)"),
          "analyte_zh": ("检测项目（中文名）", "analyte (Chinese)"), "analyte_en": ("检测项目（英文名）", "analyte (English)"),
          "cas": ("CAS 号", "CAS number"), "residue_definition": ("残留物定义", "residue definition"),
          "limit_type": ("限量类型", "limit type"), "limit_value": ("限量值", "limit value"), "unit": ("单位", "unit"),
          "source_standard": ("标准", "standard"), "source_clause": ("条款", "clause"), "verified": ("已核对", "verified"),
          "valid_from": ("生效日期", "valid from"), "valid_until": ("失效日期", "valid until"),
          "reason": ("修改原因", "reason for the change"), "limit_id": ("限量", "limit")}
LIMIT_TYPES = {LimitType.MRL: ("最大残留限量", "MRL"), LimitType.EMRL: ("再残留限量", "extraneous MRL"),
               LimitType.BANNED: ("禁用", "banned"), LimitType.MRPL: ("最低要求执行限", "MRPL (method requirement)"),
               LimitType.NONE: ("未制定限量", "no limit set")}


def _page(request: Request, me: Principal, factory: sessionmaker[Session], *, text: str = "", offset: int = 0,
          status: int = 200, report: dict[str, Any] | None = None, error: dict[str, Any] | None = None,
          imported: dict[str, Any] | None = None, saved: int = 0) -> HTMLResponse:
    page = read_service(factory, lambda s: limit_views.search_limits(s, text=text, limit=PAGE_SIZE, offset=offset))
    return render(request, me, "ui_limits.html", "/quality", status=status, q=text, rows=page.items,
                  pager=pager(PAGE, {"q": text}, offset, PAGE_SIZE, page.total, page.total_exact), report=report,
                  error=error, imported=imported, can_import=me.can(P.LIMITS_MANAGE), columns=REQUIRED_COLUMNS,
                  saved=saved)


@router.get(PAGE, response_class=HTMLResponse)
def limits_page(request: Request, me: LimitsPage, factory: FactoryDep, offset: Offset = 0,
                q: Annotated[str, Query(max_length=120)] = "", inserted: Annotated[int, Query(ge=0)] = -1,
                skipped: Annotated[int, Query(ge=0)] = 0, saved: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    imported = {"inserted": inserted, "skipped": skipped} if inserted >= 0 else None
    return _page(request, me, factory, text=q.strip(), offset=offset, imported=imported, saved=saved)


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


# ------------------------------------------------------------------------------------------ one row


def _row_page(request: Request, me: Principal, limit_id: int | None, values: dict[str, str], *, status: int = 200,
              error: dict[str, Any] | None = None) -> HTMLResponse:
    return render(request, me, "ui_limit_row.html", "/quality", status=status, limit_id=limit_id, v=values,
                  error=named(error, FIELDS), limit_types=[(t.value, zh, en) for t, (zh, en) in LIMIT_TYPES.items()])


@router.get(f"{PAGE}/rows/new", response_class=HTMLResponse)
def limit_new(request: Request, me: LimitsManager) -> HTMLResponse:
    return _row_page(request, me, None, {"limit_type": LimitType.MRL.value, "unit": "mg/kg", "verified": "no"})


@router.get(f"{PAGE}/rows/{{limit_id}}", response_class=HTMLResponse)
def limit_edit(limit_id: int, request: Request, me: LimitsManager, factory: FactoryDep) -> HTMLResponse:
    if not 1 <= limit_id <= MAX_DB_INT:
        return not_found(request, me, PAGE, str(limit_id))
    values = read_record(factory, lambda s: limits.limit_form(s, limit_id))
    if values is None:
        return not_found(request, me, PAGE, f"限量 {limit_id} / limit {limit_id}")
    return _row_page(request, me, limit_id, values)


async def _save(request: Request, me: Principal, factory: sessionmaker[Session], limit_id: int | None) -> Response:
    form = await request.form()
    values = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    values["verified"] = "yes" if "verified" in form else "no"
    reason = values.get("reason", "")
    saved: list[int] = []
    try:
        run_service(factory, me.username, f"limit edit: {reason}", lambda s: saved.append(
            limits.save_limit(s, values, reason=reason, limit_id=limit_id).id))
    except HTTPException as e:
        if limit_id is not None:  # the row's commodity and analyte are not form fields: shown as stored
            stored = read_record(factory, lambda s: limits.limit_form(s, limit_id)) or {}
            values |= {k: stored.get(k, "") for k in ("commodity_zh", "commodity_en", "analyte_zh", "analyte_en", "cas")}
        return _row_page(request, me, limit_id, values, status=e.status_code, error=ui_error(e.status_code, e.detail))
    return RedirectResponse(f"{PAGE}?saved={saved[0]}#limit-{saved[0]}", status_code=303)


@router.post(f"{PAGE}/rows", response_class=HTMLResponse)
async def limit_add(request: Request, me: LimitsManager, factory: FactoryDep) -> Response:
    return await _save(request, me, factory, None)


@router.post(f"{PAGE}/rows/{{limit_id}}", response_class=HTMLResponse)
async def limit_save(limit_id: int, request: Request, me: LimitsManager, factory: FactoryDep) -> Response:
    if not 1 <= limit_id <= MAX_DB_INT:
        return not_found(request, me, PAGE, str(limit_id))
    return await _save(request, me, factory, limit_id)
