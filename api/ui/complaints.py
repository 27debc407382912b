"""Complaints (投诉) in the web UI (ISO/IEC 17025:2017 7.9; RB/T 214-2017 4.5.9): the list with a status filter
and the receive form, and a page for each complaint with the steps its state allows — received → investigating
(optionally opening a nonconformity, source ``complaint``) → resolved (the resolution written) → closed, the
nonconformity it opened linked.

Every write is the call of :mod:`lims.quality.complaints` that ``/api/v1/quality/complaints`` makes, in one unit
of work (:func:`api.ui.quality.act`); a refusal re-renders the page with the reason, naming the field, and writes
nothing. Viewing needs ``quality:read``, receiving ``quality:raise`` (every lab role), the steps after it
``quality:manage`` (the QA manager's).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service
from api.security import Principal
from api.ui.base import P, area_router, not_found, render
from api.ui.page_helpers import check_lengths, named, read_record
from api.ui.quality import HUB, QualityManager, QualityPage, QualityRaiser, act, date_of, form_of
from lims.quality import complaints
from lims.quality import nonconformity as ncs
from lims.quality.views import complaint_view, nc_summary
from lims.quality.vocabulary import ComplaintStatus, NcRisk

router = area_router()
PAGE = "/quality/complaints"
#: What the page says after an action (value of ?done=): (zh, en).
DONE = {"received": ("已受理投诉", "complaint received"), "investigate": ("已开始调查", "investigation started"),
        "resolve": ("已记录处理结果", "resolution recorded"), "close": ("投诉已关闭", "complaint closed")}
#: The form's fields in words (zh, en), for the refusal that names one.
FIELDS = {"code": ("编号", "code"), "complainant": ("投诉人", "complainant"), "subject": ("事由", "subject"),
          "description": ("投诉内容", "description"), "received_on": ("受理日期", "received on"),
          "resolution": ("处理结果", "resolution"), "risk": ("风险", "risk"), "owner": ("责任人", "owner"),
          "complaint_code": ("投诉", "complaint"), "status": ("状态", "status")}


def _list(s: Session, status: str) -> dict[str, Any]:
    rows = [complaint_view(c) for c in complaints.list_complaints(s, status=status or None)]
    counts = {st.value: 0 for st in ComplaintStatus}
    for c in complaints.list_complaints(s):
        counts[c.status] = counts.get(c.status, 0) + 1
    return {"complaints": list(reversed(rows)), "counts": counts}


def _list_page(request: Request, me: Principal, factory: sessionmaker[Session], *, status: str = "",
               error: dict[str, Any] | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, me, "ui_quality_complaints.html", HUB, status=error["status"] if error else 200,
                  error=error, form=form or {}, wanted=status, statuses=list(ComplaintStatus),
                  can_raise=me.can(P.QUALITY_RAISE), **read_service(factory, lambda s: _list(s, status)))


@router.get(PAGE, response_class=HTMLResponse)
def complaints_page(request: Request, me: QualityPage, factory: FactoryDep, status: str = "") -> HTMLResponse:
    wanted = status if status in {s.value for s in ComplaintStatus} else ""
    return _list_page(request, me, factory, status=wanted)


@router.post(PAGE, response_class=HTMLResponse)
async def complaint_receive(request: Request, me: QualityRaiser, factory: FactoryDep) -> Response:
    form = await form_of(request)
    code = form.get("code", "")

    def go(s: Session) -> None:
        check_lengths(form, {"code": 60, "complainant": 200, "subject": 200, "description": 5000})
        complaints.receive(s, code=code, complainant=form.get("complainant", ""), subject=form.get("subject", ""),
                           description=form.get("description", ""),
                           received_on=date_of(form, "received_on", required=False))
    error = act(factory, me, f"complaint {code}", go)
    if error:
        return _list_page(request, me, factory, error=named(error, FIELDS), form=form)
    return RedirectResponse(f"{PAGE}/{quote(code, safe='')}?done=received", status_code=303)


def _complaint(s: Session, code: str) -> dict[str, Any]:
    doc = complaint_view(complaints.get_complaint(s, code))
    nc = nc_summary(ncs.get_nc(s, doc["nonconformity_id"])) if doc["nonconformity_id"] else None
    return {"c": doc, "nc": nc}


def _detail_page(request: Request, me: Principal, factory: sessionmaker[Session], code: str, *, done: str = "",
                 error: dict[str, Any] | None = None) -> HTMLResponse:
    data = read_record(factory, lambda s: _complaint(s, code))
    if data is None:
        return not_found(request, me, PAGE, f"投诉 {code[:60]} / complaint {code[:60]}")
    return render(request, me, "ui_quality_complaint.html", HUB, status=error["status"] if error else 200,
                  error=error, done=DONE.get(done), risks=list(NcRisk), can_manage=me.can(P.QUALITY_MANAGE), **data)


@router.get(f"{PAGE}/{{code}}", response_class=HTMLResponse)
def complaint_page(code: str, request: Request, me: QualityPage, factory: FactoryDep, done: str = "") -> HTMLResponse:
    return _detail_page(request, me, factory, code, done=done[:20])


@router.post(f"{PAGE}/{{code}}/{{step}}", response_class=HTMLResponse)
async def complaint_step(code: str, step: str, request: Request, me: QualityManager, factory: FactoryDep) -> Response:
    form = await form_of(request)
    steps = {
        "investigate": lambda s: complaints.investigate(s, code, raised_by=me.username, open_nc="open_nc" in form,
                                                        risk=form.get("risk") or NcRisk.MEDIUM.value,
                                                        owner=form.get("owner", "")),
        "resolve": lambda s: complaints.resolve(s, code, resolution=form.get("resolution", "")),
        "close": lambda s: complaints.close(s, code),
    }
    if step not in steps:
        return not_found(request, me, PAGE, step[:40])
    error = act(factory, me, f"{step} complaint {code}", steps[step])
    if error:
        return _detail_page(request, me, factory, code, error=named(error, FIELDS))
    return RedirectResponse(f"{PAGE}/{quote(code, safe='')}?done={step}", status_code=303)
