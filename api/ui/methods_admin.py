"""检测方法与授权签字人 (/admin/methods): the lab's methods with their scope (the analytes each determines) and
signatories (who may approve its results); forms to add or change a method and to grant or revoke a
signatory, with the reason that goes into the audit trail (lims.services.methods_admin, the same service as
``lims method …`` and /api/v1/methods); the analytes a scope may name, with a form to add one (POST
/admin/analytes: lims.services.analytes_admin, as ``lims analyte import`` and /api/v1/analytes). Viewing needs ``results:read``; changing ``methods:manage`` (the QA
manager's)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require_ui
from api.ui.base import P, area_router, not_found, render, ui_error
from lims.limits.decision import DecisionRule
from lims.services import accounts, analytes_admin, methods_admin
from lims.vocabulary import AnalysisKind, Role, UserKind

router = area_router()
MethodsPage = Annotated[Principal, require_ui(P.RESULTS_READ)]
MethodsManager = Annotated[Principal, require_ui(P.METHODS_MANAGE)]
PAGE = "/admin/methods"
Text = Annotated[str, Form(max_length=500)]
#: What the page says after a change (value of ?done=).
DONE_ZH = {"saved": ("已保存方法", "method saved"), "granted": ("已授予授权签字人资格", "signatory authority granted"),
           "revoked": ("已撤销授权签字人资格", "signatory authority withdrawn"),
           "analyte": ("已新增检测项目", "analyte added")}
DECISION_RULES = {DecisionRule.SIMPLE_ACCEPTANCE: ("简单接受（不考虑测量不确定度）", "simple acceptance"),
                  DecisionRule.GUARD_BAND: ("保护带", "guard band"),
                  DecisionRule.EU_ENFORCEMENT: ("执法判定（扣除扩展不确定度）", "enforcement (value minus U)")}
#: A method form's fields in the order of the form (names of lims.services.methods_admin.MethodSpec).
FIELDS = ("code", "name", "standard", "kind", "unit", "lod_mg_kg", "loq_mg_kg", "decision_rule", "report_figures",
          "report_decimals", "analytes", "reason")


def _approvers(s: Session) -> list[dict[str, str]]:
    return [{"username": u.username, "full_name": u.full_name} for u in accounts.list_users(s)
            if u.active and u.kind == UserKind.PERSON and Role.APPROVER in u.role_names]


def _page(request: Request, me: Principal, factory: sessionmaker[Session], *, status: int = 200,
          error: dict[str, Any] | None = None, done: str = "", who: str = "",
          form: dict[str, str] | None = None, analyte: dict[str, str] | None = None) -> HTMLResponse:
    rows, approvers, analytes = read_service(factory, lambda s: (methods_admin.list_methods(s), _approvers(s),
                                                                 analytes_admin.list_analytes(s)))
    return render(request, me, "ui_methods.html", PAGE, status=status, error=error, methods=rows,
                  approvers=approvers, done=DONE_ZH.get(done), who=who, can_manage=me.can(P.METHODS_MANAGE),
                  v=form or {"unit": "mg/kg", "kind": "confirmatory"}, edit=None, kinds=list(AnalysisKind),
                  rules=DECISION_RULES, analytes=analytes, analyte_kinds=analytes_admin.KINDS,
                  a=analyte or {"kind": "pesticide"})


@router.get(PAGE, response_class=HTMLResponse)
def methods_page(request: Request, me: MethodsPage, factory: FactoryDep,
                 done: Annotated[str, Query(max_length=20)] = "",
                 who: Annotated[str, Query(max_length=120)] = "") -> HTMLResponse:
    return _page(request, me, factory, done=done, who=who)


def _edit_page(request: Request, me: Principal, factory: sessionmaker[Session], code: str, *, status: int = 200,
               error: dict[str, Any] | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
    try:
        row = read_service(factory, lambda s: methods_admin.method_row(s, code))
    except HTTPException:
        return not_found(request, me, PAGE, f"method {code}")
    values = form or {name: "" if getattr(row, name, None) is None else str(getattr(row, name))
                      for name in FIELDS if name not in {"analytes", "reason"}} | {"analytes": "; ".join(row.analytes)}
    return render(request, me, "ui_methods.html", PAGE, status=status, error=error, methods=[], approvers=[],
                  done=None, who="", can_manage=True, v=values, edit=row, kinds=list(AnalysisKind),
                  rules=DECISION_RULES)


@router.get(PAGE + "/{code}", response_class=HTMLResponse)
def method_edit_page(request: Request, code: str, me: MethodsManager, factory: FactoryDep) -> HTMLResponse:
    return _edit_page(request, me, factory, code)


class _FormProblem(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.detail = {"message": f"{field}: {message}", "field": field, "code": "ui.number_invalid"}


def _number(text: str, field: str, *, whole: bool = False) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        raise _FormProblem(field, f"not a number: {text!r}") from None
    if not whole and not math.isfinite(value):
        raise _FormProblem(field, f"not a finite number: {text!r}")
    return value


def _spec(v: dict[str, str], code: str) -> methods_admin.MethodSpec:
    return methods_admin.MethodSpec(
        code=code, name=v["name"], standard=v["standard"], kind=v["kind"], unit=v["unit"],
        lod_mg_kg=_number(v["lod_mg_kg"], "lod_mg_kg"), loq_mg_kg=_number(v["loq_mg_kg"], "loq_mg_kg"),
        decision_rule=v["decision_rule"], report_figures=_number(v["report_figures"], "report_figures", whole=True),
        report_decimals=_number(v["report_decimals"], "report_decimals", whole=True),
        analytes=tuple(a for a in re.split(r"[;,，；\s]+", v["analytes"]) if a))


def _save(v: dict[str, str], code: str, *, create: bool, me: Principal,
          factory: sessionmaker[Session]) -> dict[str, Any] | None:
    """None when saved; the refusal as shown on a page otherwise."""
    try:
        spec = _spec(v, code)
        run_service(factory, me.username, v["reason"].strip() or f"{'create' if create else 'change'} method (web UI)",
                    lambda s: methods_admin.save_method(s, spec, create=create))
    except _FormProblem as e:
        return ui_error(422, e.detail)
    except HTTPException as e:
        return ui_error(e.status_code, e.detail)
    return None


def _saved(code: str) -> RedirectResponse:
    return RedirectResponse(f"{PAGE}?{urlencode({'done': 'saved', 'who': code})}", status_code=303)


class MethodForm(BaseModel):
    """The method form as posted (checked by the service, numbers by :func:`_number`)."""

    code: str = Field(default="", max_length=500)
    name: str = Field(default="", max_length=500)
    standard: str = Field(default="", max_length=500)
    kind: str = Field(default="", max_length=500)
    unit: str = Field(default="", max_length=500)
    lod_mg_kg: str = Field(default="", max_length=500)
    loq_mg_kg: str = Field(default="", max_length=500)
    decision_rule: str = Field(default="", max_length=500)
    report_figures: str = Field(default="", max_length=500)
    report_decimals: str = Field(default="", max_length=500)
    analytes: str = Field(default="", max_length=5000)
    reason: str = Field(default="", max_length=500)


PostedMethod = Annotated[MethodForm, Form()]


@router.post(PAGE, response_class=HTMLResponse)
def create_method(request: Request, me: MethodsManager, factory: FactoryDep, form: PostedMethod) -> Response:
    v = form.model_dump()
    error = _save(v, form.code, create=True, me=me, factory=factory)
    if error is not None:
        return _page(request, me, factory, status=error["status"], error=error, form=v)
    return _saved(form.code.strip())


@router.post(PAGE + "/{code}", response_class=HTMLResponse)
def update_method(request: Request, code: str, me: MethodsManager, factory: FactoryDep, form: PostedMethod) -> Response:
    v = form.model_dump()
    error = _save(v, code, create=False, me=me, factory=factory)
    if error is not None:
        return _edit_page(request, me, factory, code, status=error["status"], error=error, form=v)
    return _saved(code)


def _change(request: Request, me: Principal, factory: sessionmaker[Session], done: str, who: str,
            reason: str, change: Callable[[Session], object], *, analyte: dict[str, str] | None = None,
            anchor: str = "") -> Response:
    """``change`` in one audited unit of work, then back to the page saying ``done`` to ``who``; a refusal
    shows the page with its error (and the analyte form as posted)."""
    try:
        run_service(factory, me.username, reason.strip() or f"{done} (web UI)", change)
    except HTTPException as e:
        return _page(request, me, factory, status=e.status_code, error=ui_error(e.status_code, e.detail),
                     analyte=analyte)
    return RedirectResponse(f"{PAGE}?{urlencode({'done': done, 'who': who})}{anchor}", status_code=303)


@router.post(PAGE + "/{code}/signatories", response_class=HTMLResponse)
def grant(request: Request, code: str, me: MethodsManager, factory: FactoryDep,
          username: Annotated[str, Form(max_length=80)] = "", reason: Text = "") -> Response:
    return _change(request, me, factory, "granted", username, reason,
                   lambda s: methods_admin.grant_signatory(s, username, code, reason=reason))


@router.post(PAGE + "/{code}/signatories/{username}/revoke", response_class=HTMLResponse)
def revoke(request: Request, code: str, username: str, me: MethodsManager, factory: FactoryDep,
           reason: Text = "") -> Response:
    return _change(request, me, factory, "revoked", username, reason,
                   lambda s: methods_admin.revoke_signatory(s, username, code, reason=reason))


class AnalyteForm(BaseModel):
    """The analyte form as posted (checked by lims.services.analytes_admin)."""

    code: str = Field(default="", max_length=500)
    name_zh: str = Field(default="", max_length=500)
    name_en: str = Field(default="", max_length=500)
    cas: str = Field(default="", max_length=500)
    kind: str = Field(default="", max_length=500)
    reason: str = Field(default="", max_length=500)


@router.post("/admin/analytes", response_class=HTMLResponse)
def create_analyte(request: Request, me: MethodsManager, factory: FactoryDep,
                   form: Annotated[AnalyteForm, Form()]) -> Response:
    v = form.model_dump()
    spec = analytes_admin.AnalyteSpec(**{k: v[k] for k in ("code", "name_zh", "name_en", "cas", "kind")})
    return _change(request, me, factory, "analyte", form.code.strip(), form.reason,
                   lambda s: analytes_admin.save_analyte(s, spec, reason=form.reason, create=True),
                   analyte=v, anchor="#analytes")
