"""Audits, nonconformities and CAPA as boards (one column per state) with a page for each record and the
actions its state allows (ISO/IEC 17025:2017 7.10 nonconforming work, 8.7 corrective action, 8.8 internal
audits; RB/T 214-2017 4.5.9–4.5.11).

An audit: plan → start → findings (major and minor open a nonconformity, :func:`lims.quality.audits.add_finding`)
→ complete. A nonconformity: open → containment (stop work, withhold, recall) → root cause → corrective
actions, each done with its note → implemented → effectiveness verified → closed
(:mod:`lims.quality.nonconformity`, whose guards decide; the page offers what the state allows). Viewing needs
``quality:read``, raising a nonconformity ``quality:raise``, everything else ``quality:manage``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service
from api.schemas import MAX_DB_INT
from api.security import Principal
from api.ui.base import P, area_router, not_found, render, ui_error
from api.ui.quality import HUB, QualityManager, QualityPage, QualityRaiser, act, date_of, form_of
from lims.clock import utcnow
from lims.quality import audits
from lims.quality import nonconformity as ncs
from lims.quality.views import audit_view, nc_detail, nc_summary
from lims.quality.vocabulary import AuditKind, AuditStatus, Containment, FindingGrade, NcLinkKind, NcRisk
from lims.services import accounts
from lims.services.errors import InvalidInput, NotFound
from lims.vocabulary import NonconformityStatus

router = area_router()
#: What the page says after an action (value of ?done=): (zh, en).
DONE = {"planned": ("已计划审核", "audit planned"), "start": ("审核已开始", "audit started"),
        "complete": ("审核已完成", "audit completed"), "finding": ("已记录审核发现", "finding recorded"),
        "raised": ("已登记不符合工作", "nonconformity raised"), "containment": ("已记录控制措施", "containment recorded"),
        "root-cause": ("已记录根本原因", "root cause recorded"), "action": ("已添加纠正措施", "corrective action added"),
        "done": ("纠正措施已完成", "action done"), "implemented": ("措施已实施", "actions implemented"),
        "verification": ("已验证有效性", "effectiveness verified"), "close": ("已关闭", "closed")}


def _done(done: str) -> tuple[str, str] | None:
    return DONE.get(done)


# ------------------------------------------------------------------------------------------ audits


def _audit_board(s: Session) -> dict[str, Any]:
    rows = [audit_view(a) for a in audits.list_audits(s)]
    return {"columns": [{"status": st, "audits": [a for a in rows if a["status"] == st]} for st in AuditStatus],
            "clauses": audits.clause_library(), "names": _names(s)}


def _names(s: Session) -> dict[str, str]:
    """Username → the person's name, for owners, auditors and who raised a record."""
    return {u.username: u.full_name for u in accounts.list_users(s)}


def _audits_page(request: Request, me: Principal, factory: sessionmaker[Session], *, error: dict[str, Any] | None = None,
                 form: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, me, "ui_quality_audits.html", HUB, status=error["status"] if error else 200,
                  error=error, form=form or {}, kinds=list(AuditKind), can_manage=me.can(P.QUALITY_MANAGE),
                  **read_service(factory, _audit_board))


@router.get("/quality/audits", response_class=HTMLResponse)
def audits_board(request: Request, me: QualityPage, factory: FactoryDep) -> HTMLResponse:
    return _audits_page(request, me, factory)


@router.post("/quality/audits", response_class=HTMLResponse)
async def audit_plan(request: Request, me: QualityManager, factory: FactoryDep) -> Response:
    form = await form_of(request)
    clauses = [c.strip() for c in form.get("clauses", "").replace("，", ",").split(",") if c.strip()]

    def go(s: Session) -> None:
        start, end = date_of(form, "start_date"), date_of(form, "end_date")
        assert start is not None and end is not None
        audits.plan_audit(s, code=form.get("code", ""), kind=form.get("kind", ""), title=form.get("title", ""),
                          start_date=start, end_date=end, clauses=clauses, lead_auditor=form.get("lead_auditor", ""))
    code = form.get("code", "")
    if not code:
        return _audits_page(request, me, factory, form=form, error=_missing("code"))
    error = act(factory, me, f"plan audit {code}", go)
    if error:
        return _audits_page(request, me, factory, error=error, form=form)
    return RedirectResponse(f"/quality/audits/{code}?done=planned", status_code=303)


def _missing(field: str) -> dict[str, Any]:
    return ui_error(422, {"message": f"{field} is missing", "field": field, "code": "quality.missing_text"})


