"""Review of one batch and one result (issue 16): the batch page with its results, QC outcome, why it is
held, its curves with residuals and the chromatograms; the result page with the limit and the decision in
words, the old value and reason of an amendment; an audited manual re-integration of a peak
(:func:`lims.services.chromatography.reintegrate_result`: a new reading naming the automatic one, which is kept,
and the result recalculated from the new area — in place while unsigned, a new version once signed);
the amendment of a certified result with its reason (:func:`lims.services.signoff.amend_result`); the
approver's judgement of a result without an applicable limit, before approval
(:func:`lims.services.limit_judgements.judge_result`, as ``POST /api/v1/results/{id}/limit-judgement``)."""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require_ui
from api.ui.base import Approver, P, ResultsPage, area_router, not_found, render, ui_error
from lims.services import chromatography, limit_judgements, signoff
from lims.services.views import review as review_views

router = area_router()
Reintegrator = Annotated[Principal, require_ui(P.RESULTS_ENTER)]


def _lang(me: Principal) -> str:
    return "en" if me.language == "en" else "zh-CN"


@router.get("/batches/{code}", response_class=HTMLResponse)
def batch_page(code: str, request: Request, me: ResultsPage, factory: FactoryDep) -> HTMLResponse:
    """批次审核: results with limit and decision, QC in words and why the batch is held, curves, chromatograms."""
    batch = read_service(factory, lambda s: review_views.batch_review(s, code, _lang(me)))
    if batch is None:
        return not_found(request, me, "/batches", f"批次 {code} / batch {code}")
    return render(request, me, "ui_batch.html", "/batches", batch=batch)


def _result_page(request: Request, me: Principal, factory: sessionmaker[Session], result_id: int, *,
                 status: int = 200, error: dict[str, Any] | None = None, form: dict[str, str] | None = None,
                 done: str = "") -> HTMLResponse:
    result = read_service(factory, lambda s: review_views.result_review(s, result_id, _lang(me)))
    if result is None:
        return not_found(request, me, "/review", f"结果 {result_id} / result {result_id}")
    return render(request, me, "ui_result.html", "/review", status=status, r=result, error=error, form=form or {},
                  done=done, can_reintegrate=me.can(P.RESULTS_ENTER), can_amend=me.can(P.RESULTS_ENTER),
                  can_judge=me.can(P.RESULTS_APPROVE))


