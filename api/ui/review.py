"""Review: the queues of results to review and to approve, and the e-signature forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal
from api.ui.base import QUEUE_SIZE, Approver, ResultsPage, Reviewer, area_router, parse_ids, render, ui_error
from api.ui.labels import P
from lims.config import get_settings
from lims.services import signoff
from lims.services.views import results as result_views
from lims.services.views import review as review_views
from lims.vocabulary import SignOffDone

router = area_router()


def _review_page(request: Request, me: Principal, factory: sessionmaker[Session], *, status: int = 200,
                 error: dict[str, Any] | None = None, selected: list[int] | None = None,
                 done: str = "", n: int = 0, reason: str = "") -> HTMLResponse:
    def read(s: Session) -> dict[str, Any]:
        queues = result_views.review_queues(s, QUEUE_SIZE)
        queues["held"] = review_views.held_batches(s, {b["code"] for b in queues["batches"].values()})
        return queues

    queues = read_service(factory, read)
    for row in (*queues["to_review"].items, *queues["to_approve"].items):
        row.update(review_views.decision_words(row, None))  # the limit and the rule in words beside each result
    return render(request, me, "ui_review.html", "/review", status=status, error=error, batches=queues["batches"],
                  held=queues["held"],
                  to_review=queues["to_review"], to_approve=queues["to_approve"],
                  selected=set(selected or ()), done=done, n=n, reason=reason,
                  can_review=me.can(P.RESULTS_REVIEW), can_approve=me.can(P.RESULTS_APPROVE))


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, me: ResultsPage, factory: FactoryDep,
                done: Annotated[str, Query(max_length=20)] = "",
                n: Annotated[int, Query(ge=0, le=100_000)] = 0) -> HTMLResponse:
    return _review_page(request, me, factory, done=done if done in SignOffDone.labels() else "", n=n)


def _signed(request: Request, me: Principal, factory: sessionmaker[Session], meaning: str,
            raw_ids: list[str] | None, password: str, sign: Callable[[Session, list[int]], list[Any]], *,
            audit_reason: str, reason: str = "") -> Response:
    """Shared path of the sign forms: validate, sign in one unit of work, or show the refusal (nothing signed)."""
    ids = parse_ids(raw_ids)
    problem = None
    if not ids:
        problem = ui_error(422, {"message": "select at least one result", "field": "result_ids",
                                 "code": "ui.no_result_selected"})
    elif not password:
        problem = ui_error(422, {"message": "re-enter your password to sign", "field": "password",
                                 "code": "ui.password_required"})
    if problem is not None:
        return _review_page(request, me, factory, status=422, error=problem, selected=ids, reason=reason)
    assert ids is not None
    try:
        n = run_service(factory, me.username, audit_reason, lambda s: len(sign(s, ids)))
    except HTTPException as e:
        return _review_page(request, me, factory, status=e.status_code, error=ui_error(e.status_code, e.detail),
                            selected=ids, reason=reason)
    return RedirectResponse(f"/review?{urlencode({'done': meaning, 'n': n})}", status_code=303)


ResultIds = Annotated[list[str] | None, Form(alias="result_id")]
Password = Annotated[str, Form(max_length=200)]


@router.post("/review/sign/review", response_class=HTMLResponse)
def sign_review(request: Request, me: Reviewer, factory: FactoryDep, result_id: ResultIds = None,
                password: Password = "") -> Response:
    """审核签名: the reviewer's e-signature (meaning 'review') on the checked results."""
    return _signed(request, me, factory, "review", result_id, password, lambda s, ids: signoff.review_results(
        s, ids, username=me.username, password=password), audit_reason="review signature (web UI)")


@router.post("/review/sign/approve", response_class=HTMLResponse)
def sign_approve(request: Request, me: Approver, factory: FactoryDep, result_id: ResultIds = None,
                 password: Password = "") -> Response:
    """批准签发: the approver's e-signature (meaning 'approval') certifies the checked results."""
    lab_code = get_settings().lab_code
    return _signed(request, me, factory, "approval", result_id, password, lambda s, ids: signoff.approve_results(
        s, ids, username=me.username, password=password, lab_code=lab_code),
        audit_reason="approval signature (web UI)")


def _reject(request: Request, me: Principal, factory: sessionmaker[Session], raw_ids: list[str] | None,
            password: str, reason: str, retest: str) -> Response:
    reason = reason.strip()
    return _signed(request, me, factory, "rejection", raw_ids, password, lambda s, ids: signoff.reject_results(
        s, ids, username=me.username, password=password, reason=reason, retest=bool(retest)),
        audit_reason=reason or "rejection (web UI)", reason=reason)


Reason = Annotated[str, Form(max_length=2000)]
Retest = Annotated[str, Form(max_length=10)]


@router.post("/review/reject/review", response_class=HTMLResponse)
def reject_as_reviewer(request: Request, me: Reviewer, factory: FactoryDep, result_id: ResultIds = None,
                       password: Password = "", reason: Reason = "", retest: Retest = "") -> Response:
    """退回复检 by a reviewer (signed with meaning 'rejection')."""
    return _reject(request, me, factory, result_id, password, reason, retest)


@router.post("/review/reject/approve", response_class=HTMLResponse)
def reject_as_approver(request: Request, me: Approver, factory: FactoryDep, result_id: ResultIds = None,
                       password: Password = "", reason: Reason = "", retest: Retest = "") -> Response:
    """退回复检 by an approver (signed with meaning 'rejection')."""
    return _reject(request, me, factory, result_id, password, reason, retest)

