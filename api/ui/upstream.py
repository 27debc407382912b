"""Upstream delivery (数据上报) and monitoring tasks (监测任务).

- ``/upstream``: the outbox's counts (pending, failed attempts, dead letters, delivered; the oldest pending
  message), its messages newest first filtered by state, each with the results it carries, its attempts and
  the hub's reason; dead letters are re-queued with a reason that goes into the audit trail
  (:func:`lims.upstream.queue.requeue`, ``upstream:manage``) — the same service as ``POST
  /api/v1/upstream/requeue``.
- ``/tasks`` and ``/tasks/{code}``: the monitoring tasks the lab works to (sent down by the province or made
  here) and a task's 双随机 sampling plan with producers and inspectors by name
  (:mod:`lims.services.views.tasks`, as ``GET /api/v1/tasks``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service
from api.security import Principal, require_ui
from api.ui.base import PAGE_SIZE, Offset, P, ResultsPage, area_router, not_found, pager, render, ui_error
from api.ui.quality import act, form_of
from lims.services import sampling
from lims.services.errors import InvalidInput
from lims.services.views import tasks as task_views
from lims.upstream import queue
from lims.vocabulary import OutboxStatus, ProgrammeType, SamplingLink

router = area_router()
UpstreamManager = Annotated[Principal, require_ui(P.UPSTREAM_MANAGE)]
TasksPage = Annotated[Principal, require_ui(P.TASKS_READ)]
TasksManager = Annotated[Principal, require_ui(P.TASKS_MANAGE)]
PAGE = "/upstream"
#: Kinds of outbox message in words (lims.upstream.outbox, lims.db.anchors).
KIND_WORDS = {"result": ("检测结果", "results"), "retraction": ("撤回结果", "retraction"),
              "task_progress": ("任务进度", "task progress"), "checkpoint": ("审计链检查点", "audit-chain checkpoint")}


def _upstream(s: Session, state: str | None, offset: int) -> dict[str, Any]:
    rows, total = queue.list_messages(s, status_=state, limit=PAGE_SIZE, offset=offset)
    return {"st": queue.status(s), "messages": rows, "total": total}


def _page(request: Request, me: Principal, factory: sessionmaker[Session], *, state: str = "", offset: int = 0,
          done: int | None = None, error: dict[str, Any] | None = None) -> HTMLResponse:
    chosen = state if state in {x.value for x in OutboxStatus} else ""
    data = read_service(factory, lambda s: _upstream(s, chosen or None, offset))
    return render(request, me, "ui_upstream.html", "/quality", status=error["status"] if error else 200,
                  error=error, done=done, state=chosen, states=list(OutboxStatus), kind_words=KIND_WORDS,
                  can_requeue=me.can(P.UPSTREAM_MANAGE),
                  pager=pager(PAGE, {"state": chosen}, offset, PAGE_SIZE, data["total"], True), **data)


@router.get(PAGE, response_class=HTMLResponse)
def upstream_page(request: Request, me: ResultsPage, factory: FactoryDep, offset: Offset = 0,
                  state: Annotated[str, Query(max_length=20)] = "",
                  requeued: Annotated[int, Query(ge=0)] = -1) -> HTMLResponse:
    return _page(request, me, factory, state=state, offset=offset, done=requeued if requeued >= 0 else None)


@router.post(f"{PAGE}/requeue", response_class=HTMLResponse)
async def requeue(request: Request, me: UpstreamManager, factory: FactoryDep) -> Response:
    """Re-queue the dead letters ticked (or every one): the reason (≥ 5 characters) is audited."""
    form = await request.form()
    ids = [int(x) for x in form.getlist("message_id") if isinstance(x, str) and x.isdigit() and len(x) < 10]
    fields = await form_of(request)
    reason, every = fields.get("reason", ""), fields.get("all_dead") == "1"
    if len(reason) < 5:
        return _page(request, me, factory, state="dead", error=_refusal(
            "reason: at least 5 characters", "reason", "reading.reason_required"))
    out: list[int] = []
    error = act(factory, me, reason, lambda s: out.extend(queue.requeue(s, ids, dead=every)))
    if error:
        return _page(request, me, factory, state="dead", error=error)
    return RedirectResponse(f"{PAGE}?requeued={len(out)}", status_code=303)


def _refusal(message: str, field: str, code: str) -> dict[str, Any]:
    return ui_error(422, {"message": message, "field": field, "code": code})


# ------------------------------------------------------------------------------------------ monitoring tasks


def _tasks_page(request: Request, me: Principal, factory: sessionmaker[Session], *, offset: int = 0,
                error: dict[str, Any] | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
    def read(s: Session) -> tuple[Any, dict[str, tuple[str, str]]]:
        page = task_views.list_tasks(s, limit=PAGE_SIZE, offset=offset)
        return page, task_views.analyte_names(s, sorted({a for t in page.items for a in t["required_analytes"]}))
    page, names = read_service(factory, read)
    return render(request, me, "ui_tasks.html", "/quality", status=error["status"] if error else 200, error=error,
                  analyte_names=names,
                  form=form or {}, tasks=page.items, can_manage=me.can(P.TASKS_MANAGE),
                  programme_types=list(ProgrammeType),
                  pager=pager("/tasks", {}, offset, PAGE_SIZE, page.total, page.total_exact))


@router.get("/tasks", response_class=HTMLResponse)
def tasks_page(request: Request, me: TasksPage, factory: FactoryDep, offset: Offset = 0) -> HTMLResponse:
    return _tasks_page(request, me, factory, offset=offset)


@router.post("/tasks", response_class=HTMLResponse)
async def create_task(request: Request, me: TasksManager, factory: FactoryDep) -> Response:
    """下达监测任务 (lims.services.sampling.create_task, as POST /api/v1/tasks)."""
    form = await form_of(request)
    analytes = [a.strip() for a in form.get("required_analytes", "").replace("，", ",").replace("、", ",").split(",")
                if a.strip()]
    error = act(factory, me, "create monitoring task", lambda s: sampling.create_task(
        s, code=form.get("code", ""), name=form.get("name", ""), programme_type=form.get("programme_type", ""),
        issuing_authority=form.get("issuing_authority", ""), required_analytes=analytes,
        sampling_plan=form.get("sampling_plan", "")))
    if error:
        return _tasks_page(request, me, factory, error=error, form=form)
    return RedirectResponse(f"/tasks/{quote(form.get('code', ''), safe='')}", status_code=303)


def _task(s: Session, code: str) -> dict[str, Any]:
    doc = task_views.task_detail(s, code)
    return {**doc, "analyte_names": task_views.analyte_names(s, list(doc["task"]["required_analytes"]))}


def _task_page(request: Request, me: Principal, factory: sessionmaker[Session], code: str, *,
               error: dict[str, Any] | None = None) -> HTMLResponse:
    try:
        data = read_service(factory, lambda s: _task(s, code))
    except HTTPException as e:
        if e.status_code == 404:
            return not_found(request, me, "/tasks", f"监测任务 {code} / task {code}")
        raise
    return render(request, me, "ui_tasks_detail.html", "/quality", status=error["status"] if error else 200,
                  error=error, can_manage=me.can(P.TASKS_MANAGE), links=list(SamplingLink), **data)


@router.get("/tasks/{code}", response_class=HTMLResponse)
def task_page(code: str, request: Request, me: TasksPage, factory: FactoryDep) -> HTMLResponse:
    return _task_page(request, me, factory, code)


@router.post("/tasks/{code}/plan", response_class=HTMLResponse)
async def draw_plan(code: str, request: Request, me: TasksManager, factory: FactoryDep) -> Response:
    """双随机: producers and inspectors drawn at random, reproducibly (lims.services.sampling.draw_sampling_plan)."""
    form = await form_of(request)

    def number(name: str, default: int) -> int:
        raw = form.get(name, "")
        if not raw:
            return default
        if not raw.isdigit() or len(raw) > 6:
            raise InvalidInput(f"{name}: a whole number (got {raw[:20]!r})", field=name, code="quality.bad_value")
        return int(raw)
    error = act(factory, me, "draw sampling plan (双随机)", lambda s: sampling.draw_sampling_plan(
        s, code, producers=number("producers", 1), inspectors_per_visit=number("inspectors_per_visit", 2),
        region_prefix=form.get("region_prefix", ""), sampling_link=form.get("sampling_link") or "before_harvest"))
    if error:
        return _task_page(request, me, factory, code, error=error)
    return RedirectResponse(f"/tasks/{quote(code, safe='')}", status_code=303)