@router.get("/results/{result_id:int}", response_class=HTMLResponse)
def result_page(result_id: int, request: Request, me: ResultsPage, factory: FactoryDep,
                done: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
    """One result: limit and decision in words, amendment (old value, reason), curve, chromatogram."""
    return _result_page(request, me, factory, result_id, done=done if done in DONE else "")


DONE = ("reintegrated", "amended", "judged")
Number = Annotated[str, Form(max_length=30)]


def _minutes(raw: str, field: str) -> tuple[float | None, dict[str, Any] | None]:
    try:
        value = float(raw.strip().replace(",", "."))
    except ValueError:
        return None, ui_error(422, {"message": f"{field}: enter a time in minutes", "field": field,
                                    "code": "bench.bad_number"})
    if not 0 <= value < 10_000:
        return None, ui_error(422, {"message": f"{field}: a time in minutes within the run", "field": field,
                                    "code": "bench.bad_number"})
    return value, None


@router.post("/results/{result_id:int}/reintegrate", response_class=HTMLResponse)
def reintegrate(result_id: int, request: Request, me: Reintegrator, factory: FactoryDep,
                start_min: Number = "", end_min: Number = "", reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """手动积分: re-integrate the result's peak between two times (straight baseline), with a reason; audited."""
    form = {"start_min": start_min, "end_min": end_min, "reason": reason}
    start, error = _minutes(start_min, "start_min")
    end, error = (None, error) if error else _minutes(end_min, "end_min")
    if error is None:
        assert start is not None and end is not None
        try:
            shown = run_service(factory, me.username, reason.strip() or "manual re-integration (web UI)",
                                lambda s: chromatography.reintegrate_result(s, result_id, start_min=start, end_min=end,
                                                                            reason=reason.strip()).result.id)
        except HTTPException as e:
            error = ui_error(e.status_code, e.detail)
    if error is not None:
        return _result_page(request, me, factory, result_id, status=error["status"], error=error, form=form)
    # the result as it now stands: the draft recalculated in place, or the new version replacing a signed one
    return RedirectResponse(f"/results/{shown}?{urlencode({'done': 'reintegrated'})}", status_code=303)


@router.post("/results/{result_id:int}/amend", response_class=HTMLResponse)
def amend_result(result_id: int, request: Request, me: Reintegrator, factory: FactoryDep,
                 value: Number = "", value_text: Annotated[str, Form(max_length=200)] = "",
                 reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """更正结果: a new version of a certified result with its reason (signoff.amend_result, as the REST API);
    it is signed, reviewed and approved again before the report is amended."""
    form = {"value": value, "value_text": value_text, "amend_reason": reason}
    number, error = None, None
    if value.strip():
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            number = float("nan")
        if not (math.isfinite(number) and number >= 0):
            error = ui_error(422, {"message": "value: a finite non-negative number", "field": "value",
                                   "code": "bench.bad_number"})
    if error is None and not value_text.strip():
        error = ui_error(422, {"message": "the value as reported is required", "field": "value_text",
                               "code": "result.value_text_required"})
    if error is None:
        try:
            new_id = run_service(factory, me.username, reason.strip() or "amendment (web UI)",
                                 lambda s: signoff.amend_result(s, result_id, value=number, value_text=value_text.strip(),
                                                                reason=reason.strip(), analyst_id=me.user_id).id)
        except HTTPException as e:
            error = ui_error(e.status_code, e.detail)
    if error is not None:
        return _result_page(request, me, factory, result_id, status=error["status"], error=error, form=form)
    return RedirectResponse(f"/results/{new_id}?{urlencode({'done': 'amended'})}", status_code=303)


Text = Annotated[str, Form(max_length=500)]


def _judgement_fields(kind: str, reason: str, standard: str, clause: str, value_mg_kg: str,
                      source: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The form's fields as the service takes them; a limit value that is not a number is refused here."""
    value = None
    if value_mg_kg.strip():
        try:
            value = float(value_mg_kg.strip().replace(",", "."))
        except ValueError:
            return {}, ui_error(422, {"message": "value_mg_kg: a positive limit value in mg/kg",
                                      "field": "value_mg_kg", "code": "bench.bad_number"})
    return {"kind": kind.strip(), "reason": reason.strip(), "standard": standard.strip(), "clause": clause.strip(),
            "value_mg_kg": value, "source": source.strip()}, None


@router.post("/results/{result_id:int}/limit-judgement", response_class=HTMLResponse)
def judge_without_limit(result_id: int, request: Request, me: Approver, factory: FactoryDep,
                        kind: Annotated[str, Form(max_length=40)] = "", reason: Annotated[str, Form(max_length=2000)] = "",
                        standard: Annotated[str, Form(max_length=100)] = "", clause: Annotated[str, Form(max_length=200)] = "",
                        value_mg_kg: Number = "", source: Text = "",
                        password: Annotated[str, Form(max_length=1024)] = "") -> Response:
    """无限量标准的判定: the approver's judgement of a result without an applicable limit, with the re-entered
    password, recorded (and audited) before the approval signature — the approval then proceeds as usual."""
    form = {"kind": kind, "judgement_reason": reason, "standard": standard, "clause": clause,
            "value_mg_kg": value_mg_kg, "source": source}
    fields, error = _judgement_fields(kind, reason, standard, clause, value_mg_kg, source)
    if error is None and not password:
        error = ui_error(422, {"message": "re-enter your password to sign", "field": "password",
                               "code": "ui.password_required"})
    if error is None:
        try:
            run_service(factory, me.username, f"limit judgement: {fields['kind']} (web UI)",
                        lambda s: limit_judgements.judge_result(s, result_id, limit_judgements.judgement_from(fields),
                                                                username=me.username, password=password).id)
        except HTTPException as e:
            error = ui_error(e.status_code, e.detail)
    if error is not None:
        return _result_page(request, me, factory, result_id, status=error["status"], error=error, form=form)
    return RedirectResponse(f"/results/{result_id}?{urlencode({'done': 'judged'})}", status_code=303)