def _audit(s: Session, code: str) -> dict[str, Any]:
    audit = audits.get_audit(s, code)
    findings = audits.findings_of(s, code)
    return {"audit": audit_view(audit, findings), "checklist": audits.checklist(s, code), "names": _names(s),
            "clauses": [c for c in audits.clause_library() if c.clause_id in audit.clauses] or audits.clause_library()}


def _audit_page(request: Request, me: Principal, factory: sessionmaker[Session], code: str, *, done: str = "",
                error: dict[str, Any] | None = None) -> HTMLResponse:
    try:
        data = read_service(factory, lambda s: _audit(s, code))
    except HTTPException as e:  # NotFound → the 404 page
        if e.status_code == 404:
            return not_found(request, me, "/quality/audits", f"审核 {code} / audit {code}")
        raise
    return render(request, me, "ui_quality_audit.html", HUB, status=error["status"] if error else 200, error=error,
                  done=_done(done), grades=list(FindingGrade), can_manage=me.can(P.QUALITY_MANAGE), **data)


@router.get("/quality/audits/{code}", response_class=HTMLResponse)
def audit_page(code: str, request: Request, me: QualityPage, factory: FactoryDep, done: str = "") -> HTMLResponse:
    return _audit_page(request, me, factory, code, done=done[:20])


@router.post("/quality/audits/{code}/findings", response_class=HTMLResponse)
async def audit_finding(code: str, request: Request, me: QualityManager, factory: FactoryDep) -> Response:
    form = await form_of(request)
    error = act(factory, me, f"finding in audit {code}", lambda s: audits.add_finding(
        s, code, clause_id=form.get("clause_id", ""), grade=form.get("grade", ""),
        description=form.get("description", ""), raised_by=me.username, owner=form.get("owner", "")))
    if error:
        return _audit_page(request, me, factory, code, error=error)
    return RedirectResponse(f"/quality/audits/{code}?done=finding", status_code=303)


@router.post("/quality/audits/{code}/{step}", response_class=HTMLResponse)
def audit_step(code: str, step: str, request: Request, me: QualityManager, factory: FactoryDep) -> Response:
    steps: dict[str, Callable[[Session, str], Any]] = {"start": audits.start_audit, "complete": audits.complete_audit}
    if step not in steps:
        return not_found(request, me, "/quality/audits", step)
    error = act(factory, me, f"{step} audit {code}", lambda s: steps[step](s, code))
    if error:
        return _audit_page(request, me, factory, code, error=error)
    return RedirectResponse(f"/quality/audits/{code}?done={step}", status_code=303)


# ------------------------------------------------------------------------------------------ nonconformities


def _nc_board(s: Session) -> dict[str, Any]:
    rows = [nc_summary(n) for n in ncs.list_ncs(s)]
    late = {o.nonconformity_id for o in ncs.overdue(s)}
    for r in rows:
        r["overdue"] = r["id"] in late
    return {"columns": [{"status": st, "ncs": [r for r in rows if r["status"] == st]} for st in NonconformityStatus],
            "overdue": ncs.overdue(s), "capa": _capa_board(s, [r for r in rows if r["status"] != "closed"]),
            "names": _names(s)}


