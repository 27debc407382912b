"""Controlled documents (受控文件) in the web UI (ISO/IEC 17025:2017 8.3; RB/T 214-2017 4.5.3): the list with
the documents due for periodic review flagged (:func:`lims.quality.documents.due_for_review`, red; due within
:data:`~api.ui.quality.DUE_SOON_DAYS` days orange) and the register form, and a page for each document with its
versions and the steps each allows: draft a version from an uploaded file, approve it (the version in force
is withdrawn), distribute it to named holders, record its periodic review.

The service keeps each version's file under its SHA-256 (``LIMS_DOCUMENTS_DIR``): the page shows the digest and
links the download (``/api/v1/quality/documents/{code}/versions/{version}/file``), which checks the file against
it on every read and refuses a changed or missing one. Every write is the call of
:mod:`lims.quality.documents` that ``/api/v1/quality/documents`` makes, in one unit of work
(:func:`api.ui.quality.act`); a refusal re-renders the page, naming the field, and writes nothing. Viewing
needs ``quality:read``; everything else ``quality:manage`` (the QA manager's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import UploadFile

from api.deps import FactoryDep, read_service
from api.security import Principal
from api.ui.base import P, area_router, not_found, render
from api.ui.page_helpers import check_lengths, named, read_record
from api.ui.quality import DUE_SOON_DAYS, HUB, QualityManager, QualityPage, act
from api.ui.registers import due_class
from lims.clock import utcnow
from lims.db.models_quality import ControlledDocument
from lims.quality import documents
from lims.quality.common import MAX_FILE_BYTES, file_digest
from lims.quality.vocabulary import DocumentStatus
from lims.services.errors import InvalidInput

router = area_router()
PAGE = "/quality/documents"
#: The kinds of document (:data:`lims.quality.documents.KINDS`) in words (zh, en).
KINDS = {"sop": ("作业指导书", "SOP"), "form": ("记录表格", "form"), "manual": ("质量手册", "quality manual"),
         "procedure": ("程序文件", "procedure")}
DONE = {"registered": ("已登记受控文件", "document registered"), "draft": ("已登记新版本草稿", "draft version recorded"),
        "approve": ("已批准，原现行版本已作废", "approved; the version in force was withdrawn"),
        "distribute": ("已登记分发", "distribution recorded"), "reviewed": ("已记录定期审查", "review recorded")}
FIELDS = {"code": ("编号", "code"), "title": ("名称", "title"), "kind": ("类别", "kind"),
          "review_interval_months": ("审查周期（月）", "review interval (months)"), "version": ("版本", "version"),
          "file": ("文件", "file"), "holders": ("持有人", "holders"), "document_code": ("文件", "document")}


def _documents(s: Session) -> dict[str, Any]:
    today = utcnow().date()
    due = {(c, v) for c, v, _ in documents.due_for_review(s, today=today)}
    rows = []
    for doc in s.execute(select(ControlledDocument).order_by(ControlledDocument.code)).scalars():
        versions = documents.versions(s, doc.code)
        current = next((v for v in versions if v.status == DocumentStatus.APPROVED), None)
        review = current.next_review_on if current else None
        rows.append({"code": doc.code, "title": doc.title, "kind": doc.kind, "versions": len(versions),
                     "current": current.version if current else None, "next_review_on": review,
                     "drafts": sum(1 for v in versions if v.status == DocumentStatus.DRAFT),
                     "css": "over" if current and (doc.code, current.version) in due else due_class(review, today)})
    return {"docs": rows, "due": sum(1 for r in rows if r["css"] == "over")}


def _list_page(request: Request, me: Principal, factory: sessionmaker[Session], *,
               error: dict[str, Any] | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, me, "ui_quality_documents.html", HUB, status=error["status"] if error else 200,
                  error=named(error, FIELDS), form=form or {}, kinds=KINDS, due_days=DUE_SOON_DAYS,
                  can_manage=me.can(P.QUALITY_MANAGE), **read_service(factory, _documents))


@router.get(PAGE, response_class=HTMLResponse)
def documents_page(request: Request, me: QualityPage, factory: FactoryDep) -> HTMLResponse:
    return _list_page(request, me, factory)


def _months(raw: str) -> int:
    try:
        return int(raw or "12")
    except ValueError:
        raise InvalidInput(f"review interval: not a whole number of months: {raw[:20]!r}",
                           field="review_interval_months", code="quality.bad_value") from None


@router.post(PAGE, response_class=HTMLResponse)
async def document_register(request: Request, me: QualityManager, factory: FactoryDep) -> Response:
    form = await _form(request)
    code = form.get("code", "")

    def go(s: Session) -> None:
        check_lengths(form, {"code": 60, "title": 200})
        documents.register(s, code=code, title=form.get("title", ""), kind=form.get("kind", ""),
                           review_interval_months=_months(form.get("review_interval_months", "")))
    error = act(factory, me, f"document {code}", go)
    if error:
        return _list_page(request, me, factory, error=error, form=form)
    return RedirectResponse(f"{PAGE}/{quote(code, safe='')}?done=registered", status_code=303)


async def _form(request: Request) -> dict[str, Any]:
    """The posted fields, the text ones stripped; a file field as its bytes (over the size limit: refused)."""
    out: dict[str, Any] = {}
    for key, value in (await request.form()).items():
        if isinstance(value, UploadFile):
            out[key] = await value.read(MAX_FILE_BYTES + 1) if value.filename else None
        else:
            out[key] = value.strip()
    return out


def _document(s: Session, code: str) -> dict[str, Any]:
    doc = documents.get_document(s, code)
    due = {v for c, v, _ in documents.due_for_review(s) if c == doc.code}
    today = utcnow().date()
    versions = [{"version": v.version, "status": v.status, "sha256": v.sha256, "approved_by": v.approved_by,
                 "approved_at": v.approved_at, "next_review_on": v.next_review_on, "withdrawn_at": v.withdrawn_at,
                 "distribution": list(v.distribution or []), "created_at": v.created_at,
                 "css": "over" if v.version in due else (due_class(v.next_review_on, today)
                                                         if v.status == DocumentStatus.APPROVED else "")}
                for v in documents.versions(s, code)]
    return {"doc": {"code": doc.code, "title": doc.title, "kind": doc.kind,
                    "review_interval_months": doc.review_interval_months}, "versions": versions}


def _detail_page(request: Request, me: Principal, factory: sessionmaker[Session], code: str, *, done: str = "",
                 error: dict[str, Any] | None = None) -> HTMLResponse:
    data = read_record(factory, lambda s: _document(s, code))
    if data is None:
        return not_found(request, me, PAGE, f"受控文件 {code[:60]} / document {code[:60]}")
    return render(request, me, "ui_quality_document.html", HUB, status=error["status"] if error else 200,
                  error=named(error, FIELDS), done=DONE.get(done), kinds=KINDS, can_manage=me.can(P.QUALITY_MANAGE),
                  **data)


@router.get(f"{PAGE}/{{code}}", response_class=HTMLResponse)
def document_page(code: str, request: Request, me: QualityPage, factory: FactoryDep, done: str = "") -> HTMLResponse:
    return _detail_page(request, me, factory, code, done=done[:20])


@router.post(f"{PAGE}/{{code}}/versions", response_class=HTMLResponse)
async def document_draft(code: str, request: Request, me: QualityManager, factory: FactoryDep) -> Response:
    form = await _form(request)
    version = str(form.get("version") or "")

    def go(s: Session) -> None:
        content = form.get("file")
        if not isinstance(content, bytes) or not content:
            raise InvalidInput("choose the version's file", field="file", code="ui.field_required")
        file_digest(content, "file")  # over the size limit: refused naming the file
        check_lengths({"version": version}, {"version": 20})
        documents.draft(s, code, version=version, content=content)
    error = act(factory, me, f"draft {code} {version}", go)
    if error:
        return _detail_page(request, me, factory, code, error=error)
    return RedirectResponse(f"{PAGE}/{quote(code, safe='')}?done=draft", status_code=303)


def _steps(code: str, version: str, form: dict[str, Any], me: Principal) -> dict[str, Callable[[Session], Any]]:
    holders = [h for h in str(form.get("holders") or "").replace("，", ",").replace("\n", ",").split(",") if h.strip()]

    def distribute(s: Session) -> Any:
        if not holders:
            raise InvalidInput("name at least one holder", field="holders", code="ui.field_required")
        return documents.distribute(s, code, version=version, holders=holders)

    return {"approve": lambda s: documents.approve(s, code, version=version, approver=me.username),
            "distribute": distribute,
            "reviewed": lambda s: documents.mark_reviewed(s, code, version=version)}


@router.post(f"{PAGE}/{{code}}/versions/{{version}}/{{step}}", response_class=HTMLResponse)
async def document_step(code: str, version: str, step: str, request: Request, me: QualityManager,
                        factory: FactoryDep) -> Response:
    steps = _steps(code, version, await _form(request), me)
    if step not in steps:
        return not_found(request, me, PAGE, step[:40])
    error = act(factory, me, f"{step} {code} {version}", steps[step])
    if error:
        return _detail_page(request, me, factory, code, error=error)
    return RedirectResponse(f"{PAGE}/{quote(code, safe='')}?done={step}#v-{quote(version, safe='')}", status_code=303)