def _capa_board(s: Session, open_ncs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The corrective actions of the open nonconformities in three columns: open, overdue, done (8.7.1 d)."""
    today = utcnow().date()
    cards = [{"nc_id": n["id"], "id": a.id, "description": a.description, "owner": a.owner, "due_date": a.due_date,
              "done_at": a.done_at, "column": "done" if a.done_at else ("late" if a.due_date < today else "open")}
             for n in open_ncs for a in ncs.actions_of(s, n["id"])]
    words = {"open": ("进行中", "in progress"), "late": ("逾期", "overdue"), "done": ("已完成", "done")}
    return [{"key": k, "zh": zh, "en": en, "cards": [c for c in cards if c["column"] == k]}
            for k, (zh, en) in words.items()]


def _ncs_page(request: Request, me: Principal, factory: sessionmaker[Session], *, error: dict[str, Any] | None = None,
              form: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, me, "ui_quality_ncs.html", HUB, status=error["status"] if error else 200, error=error,
                  form=form or {}, risks=list(NcRisk), link_kinds=list(NcLinkKind),
                  can_raise=me.can(P.QUALITY_RAISE), **read_service(factory, _nc_board))


@router.get("/quality/ncs", response_class=HTMLResponse)
def ncs_board(request: Request, me: QualityPage, factory: FactoryDep) -> HTMLResponse:
    return _ncs_page(request, me, factory)


@router.post("/quality/ncs", response_class=HTMLResponse)
async def nc_raise(request: Request, me: QualityRaiser, factory: FactoryDep) -> Response:
    form = await form_of(request)
    links = [(form["link_kind"], form["link_ref"])] if form.get("link_kind") and form.get("link_ref") else []
    raised: list[int] = []

    def go(s: Session) -> None:
        raised.append(ncs.raise_nc(s, source="manual", description=form.get("description", ""),
                                   raised_by=me.username, risk=form.get("risk") or NcRisk.MEDIUM,
                                   owner=form.get("owner", ""), due_date=date_of(form, "due_date", required=False),
                                   links=links).id)
    error = act(factory, me, "raise nonconformity", go)
    if error:
        return _ncs_page(request, me, factory, error=error, form=form)
    return RedirectResponse(f"/quality/ncs/{raised[0]}?done=raised", status_code=303)


def _nc(s: Session, nc_id: int) -> dict[str, Any]:
    doc = nc_detail(s, ncs.get_nc(s, nc_id))
    doc["overdue"] = [o for o in ncs.overdue(s) if o.nonconformity_id == nc_id]
    return {"nc": doc, "names": _names(s)}


def _nc_page(request: Request, me: Principal, factory: sessionmaker[Session], nc_id: int, *, done: str = "",
             error: dict[str, Any] | None = None) -> HTMLResponse:
    if not 1 <= nc_id <= MAX_DB_INT:
        return not_found(request, me, "/quality/ncs", f"NC-{nc_id}")
    try:
        data = read_service(factory, lambda s: _nc(s, nc_id))
    except HTTPException as e:
        if e.status_code == 404:
            return not_found(request, me, "/quality/ncs", f"不符合 NC-{nc_id} / nonconformity NC-{nc_id}")
        raise
    return render(request, me, "ui_quality_nc.html", HUB, status=error["status"] if error else 200, error=error,
                  done=_done(done), containments=list(Containment), link_kinds=list(NcLinkKind),
                  can_manage=me.can(P.QUALITY_MANAGE), **data)


@router.get("/quality/ncs/{nc_id}", response_class=HTMLResponse)
def nc_page(nc_id: int, request: Request, me: QualityPage, factory: FactoryDep, done: str = "") -> HTMLResponse:
    return _nc_page(request, me, factory, nc_id, done=done[:20])


def _nc_steps(nc_id: int, form: dict[str, str], me: Principal) -> dict[str, Callable[[Session], Any]]:
    """The CAPA steps a form may post, each one call of lims.quality.nonconformity."""
    from lims.config import get_settings

    def action_done(s: Session) -> Any:
        action_id = _int(form.get("action_id", ""), "action_id")
        if all(a.id != action_id for a in ncs.actions_of(s, nc_id)):
            raise NotFound(f"action {action_id} is not an action of NC-{nc_id}", field="action_id")
        return ncs.complete_action(s, action_id, note=form.get("note", ""))

    return {
        "containment": lambda s: ncs.contain(s, nc_id, containment=form.get("containment", ""),
                                             kind=form.get("kind", ""), ref=form.get("ref", ""),
                                             note=form.get("note", ""), report_dir=get_settings().report_dir),
        "root-cause": lambda s: ncs.record_root_cause(s, nc_id, form.get("root_cause", "")),
        "action": lambda s: ncs.add_action(s, nc_id, description=form.get("description", ""),
                                           owner=form.get("owner", ""), due_date=date_of(form, "due_date")),
        "done": action_done,
        "implemented": lambda s: ncs.implement(s, nc_id),
        "verification": lambda s: ncs.verify_effectiveness(s, nc_id, verification=form.get("verification", ""),
                                                           effective=form.get("effective", "yes") != "no"),
        "close": lambda s: ncs.close(s, nc_id, note=form.get("note", "")),
    }


def _int(raw: str, field: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{field} must be a number", field=field, code="quality.bad_value") from None
    if not 1 <= value <= MAX_DB_INT:
        raise InvalidInput(f"{field} out of range", field=field, code="quality.bad_value")
    return value


@router.post("/quality/ncs/{nc_id}/{step}", response_class=HTMLResponse)
async def nc_step(nc_id: int, step: str, request: Request, me: QualityManager, factory: FactoryDep) -> Response:
    form = await form_of(request)
    steps = _nc_steps(nc_id, form, me)
    if step not in steps or not 1 <= nc_id <= MAX_DB_INT:
        return not_found(request, me, "/quality/ncs", step)
    error = act(factory, me, f"NC-{nc_id}: {step}", steps[step])
    if error:
        return _nc_page(request, me, factory, nc_id, error=error)
    return RedirectResponse(f"/quality/ncs/{nc_id}?done={step}", status_code=303)
